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
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import fixtures_video as fv
import numpy as np
import pytest
from harness import chromium, live_attrs, save_check, start_live, wait_for, watch

CODES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


@pytest.fixture(scope="module")
def live_server(server, model_files) -> str:
    """The session's built page on 127.0.0.1 (see conftest)."""
    return server.url


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


# --------------------------------------------------------------------------
# browser tests
# --------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.data
def test_steady_lesion_reaches_a_stable_verdict(live_server, clip_dir, lesion_base):
    clip = _clip(clip_dir, "lesion", fv.moving(lesion_base, 45, 3.0))
    with chromium(clip) as d:
        start_live(d, live_server)
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
        cap = wait_for(
            lambda: d.execute_script(
                "const c = document.getElementById('live-captured');"
                "return c && !c.hidden ? Object.assign({}, c.dataset) : null"
            ),
            10,
            "#live-captured",
        )
        assert cap["label"] in CODES and len(json.loads(cap["probs"])) == 7
        # the capture can be kept as a check of a lesion (issue 16): its crop is the frame
        assert save_check(d, name="live mole", region="front-chest") == "saved"
        # stop: the camera is released
        d.find_element("id", "camera-start").click()
        watch(d, lambda a: a.get("camera") == "off", 10, "camera off")


@pytest.mark.browser
@pytest.mark.data
def test_blurred_clip_is_reported_blurry(live_server, clip_dir, lesion_base):
    clip = _clip(clip_dir, "blurred", fv.blurred(fv.moving(lesion_base, 45, 3.0)))
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
    clip = _clip(clip_dir, "dark", fv.darkened(fv.moving(lesion_base, 45, 3.0)))
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
