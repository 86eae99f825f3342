"""HAM10000 data: metadata, lesion-level splits, images, augmented views.

Two layouts are accepted:

* the project's copy (``metadata.csv`` with a ``split`` column, ``images/``);
* the official full-size release (``HAM10000_metadata.csv`` and
  ``HAM10000_images_part_1/``, ``HAM10000_images_part_2/``), for which a
  lesion-level, class-stratified split is made here (:func:`lesion_split`).

Training views are made by ``training.augment`` and ``training.train`` from these
samples; ``training.sources`` puts them beside the other sources.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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
