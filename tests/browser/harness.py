"""Driving the built page in headless Chromium: shared by the browser tests and the benchmarks.

* :class:`Browser`: Debian's Chromium + chromedriver (never Selenium Manager) with the flags
  from DESIGN.md, outside hosts unresolvable, a fresh profile;
* :class:`LoggedServer`: a ``serve.make_server`` instance with its request log;
* page helpers (:func:`open_app`, :func:`classify`, :func:`result_attrs`) and live-camera
  helpers (:func:`chromium` with a fake camera, :func:`start_live`, :func:`watch`).

Every wait polls a condition against an honest deadline: CI runs on a loaded 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def _selenium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"Chromium/chromedriver not found at {CHROMIUM} / {CHROMEDRIVER}")
    return webdriver, Service


def wait_for(fn: Callable[[], Any], timeout: float, what: str, poll: float = 0.25) -> Any:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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
    "advice",
    "probs",
    "reason",
    "ms",
    "prep-ms",
    "read-ms",
    "total-ms",
    "lesion",
    "photo-type",
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


def policy_errors(browser: Browser) -> list[str]:
    """Console errors of the security policy (``security.py``): refused loads, styles, eval.
    chromedriver shortens long messages, so an EvalError may have lost the policy's name."""
    marks = ("Content Security Policy", "EvalError")
    return [e for e in console_errors(browser) if any(m in e for m in marks)]


LIVE_ATTRS_JS = """
const l = document.getElementById('live');
if (!l) return null;
const o = {};
for (const a of l.attributes) if (a.name.startsWith('data-')) o[a.name.slice(5)] = a.value;
const m = document.getElementById('live-message');
o.message = m && !m.hidden ? m.textContent : '';
const i = document.getElementById('live-instruction');
o.instruction = i ? i.textContent : '';
return o;
"""


@contextmanager
def chromium(clip: Path | None, *, deny: bool = False) -> Iterator[Any]:
    """The suite's headless Chromium (conftest.Browser) with a fake camera fed by ``clip``,
    or with camera permission denied (no fake-UI auto-accept)."""
    flags = ["--use-fake-device-for-media-stream"]
    if deny:
        flags.append("--deny-permission-prompts")
    else:
        flags += ["--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]
    browser = Browser(tuple(flags), width=1100, height=900)
    try:
        yield browser.driver
    finally:
        browser.close()


def live_attrs(driver) -> dict[str, str] | None:
    return driver.execute_script(LIVE_ATTRS_JS)


def start_live(driver, url: str, query: str = "") -> None:
    """Open the page on wasm, wait until it is ready, press Start camera."""
    driver.get(url + "?backend=wasm" + query)

    def ready():
        state = driver.execute_script(
            "return [document.body.dataset.ready, document.body.dataset.error || '']"
        )
        if state[1]:
            raise AssertionError(f"page failed to start: {state[1]}")
        return state[0] == "true"

    wait_for(ready, READY_TIMEOUT, "body[data-ready=true]")
    driver.find_element("id", "camera-start").click()


def watch(driver, until: Callable[[dict], bool], timeout: float, what: str) -> list[dict]:
    """Poll #live until ``until(attrs)``; returns every sample seen."""
    seen: list[dict] = []

    def probe():
        a = live_attrs(driver) or {}
        seen.append(a)
        return until(a)

    try:
        wait_for(probe, timeout, what)
    except AssertionError as e:
        tail = json.dumps(seen[-3:], indent=1)[:1500]
        raise AssertionError(f"{e}; last #live samples: {tail}") from None
    return seen


# ----------------------------------------------------------------------------- my lesions
def click_event(driver, selector: str) -> None:
    """A click event on any element (SVG shapes, such as the body map's, have no ``click()``)."""
    driver.execute_script(
        "document.querySelector(arguments[0])"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        selector,
    )


def save_check(driver, *, lesion: str = "new", name: str = "", region: str = "") -> str:
    """Keep the result on screen as a check (issue 16): ``button#history-save``, the form
    (a new lesion: ``name`` and body-map ``region``; else the saved lesion's id), keep the
    photo when offered, confirm. Returns ``#history-save-status[data-state]`` (saved|error)."""
    wait_for(
        lambda: driver.execute_script("return !document.getElementById('history-save-box').hidden"),
        RESULT_TIMEOUT,
        "button#history-save offered",
    )
    driver.find_element("id", "history-save").click()
    wait_for(
        lambda: driver.execute_script(
            "const f = document.getElementById('history-form');"
            "return !f.hidden && !!document.getElementById('history-confirm')"
        ),
        RESULT_TIMEOUT,
        "the save form",
    )
    driver.execute_script(
        "const s = document.getElementById('history-lesion'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('change', {bubbles: true}))",
        lesion,
    )
    if lesion == "new":
        driver.find_element("id", "history-name").send_keys(name)
        click_event(driver, f'#body-map [data-region="{region}"]')
        pressed = driver.execute_script(
            "return document.querySelector(arguments[0]).getAttribute('aria-pressed')",
            f'#body-map [data-region="{region}"]',
        )
        assert pressed == "true", f"body map region {region} not chosen"
    photo = driver.find_elements("id", "history-photo")
    if photo:
        photo[0].click()
    driver.find_element("id", "history-confirm").click()
    return wait_for(
        lambda: driver.execute_script(
            "const s = document.getElementById('history-save-status').dataset.state;"
            "return ['saved', 'error'].includes(s) && s"
        ),
        RESULT_TIMEOUT,
        "#history-save-status saved or error",
    )
