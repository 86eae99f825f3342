"""The page's pure view layer (skinlens.app_core) and the PyScript config, under CPython."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from skinlens import app_core, metadata

ROOT = Path(__file__).resolve().parents[2]
INFO = metadata.load(ROOT / "models" / "skinlens-lite0" / "metadata.json")


def probs_with(top: str, p_top: float = 0.6, **extra: float) -> list[float]:
    codes = INFO.codes
    probs = np.zeros(len(codes))
    probs[codes.index(top)] = p_top
    for k, v in extra.items():
        probs[codes.index(k)] = v
    rest = [i for i, p in enumerate(probs) if p == 0]
    probs[rest] = (1 - probs.sum()) / len(rest)
    return probs.tolist()


def test_done_view_attrs_follow_the_contract():
    p = probs_with("nv", 0.7)
    v = app_core.result_view(
        3,
        "a.jpg",
        {"state": "done", "label": "nv", "priority": "Low", "probs": p, "ood_score": 1.5},
        INFO,
        infer_ms=81.26,
        prep_ms=9.0,
        backend="WASM",
    )
    a = v.attrs()
    assert a["data-state"] == "done"
    assert a["data-label"] == "nv"
    assert a["data-priority"] == "Low"
    assert json.loads(a["data-probs"]) == pytest.approx(p)
    assert a["data-reason"] is None  # removed when not rejected
    assert a["data-ms"] == "81.3"
    assert a["data-ood"] == "1.5"
    assert a["data-seq"] == "3" and a["data-file"] == "a.jpg"
    html = app_core.result_html(v, INFO)
    assert "Melanocytic nevi" in html and "Low priority" in html
    assert html.count('class="bar-row') == 7
    assert INFO.recommendations["Low"] in html


def test_label_falls_back_to_argmax_and_object_results_work():
    class Assessment:
        state = "done"
        priority = "Urgent"
        probs = probs_with("mel", 0.5)
        label = None

    v = app_core.result_view(1, "x.png", Assessment(), INFO)
    assert v.label == "mel" and v.priority == "Urgent"


def test_escalation_is_explained():
    p = probs_with("nv", 0.6, mel=0.3)
    v = app_core.result_view(
        1, "x.jpg", {"state": "done", "label": "nv", "priority": "Urgent", "probs": p}, INFO
    )
    text = " ".join(v.explanation)
    assert "Raised to Urgent" in text and "Melanoma" in text


def test_rejected_views():
    v = app_core.rejected_view(2, "notes.jpg", "not-an-image", "This file is not an image.", INFO)
    a = v.attrs()
    assert a["data-state"] == "rejected" and a["data-priority"] == "None"
    assert a["data-reason"] == "not-an-image"
    assert a["data-probs"] is None and a["data-label"] == "" and a["data-ms"] is None
    html = app_core.result_html(v, INFO)
    assert "Not an image" in html and "Cannot assess" in html
    assert INFO.recommendations["None"] in html
    # an out-of-distribution rejection after inference keeps its probabilities
    ood = app_core.result_view(
        4,
        "cat.jpg",
        {"state": "rejected", "reason": "ood", "probs": probs_with("nv"), "priority": "None"},
        INFO,
        infer_ms=80.0,
    )
    assert ood.attrs()["data-reason"] == "ood" and ood.attrs()["data-probs"]
    assert ood.attrs()["data-label"] == "" and ood.priority == "None"


def test_everything_is_escaped():
    v = app_core.rejected_view(
        1, '<img src=x onerror="alert(1)">.jpg', "corrupt-image", "<b>bad</b>", INFO
    )
    html = app_core.result_html(v, INFO) + app_core.list_item_html(v, None)
    assert "<img src=x" not in html and "<b>bad" not in html
    assert "&lt;img" in html


def test_first_failed_gate_with_quality_reports():
    quality = pytest.importorskip("skinlens.quality")
    dark = np.full((224, 224, 3), 8, np.uint8)
    code, message = app_core.first_failed_gate(quality.run_all(dark, INFO))
    assert code == "dark" and "too dark" in message
    assert app_core.first_failed_gate({"gates": [{"name": "blur", "passed": False}]})[0] == "blurry"
    assert app_core.first_failed_gate({"gates": [{"name": "glare", "passed": True}]}) is None
    assert app_core.first_failed_gate(None) is None


def test_decode_notes():
    notes = app_core.decode_notes(
        {
            "format": "JPEG",
            "original_size": [8165, 6124],
            "decoded_size": [1021, 766],
            "downscaled": True,
            "orientation_applied": True,
        }
    )
    assert "50 MP" in notes[0] and "reduced to 1021×766" in notes[0]
    assert "EXIF" in notes[1]


def test_formatting():
    assert app_core.fmt_pct(0.5) == "50%"
    assert app_core.fmt_pct(0.0512) == "5.1%"
    assert app_core.fmt_pct(0.0) == "0%"
    assert app_core.fmt_pct(0.00001) == "<0.1%"
    assert app_core.fmt_ms(81.26) == "81 ms"
    assert app_core.fmt_bytes(12_345_678) == "12.3 MB"


def test_pyscript_config_ships_every_module():
    """Every module of py/skinlens is copied into the page's interpreter (else an import in
    the browser fails while CPython tests pass)."""
    cfg = tomllib.loads((ROOT / "site" / "pyscript.toml").read_text())
    assert cfg["interpreter"] == "./vendor/pyodide/pyodide.mjs"
    assert set(cfg["packages"]) == {"numpy", "pillow"}
    listed = {Path(k).name for k in cfg["files"]}
    for src, dst in cfg["files"].items():
        assert re.fullmatch(r"\./py/skinlens/\w+\.py", src), src
        assert dst == "./skinlens/" + Path(src).name
    shipped = {p.name for p in (ROOT / "py" / "skinlens").glob("*.py")}
    assert shipped - listed == set(), f"add to site/pyscript.toml [files]: {shipped - listed}"
    assert listed - shipped == set(), f"listed but missing: {listed - shipped}"
