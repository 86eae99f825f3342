"""The view (skinlens.view): #result attributes, the card, the explanation, the notes."""

from __future__ import annotations

import copy
import json

import numpy as np
from skinlens import metadata, triage, view, wording
from skinlens.decode import DecodeInfo
from skinlens.errors import DecodeError
from skinlens.photo import PhotoResult

W = wording.load()


def outputs(lesion: float, dermoscopic: float = 4.0, **probs: float) -> dict[str, np.ndarray]:
    """Named model outputs: class probabilities, the lesion and dermoscopic logits."""
    codes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    rest = (1 - sum(probs.values())) / (7 - len(probs))
    return {
        "logits": np.log([probs.get(c, rest) for c in codes]),
        "lesion": np.array([lesion]),
        "dermoscopic": np.array([dermoscopic]),
    }


def test_done_result_attributes_follow_the_contract(info):
    a = triage.assess(outputs(5.0, nv=0.9), info)
    attrs = view.result_attrs(PhotoResult(a, prep_ms=3.25, infer_ms=20.0), 4, "x.jpg", 41.0)
    assert attrs["data-state"] == "done" and attrs["data-label"] == "nv"
    assert attrs["data-priority"] == "Low" and attrs["data-reason"] is None
    probs = json.loads(attrs["data-probs"])
    assert len(probs) == 7 and abs(sum(probs) - 1) < 1e-6
    assert (attrs["data-ms"], attrs["data-prep-ms"], attrs["data-total-ms"]) == (
        "20.0",
        "3.2",
        "41.0",
    )
    assert attrs["data-seq"] == "4" and attrs["data-file"] == "x.jpg"
    assert attrs["data-photo-type"] == "dermoscopic"
    assert float(attrs["data-lesion"]) > 0.99


def fixed_info(info, **thresholds):
    """The shipped metadata with temperature 1 and known escalation thresholds, so the
    wording is checked whatever a retrained model's thresholds are."""
    raw = copy.deepcopy(info.raw)
    raw["calibration"]["temperature"] = 1.0
    raw["calibration"].pop("by_photo_type", None)
    raw["thresholds"].update(thresholds)
    metadata.validate(raw)
    return metadata.ModelInfo(raw)


def test_lower_melanoma_tier_is_explained_in_plain_words(info):
    tiers = fixed_info(info, escalation={"mel": 0.3}, escalation_lower={"mel": 0.08})
    a = triage.assess(outputs(5.0, nv=0.8, mel=0.12), tiers)
    assert (a.priority, a.advice) == ("High", "mel-check")
    lines = view.explain(a, tiers, W)
    assert lines[0].startswith("Raised to High priority"[:9])
    assert any("lower of two melanoma alert levels" in x and "30%" in x for x in lines)
    html = view.result_html(PhotoResult(a), "x.jpg", tiers, "WASM", W)
    assert W.recommendation("mel-check") in html
    assert W.recommendation("High") not in html


def test_escalation_is_explained_with_its_numbers(info):
    info = fixed_info(info, escalation={"mel": 0.2, "bcc": 0.3, "akiec": 0.4})
    a = triage.assess(outputs(5.0, nv=0.6, mel=0.3), info)
    assert a.priority == "Urgent"
    lines = view.explain(a, info, W)
    assert lines[0].startswith("Raised to Urgent: the probability of Melanoma is ")
    assert any("calibrated probabilities" in x for x in lines)
    assert any("shows a skin lesion" in x and "enough to assess it" in x for x in lines)
    html = view.result_html(PhotoResult(a), "x.jpg", info, "WASM", W)
    assert "Melanocytic nevi" in html and "Why this result?" in html and "Urgent" in html


def test_a_rejection_says_what_to_do_without_probability_bars(info):
    a = triage.assess(outputs(-10.0, mel=0.9), info)
    attrs = view.result_attrs(PhotoResult(a), 1, "cat.png", 10.0)
    assert attrs["data-state"] == "rejected" and attrs["data-reason"] == "not-lesion"
    assert attrs["data-priority"] == "None" and attrs["data-label"] == ""
    assert attrs["data-probs"] is not None  # diagnostics
    html = view.result_html(PhotoResult(a), "cat.png", info, "WASM", W)
    assert "No skin lesion recognised" in html and 'class="bars"' not in html
    assert info.recommendations["None"] in html


def test_a_close_up_photo_carries_the_measured_caution(info):
    a = triage.assess(outputs(5.0, dermoscopic=-3.0, nv=0.9), info)
    assert a.photo_type == "close_up"
    html = view.result_html(PhotoResult(a), "phone.jpg", info, "WASM", W)
    close = info.raw["photo_types"]["close_up"]["balanced_accuracy"]
    assert "less reliable" in html and f"{close:.2f}" in html
    plain = PhotoResult(triage.assess(outputs(5.0, nv=0.9), info))
    dermo = view.result_html(plain, "d.jpg", info, "WASM", W)
    assert "dermoscopy image" in dermo and "less reliable" not in dermo


def test_decode_failure_wording_names_the_file_kind(info):
    e = DecodeError("not-an-image", "detected", detected="PDF")
    a = triage.rejected(e.code, error=e)
    assert "a PDF document" in view.reason_message(a, W)
    heic = DecodeError("unsupported-format", "HEIC", detected="HEIC")
    assert "iPhone" in view.reason_message(triage.rejected(heic.code, error=heic), W)


def test_file_names_never_reach_the_page_as_html(info):
    """Every view a file name appears in (issue 12): escaped, never markup."""
    name = '<img src=x onerror="alert(1)">\'.jpg'
    done = PhotoResult(triage.assess(outputs(5.0, nv=0.9), info))
    rejected = PhotoResult(triage.rejected("dark"))
    for html in (
        view.list_item_html(rejected, name, None, info, W),
        view.list_item_html(done, name, None, info, W),
        view.result_html(rejected, name, info, "WASM", W),
        view.result_html(done, name, info, "WASM", W),
        view.analysing_html(name, "Analysing"),
    ):
        assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_no_inline_style_in_the_markup(info):
    """The policy has no 'unsafe-inline' for styles: bar widths travel as data-width."""
    html = view.result_html(
        PhotoResult(triage.assess(outputs(5.0, nv=0.9), info)), "x", info, "", W
    )
    assert "style=" not in html and 'data-width="' in html


def test_decode_notes_say_how_the_photo_was_read():
    d = DecodeInfo("JPEG", (8000, 6000), (500, 375), True, 8, 6, True, "RGB", False, 1)
    notes = view.decode_notes(d, W)
    assert notes[0] == "JPEG 8000×6000 (48 MP), reduced to 500×375 for analysis."
    assert "EXIF" in notes[1]


def test_numbers_for_people():
    assert view.fmt_pct(0.5, W) == "50%"
    assert view.fmt_pct(0.0512, W) == "5.1%"
    assert view.fmt_pct(0.0, W) == "0%"
    assert view.fmt_pct(0.00001, W) == "<0.1%"
    assert view.fmt_ms(81.26, W) == "81 ms"
