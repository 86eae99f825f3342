"""Which views to average per photo (test-time augmentation): measured, not assumed.

    python -m training.tta_study --model-dir models/skinlens-lite0 [--zooms 1.25,1.5]

For every candidate set of views (the crop as is, zoomed out by each factor, and each
zoom averaged with the crop), the shipped graph runs on the `val` lesions of every
training source and on Derm7pt (external: candidates are compared there, nothing is
fitted), with the page's preprocessing. Prints one JSON object: per candidate and group,
the melanoma-vs-nevus AUC, the melanoma-vs-rest AUC and the balanced accuracy (argmax).
Temperature does not change any of these, so none is fitted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from skinlens import metadata as skmeta

from training import sources
from training.evaluate import cases, labels, run_model
from training.metrics import auc_binary, balanced_accuracy

GROUPS = (
    "ham10000/val",
    "pad-ufes-20/val",
    f"{sources.FITZPATRICK}/val",
    "derm7pt/external",
)


def scores(logits: np.ndarray, y: np.ndarray, codes: list[str]) -> dict[str, float | None]:
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    mel, nv = codes.index("mel"), codes.index("nv")
    is_mel = y == mel
    return {
        "mel_vs_nv_auc": auc_binary(p[is_mel, mel], p[y == nv, mel]) if (y == nv).any() else None,
        "mel_vs_rest_auc": auc_binary(p[is_mel, mel], p[~is_mel, mel]),
        "balanced_accuracy": balanced_accuracy(y, p.argmax(1), len(codes), present_only=True),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model-dir", default="models/skinlens-lite0")
    p.add_argument("--data-root", default=str(sources.DEFAULT_ROOT))
    p.add_argument("--zooms", default="1.25,1.5")
    a = p.parse_args(argv)
    info = skmeta.load(Path(a.model_dir) / "metadata.json")
    chosen = [c for c in cases(Path(a.data_root)) if c.group in GROUPS]
    groups, y = labels(chosen, info.codes)
    factors = [float(z) for z in a.zooms.split(",")]
    # One run per view; averages are formed from them (the same as running them together).
    per_view = {
        z: run_model(Path(a.model_dir), chosen, info, (z,))["logits"] for z in [1.0, *factors]
    }
    candidates = {"as is": per_view[1.0]}
    for z in factors:
        candidates[f"zoom out {z}"] = per_view[z]
        candidates[f"as is + zoom out {z}"] = (per_view[1.0] + per_view[z]) / 2
    if len(factors) > 1:
        candidates["as is + all zooms"] = np.mean(list(per_view.values()), axis=0)
    result = {
        name: {g: scores(logits[groups == g], y[groups == g], info.codes) for g in GROUPS}
        for name, logits in candidates.items()
    }
    print(
        json.dumps(
            {
                "model": a.model_dir,
                "n": {g: int((groups == g).sum()) for g in GROUPS},
                "candidates": result,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
