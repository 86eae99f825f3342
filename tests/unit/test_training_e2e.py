"""A tiny but complete run of the training pipeline on generated images of every
source layout: train (PyTorch) -> export (Keras -> TF.js) -> evaluate (every
source through the converted graph; metadata, metrics, model card, golden cases).

It trains from scratch at 64x64 for one short epoch: it checks the plumbing and
the artefacts' contracts, not accuracy.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch", reason="the trainer needs torch (training/requirements.txt)")
pytest.importorskip("tensorflow", reason="export and evaluation need tensorflow-cpu")
if importlib.util.find_spec("tensorflowjs") is None:
    pytest.skip(
        "tensorflowjs not installed (pip install --no-deps -r training/requirements-export.txt)",
        allow_module_level=True,
    )

from skinlens import metadata as skmeta
from skinlens import preprocess

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
    for k in range(36):  # every skin type 1-6 for each of the six classes (no nevi)
        code = [c for c in CODES if c != "nv"][k % 6]
        _lesion(rng, CODES.index(code), (80, 100)).save(root / FITZ / "images" / f"f{k:02d}.jpg")
        fitz.append({"image": f"f{k:02d}", "dx": code, "label": code, "fitzpatrick": k // 6 + 1})
    _csv(root / FITZ / "labels.csv", fitz)
    for k in range(24):
        grass = np.clip(rng.normal((60, 140, 50), 25, (70, 90, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(grass).save(root / "nonlesion-imagenet" / "images" / f"n{k:03d}_x.jpg")


@pytest.mark.slow
def test_tiny_train_export_evaluate(tmp_path: Path) -> None:
    from training import evaluate, export, sources, train

    data, run, model_dir = tmp_path / "data", tmp_path / "run", tmp_path / "model"
    make_sources(data)
    assert any(i.split == "val" for i in sources.nonlesion(data))
    args = ["--data-root", str(data), "--run-dir", str(run), "--size", "64", "--epochs", "1"]
    args += ["--epoch-size", "32", "--batch", "8", "--workers", "0", "--init", "random"]
    train.main(args)
    weights = sorted((run / "weights").glob("shard-*.pt"))
    assert weights and (run / "last.pt").exists() and (run / "history.csv").exists()
    mtime = weights[0].stat().st_mtime
    train.main(args)  # a re-run resumes after the last epoch: nothing is trained again
    assert weights[0].stat().st_mtime == mtime

    export.main(["--run-dir", str(run), "--model-dir", str(model_dir), "--also"])
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["signature"]["inputs"]["image"]["tensorShape"]["dim"][1]["size"] == "64"
    assert set(spec["signature"]["outputs"]) == {"logits", "lesion", "dermoscopic", "cam"}

    evaluate.main(["--run-dir", str(run), "--model-dir", str(model_dir), "--data-root", str(data)])
    info = skmeta.load(model_dir / "metadata.json")
    assert info.codes == CODES and info.input_size == 64 and info.temperature > 0
    assert set(info.thresholds["escalation"]) == {"mel", "bcc", "akiec"}
    assert info.thresholds["escalation_lower"]["mel"] <= info.thresholds["escalation"]["mel"]
    assert np.isfinite(info.thresholds["lesion"])
    assert info.raw["input"]["color_constancy"] == "shades_of_gray"
    assert set(info.raw["outputs"]) == set(spec["signature"]["outputs"])
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["sources"]["ham10000/test"]["n"] == 14
    assert metrics["sources"]["derm7pt/external"]["n"] == 6
    assert "rejected" in metrics["sources"]["nonlesion-imagenet/val"]
    fitz_val = {g for g in metrics["sources"] if g.startswith(f"{FITZ}/val:")}
    assert fitz_val and fitz_val <= {f"{FITZ}/val:{g}" for g in ("I-II", "III-IV", "V-VI")}
    for key in ("urgent_non_mel", "melanoma_any_tier", "cancers_flagged"):
        assert key in metrics["sources"]["ham10000/test"]
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "CC BY-NC-SA 4.0" in card and "CC BY 4.0" in card and "derm7pt/external" in card
    assert "CC BY-NC-SA 3.0" in card and "Per skin type" in card

    from training.tfjs_graph import TfjsGraph

    graph = TfjsGraph(model_dir)
    golden = json.loads((model_dir / "golden" / "golden.json").read_text())
    assert len(golden["cases"]) >= 3
    for case in golden["cases"]:
        rgb = np.asarray(Image.open(model_dir / "golden" / case["file"]))
        x = preprocess.normalize(preprocess.model_pixels(rgb, "shades_of_gray"), 2 / 255, -1.0)
        out = graph(x[None])
        np.testing.assert_allclose(out["logits"][0], case["logits"], atol=5e-2)  # float16
        assert out["lesion"][0, 0] == pytest.approx(case["lesion"], abs=5e-2)
