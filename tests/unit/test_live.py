"""The live pipeline (skinlens.live) under CPython: real quality gates, a stub model."""

import asyncio
import copy
import json
from pathlib import Path

import fixtures_video as fv
import numpy as np
import pytest
from skinlens import metadata
from skinlens.live import LivePipeline, Sampler, Scheduler, StageStats, camera_error, roi_box
from skinlens.model import Inference
from synthetic import lesion_like

REPO = Path(__file__).resolve().parents[2]
INFO = metadata.load(REPO / "models" / "skinlens-lite0" / "metadata.json")
NV = np.log([0.02, 0.02, 0.02, 0.02, 0.02, 0.88, 0.02])
# Melanoma close behind nevus: above the shipped Urgent threshold at any photo type's temperature.
MEL_BEHIND_NV = np.log([0.01, 0.01, 0.01, 0.01, 0.45, 0.50, 0.01])


def run(coro):
    return asyncio.run(coro)


def rgba(rgb: np.ndarray) -> np.ndarray:
    out = np.full((*rgb.shape[:2], 4), 255, np.uint8)
    out[..., :3] = rgb
    return out


LESION = rgba(lesion_like())
DARK = rgba((lesion_like().astype(np.float32) * 0.1).astype(np.uint8))


class StubModel:
    """The injected model: fixed logits (and OOD score) for every input."""

    def __init__(self, logits=NV, lesion: float = 5.0) -> None:
        self.logits = np.asarray(logits, np.float32)
        self.lesion = lesion
        self.batches: list[np.ndarray] = []

    async def __call__(self, batch: np.ndarray) -> Inference:
        self.batches.append(batch)
        n = batch.shape[0]
        outputs = {
            "logits": np.tile(self.logits, (n, 1)),
            "lesion": np.full((n, 1), self.lesion, np.float32),
            "dermoscopic": np.full((n, 1), 2.0, np.float32),
        }
        return Inference(outputs, 1.0)


def info_with(**smoothing) -> metadata.ModelInfo:
    raw = copy.deepcopy(INFO.raw)
    raw["live"]["smoothing"].update(smoothing)
    return metadata.ModelInfo(raw)


def test_roi_box_is_centred_square():
    assert roi_box(640, 480, 0.7) == (152, 72, 336)
    assert roi_box(480, 640, 0.7) == (72, 152, 336)
    assert roi_box(100, 100, 1.0) == (0, 0, 100)
    with pytest.raises(ValueError):
        roi_box(0, 480, 0.7)


def test_accepted_frames_become_stable_with_label_and_attrs():
    model = StubModel()
    p = LivePipeline(info_with(min_stable_frames=3), model)
    results = [run(p.process(LESION, capture_ms=0.5)) for _ in range(3)]
    assert [r.stable for r in results] == [False, False, True]
    r = results[-1]
    assert r.state == "ok" and r.verdict.label == "nv"
    a = r.attrs()
    assert (a["state"], a["label"], a["stable"], a["priority"]) == ("ok", "nv", "true", "Low")
    assert len(json.loads(a["probs"])) == 7
    assert float(a["fps"]) >= 0 and float(a["ms-capture"]) == 0.5
    # the model gets a batch of one, prepared as the metadata says (colour constancy, scale)
    x = model.batches[-1]
    assert x.dtype == np.float32 and x.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(x[0], INFO.model_input(LESION[..., :3]), atol=1e-6)
    assert set(r.timings) == {"capture", "preprocess", "inference", "postprocess", "total"}


def test_smoothed_verdict_escalates_like_a_photo():
    r = run(LivePipeline(INFO, StubModel(MEL_BEHIND_NV)).process(LESION))
    assert r.verdict.label == "nv" and r.verdict.priority == "Urgent"


def test_rejected_frame_is_never_classified():
    model = StubModel()
    r = run(LivePipeline(INFO, model).process(DARK))
    assert r.state == "dark" and not model.batches
    assert r.verdict is None and not r.stable
    assert r.attrs()["label"] == "" and r.attrs()["priority"] == "None"


def test_a_frame_that_is_not_a_lesion_reports_it_and_is_not_smoothed():
    model = StubModel(lesion=INFO.thresholds["lesion"] - 3.0)
    p = LivePipeline(INFO, model)
    r = run(p.process(LESION))
    assert len(model.batches) == 1
    assert r.state == "not-lesion" and r.verdict is None
    assert p.smoother.best() is None


def test_rejection_streak_resets_stable_verdict():
    p = LivePipeline(info_with(min_stable_frames=2, reset_after_rejects=3), StubModel())
    for _ in range(3):
        r = run(p.process(LESION))
    assert r.stable
    r = run(p.process(DARK))
    assert r.state == "dark" and r.stable and r.verdict.label == "nv"  # verdict held
    run(p.process(DARK))
    r = run(p.process(DARK))
    assert r.state == "dark" and not r.stable and r.verdict is None


def test_capture_keeps_the_sharpest_recent_frame_with_its_result():
    p = LivePipeline(INFO, StubModel())
    soft = rgba(np.asarray(lesion_like(seed=3, hairs=0)))
    for f in (soft, LESION, soft):
        run(p.process(f))
    best = p.smoother.best()
    assert best is not None and np.array_equal(best.image, LESION[..., :3])
    assert best.result.verdict.label == "nv"


def test_stage_stats_fps_and_means():
    s = StageStats()
    for i in range(11):
        s.add(i * 100.0, {"capture": 1.0, "inference": 20.0})
    assert s.fps() == pytest.approx(10.0)
    assert s.mean("inference") == 20.0 and s.mean("postprocess") is None
    assert s.summary()["frames"] == 11


def test_stage_stats_count_frames_shown_and_frames_assessed_apart():
    s = StageStats()
    for i in range(31):
        s.add(i * 1000 / 30, {"capture": 1.0, "preprocess": 2.0})
        if i % 3 == 0:
            s.add_inference(i * 1000 / 30, {"inference": 40.0})
    assert s.fps() == pytest.approx(30.0) and s.inference_fps() == pytest.approx(10.0)
    summary = s.summary()
    assert (summary["frames"], summary["inferences"]) == (31, 11)
    assert summary["inference_ms"] == 40.0


def test_sampler_gives_the_model_the_next_frame_once_it_is_free():
    s = Sampler()
    assert s.take()  # free: this frame is assessed
    assert not s.take() and not s.take()  # busy: these are only gated
    s.done()
    assert s.take()
    assert (s.frames, s.assessed, s.every) == (4, 2, 2.0)


def test_frames_the_model_skips_show_their_gates_over_the_last_verdict_unsmoothed():
    """A slow model: the frames in between never reach the model or the smoother, so a run
    of them (longer than the reset streak) neither resets nor changes the verdict."""
    model = StubModel()
    p = LivePipeline(info_with(min_stable_frames=2, reset_after_rejects=2), model)
    for _ in range(2):
        assessed = run(p.assess(p.check(LESION)))
    assert assessed.stable and assessed.verdict.label == "nv"
    for _ in range(5):
        shown = p.glance(p.check(DARK))
        assert shown.state == "dark" and shown.verdict == assessed.verdict and shown.stable
    shown = p.glance(p.check(LESION))
    assert shown.state == "ok" and shown.frame_probs is None
    assert len(model.batches) == 2 and p.stats.frames == 8 and p.stats.inferences == 2
    assert shown.timings["inference"] == assessed.timings["inference"]


def test_a_skipped_frame_after_a_not_lesion_answer_keeps_saying_so():
    p = LivePipeline(INFO, StubModel(lesion=INFO.thresholds["lesion"] - 3.0))
    assert run(p.process(LESION)).state == "not-lesion"
    assert p.glance(p.check(LESION)).state == "not-lesion"
    assert p.glance(p.check(DARK)).state == "dark"


def test_scheduler_follows_the_camera_and_leaves_the_page_a_share():
    s = Scheduler(max_fps=30, idle_share=0.1)
    assert s.next_delay_ms(10.0) == pytest.approx(1000 / 30 - 10.0)  # camera-bound
    s = Scheduler(max_fps=30, idle_share=0.1)
    assert s.next_delay_ms(90.0) == pytest.approx(10.0)  # 10% idle after a 90 ms frame


def test_live_settings_come_from_metadata():
    p = LivePipeline(INFO, StubModel())
    assert p.scheduler.max_fps == INFO.raw["live"]["max_fps"]
    assert p.smoother.config.alpha == INFO.raw["live"]["smoothing"]["alpha"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("NotAllowedError", "permission-denied"),
        ("NotFoundError", "no-camera"),
        ("NotReadableError", "camera-busy"),
        ("SomethingElse", "camera-error"),
    ],
)
def test_camera_errors_map_to_codes(name, code):
    assert camera_error(name) == code


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
    frames = list(fv.moving(base, 20, 3.0))[::5]
    verdicts = {
        "ok": [quality.run_all(fv.roi_of(f)).verdict for f in frames],
        "blurry": [quality.run_all(fv.roi_of(f)).verdict for f in fv.blurred(frames)],
        "dark": [quality.run_all(fv.roi_of(f)).verdict for f in fv.darkened(frames)],
    }
    for expected, got in verdicts.items():
        assert set(got) == {expected}, (expected, got)
