"""Shared fixtures for the Selenium suite (headless Chromium against the built site).

* ``dist_dir``: ``build.build()`` once per session into a temp dir (or the
  prebuilt directory named by ``SKINLENS_DIST``).
* ``server``: ``serve.make_server`` on 127.0.0.1, random port, COOP/COEP on, in
  a thread, with a request log (``server.requests()``).
* ``chrome`` / ``chrome_webgpu``: session-scoped headless Chromium
  (``/usr/bin/chromium`` + ``/usr/bin/chromedriver``, never Selenium Manager),
  flags from DESIGN.md, outside hosts unresolvable, fresh user-data-dir;
  ``chrome_webgpu`` adds ``--enable-unsafe-webgpu`` (SwiftShader adapter).
* ``make_chrome``: a factory for a private browser (closed at test end).
* ``app``: the page opened once per module with the default backend choice.
* ``backend_app``: the page opened with ``?backend=<param>``; parametrise with
  ``@pytest.mark.parametrize("backend_app", [...], indirect=True)``.
* helpers live in ``harness.py`` (shared with the benchmarks in ``bench/``).

Browser tests are marked ``browser``; they skip (with the reason) when
Chromium/chromedriver/Selenium are missing, and fail loudly otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import DATA_DIR, PARITY_REPORT, WEBGPU_FLAGS, Browser, LoggedServer, open_app

import serve


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if PARITY_REPORT:
        terminalreporter.section("golden parity (page vs Keras reference)")
        for line in PARITY_REPORT:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


# ----------------------------------------------------------------------------- site + server
@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("SKINLENS_DIST")
    if prebuilt:
        path = Path(prebuilt).resolve()
        assert (path / "index.html").exists(), f"SKINLENS_DIST={path} has no index.html"
        return path
    import build

    out = tmp_path_factory.mktemp("site") / "dist"
    build.build(dist=out, quiet=True)
    return out


@pytest.fixture(scope="session")
def model_files(dist_dir) -> Path:
    """The shipped model directory in dist (skips the test when there is no model yet)."""
    mdir = dist_dir / "models" / "skinlens-lite0"
    if not (mdir / "model.json").exists():
        pytest.skip("no models/skinlens-lite0/model.json yet (the model is committed separately)")
    return mdir


@pytest.fixture(scope="session")
def server(dist_dir, tmp_path_factory) -> Iterator[LoggedServer]:
    log = tmp_path_factory.mktemp("serverlog") / "requests.log"
    srv = serve.make_server(dist_dir, "127.0.0.1", 0, log=log).start()
    try:
        yield LoggedServer(srv, log)
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def chrome() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def chrome_webgpu() -> Iterator[Browser]:
    b = Browser(WEBGPU_FLAGS)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def make_chrome() -> Iterator[Any]:
    made: list[Browser] = []

    def factory(*flags: str, **kw) -> Browser:
        b = Browser(tuple(flags), **kw)
        made.append(b)
        return b

    try:
        yield factory
    finally:
        for b in made:
            b.close()


@pytest.fixture(scope="module")
def app(server, model_files) -> Iterator[Browser]:
    """The page, ready, with the default backend choice (wasm in headless Chromium), in a
    browser of its own so that tests navigating ``chrome`` elsewhere do not disturb it."""
    b = Browser()
    try:
        open_app(b, server)
        yield b
    finally:
        b.close()


@pytest.fixture
def backend_app(request, chrome, chrome_webgpu, server, model_files) -> tuple[Browser, dict]:
    """The page opened with ``?backend=<request.param>`` (webgpu uses the WebGPU browser)."""
    backend = request.param
    browser = chrome_webgpu if backend == "webgpu" else chrome
    state = open_app(browser, server, f"backend={backend}&gates=off")
    return browser, state


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="session")
def ham_images() -> Path:
    img = DATA_DIR / "images"
    if not img.is_dir() or not any(img.glob("*.jpg")):
        pytest.skip(f"HAM10000 images not found at {img} (set SKINLENS_DATA to the dataset dir)")
    return img
