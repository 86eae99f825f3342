"""Quality gates: each gate on synthetic arrays, ordering, metadata wiring, and
(with the data) the pass rate on real HAM10000 validation images."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from skinlens import quality
from skinlens.preprocess import center_square_box, crop_resize
from skinlens.quality import GATE_ORDER, QualityThresholds, run_all


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(sigma)))


def gain(rgb: np.ndarray, factor: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor + offset, 0, 255).astype(np.uint8)


def add_noise(rgb: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(rgb.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def motion_blur(rgb: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Box smear of ``length`` px along ``axis`` (1 = horizontal camera shake)."""
    pad = [(0, 0)] * 3
    pad[axis] = (length // 2, length // 2)
    padded = np.pad(rgb.astype(np.float32), pad, "edge")
    n = rgb.shape[axis]
    total = sum(np.take(padded, range(k, k + n), axis=axis) for k in range(length))
    return (total / length).astype(np.uint8)


def glare_spots(rgb: np.ndarray, fraction: float) -> np.ndarray:
    """Three white specular discs covering ``fraction`` of the image."""
    image = Image.fromarray(rgb.copy())
    draw = ImageDraw.Draw(image)
    h, w = rgb.shape[:2]
    radius = int(np.sqrt(fraction * h * w / np.pi / 3))
    for cx, cy in ((0.36 * w, 0.40 * h), (0.62 * w, 0.54 * h), (0.50 * w, 0.72 * h)):
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=(255, 255, 255))
    return np.asarray(image)


def textured(color: tuple[int, int, int], seed: int = 0, amplitude: float = 12.0) -> np.ndarray:
    """A sharp, uniformly coloured texture (grass, sky, paper...)."""
    rng = np.random.default_rng(seed)
    base = np.array(color, dtype=np.float32)
    tex = rng.normal(0.0, amplitude, (224, 224, 1)).astype(np.float32)
    return np.clip(base + tex * (base / max(base.max(), 1.0)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- gates


def test_synthetic_lesion_passes_every_gate(lesion: np.ndarray) -> None:
    report = run_all(lesion)
    assert report.ok, report
    assert report.verdict == "ok"
    assert [g.name for g in report.gates] == list(GATE_ORDER)
    assert all(g.passed for g in report.gates)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("sigma", [4.0, 6.0])
def test_gaussian_blur_is_blurry(make_lesion, seed: int, sigma: float) -> None:
    sharp = make_lesion(seed=seed)
    blurred = blur(sharp, sigma)
    assert run_all(sharp).ok
    report = run_all(blurred)
    assert report.verdict == "blurry"
    assert report.measurements["sharpness"] < run_all(sharp).measurements["sharpness"] / 50


@pytest.mark.parametrize("length", [9, 15])
@pytest.mark.parametrize("axis", [0, 1], ids=["vertical", "horizontal"])
def test_motion_blur_is_blurry(make_lesion, axis: int, length: int) -> None:
    """Shake keeps detail across the motion; the weakest direction still shows it."""
    hairless = make_lesion(hairs=0)
    assert run_all(hairless).ok
    assert run_all(motion_blur(hairless, length, axis)).verdict == "blurry"


def test_motion_along_hairs_is_blurry(lesion: np.ndarray) -> None:
    """Known limit: high-contrast hairs *across* the motion keep smeared edges
    (real HAM10000 images: 15 px shake is still caught 92-96%); along the
    hairs the shake is caught."""
    assert run_all(motion_blur(lesion, 15, 0)).verdict == "blurry"


def test_sensor_noise_does_not_hide_blur_or_fake_it(lesion: np.ndarray) -> None:
    """Plain Laplacian variance calls a noisy blurred frame sharp; ours must not."""
    assert run_all(add_noise(blur(lesion, 4.0), 3.0)).verdict == "blurry"
    assert run_all(add_noise(lesion, 3.0)).ok


@pytest.mark.parametrize("factor", [0.3, 0.15, 0.05])
def test_underexposed_is_dark(lesion: np.ndarray, factor: float) -> None:
    report = run_all(gain(lesion, factor))
    assert report.verdict == "dark"


def test_white_page_is_not_lesion_rather_than_glare() -> None:
    page = textured((200, 200, 198), amplitude=24.0)
    report = run_all(page)
    assert (
        report.measurements["glare_fraction"] > 0.0
    )  # some clipped pixels, yet the verdict is not "glare"
    assert report.verdict == "not-lesion"


def test_black_frame_is_dark_not_blurry() -> None:
    """Order matters: a black frame has no detail, but the cause is light."""
    assert run_all(np.zeros((224, 224, 3), np.uint8)).verdict == "dark"


def test_dim_but_usable_frame_is_not_blurry(lesion: np.ndarray) -> None:
    """Sharpness is exposure-normalised: 60% exposure keeps its detail."""
    report = run_all(gain(lesion, 0.6))
    assert report.verdict == "ok", report


@pytest.mark.parametrize(("factor", "offset"), [(2.0, 0.0), (1.0, 120.0), (3.0, 0.0)])
def test_overexposed_is_bright(lesion: np.ndarray, factor: float, offset: float) -> None:
    report = run_all(gain(lesion, factor, offset))
    assert report.verdict == "bright"


def test_white_frame_is_bright() -> None:
    assert run_all(np.full((224, 224, 3), 255, np.uint8)).verdict == "bright"


@pytest.mark.parametrize("fraction", [0.03, 0.08])
def test_specular_spots_are_glare(lesion: np.ndarray, fraction: float) -> None:
    report = run_all(glare_spots(lesion, fraction))
    assert report.verdict == "glare"
    assert report.measurements["glare_fraction"] == pytest.approx(fraction, rel=0.3)


def test_tiny_highlight_is_not_glare(lesion: np.ndarray) -> None:
    assert run_all(glare_spots(lesion, 0.005)).ok


def test_pale_pink_skin_is_not_glare(lesion: np.ndarray) -> None:
    """Bright pink skin keeps green/blue below the glare level."""
    pale = gain(lesion, 1.0, 20.0)
    report = run_all(pale)
    assert report.measurements["glare_fraction"] < 0.01
    assert report.verdict == "ok", report


@pytest.mark.parametrize(
    ("name", "color"),
    [
        ("grass", (70, 140, 50)),
        ("sky", (110, 160, 225)),
        ("grey page", (200, 200, 200)),
        ("dark grey wall", (90, 90, 92)),
        ("teal", (40, 150, 150)),
    ],
)
def test_non_skin_colours_are_not_lesion(name: str, color: tuple[int, int, int]) -> None:
    report = run_all(textured(color))
    assert report.verdict == "not-lesion", (name, report)


@pytest.mark.parametrize(
    "color",
    [(222, 172, 152), (140, 90, 70), (170, 160, 190), (200, 120, 130), (95, 62, 45)],
    ids=["fair skin", "brown", "lavender skin", "red vascular", "dark brown skin"],
)
def test_skin_and_lesion_colours_pass_colour_gate(color: tuple[int, int, int]) -> None:
    m = quality.measure(textured(color))
    assert m["skin_fraction"] >= QualityThresholds().skin_min_fraction, (color, m)


def test_first_failure_wins_but_everything_is_measured() -> None:
    blurred_grass = blur(textured((70, 140, 50)), 5.0)
    report = run_all(blurred_grass)
    assert report.verdict == "not-lesion"
    failed = [g.name for g in report.gates if not g.passed]
    assert failed == ["not-lesion", "blurry"]
    assert set(report.measurements) >= {
        "mean_luminance",
        "highlight_luminance",
        "shadow_luminance",
        "glare_fraction",
        "skin_fraction",
        "sharpness",
        "noise_sigma",
    }


def test_rgba_input_is_accepted(lesion: np.ndarray) -> None:
    rgba = np.dstack([lesion, np.full(lesion.shape[:2], 255, np.uint8)])
    assert run_all(rgba).measurements == pytest.approx(run_all(lesion).measurements)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((224, 224), np.uint8),
        np.zeros((224, 224, 3), np.float32),
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((224, 224, 2), np.uint8),
    ],
    ids=["2d", "float", "tiny", "2ch"],
)
def test_invalid_input_raises(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        run_all(bad)


def test_report_names_each_gate_with_its_value_and_threshold(lesion: np.ndarray) -> None:
    report = run_all(blur(lesion, 5.0))
    assert [g.name for g in report.gates] == list(GATE_ORDER)
    last = report.gates[-1]
    assert last.name == "blurry" and not last.passed
    assert last.threshold == QualityThresholds().blur_min_sharpness
    assert last.value == report.measurements["sharpness"]


def test_noise_estimate_matches_added_noise() -> None:
    flat = np.full((224, 224), 128.0, np.float32)
    noisy = flat + np.random.default_rng(0).normal(0, 5.0, flat.shape).astype(np.float32)
    assert quality.noise_sigma(noisy) == pytest.approx(5.0, rel=0.05)
    assert quality.noise_sigma(flat) == 0.0


def test_gates_are_fast(lesion: np.ndarray) -> None:
    run_all(lesion)
    n = 30
    start = time.perf_counter()
    for _ in range(n):
        run_all(lesion)
    ms = (time.perf_counter() - start) * 1000 / n
    print(f"\nquality.run_all on 224x224: {ms:.2f} ms (budget 5 ms)")
    assert ms < 50, "an order of magnitude over budget even on a loaded machine"


# --------------------------------------------------------------------------- thresholds


def test_thresholds_come_from_metadata(info) -> None:
    t = QualityThresholds.from_info(info)
    assert t == QualityThresholds(
        **{k: float(v) for k, v in info.raw["quality"].items() if k != "calibration"}
    )


def test_code_defaults_match_shipped_and_base_metadata(raw_metadata, base_metadata) -> None:
    """One set of numbers: the dataclass defaults, the draft and base_metadata.json."""
    base = base_metadata
    defaults = {f.name: getattr(QualityThresholds(), f.name) for f in fields(QualityThresholds)}
    for section in (raw_metadata["quality"], base["quality"]):
        numeric = {k: v for k, v in section.items() if k in defaults}
        assert numeric == defaults
        assert isinstance(section.get("calibration"), str)


def test_metadata_threshold_changes_the_verdict(lesion: np.ndarray) -> None:
    strict = run_all(lesion, QualityThresholds(blur_min_sharpness=1e9))
    assert strict.verdict == "blurry"


def test_missing_keys_keep_defaults(info) -> None:
    raw = {**info.raw, "quality": {"glare_max_fraction": 0.5, "calibration": "text"}}
    t = QualityThresholds.from_info(type(info)(raw))
    assert t.glare_max_fraction == 0.5
    assert t.blur_min_sharpness == QualityThresholds().blur_min_sharpness


# --------------------------------------------------------------------------- real images


def _val_rois(data_dir: Path, step: int, fraction: float) -> list[np.ndarray]:
    with open(data_dir / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "val"][::step]
    rois = []
    for r in rows:
        with Image.open(data_dir / "images" / f"{r['image_id']}.jpg") as im:
            im.load()
            rois.append(crop_resize(im, 224, center_square_box(*im.size, fraction)))
    return rois


@pytest.mark.data
@pytest.mark.parametrize(
    "fraction", [1.0, 0.7], ids=["upload-centre-square", "live-guide-circle-70pct"]
)
def test_real_val_lesions_pass_and_degraded_versions_fail(data_dir: Path, fraction: float) -> None:
    """The claim in the metadata's ``quality.calibration``: every val image must
    pass at >= 99%; degradations are checked on every 4th image (speed)."""
    rois = _val_rois(data_dir, 1, fraction)
    assert len(rois) > 900
    ok = float(np.mean([run_all(a).ok for a in rois]))
    some = rois[::4]

    def rate(transform, verdict: str) -> float:
        return float(np.mean([run_all(transform(a)).verdict == verdict for a in some]))

    rates = {
        "real ok": ok,
        "blur sigma 4 -> blurry": rate(lambda a: blur(a, 4.0), "blurry"),
        "motion 15 px -> blurry": rate(lambda a: motion_blur(a, 15, 1), "blurry"),
        "x0.35 -> dark": rate(lambda a: gain(a, 0.35), "dark"),
        "3% white spots -> glare": rate(lambda a: glare_spots(a, 0.03), "glare"),
        "x1.8 -> bright": rate(lambda a: gain(a, 1.8), "bright"),
    }
    print(f"\nROI fraction {fraction}, n={len(rois)}: {json.dumps(rates)}")
    assert ok >= 0.99
    assert rates["blur sigma 4 -> blurry"] >= 0.95
    assert rates["motion 15 px -> blurry"] >= 0.85
    assert rates["x0.35 -> dark"] >= 0.98
    assert rates["3% white spots -> glare"] >= 0.95
    assert rates["x1.8 -> bright"] >= 0.7
