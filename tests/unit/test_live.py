import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from skinlens import metadata
from skinlens.live import (
    Calibrated,
    Gate,
    LivePipeline,
    Scheduler,
    StageStats,
    roi_box,
    to_gates,
)
from skinlens.smoothing import Smoother, SmoothingConfig
from skinlens.triage import calibrated_probs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import fixtures_video as fv  # noqa: E402

INFO = metadata.load(REPO / "models" / "skinlens-lite0" / "metadata.json")


def run(coro):
    return asyncio.run(coro)


def frame(value: int = 128) -> np.ndarray:
    f = np.full((224, 224, 4), value, np.uint8)
    f[..., 3] = 255
    return f


def stub_gates(rgb):
    """Pass/fail by the mean intensity, like a crude exposure gate."""
    m = float(rgb.mean())
    return [
        Gate("blur", True, 100.0 + m, 50.0, "Hold steadier"),
        Gate("dark", m >= 40, m, 40.0, "More light"),
        Gate("bright", m <= 220, m, 220.0, "Less light"),
    ]


class StubModel:
    def __init__(self, logits=(0, 0, 0, 0, 0, 3.0, 0), ood=0.0):
        self.logits = list(logits)
        self.ood = ood
        self.calls = 0
        self.last_input = None

    async def __call__(self, tensor):
        self.calls += 1
        self.last_input = tensor
        return {"logits": self.logits, "ood": self.ood, "ms": 1.0}


def plain_calibrate(limit=10.0):
    def calibrate(logits, ood):
        return Calibrated(calibrated_probs(logits, 1.0), ood, ood is not None and ood > limit)

    return calibrate


def plain_priority(probs):
    top = int(np.argmax(probs))
    return INFO.classes[top].priority, "rec"


def pipeline(model, **kw):
    kw.setdefault("gates", stub_gates)
    kw.setdefault("calibrate", plain_calibrate())
    kw.setdefault("priority", plain_priority)
    kw.setdefault("smoother", Smoother(SmoothingConfig(min_stable_frames=3)))
    return LivePipeline(INFO, model, **kw)


def test_roi_box_is_centred_square():
    assert roi_box(640, 480) == (152, 72, 336)
    assert roi_box(480, 640) == (72, 152, 336)
    assert roi_box(100, 100, 1.0) == (0, 0, 100)
    with pytest.raises(ValueError):
        roi_box(0, 480)


def test_accepted_frames_become_stable_with_label_and_attrs():
    model = StubModel()
    p = pipeline(model)
    results = [run(p.process(frame(), capture_ms=0.5)) for _ in range(3)]
    assert [r.stable for r in results] == [False, False, True]
    r = results[-1]
    assert r.state == "ok" and r.accepted and r.label == "nv" and r.priority == "Low"
    a = r.attrs()
    assert a["state"] == "ok" and a["label"] == "nv" and a["stable"] == "true"
    assert len(json.loads(a["probs"])) == 7
    assert float(a["fps"]) >= 0
    assert model.calls == 3
    # the model sees the metadata normalisation: 128 * 2/255 - 1
    assert model.last_input.dtype == np.float32 and model.last_input.shape == (224, 224, 3)
    expected = 128 * INFO.norm_scale + INFO.norm_offset
    assert model.last_input[0, 0, 0] == pytest.approx(expected, abs=1e-6)
    assert set(r.timings) == {"capture", "preprocess", "inference", "postprocess", "total"}


def test_rejected_frame_is_never_classified():
    model = StubModel()
    p = pipeline(model)
    r = run(p.process(frame(10)))
    assert r.state == "dark" and r.instruction == "More light" and not r.accepted
    assert model.calls == 0
    assert r.label is None and r.priority == "None" and not r.stable
    r = run(p.process(frame(250)))
    assert r.state == "bright" and model.calls == 0


def test_ood_rejects_after_inference_and_reports_not_lesion():
    model = StubModel(ood=50.0)
    p = pipeline(model)
    r = run(p.process(frame()))
    assert model.calls == 1
    assert r.state == "not-lesion" and not r.accepted and r.ood_score == 50.0
    assert r.label is None and r.priority == "None"
    assert r.attrs()["state"] == "not-lesion"


def test_rejection_streak_resets_stable_verdict():
    model = StubModel()
    p = pipeline(
        model, smoother=Smoother(SmoothingConfig(min_stable_frames=2, reset_after_rejects=3))
    )
    for _ in range(3):
        r = run(p.process(frame()))
    assert r.stable
    r = run(p.process(frame(5)))
    assert r.state == "dark" and r.stable and r.label == "nv"  # verdict held
    run(p.process(frame(5)))
    r = run(p.process(frame(5)))
    assert r.state == "dark" and not r.stable and r.label is None


def test_capture_returns_sharpest_recent_frame():
    model = StubModel()
    p = pipeline(model)
    for v in (100, 180, 120):  # stub sharpness = 100 + mean
        run(p.process(frame(v)))
    cap = p.capture()
    assert int(cap["image"][0, 0, 0]) == 180
    assert cap["frame_result"]["label"] == "nv"
    assert cap["verdict"]["label"] == "nv"
    assert pipeline(StubModel()).capture() is None


def test_flat_rgba_buffer_is_accepted():
    p = pipeline(StubModel())
    r = run(p.process(frame().reshape(-1)))
    assert r.accepted


def test_tuple_inference_output():
    async def infer(t):
        return ([0, 0, 0, 0, 5.0, 0, 0], 0.0)

    r = run(pipeline(infer).process(frame()))
    assert r.label == "mel"


def test_warming_up_result():
    r = pipeline(StubModel()).warming_up()
    assert r.attrs()["state"] == "warming-up" and r.attrs()["stable"] == "false"


def test_stage_stats_fps_and_means():
    s = StageStats(window=4)
    for i in range(11):
        s.add(i * 100.0, capture=1.0, preprocess=2.0, inference=50.0, postprocess=1.0, total=54)
    assert s.fps() == pytest.approx(10.0)
    summ = s.summary()
    assert summ["inference_ms"] == 50.0 and summ["frames"] == 11


def test_scheduler_adapts_to_busy_time():
    s = Scheduler(max_fps=15, idle_share=0.2, smoothing=1.0)
    # fast frames: capped by the camera frame rate (66.7 ms per frame)
    assert s.next_delay_ms(10) == pytest.approx(1000 / 15 - 10)
    # slow inference: a quarter of the busy time is left idle (20 % share)
    assert s.next_delay_ms(200) == pytest.approx(50.0)
    assert Scheduler(max_delay_ms=30, smoothing=1.0).next_delay_ms(1000) == 30
    # achieved rate never exceeds max_fps, and the loop spends <= 85 % busy
    s = Scheduler(max_fps=15)
    for busy in (40, 80, 120, 300):
        for _ in range(20):
            d = s.next_delay_ms(busy)
        assert 1000 / (busy + d) <= 15 + 1e-6
        assert busy / (busy + d) <= 0.85 + 1e-3


def test_to_gates_accepts_dicts_objects_and_mappings():
    from types import SimpleNamespace

    g = to_gates([{"name": "blur", "passed": False, "value": 3, "instruction": "x"}])
    assert g[0].state == "blurry" and not g[0].passed and g[0].value == 3.0
    g = to_gates(SimpleNamespace(verdicts=[SimpleNamespace(name="glare", ok=True, value=0.1)]))
    assert g[0].state == "glare" and g[0].passed
    g = to_gates({"dark": {"passed": False, "value": 12}})
    assert g[0].state == "dark" and not g[0].passed


def test_every_quality_gate_maps_to_a_live_state():
    quality = pytest.importorskip("skinlens.quality")
    from skinlens.live import GATE_STATE, STATES

    for name in quality.GATE_ORDER:
        assert GATE_STATE.get(name, name) in STATES, name


def _skin_rgba(value_scale=1.0, blur=False):
    """A skin-toned, textured ROI with a brown blotch (passes the real gates)."""
    rng = np.random.default_rng(0)
    img = np.empty((224, 224, 3), np.float32)
    img[:] = (215, 160, 140)
    yy, xx = np.mgrid[:224, :224]
    blob = ((yy - 112) ** 2 + (xx - 112) ** 2) < 50**2
    img[blob] = (120, 70, 50)
    img += rng.normal(0, 12, (224, 224, 1))
    img = np.clip(img * value_scale, 0, 255).astype(np.uint8)
    if blur:
        from PIL import Image, ImageFilter

        img = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(6)))
    rgba = np.full((224, 224, 4), 255, np.uint8)
    rgba[..., :3] = img
    return rgba


def test_default_pipeline_with_real_quality_gates():
    """The real gates (skinlens.quality) drive the states; only ok frames are inferred."""
    pytest.importorskip("skinlens.quality")
    model = StubModel()
    p = LivePipeline(INFO, model)
    r = run(p.process(_skin_rgba()))
    assert r.state == "ok" and model.calls == 1 and r.label == "nv"
    assert any(g.state == "blurry" and g.value for g in r.gates)
    r = run(p.process(_skin_rgba(0.1)))
    assert r.state == "dark" and model.calls == 1
    green = _skin_rgba()
    green[..., :3] = green[..., [1, 0, 2]]  # red <-> green: no skin chroma left
    r = run(p.process(green))
    assert r.state == "not-lesion" and model.calls == 1
    r = run(p.process(_skin_rgba(blur=True)))
    assert r.state == "blurry" and model.calls == 1


def test_camera_error_messages():
    from skinlens.live import camera_error

    code, _title, msg = camera_error("NotAllowedError", "Permission denied")
    assert code == "permission-denied" and "allow the camera" in msg
    assert camera_error("NotFoundError")[0] == "no-camera"
    assert camera_error(None, "NotReadableError: Could not start video source")[0] == "camera-busy"
    assert camera_error("WeirdError")[0] == "camera-error"


def test_priority_of_smoothed_probs_goes_through_triage(monkeypatch):
    """Smoothed probs reach triage.assess as logits T*log(p): its rules apply unchanged."""
    import sys
    import types

    from skinlens.live import default_priority

    seen = {}

    def assess(logits, ood, info, quality=None):
        p = calibrated_probs(logits, info.temperature)
        seen["probs"] = p
        level = "Urgent" if p[4] > 0.2 else info.classes[int(np.argmax(p))].priority
        return {"priority": level, "recommendation": info.recommendations[level]}

    fake = types.ModuleType("skinlens.triage")
    fake.assess = assess
    fake.calibrated_probs = calibrated_probs
    monkeypatch.setitem(sys.modules, "skinlens.triage", fake)
    probs = np.array([0.02, 0.02, 0.02, 0.02, 0.25, 0.65, 0.02])
    level, rec = default_priority(INFO)(probs)
    assert level == "Urgent" and rec == INFO.recommendations["Urgent"]
    np.testing.assert_allclose(seen["probs"], probs, atol=1e-9)


# --------------------------------------------------------------------------
# the camera test clips (tests/fixtures_video.py), no browser
# --------------------------------------------------------------------------
def test_y4m_writer_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    flat = [np.full((48, 64, 3), (200, 120, 90), np.uint8)]
    path = tmp_path / "x.y4m"
    assert fv.write_y4m(path, frames + flat, fps=15) == 4
    raw = path.read_bytes()
    assert raw.startswith(b"YUV4MPEG2 W64 H48 F15:1 Ip A1:1 C420jpeg\n")
    frame_bytes = len(b"FRAME\n") + 64 * 48 * 3 // 2
    assert len(raw) == raw.index(b"\n") + 1 + 4 * frame_bytes
    tags, back = fv.read_y4m(path)
    assert tags["W"] == "64" and tags["H"] == "48" and len(back) == 4
    # a flat colour survives the YCbCr round trip (4:2:0 loses nothing on it)
    assert np.abs(back[3].astype(int) - flat[0]).max() <= 2
    # luma is kept per pixel: the mean brightness of noisy frames is preserved
    y0 = frames[0].astype(float) @ [0.299, 0.587, 0.114]
    y1 = back[0].astype(float) @ [0.299, 0.587, 0.114]
    assert abs(y0.mean() - y1.mean()) < 3
    with pytest.raises(ValueError):
        fv.write_y4m(tmp_path / "odd.y4m", [np.zeros((5, 4, 3), np.uint8)])


def test_scene_clip_is_rejected_by_the_colour_gate():
    from skinlens import quality

    for frame in list(fv.scene_frames(20))[::5]:
        assert quality.run_all(fv.roi_of(frame)).verdict == "not-lesion"


@pytest.mark.data
def test_lesion_clip_rois_get_the_expected_verdicts():
    """The clips mean what the browser tests assume (checked in CPython, no browser)."""
    from skinlens import quality

    images = fv.lesion_images(1)
    if not images:
        pytest.skip(f"HAM10000 not found at {fv.data_dir()} (set SKINLENS_DATA)")
    base = fv.lesion_base(images[0])
    frames = list(fv._moving(base, 20, 3.0))[::5]
    verdicts = {
        "ok": [quality.run_all(fv.roi_of(f)).verdict for f in frames],
        "blurry": [quality.run_all(fv.roi_of(f)).verdict for f in fv.blurred(frames)],
        "dark": [quality.run_all(fv.roi_of(f)).verdict for f in fv.darkened(frames)],
    }
    for expected, got in verdicts.items():
        assert set(got) == {expected}, (expected, got)
