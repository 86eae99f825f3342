"""How the lesion-change measures behave when nothing changed, and what they cost; prints JSON.

HAM10000 has several photos of many lesions (same ``lesion_id``), taken with a dermatoscope,
often at another magnification or angle: a stand-in for "the same unchanged lesion
photographed twice". For the first ``--pairs`` such pairs of the ``val`` split (never
``test``) this measures both crops as the page would (centred square, 224x224) and reports,
per measure, the typical difference and how often each escalation rule of
``metadata.change`` would fire (a false alarm, since the lesion did not change). It also
times ``lesion_mask``, ``measure`` and ``compare`` on a 224x224 crop under this Python.

    python -m bench.change_noise [--pairs 150]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
from typing import Any

import numpy as np
from harness import DATA_DIR
from PIL import Image
from skinlens import change, metadata, preprocess, segment
from skinlens.change import CheckData
from synthetic import BLUE_GREY, drawn_lesion

from bench import ROOT
from bench.py_core import timed

REPEAT = 30
METADATA = ROOT / "models" / "skinlens-lite0" / "metadata.json"


def same_lesion_pairs(limit: int) -> list[tuple[str, str]]:
    by_lesion: dict[str, list[str]] = {}
    with (DATA_DIR / "metadata.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "val":
                by_lesion.setdefault(row["lesion_id"], []).append(row["image_id"])
    return [(ids[0], ids[1]) for ids in by_lesion.values() if len(ids) >= 2][:limit]


def crop(image_id: str) -> np.ndarray:
    with Image.open(DATA_DIR / "images" / f"{image_id}.jpg") as im:
        return preprocess.crop_resize(im, 224)


def noise(info: metadata.ModelInfo, limit: int) -> dict[str, Any]:
    """Measure differences and false escalations on same-lesion pairs."""
    t = info.change
    probs = [1.0 / len(info.codes)] * len(info.codes)
    diffs: dict[str, list[float]] = {"area": [], "asymmetry": [], "border": []}
    fired = dict.fromkeys(change.REASONS[:-1], 0)
    any_but_size = 0
    pairs = same_lesion_pairs(limit)
    measured = 0
    for a, b in pairs:
        ca = CheckData(crop(a), probs, "dermoscopic")
        cb = CheckData(crop(b), probs, "dermoscopic")
        c = change.compare(ca, cb, t)
        if not all(c.found):
            continue
        measured += 1
        diffs["area"].append(abs(c.measures["area_share"].relative or 0.0))
        diffs["asymmetry"].append(abs(c.measures["asymmetry"].delta or 0.0))
        diffs["border"].append(abs(c.measures["border_irregularity"].relative or 0.0))
        for r in c.reasons:
            if r in fired:
                fired[r] += 1
        any_but_size += any(r != change.GREW for r in c.reasons)
    return {
        "pairs": len(pairs),
        "both_outlined": measured,
        "median_abs_difference": {k: round(float(np.median(v)), 3) for k, v in diffs.items()},
        "p90_abs_difference": {k: round(float(np.percentile(v, 90)), 3) for k, v in diffs.items()},
        "rule_fired_share": {k: round(v / max(measured, 1), 3) for k, v in fired.items()},
        "shape_or_colour_rule_fired_share": round(any_but_size / max(measured, 1), 3),
        "note": "HAM10000 val photos of one lesion, often at another magnification: "
        "area differences measure framing, not growth",
    }


def timings(info: metadata.ModelInfo) -> dict[str, Any]:
    a = drawn_lesion()
    b = drawn_lesion(radius=48.0, patch=BLUE_GREY)
    probs = [1.0 / len(info.codes)] * len(info.codes)
    t = info.change
    return {
        "lesion_mask": timed(lambda: segment.lesion_mask(a), REPEAT),
        "measure": timed(lambda: change.measure(a), REPEAT),
        "compare": timed(
            lambda: change.compare(CheckData(a, probs, "dermoscopic"), CheckData(b, probs), t),
            REPEAT,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=150)
    args = parser.parse_args()
    info = metadata.load(METADATA)
    out: dict[str, Any] = {"python": platform.python_version(), "crop": "224x224"}
    out["timings"] = timings(info)
    if (DATA_DIR / "metadata.csv").is_file():
        out["same_lesion"] = noise(info, args.pairs)
    else:
        out["same_lesion"] = {"skipped": f"HAM10000 not found at {DATA_DIR} (set SKINLENS_DATA)"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
