"""The committed model's files agree with its metadata and its card.

These run on a fresh clone (no dataset, no TensorFlow): they read only what is
committed under models/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skinlens import metadata, quality

MODELS = Path(__file__).resolve().parents[2] / "models"
MODEL_DIRS = sorted(p for p in MODELS.iterdir() if (p / "metadata.json").exists())
DTYPE_BYTES = {"float32": 4, "int32": 4, "float16": 2, "uint8": 1, "bool": 1}


@pytest.fixture(params=MODEL_DIRS, ids=lambda p: p.name)
def model_dir(request) -> Path:
    return request.param


def test_there_is_a_shipped_model() -> None:
    assert MODEL_DIRS, "no models/<name>/metadata.json committed"


def test_metadata_is_valid_and_trained(model_dir: Path) -> None:
    info = metadata.load(model_dir / "metadata.json")
    assert info.raw["status"] == "trained", "the shipped model must come from training/"
    assert info.codes == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert info.raw["calibration"]["fitted_on"].startswith("val")
    assert set(info.thresholds["escalation"]) >= {"mel"}
    assert 0 < info.thresholds["escalation"]["mel"] < 1
    assert np.isfinite(info.thresholds["lesion"])
    assert "CC BY-NC-SA 4.0" in json.dumps(info.raw["training_data"])


def test_graph_signature_matches_metadata(model_dir: Path) -> None:
    info = metadata.load(model_dir / "metadata.json")
    spec = json.loads((model_dir / info.raw["model_file"]).read_text())
    sig = spec["signature"]
    (inp,) = sig["inputs"].values()
    dims = [int(d["size"]) for d in inp["tensorShape"]["dim"]]
    assert dims[1:] == [info.input_size, info.input_size, 3]
    assert set(sig["outputs"]) == set(info.raw["outputs"])
    logits = sig["outputs"]["logits"]["tensorShape"]["dim"]
    assert int(logits[-1]["size"]) == len(info.codes)


def test_weight_shards_exist_with_the_sizes_the_manifest_says(model_dir: Path) -> None:
    spec = json.loads((model_dir / "model.json").read_text())
    total = 0
    for group in spec["weightsManifest"]:
        expected = 0
        for w in group["weights"]:
            q = w.get("quantization")
            dtype = q["dtype"] if q else w["dtype"]
            expected += int(np.prod(w["shape"], dtype=np.int64)) * DTYPE_BYTES[dtype]
        actual = sum((model_dir / p).stat().st_size for p in group["paths"])
        assert actual == expected
        total += actual
    shipped = {p.name for p in model_dir.glob("group*-shard*")}
    assert shipped == {p for g in spec["weightsManifest"] for p in g["paths"]}
    assert total <= 8_000_000, "default variant must stay <= 8 MB"


def test_variant_named_in_metadata_is_what_ships(model_dir: Path) -> None:
    info = metadata.load(model_dir / "metadata.json")
    spec = json.loads((model_dir / "model.json").read_text())
    quant = {
        w.get("quantization", {}).get("dtype", w["dtype"])
        for g in spec["weightsManifest"]
        for w in g["weights"]
        if w["dtype"] == "float32"
    }
    expected = {"float32": {"float32"}, "float16": {"float16"}, "uint8": {"uint8"}}
    assert quant == expected[info.raw["variant"]]


def test_golden_cases_are_synthetic_pngs_with_reference_outputs(model_dir: Path) -> None:
    info = metadata.load(model_dir / "metadata.json")
    golden = json.loads((model_dir / "golden" / "golden.json").read_text())
    assert golden["temperature"] == pytest.approx(info.temperature)
    assert len(golden["cases"]) >= 3
    for case in golden["cases"]:
        img = np.asarray(Image.open(model_dir / "golden" / case["file"]))
        assert img.shape == (info.input_size, info.input_size, 3) and img.dtype == np.uint8
        probs = np.array(case["probs"])
        assert probs.shape == (len(info.codes),) and probs.sum() == pytest.approx(1, abs=1e-4)
        # calibrated with the temperature of the photo type the model reports for the case
        dermoscopic = case["dermoscopic"] >= info.thresholds["dermoscopic"]
        t = info.temperature_for("dermoscopic" if dermoscopic else "close_up")
        logits = np.array(case["logits"]) / t
        want = np.exp(logits - logits.max())
        np.testing.assert_allclose(probs, want / want.sum(), atol=1e-5)


def test_at_least_one_golden_case_passes_the_quality_gates(model_dir: Path) -> None:
    """The parity test feeds golden PNGs through the page; one must look like a lesion."""
    info = metadata.load(model_dir / "metadata.json")
    golden = json.loads((model_dir / "golden" / "golden.json").read_text())
    ok = [
        quality.run_all(
            np.asarray(Image.open(model_dir / "golden" / c["file"])),
            quality.QualityThresholds.from_info(info),
        ).ok
        for c in golden["cases"]
    ]
    assert any(ok)


def test_model_card_numbers_are_the_measured_ones(model_dir: Path) -> None:
    """Every target row of the card quotes metrics.json (written by training/evaluate.py)."""
    card = (model_dir / "MODEL_CARD.md").read_text()
    metrics = json.loads((model_dir / "metrics.json").read_text())["sources"]
    info = metadata.load(model_dir / "metadata.json")
    rows = re.findall(r"^\| ([a-z0-9-]+/[a-z]+) \| ([a-z -]+) \| ([0-9.]+) \|", card, re.M)
    assert len(rows) >= 9, "the targets table is missing from MODEL_CARD.md"
    for group, metric, value in rows:
        assert float(value) == pytest.approx(metrics[group][metric.replace(" ", "_")], abs=5e-4)
    assert f"T = {info.temperature:.4f}" in card
    assert "CC BY-NC-SA 4.0" in card and "CC BY 4.0" in card and "Not a diagnosis" in card
