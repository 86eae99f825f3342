"""Start-up: every stage ``bench.startup`` reads is marked, in order, and a second start
reads the bytecode the first one stored (``skinlens.web.bytecode``)."""

from __future__ import annotations

import pytest
from harness import Browser, open_app, wait_for

from bench.startup import STAGES

PYTHON_CHAIN = (
    "app.js",
    "py:Loading Pyodide",
    "py:Loaded Storage",
    "py:Loading files",
    "py:Loaded files",
    "main.py",
    "bytecode cache",
    "import skinlens",
    "wording",
    "metadata",
    "bound",
    "ready",
    "ready painted",
)
MODEL_CHAIN = (
    "worker:start",
    "worker:tf.js",
    "worker:backend",
    "worker:model.json",
    "worker:weights",
    "worker:warm-up",
)


def _saved(b: Browser) -> dict:
    """The marks once the start's bytecode is stored, and how many modules were."""
    return wait_for(
        lambda: b.driver.execute_script(
            "const i = skinlens.info;"
            "return 'bytecode saved' in i.marks ? {marks: i.marks, saved: i.bytecodeSaved} : null"
        ),
        120,
        "the start's bytecode to be stored",
    )


@pytest.fixture
def fresh(server, model_files):
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def test_stages_are_marked_in_order_and_the_second_start_reuses_the_bytecode(fresh, server):
    open_app(fresh, server)
    first = _saved(fresh)
    marks = first["marks"]
    for chain in (PYTHON_CHAIN, MODEL_CHAIN):
        times = [marks[m] for m in chain]
        assert times == sorted(times), dict(zip(chain, times, strict=True))
    named = {m for _, a, b in STAGES for m in (a, b) if not m.startswith("nav:")}
    assert named <= set(marks), sorted(named - set(marks))
    assert first["saved"] > 50, first["saved"]  # NumPy's, Pillow's and our modules
    fresh.driver.get("about:blank")
    open_app(fresh, server)
    second = _saved(fresh)
    # stored in IndexedDB by the first start, found hash-valid by the second: nothing new
    assert second["saved"] == 0, second["saved"]
