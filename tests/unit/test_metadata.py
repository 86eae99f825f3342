"""The metadata contract: the shipped file is valid and consistent with the
design (class order, priorities, escalation, quality section), and ``validate``
names each kind of broken file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from skinlens import metadata
from skinlens.metadata import PRIORITY_ORDER, ModelInfo, validate

DESIGN_CLASSES = [
    ("akiec", "Medium"),
    ("bcc", "High"),
    ("bkl", "Low"),
    ("df", "Low"),
    ("mel", "Urgent"),
    ("nv", "Low"),
    ("vasc", "Medium"),
]


def broken(raw: dict[str, Any], edit) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    edit(out)
    return out


def test_shipped_metadata_is_valid(raw_metadata) -> None:
    validate(raw_metadata)


def test_class_order_and_priorities_follow_the_design(info: ModelInfo) -> None:
    assert [(c.code, c.priority) for c in info.classes] == DESIGN_CLASSES
    assert [c.index for c in info.classes] == list(range(7))
    assert info.codes == [c for c, _ in DESIGN_CLASSES]
    assert all(c.name for c in info.classes)


def test_typed_accessors(info: ModelInfo) -> None:
    assert info.input_size == 224
    assert info.norm_scale * 255 + info.norm_offset == pytest.approx(1.0)
    assert info.norm_offset == pytest.approx(-1.0)
    assert info.temperature > 0
    assert set(info.recommendations) >= {*PRIORITY_ORDER, "None"}


def test_thresholds_are_sane(info: ModelInfo) -> None:
    t = info.thresholds
    assert set(t["escalation"]) <= set(info.codes)
    assert "mel" in t["escalation"], "sensitivity-first: melanoma must escalate"
    for code, p in t["escalation"].items():
        assert 0.0 < float(p) < 1.0, code
    assert np.isfinite(float(t["lesion"]))
    assert 0.0 <= float(t.get("min_confidence", 0.0)) < 1.0


def test_escalation_map_targets_are_priorities(raw_metadata) -> None:
    for code, level in raw_metadata["escalation"].items():
        assert code in [c for c, _ in DESIGN_CLASSES]
        assert level in PRIORITY_ORDER
    assert raw_metadata["escalation"]["mel"] == "Urgent"


def test_base_metadata_agrees_with_shipped(raw_metadata, base_metadata) -> None:
    """Training regenerates the shipped file from base_metadata.json: the keys it
    copies through must already agree."""
    for key in ("classes", "recommendations", "escalation", "quality", "change"):
        assert base_metadata[key] == raw_metadata[key], key


def test_parse_and_load_round_trip(raw_metadata, tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(raw_metadata), encoding="utf-8")
    assert metadata.load(path).raw == raw_metadata
    assert metadata.parse(json.dumps(raw_metadata)).codes == [c for c, _ in DESIGN_CLASSES]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("thresholds"), "missing keys"),
        (lambda r: r.pop("classes"), "missing keys"),
        (lambda r: r["classes"].reverse(), "indices"),
        (lambda r: r["classes"].pop(2), "indices"),
        (lambda r: r["classes"][4].update(priority="Critical"), "unknown priority"),
        (lambda r: r["recommendations"].pop("None"), "no recommendation"),
        (lambda r: r["recommendations"].pop("Urgent"), "no recommendation"),
        (lambda r: r["input"]["normalization"].pop("offset"), "scale and offset"),
        (lambda r: r["calibration"].update(temperature=0), "temperature"),
        (lambda r: r["calibration"].update(temperature=-1.5), "temperature"),
    ],
    ids=[
        "no-thresholds",
        "no-classes",
        "class-order",
        "class-gap",
        "bad-priority",
        "no-none-recommendation",
        "no-urgent-recommendation",
        "no-offset",
        "zero-temperature",
        "negative-temperature",
    ],
)
def test_validate_names_the_problem(raw_metadata, edit, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(broken(raw_metadata, edit))


def test_parse_rejects_invalid_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        metadata.parse("{not json")


def test_parse_validates(raw_metadata) -> None:
    with pytest.raises(ValueError):
        metadata.parse(json.dumps(broken(raw_metadata, lambda r: r.pop("recommendations"))))


def test_change_section_is_typed_and_validated(info: ModelInfo, raw_metadata) -> None:
    t = info.change
    assert 0 < t.area_growth < 1 and 0 < t.asymmetry_rise < 1 and 0 < t.border_rise < 1
    assert t.new_colours >= 1
    assert t.new_colour_absent < t.colour_min_share < t.new_colour_share
    assert t.mel_threshold == raw_metadata["thresholds"]["escalation"]["mel"]
    with pytest.raises(ValueError, match="change section"):
        validate(broken(raw_metadata, lambda m: m["change"].pop("border_rise")))


def test_model_id_names_the_model_and_follows_its_content(raw_metadata) -> None:
    ident = ModelInfo(raw_metadata).model_id
    assert ident.startswith(raw_metadata["name"] + "@") and len(ident.split("@")[1]) == 12
    recalibrated = broken(raw_metadata, lambda m: m["calibration"].update(temperature=9.0))
    assert ModelInfo(recalibrated).model_id != ident
    versioned = broken(raw_metadata, lambda m: m.update(version="2"))
    assert ModelInfo(versioned).model_id == f"{raw_metadata['name']}@2"


def test_training_writes_the_change_section_through(base_metadata) -> None:
    """training/evaluate.py builds the shipped file from base_metadata.json: the ``change``
    thresholds arrive unchanged and read back typed."""
    from training.evaluate import build_metadata

    thresholds = {"escalation": {"mel": 0.05}, "lesion": 0.0, "dermoscopic": 0.0}
    meta = build_metadata(
        {"size": 224, "color_constancy": "shades_of_gray"}, 1.0, thresholds, {}, {}
    )
    assert meta["change"] == base_metadata["change"]
    assert ModelInfo(meta).change.mel_threshold == 0.05
