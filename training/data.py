"""HAM10000 data: metadata, lesion-level splits, images, augmented views.

Two layouts are accepted:

* the project's copy (``metadata.csv`` with a ``split`` column, ``images/``);
* the official full-size release (``HAM10000_metadata.csv`` and
  ``HAM10000_images_part_1/``, ``HAM10000_images_part_2/``), for which a
  lesion-level, class-stratified split is made here (:func:`lesion_split`).

Every view goes through ``skinlens.preprocess`` (the page's own code), so the
model is trained on exactly the pixels the app will feed it.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skinlens import preprocess

ROOT = Path(__file__).resolve().parents[1]


DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ham10000"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    image_id: str
    lesion_id: str
    dx: str
    split: str
    path: Path
    dataset: str = ""


def _official_image_path(root: Path, image_id: str) -> Path:
    for part in ("HAM10000_images_part_1", "HAM10000_images_part_2", "images"):
        p = root / part / f"{image_id}.jpg"
        if p.exists():
            return p
    raise FileNotFoundError(f"{image_id}.jpg not found under {root}")


def lesion_split(
    rows: list[dict[str, str]],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, str]:
    """Assign each lesion (not image) to train/val/test, stratified by diagnosis.

    All images of a lesion share its split, so no lesion leaks between splits.
    Returns ``{lesion_id: split}``.
    """
    by_dx: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for r in sorted(rows, key=lambda r: r["lesion_id"]):
        if r["lesion_id"] not in seen:
            seen.add(r["lesion_id"])
            by_dx[r["dx"]].append(r["lesion_id"])
    rng = random.Random(seed)
    out: dict[str, str] = {}
    for dx in sorted(by_dx):
        lesions = by_dx[dx]
        rng.shuffle(lesions)
        n_val = round(len(lesions) * fractions[1])
        n_test = round(len(lesions) * fractions[2])
        for i, lesion in enumerate(lesions):
            out[lesion] = "val" if i < n_val else "test" if i < n_val + n_test else "train"
    return out


def load_samples(root: Path | str = DEFAULT_DATA) -> list[Sample]:
    """Read either layout and return samples with their split."""
    root = Path(root)
    if (root / "metadata.csv").exists():
        with open(root / "metadata.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return [
            Sample(
                r["image_id"],
                r["lesion_id"],
                r["dx"],
                r["split"],
                root / "images" / f"{r['image_id']}.jpg",
                r.get("dataset", ""),
            )
            for r in rows
        ]
    if (root / "HAM10000_metadata.csv").exists():
        with open(root / "HAM10000_metadata.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        split = lesion_split(rows)
        return [
            Sample(
                r["image_id"],
                r["lesion_id"],
                r["dx"],
                split[r["lesion_id"]],
                _official_image_path(root, r["image_id"]),
                r.get("dataset", ""),
            )
            for r in rows
        ]
    raise FileNotFoundError(
        f"no HAM10000 metadata in {root} (expected metadata.csv or HAM10000_metadata.csv)"
    )


def check_no_leak(samples: list[Sample]) -> None:
    """Raise if any lesion_id appears in more than one split."""
    splits: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        splits[s.lesion_id].add(s.split)
    leaked = [lid for lid, sp in splits.items() if len(sp) > 1]
    if leaked:
        raise ValueError(f"{len(leaked)} lesions cross splits, e.g. {leaked[:3]}")


def labels_of(samples: list[Sample], codes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(codes)}
    return np.array([index[s.dx] for s in samples], dtype=np.int64)


@dataclass(frozen=True)
class Augment:
    """Dermoscopy-appropriate augmentation: lesions have no canonical orientation,
    framing varies, and colour depends on the device and lighting."""

    min_scale: float = 0.65
    brightness: float = 0.15
    contrast: float = 0.15
    saturation: float = 0.15
    channel_gain: float = 0.05


def random_box(width: int, height: int, rng: np.random.Generator, min_scale: float):
    side = min(width, height) * rng.uniform(min_scale, 1.0)
    left = rng.uniform(0, width - side)
    top = rng.uniform(0, height - side)
    return (left, top, left + side, top + side)


def color_jitter(rgb: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    x = rgb.astype(np.float32)
    x *= rng.uniform(1 - aug.brightness, 1 + aug.brightness)
    mean = x.mean()
    x = (x - mean) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * rng.uniform(1 - aug.saturation, 1 + aug.saturation) + grey
    x *= rng.uniform(1 - aug.channel_gain, 1 + aug.channel_gain, size=3).astype(np.float32)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def load_view(
    path: Path, size: int, rng: np.random.Generator | None = None, aug: Augment | None = None
) -> np.ndarray:
    """One uint8 RGB view: centred square (``rng is None``) or an augmented one."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if rng is None or aug is None:
            return preprocess.crop_resize(im, size)
        rgb = preprocess.crop_resize(im, size, random_box(*im.size, rng, aug.min_scale))
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    if rng.random() < 0.5:
        rgb = rgb[::-1]
    rgb = np.rot90(rgb, int(rng.integers(4)))
    return color_jitter(np.ascontiguousarray(rgb), rng, aug)
