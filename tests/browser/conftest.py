"""Shared fixtures for the Selenium suite (headless Chromium against the built site).

* ``dist_dir``: ``build.build()`` once per session into a temp dir (or the
  prebuilt directory named by ``SKINLENS_DIST``).
* ``server``: ``build.make_server`` on 127.0.0.1, random port, COOP/COEP on, in
  a thread, with a request log (``server.requests()``).
* ``chrome`` / ``chrome_webgpu``: session-scoped headless Chromium
  (``/usr/bin/chromium`` + ``/usr/bin/chromedriver``, never Selenium Manager),
  flags from DESIGN.md, outside hosts unresolvable, fresh user-data-dir;
  ``chrome_webgpu`` adds ``--enable-unsafe-webgpu`` (SwiftShader adapter).
* ``make_chrome``: a factory for a private browser (closed at test end).
* ``app``: the page opened once per module with the default backend choice.
* ``backend_app``: the page opened with ``?backend=<param>``; parametrise with
  ``@pytest.mark.parametrize("backend_app", [...], indirect=True)``.
* helpers: ``open_app``, ``classify``, ``result_attrs``, ``console_errors``.

Browser tests are marked ``browser``; they skip (with the reason) when
Chromium/chromedriver/Selenium are missing, and fail loudly otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Test modules import helpers from here as ``browser_conftest``: the plain name
# ``conftest`` is ambiguous when pytest also loads tests/unit/conftest.py.
sys.modules.setdefault("browser_conftest", sys.modules[__name__])

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("SKINLENS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SKINLENS_CHROMEDRIVER", "/usr/bin/chromedriver")

BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--window-size=1280,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
WEBGPU_FLAGS = ("--enable-unsafe-webgpu",)

READY_TIMEOUT = float(os.environ.get("SKINLENS_READY_TIMEOUT", "180"))
RESULT_TIMEOUT = float(os.environ.get("SKINLENS_RESULT_TIMEOUT", "120"))

DATA_DIR = Path(
    os.environ.get("SKINLENS_DATA", ROOT.parent / "shared" / "data" / "ham10000")
).resolve()


PARITY_REPORT: list[str] = []
"""Lines the parity tests add (backend, case, measured differences); printed at the end."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if PARITY_REPORT:
        terminalreporter.section("golden parity (page vs Keras reference)")
        for line in PARITY_REPORT:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _selenium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"Chromium/chromedriver not found at {CHROMIUM} / {CHROMEDRIVER}")
    return webdriver, Service


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


class LoggedServer:
    def __init__(self, srv, log: Path) -> None:
        self.srv = srv
        self.log = log
        self.url = srv.url  # "http://127.0.0.1:PORT/"

    def requests(self) -> list[str]:
        """Request lines ``METHOD PATH STATUS`` seen so far."""
        if not self.log.exists():
            return []
        return self.log.read_text().splitlines()


@pytest.fixture(scope="session")
def server(dist_dir, tmp_path_factory) -> Iterator[LoggedServer]:
    import build

    log = tmp_path_factory.mktemp("serverlog") / "requests.log"
    srv = build.make_server(dist_dir, "127.0.0.1", 0, log=log).start()
    try:
        yield LoggedServer(srv, log)
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- browsers
class Browser:
    """A Chromium + chromedriver pair with its own profile directory."""

    def __init__(
        self,
        extra_flags: tuple[str, ...] = (),
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        webdriver, service_cls = _selenium()
        self.profile = tempfile.mkdtemp(prefix="skinlens-chrome-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in (*BASE_FLAGS, *extra_flags):
            if width and flag.startswith("--window-size"):
                continue
            opts.add_argument(flag)
        if width:
            opts.add_argument(f"--window-size={width},{height or 900}")
        opts.add_argument(f"--user-data-dir={self.profile}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        service = service_cls(CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_script_timeout(max(READY_TIMEOUT, RESULT_TIMEOUT))
        self.console: list[dict[str, Any]] = []
        self.network: list[str] = []

    def pump_logs(self) -> None:
        """Move chromedriver's buffered console and CDP network logs into lists."""
        with contextlib.suppress(Exception):
            self.console.extend(self.driver.get_log("browser"))
        with contextlib.suppress(Exception):
            for entry in self.driver.get_log("performance"):
                msg = json.loads(entry["message"])["message"]
                if msg.get("method") == "Network.requestWillBeSent":
                    self.network.append(msg["params"]["request"]["url"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


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


# ----------------------------------------------------------------------------- page helpers
def open_app(
    browser: Browser, server: LoggedServer, query: str = "", timeout: float = READY_TIMEOUT
) -> dict[str, Any]:
    """Load the page and wait for ``body[data-ready=true]`` (or fail with the page's error)."""
    d = browser.driver
    d.get(server.url + (("?" + query.lstrip("?")) if query else ""))
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = d.execute_script(
            "const b=document.body; return b ? {ready:b.dataset.ready, backend:b.dataset.backend,"
            " error:b.dataset.error||null, note:b.dataset.backendNote||null,"
            " info: window.skinlens ? JSON.parse(JSON.stringify(window.skinlens.info)) : null} : {}"
        )
        if state.get("ready") == "true":
            return state
        if state.get("error"):
            break
        time.sleep(0.25)
    browser.pump_logs()
    tail = "\n".join(str(c.get("message"))[:300] for c in browser.console[-25:])
    raise AssertionError(f"page not ready after {timeout:.0f}s: {state}\nconsole:\n{tail}")


RESULT_KEYS = (
    "state",
    "label",
    "priority",
    "probs",
    "reason",
    "ms",
    "prep-ms",
    "read-ms",
    "total-ms",
    "ood",
    "file",
    "seq",
)


def result_attrs(driver) -> dict[str, Any]:
    out = driver.execute_script(
        "const r=document.getElementById('result'); const o={};"
        "for (const k of arguments[0]) o[k]=r.getAttribute('data-'+k);"
        "o.text=r.innerText; return o;",
        list(RESULT_KEYS),
    )
    if out.get("probs"):
        out["probs"] = json.loads(out["probs"])
    return out


def classify(
    browser: Browser, path: str | Path | list, timeout: float = RESULT_TIMEOUT
) -> dict[str, Any]:
    """Feed one or more files to ``#file-input``; return ``#result`` for the last one."""
    d = browser.driver
    paths = [str(Path(p).resolve()) for p in (path if isinstance(path, list) else [path])]
    before = int(d.execute_script("return +(document.getElementById('result').dataset.seq || 0)"))
    target = before + len(paths)
    d.find_element("id", "file-input").send_keys("\n".join(paths))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = d.execute_script(
            "const r=document.getElementById('result');"
            "return [+(r.dataset.seq||0), r.dataset.state||'']"
        )
        if r[0] >= target and r[1] in ("done", "rejected"):
            return result_attrs(d)
        time.sleep(0.1)
    browser.pump_logs()
    tail = "\n".join(str(c.get("message"))[:300] for c in browser.console[-25:])
    raise AssertionError(
        f"no result for {paths} within {timeout:.0f}s: {result_attrs(d)}\nconsole:\n{tail}"
    )


def console_errors(browser: Browser) -> list[str]:
    browser.pump_logs()
    return [str(c.get("message")) for c in browser.console if c.get("level") == "SEVERE"]


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
