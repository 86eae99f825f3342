"""Every view whose modules are loaded on first use (``skinlens.lazy``) works offline.

One visit online (the service worker precaches the app, lazily loaded modules included),
then the server stops and each view is opened and used: its modules come from the service
worker's cache into the interpreter. ``VIEWS`` is the one list: a feature added to
``skinlens.lazy.FEATURES`` (the history view, say) fails
``test_every_lazy_feature_has_a_view_here`` until its entry is added below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dicoms
import numpy as np
import pytest
from harness import READY_TIMEOUT, Browser, LoggedServer, classify, open_app, wait_for
from imagegen import lesion_like, write_lesion_jpeg
from skinlens import lazy

import serve

SW_TIMEOUT = 300.0
"""Polled upper bound for the precache on a loaded 2-core machine (as in test_pwa)."""


def _state(d, node: str) -> str:
    return d.execute_script(f"return document.getElementById('{node}').dataset.state")


def use_batch(b: Browser, tmp: Path) -> str:
    photos = [write_lesion_jpeg(tmp / f"batch-{i}.jpg", seed=i) for i in range(2)]
    b.driver.find_element("id", "file-input").send_keys("\n".join(str(p) for p in photos))
    wait_for(lambda: _state(b.driver, "batch") == "done", 180, "#batch[data-state=done]")
    rows = b.driver.execute_script("return document.querySelectorAll('#batch-rows tr').length")
    assert rows == 2, rows
    return f"{rows} rows"


def use_speed(b: Browser, tmp: Path) -> str:
    wait_for(lambda: _state(b.driver, "speed") == "done", 300, "#speed[data-state=done]")
    n = b.driver.execute_script(
        "return JSON.parse(document.getElementById('speed').dataset.results).length"
    )
    assert n > 0
    return f"{n} timings"


def use_dicom(b: Browser, tmp: Path) -> str:
    rgb = np.asarray(lesion_like(320, 240, seed=5).convert("RGB"))
    path = tmp / "photo.dcm"
    path.write_bytes(dicoms.colour(rgb))
    r = classify(b, path)
    assert r["state"] in ("done", "rejected") and "DICOM" in r["text"], r
    return r["state"]


def use_history(b: Browser, tmp: Path) -> str:
    wait_for(
        lambda: _state(b.driver, "history-view") == "ready", 120, "#history-view[data-state=ready]"
    )
    return "my lesions ready"


@dataclass(frozen=True)
class View:
    feature: str
    query: str
    use: Callable[[Browser, Path], str]
    warm_online: bool = False
    """Used once online first: it needs a file the service worker caches on first use
    rather than at install (pydicom's wheel, see build.LAZY_PATTERNS)."""


VIEWS = [
    View("batch", "", use_batch),
    View("speed", "view=speed&backends=wasm", use_speed),
    View("dicom", "", use_dicom, warm_online=True),
    View("history", "view=history", use_history),
]


def test_every_lazy_feature_has_a_view_here():
    assert {v.feature for v in VIEWS} == set(lazy.FEATURES)


@pytest.fixture(scope="module")
def offline(dist_dir, model_files, tmp_path_factory) -> Iterator[tuple[Browser, str, Path]]:
    """A browser that visited the app once (precached, every warm_online view used once),
    and the app's URL, its server stopped."""
    tmp = tmp_path_factory.mktemp("lazy-views")
    log = tmp / "requests.log"
    srv = serve.make_server(dist_dir, "127.0.0.1", 0, log=log).start()
    b = Browser()
    try:
        open_app(b, LoggedServer(srv, log))
        wait_for(
            lambda: b.driver.execute_script(
                "const s = document.getElementById('pwa-status');"
                "return !!navigator.serviceWorker.controller && !!s"
                " && s.dataset.state === 'offline-ready'"
            ),
            SW_TIMEOUT,
            "the service worker's precache (offline-ready)",
        )
        for view in VIEWS:
            if view.warm_online:
                view.use(b, tmp)
        srv.stop()
        yield b, srv.url, tmp
    finally:
        srv.stop()
        b.close()


def _ready(d: Any) -> bool:
    body = d.execute_script("return [document.body.dataset.ready, document.body.dataset.error]")
    if body[1]:
        raise AssertionError(f"page failed offline: {body[1]}")
    return body[0] == "true"


@pytest.mark.parametrize("view", VIEWS, ids=[v.feature for v in VIEWS])
def test_lazy_view_works_offline(offline, view):
    b, url, tmp = offline
    b.driver.get(url + ("?" + view.query if view.query else ""))
    wait_for(lambda: _ready(b.driver), READY_TIMEOUT, "ready offline")
    print(f"{view.feature} offline: {view.use(b, tmp)}")
    loaded = b.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/py/skinlens/'))"
    )
    wanted = {lazy.path_of(m) for m in lazy.FEATURES[view.feature]}
    assert wanted <= {n.split("/py/", 1)[1] for n in loaded}, loaded
