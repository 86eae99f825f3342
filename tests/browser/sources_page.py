"""Images of every data source through the page, one by one, as a person would open them.

Shared by the data test (``test_sources.py``, a sample) and the benchmark
(``python -m bench.sources``, every image). What the page says for each image is
read from ``#result``: accepted or not (and why), label, priority, probabilities.
The figures are computed here from the page's own answers, so they include the
page's decode, gates, colour constancy, TF.js inference and triage.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from harness import Browser, classify

from training import policy, sources
from training.metrics import auc_binary

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CODES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
FITZ = sources.FITZPATRICK


@dataclass(frozen=True)
class SourceImage:
    source: str
    path: Path
    dx: str | None  # None: not a skin lesion


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def source_images(root: Path = SHARED) -> dict[str, list[SourceImage]]:
    """Derm7pt (external), PAD-UFES-20 ``test``, HAM10000 ``test``, Fitzpatrick17k ``val``
    (our split, ``training.sources``) by skin-type group, non-lesion photos."""
    out: dict[str, list[SourceImage]] = {}
    if (root / "derm7pt" / "labels.csv").exists():
        out["derm7pt"] = [
            SourceImage("derm7pt", root / "derm7pt/images" / r["image"], r["dx"])
            for r in _rows(root / "derm7pt" / "labels.csv")
        ]
    if (root / "pad-ufes-20" / "metadata.csv").exists():
        out["pad-ufes-20/test"] = [
            SourceImage("pad-ufes-20/test", root / "pad-ufes-20/images" / r["img_id"], r["dx"])
            for r in _rows(root / "pad-ufes-20" / "metadata.csv")
            if r["split"] == "test"
        ]
    if (root / "ham10000" / "metadata.csv").exists():
        out["ham10000/test"] = [
            SourceImage("ham10000/test", root / "ham10000/images" / f"{r['image_id']}.jpg", r["dx"])
            for r in _rows(root / "ham10000" / "metadata.csv")
            if r["split"] == "test"
        ]
    if (root / FITZ / "labels.csv").exists():
        for item in sources.fitzpatrick(root):
            if item.split == "val" and item.skin_group:
                name = f"{FITZ}/val:{item.skin_group}"
                out.setdefault(name, []).append(SourceImage(name, item.path, item.dx))
    photos = root / "nonlesion-imagenet" / "images"
    if photos.is_dir():
        out["nonlesion"] = [SourceImage("nonlesion", p, None) for p in sorted(photos.iterdir())]
    return out


def every(images: list[SourceImage], n: int) -> list[SourceImage]:
    """``n`` images spread evenly over the list (deterministic)."""
    if n >= len(images):
        return images
    return [images[int(i * len(images) / n)] for i in range(n)]


def run(browser: Browser, images: list[SourceImage]) -> list[dict]:
    """The page's answer for each image (the app must be open and ready)."""
    return [classify(browser, im.path) | {"dx": im.dx} for im in images]


def summary(results: list[dict]) -> dict:
    """Acceptance, and for lesions: melanoma -> Urgent (and -> either melanoma tier), how
    often a non-melanoma is called Urgent, and the melanoma-vs-nevus ranking."""
    accepted = [r for r in results if r["state"] == "done"]
    out: dict = {"n": len(results), "accepted": len(accepted) / max(len(results), 1)}
    reasons: dict[str, int] = {}
    for r in results:
        if r["state"] == "rejected":
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    out["rejected_reasons"] = reasons
    mel = [r for r in results if r["dx"] == "mel"]
    if mel:
        out["melanoma_to_urgent"] = sum(r["priority"] == "Urgent" for r in mel) / len(mel)
        flagged = sum(r["priority"] == "Urgent" or r["advice"] == "mel-check" for r in mel)
        out["melanoma_to_either_tier"] = flagged / len(mel)
    hits = [policy.flagged(r["dx"], r["priority"], r["state"] == "done") for r in results]
    hits = [h for h in hits if h is not None]
    if hits:
        out["cancers_flagged"] = sum(hits) / len(hits)
    other = [r for r in results if r["dx"] not in (None, "mel")]
    if other:
        out["urgent_non_mel"] = sum(r["priority"] == "Urgent" for r in other) / len(other)
    scored = [r for r in accepted if r["dx"] in ("mel", "nv")]
    pos = [r["probs"][CODES.index("mel")] for r in scored if r["dx"] == "mel"]
    neg = [r["probs"][CODES.index("mel")] for r in scored if r["dx"] == "nv"]
    if pos and neg:
        out["mel_vs_nv_auc_accepted"] = auc_binary(np.array(pos), np.array(neg))
    return out
