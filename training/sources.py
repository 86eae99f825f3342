"""Every image source the project trains or is judged on, as one list of ``Item``.

| source | role | split |
|---|---|---|
| ``ham10000`` | dermoscopy lesions: train / val / test | by lesion (its metadata) |
| ``pad-ufes-20`` | smartphone close-ups: train / val / test | by patient (its metadata) |
| ``fitzpatrick17k-lesions`` | clinical photos, skin types I-VI | ``train`` / ``val`` by image,
  stratified by class and skin type (:func:`fitzpatrick`) |
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
FITZPATRICK = "fitzpatrick17k-lesions"
LESION_SOURCES = ("ham10000", "pad-ufes-20", FITZPATRICK, "derm7pt")
NONLESION = "nonlesion-imagenet"
DERMOSCOPIC = {"ham10000": True, "derm7pt": True, "pad-ufes-20": False, FITZPATRICK: False}
# Fitzpatrick skin types reported together (issue 15): light, intermediate, dark.
SKIN_GROUPS = {1: "I-II", 2: "I-II", 3: "III-IV", 4: "III-IV", 5: "V-VI", 6: "V-VI"}


@dataclass(frozen=True)
class Item:
    path: Path
    source: str
    split: str
    dx: str | None  # HAM10000 class code; None for a non-lesion photo
    group: str  # lesion or patient id: what must not cross splits
    skin_type: int | None = None  # Fitzpatrick I-VI where the source records it

    @property
    def skin_group(self) -> str | None:
        return SKIN_GROUPS.get(self.skin_type or 0)

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


def _unit_hash(name: str) -> float:
    """A stable number in [0, 1] from a name (the same on every machine)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def fitzpatrick(root: Path, val_fraction: float = 0.2) -> list[Item]:
    """Fitzpatrick17k lesions, split by image (the set has no patient ids) into train and
    val, stratified by class and skin type: within each (dx, skin type) stratum, images
    ordered by a hash of their name, every image whose running share crosses a multiple
    of ``val_fraction`` goes to val. Another part of the same set is kept back by its
    publisher for evaluation; this one never yields ``test``."""
    base = root / FITZPATRICK
    rows = sorted(_rows(base / "labels.csv"), key=lambda r: _unit_hash(r["image"]))
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in rows:
        key = (r["dx"], r["fitzpatrick"])
        k = seen[key] = seen.get(key, 0) + 1
        split = "val" if int(k * val_fraction) > int((k - 1) * val_fraction) else "train"
        skin = int(r["fitzpatrick"])
        path = base / "images" / f"{r['image']}.jpg"
        out.append(Item(path, FITZPATRICK, split, r["dx"], r["image"], skin if skin > 0 else None))
    return out


def nonlesion(root: Path, val_fraction: float = 0.2) -> list[Item]:
    """ImageNet photos, split by a hash of the file name (stable across machines)."""
    out = []
    for path in sorted((root / NONLESION / "images").iterdir()):
        split = "val" if _unit_hash(path.name) < val_fraction else "train"
        out.append(Item(path, NONLESION, split, None, path.stem))
    return out


def available(root: Path) -> list[str]:
    """The sources present under ``root`` (a user's clone may have only HAM10000)."""
    return [s for s in (*LESION_SOURCES, NONLESION) if (root / s).is_dir()]


LOADERS = {
    "ham10000": ham10000,
    "pad-ufes-20": pad_ufes,
    FITZPATRICK: fitzpatrick,
    "derm7pt": derm7pt,
    NONLESION: nonlesion,
}


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
