"""Live camera mode in headless Chromium, fed by generated ``.y4m`` clips.

Chromium's fake camera (``--use-fake-device-for-media-stream``) plays the clip
given by ``--use-file-for-fake-video-capture`` in a loop; the clip is a flag,
so every clip gets its own browser. Each test starts the real page (built into
a temporary ``dist/``, served on 127.0.0.1 with outside hosts blocked), waits
for ``body[data-ready=true]``, presses ``#camera-start`` and watches ``#live``
(the automation contract in DESIGN.md).

Clips (``tests/fixtures_video.py``): a HAM10000 lesion held steady with a
slight jitter, the same blurred and darkened, and a drawn outdoor scene.
Permission denied is the real browser path: no fake-UI flag and
``--deny-permission-prompts``, so ``getUserMedia`` rejects with NotAllowedError.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "py")]

import fixtures_video as fv  # noqa: E402
from browser_conftest import Browser  # noqa: E402

MODEL_DIR = REPO / "models" / "skinlens-lite0"
CODES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
READY_TIMEOUT = 120.0


def _placeholder_model() -> bool:
    try:
        meta = json.loads((MODEL_DIR / "metadata.json").read_text())
    except (OSError, ValueError):
        return False
    return str(meta.get("status", "")).upper().startswith("PLACEHOLDER")


PLACEHOLDER = _placeholder_model()
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

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


# --------------------------------------------------------------------------
# browser fixtures
# --------------------------------------------------------------------------
def _need_browser() -> None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium/chromedriver missing: apt-get install chromium chromium-driver")
    pytest.importorskip("selenium")
    if not (MODEL_DIR / "model.json").is_file():
        pytest.skip(f"no shipped model at {MODEL_DIR.relative_to(REPO)}/model.json yet")


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """The built page on 127.0.0.1, or ``SKINLENS_LIVE_URL`` (an already served build)."""
    url = os.environ.get("SKINLENS_LIVE_URL")
    if url:
        if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
            pytest.skip("chromium/chromedriver missing")
        yield url if url.endswith("/") else url + "/"
        return
    _need_browser()
    import build

    tmp = Path(tempfile.mkdtemp(prefix="skinlens-live-dist-"))
    try:
        build.build(dist=tmp / "dist", quiet=True)
        with build.running_server(tmp / "dist", port=0) as srv:
            yield srv.url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def clip_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="skinlens-clips-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def lesion_base(clip_dir):
    images = fv.lesion_images(1)
    if not images:
        pytest.skip(f"HAM10000 not found at {fv.data_dir()} (set SKINLENS_DATA)")
    return fv.lesion_base(images[0])


def _clip(clip_dir: Path, name: str, frames) -> Path:
    path = clip_dir / f"{name}.y4m"
    if not path.exists():
        fv.write_y4m(path, frames)
    return path


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


def _wait(fn: Callable[[], Any], timeout: float, what: str, poll: float = 0.25) -> Any:
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def live_attrs(driver) -> dict[str, str] | None:
    return driver.execute_script(LIVE_ATTRS_JS)


def start_live(driver, url: str) -> None:
    driver.get(url + "?backend=wasm")

    def ready():
        state = driver.execute_script(
            "return [document.body.dataset.ready, document.body.dataset.error || '']"
        )
        if state[1]:
            raise AssertionError(f"page failed to start: {state[1]}")
        return state[0] == "true" and driver.execute_script(
            "return !!document.getElementById('live')"
        )

    _wait(ready, READY_TIMEOUT, "body[data-ready=true] and #live")
    driver.find_element("id", "camera-start").click()


def watch(driver, until: Callable[[dict], bool], timeout: float, what: str) -> list[dict]:
    """Poll #live until ``until(attrs)``; returns every sample seen."""
    seen: list[dict] = []

    def probe():
        a = live_attrs(driver) or {}
        seen.append(a)
        return until(a)

    try:
        _wait(probe, timeout, what)
    except AssertionError as e:
        tail = json.dumps(seen[-3:], indent=1)[:1500]
        raise AssertionError(f"{e}; last #live samples: {tail}") from None
    return seen


# --------------------------------------------------------------------------
# browser tests
# --------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.data
def test_steady_lesion_reaches_a_stable_verdict(live_server, clip_dir, lesion_base):
    clip = _clip(clip_dir, "lesion", fv._moving(lesion_base, 45, 3.0))
    with chromium(clip) as d:
        start_live(d, live_server)
        if PLACEHOLDER:
            # an untrained head is never confident: check the verdict, not its stability
            seen = watch(d, lambda a: a.get("state") == "ok" and a.get("label"), 60, "a verdict")
        else:
            seen = watch(
                d,
                lambda a: a.get("state") == "ok" and a.get("stable") == "true" and a.get("label"),
                60,
                "a stable verdict on the steady lesion clip",
            )
        a = seen[-1]
        assert a["label"] in CODES
        assert a["priority"] in ("Urgent", "High", "Medium", "Low")
        probs = json.loads(a["probs"])
        assert len(probs) == 7 and abs(sum(probs) - 1) < 1e-3
        assert CODES[int(np.argmax(probs))] == a["label"]
        assert a["camera"] == "on" and not a["message"]
        # the loop keeps running: fps and per-stage timings are reported
        a = watch(d, lambda a: float(a.get("fps") or 0) > 0 and a.get("stats"), 10, "stats")[-1]
        stats = json.loads(a["stats"])
        for k in ("capture_ms", "preprocess_ms", "inference_ms", "postprocess_ms"):
            assert stats[k] is not None and stats[k] >= 0, (k, stats)
        panel = d.find_element("id", "live-stat-fps").text
        assert "fps" in panel
        # capture freezes the best recent frame with its result
        d.find_element("id", "camera-capture").click()
        cap = _wait(
            lambda: d.execute_script(
                "const c = document.getElementById('live-captured');"
                "return c && !c.hidden ? Object.assign({}, c.dataset) : null"
            ),
            10,
            "#live-captured",
        )
        assert cap["label"] in CODES and len(json.loads(cap["probs"])) == 7
        # stop: the camera is released
        d.find_element("id", "camera-start").click()
        watch(d, lambda a: a.get("camera") == "off", 10, "camera off")


@pytest.mark.browser
@pytest.mark.data
def test_blurred_clip_is_reported_blurry(live_server, clip_dir, lesion_base):
    clip = _clip(clip_dir, "blurred", fv.blurred(fv._moving(lesion_base, 45, 3.0)))
    with chromium(clip) as d:
        start_live(d, live_server)
        seen = watch(d, lambda a: a.get("state") == "blurry", 45, "data-state=blurry")
        a = seen[-1]
        assert a["stable"] == "false" and a["label"] == ""
        assert "steadier" in a["instruction"].lower() or "focus" in a["instruction"].lower()
        assert not any(s.get("state") == "ok" for s in seen)


@pytest.mark.browser
@pytest.mark.data
def test_dark_clip_is_reported_dark(live_server, clip_dir, lesion_base):
    clip = _clip(clip_dir, "dark", fv.darkened(fv._moving(lesion_base, 45, 3.0)))
    with chromium(clip) as d:
        start_live(d, live_server)
        seen = watch(d, lambda a: a.get("state") == "dark", 45, "data-state=dark")
        assert "light" in seen[-1]["instruction"].lower()
        assert not any(s.get("state") == "ok" for s in seen)


@pytest.mark.browser
def test_non_lesion_scene_is_rejected(live_server, clip_dir):
    clip = _clip(clip_dir, "scene", fv.scene_frames(45))
    with chromium(clip) as d:
        start_live(d, live_server)
        seen = watch(d, lambda a: a.get("state") == "not-lesion", 45, "data-state=not-lesion")
        a = seen[-1]
        assert a["stable"] == "false" and a["label"] == "" and a["priority"] == "None"
        # it stays rejected for a while: never classified as a lesion
        time.sleep(2)
        later = live_attrs(d)
        assert later["state"] == "not-lesion" and later["label"] == ""


@pytest.mark.browser
def test_permission_denied_shows_its_message(live_server):
    with chromium(None, deny=True) as d:
        start_live(d, live_server)
        a = watch(d, lambda a: a.get("camera") == "error", 20, "camera error")[-1]
        assert a["error"] == "permission-denied"
        assert "denied" in a["message"].lower() and "allow the camera" in a["message"].lower()
        assert d.find_element("id", "live-message").is_displayed()
        # the page keeps working: the photo input is still enabled
        assert d.find_element("id", "file-input").is_enabled()
