"""A tiny but complete run of the training pipeline on synthetic images:
cache -> fit -> calibrate -> export to TF.js -> evaluate the converted graph.

It trains from scratch at 64x64 on 49 generated images for one epoch; it
checks the plumbing and the artefacts' contracts, not accuracy.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow", reason="training tests need tensorflow-cpu")

from skinlens import metadata as skmeta  # noqa: E402

CODES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
PER_SPLIT = {"train": 3, "val": 2, "test": 2}


def make_dataset(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    rows, k = [], 0
    for split, n in PER_SPLIT.items():
        for ci, code in enumerate(CODES):
            for _ in range(n):
                base = np.array([40 + 30 * ci, 200 - 25 * ci, 90 + (ci % 3) * 50], np.float32)
                img = np.clip(base + rng.normal(0, 12, (60, 80, 3)), 0, 255).astype(np.uint8)
                image_id = f"ISIC_{k:07d}"
                Image.fromarray(img).save(root / "images" / f"{image_id}.jpg")
                rows.append(
                    {
                        "lesion_id": f"HAM_{k:07d}",
                        "image_id": image_id,
                        "dx": code,
                        "dx_type": "histo",
                        "age": "40",
                        "sex": "female",
                        "localization": "back",
                        "dataset": "synthetic",
                        "split": split,
                    }
                )
                k += 1
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.mark.slow
def test_tiny_train_calibrate_export_evaluate(tmp_path: Path) -> None:
    from training import evaluate, export, train

    data, run, model_dir = tmp_path / "data", tmp_path / "run", tmp_path / "model"
    make_dataset(data)
    args = [
        "--data",
        str(data),
        "--size",
        "64",
        "--start-block",
        "14",
        "--views",
        "1",
        "--epochs",
        "1",
        "--batch",
        "8",
        "--init",
        "random",
        "--run-dir",
        str(run),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--model-dir",
        str(model_dir),
    ]
    train.main(args)
    assert (run / "outputs.npz").exists() and (run / "best.weights.h5").exists()
    # A re-run resumes: nothing is trained or cached again.
    mtime = (run / "best.weights.h5").stat().st_mtime
    train.main(args)
    assert (run / "best.weights.h5").stat().st_mtime == mtime

    common = ["--run-dir", str(run), "--model-dir", str(model_dir), "--data", str(data)]
    evaluate.main(["calibrate", *common])
    info = skmeta.load(model_dir / "metadata.json")
    assert info.codes == CODES and info.input_size == 64 and info.temperature > 0
    assert set(info.thresholds["escalation"]) == {"mel", "bcc", "akiec"}
    assert np.isfinite(info.thresholds["ood_score"])

    if importlib.util.find_spec("tensorflowjs") is None:
        pytest.skip(
            "tensorflowjs not installed (pip install --no-deps -r training/requirements-export.txt)"
        )
    export.main(["--run-dir", str(run), "--model-dir", str(model_dir), "--also"])
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["signature"]["inputs"]["image"]["tensorShape"]["dim"][1]["size"] == "64"
    assert set(spec["signature"]["outputs"]) == {"logits", "ood_score"}
    golden = json.loads((model_dir / "golden" / "golden.json").read_text())
    assert len(golden["cases"]) >= 3

    from training.tfjs_graph import TfjsGraph

    graph = TfjsGraph(model_dir)
    for case in golden["cases"]:
        rgb = np.asarray(Image.open(model_dir / "golden" / case["file"]), np.float32)
        out = graph(rgb[None] * info.norm_scale + info.norm_offset)
        np.testing.assert_allclose(out["logits"][0], case["logits"], atol=5e-2)  # float16 weights

    evaluate.main(["report", *common])
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["variants"]["float16"]["n"] == 7 * PER_SPLIT["test"]
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "CC BY-NC-SA 4.0" in card and "random, trained from scratch" in card
    assert (model_dir / "confusion_test.png").exists() and (
        model_dir / "reliability_test.png"
    ).exists()
