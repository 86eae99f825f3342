"""A tiny data root in every source layout the trainer reads (``training.sources``):
HAM10000 and PAD-UFES-20 lesions (train/val/test), Fitzpatrick17k lesions, Derm7pt and
non-lesion photos. The images are generated (a coloured blob per class on skin, with noise),
so the training tests run on a fresh clone.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

CODES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
PAD_CODES = ["akiec", "bcc", "bkl", "mel", "nv"]
FITZ = "fitzpatrick17k-lesions"


def _lesion(rng: np.random.Generator, ci: int, shape=(60, 80)) -> Image.Image:
    base = np.array([40 + 30 * ci, 200 - 25 * ci, 90 + (ci % 3) * 50], np.float32)
    skin = np.array([205, 150, 130], np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blob = (np.hypot(yy - shape[0] / 2, xx - shape[1] / 2) < shape[0] / 3)[..., None]
    img = np.where(blob, base, skin) + rng.normal(0, 12, (*shape, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def make_sources(root: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("ham10000", "pad-ufes-20", "derm7pt", "nonlesion-imagenet", FITZ):
        (root / name / "images").mkdir(parents=True)
    ham, pad, derm = [], [], []
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for ci, code in enumerate(CODES):
            for _ in range(n):
                k = len(ham)
                _lesion(rng, ci).save(root / "ham10000" / "images" / f"ISIC_{k:07d}.jpg")
                ham.append({"lesion_id": f"L{k}", "image_id": f"ISIC_{k:07d}", "dx": code})
                ham[-1]["split"] = split
        for code in PAD_CODES:
            k = len(pad)
            _lesion(rng, CODES.index(code), (90, 90)).save(
                root / "pad-ufes-20/images" / f"P{k}.png"
            )
            pad.append({"img_id": f"P{k}.png", "dx": code, "patient_id": f"PAT{k}", "split": split})
    for ci, code in enumerate(CODES[1:]):
        _lesion(rng, ci + 1, (96, 96)).save(root / "derm7pt" / "images" / f"d{ci}.jpg")
        derm.append({"image": f"d{ci}.jpg", "dx": code})
    _csv(root / "ham10000" / "metadata.csv", ham)
    _csv(root / "pad-ufes-20" / "metadata.csv", pad)
    _csv(root / "derm7pt" / "labels.csv", derm)
    fitz = []
    # Six classes (no nevi) on skin types II and V, five images per (class, skin type): the
    # split sends one image of every five in a stratum to val, so each stratum has one there.
    for k in range(60):
        code = [c for c in CODES if c != "nv"][k % 6]
        skin = 2 if k < 30 else 5
        _lesion(rng, CODES.index(code), (80, 100)).save(root / FITZ / "images" / f"f{k:02d}.jpg")
        fitz.append({"image": f"f{k:02d}", "dx": code, "label": code, "fitzpatrick": skin})
    _csv(root / FITZ / "labels.csv", fitz)
    for k in range(24):
        grass = np.clip(rng.normal((60, 140, 50), 25, (70, 90, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(grass).save(root / "nonlesion-imagenet" / "images" / f"n{k:03d}_x.jpg")
