"""Every image source the project trains or is judged on, as one list of ``Item``.

| source | role | split |
|---|---|---|
| ``ham10000`` | dermoscopy lesions: train / val / test | by lesion (its metadata) |
| ``pad-ufes-20`` | smartphone close-ups: train / val / test | by patient (its metadata) |
| ``derm7pt`` | dermoscopy from another atlas | ``external``: evaluation only |
| ``nonlesion-imagenet`` | photos that are not skin lesions | ``train`` / ``val`` by file hash |

Derm7pt is never returned for training: :func:`training_items` refuses it, so no
weight, temperature, threshold or statistic can be fitted on it by mistake.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from training.data import ROOT, load_samples

DEFAULT_ROOT = ROOT.parent / "shared" / "data"
LESION_SOURCES = ("ham10000", "pad-ufes-20", "derm7pt")
NONLESION = "nonlesion-imagenet"
DERMOSCOPIC = {"ham10000": True, "derm7pt": True, "pad-ufes-20": False}


@dataclass(frozen=True)
class Item:
    path: Path
    source: str
    split: str
    dx: str | None  # HAM10000 class code; None for a non-lesion photo
    group: str  # lesion or patient id: what must not cross splits

    @property
    def is_lesion(self) -> bool:
        return self.dx is not None


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def ham10000(root: Path) -> list[Item]:
    return [
        Item(s.path, "ham10000", s.split, s.dx, s.lesion_id)
        for s in load_samples(root / "ham10000")
    ]


def pad_ufes(root: Path) -> list[Item]:
    base = root / "pad-ufes-20"
    return [
        Item(base / "images" / r["img_id"], "pad-ufes-20", r["split"], r["dx"], r["patient_id"])
        for r in _rows(base / "metadata.csv")
    ]


def derm7pt(root: Path) -> list[Item]:
    base = root / "derm7pt"
    return [
        Item(base / "images" / r["image"], "derm7pt", "external", r["dx"], r["image"])
        for r in _rows(base / "labels.csv")
    ]


def nonlesion(root: Path, val_fraction: float = 0.2) -> list[Item]:
    """ImageNet photos, split by a hash of the file name (stable across machines)."""
    out = []
    for path in sorted((root / NONLESION / "images").iterdir()):
        h = int(hashlib.sha256(path.name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        out.append(Item(path, NONLESION, "val" if h < val_fraction else "train", None, path.stem))
    return out


def available(root: Path) -> list[str]:
    """The sources present under ``root`` (a user's clone may have only HAM10000)."""
    return [s for s in (*LESION_SOURCES, NONLESION) if (root / s).is_dir()]


LOADERS = {"ham10000": ham10000, "pad-ufes-20": pad_ufes, "derm7pt": derm7pt, NONLESION: nonlesion}


def load(root: Path, sources: list[str] | None = None) -> list[Item]:
    items: list[Item] = []
    for name in sources or available(root):
        items += LOADERS[name](root)
    return items


def training_items(items: list[Item], split: str) -> list[Item]:
    """Items of ``split`` for fitting; never the external evaluation source."""
    if split not in ("train", "val"):
        raise ValueError(f"nothing is fitted on {split!r}")
    return [i for i in items if i.split == split and i.source != "derm7pt"]
