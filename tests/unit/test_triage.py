"""Triage: calibrated softmax, the "is this a lesion" check, sensitivity-first escalation,
photo type, rejections."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from skinlens import metadata, triage
from skinlens.triage import calibrated_probs


def make_info(raw: dict[str, Any], **thresholds: Any) -> metadata.ModelInfo:
    """A copy of the metadata with known thresholds (independent of training)."""
    raw = copy.deepcopy(raw)
    raw["calibration"]["temperature"] = thresholds.pop("temperature", 1.0)
    raw["calibration"]["by_photo_type"] = thresholds.pop("by_photo_type", {})
    raw["thresholds"] = {
        "escalation": {"mel": 0.2, "bcc": 0.3, "akiec": 0.4},
        "lesion": 0.0,
        "dermoscopic": 0.0,
        "min_confidence": 0.0,
    }
    raw["thresholds"].update(thresholds)
    metadata.validate(raw)
    return metadata.ModelInfo(raw)


@pytest.fixture()
def tinfo(raw_metadata: dict[str, Any]) -> metadata.ModelInfo:
    return make_info(raw_metadata)


def logits_for(info: metadata.ModelInfo, **probs: float) -> np.ndarray:
    """Logits whose softmax (T=1) is exactly the given probabilities (rest shared)."""
    codes = info.codes
    rest = (1.0 - sum(probs.values())) / (len(codes) - len(probs))
    p = np.array([probs.get(c, rest) for c in codes], dtype=np.float64)
    return np.log(p)


# --------------------------------------------------------------------------- softmax


def test_softmax_sums_to_one_and_keeps_order() -> None:
    z = np.array([2.0, -1.0, 0.5, 3.0, 0.0, -4.0, 1.0])
    p = calibrated_probs(z, 1.0)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(p > 0)
    assert list(np.argsort(p)) == list(np.argsort(z))


def test_softmax_is_shift_invariant() -> None:
    z = np.array([0.3, 1.2, -0.7, 2.2, 0.0, 0.1, -1.0])
    assert calibrated_probs(z + 123.4, 1.7) == pytest.approx(calibrated_probs(z, 1.7))


def test_softmax_is_stable_for_huge_logits() -> None:
    p = calibrated_probs([1000.0, 0.0, -1000.0, 999.0, 0.0, 0.0, 0.0], 1.0)
    assert np.all(np.isfinite(p))
    assert p[0] == pytest.approx(1 / (1 + np.exp(-1)))


def test_temperature_softens_and_sharpens() -> None:
    z = np.array([2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    p1, p_hot, p_cold = (calibrated_probs(z, t) for t in (1.0, 3.0, 0.25))
    assert p_hot.max() < p1.max() < p_cold.max()
    assert calibrated_probs(z, 1e6) == pytest.approx(np.full(7, 1 / 7), abs=1e-6)
    assert calibrated_probs(z, 1e-3)[0] == pytest.approx(1.0)
    # T scales logits: softmax(z / T) exactly.
    assert p_hot == pytest.approx(calibrated_probs(z / 3.0, 1.0))


def test_softmax_batch_rows() -> None:
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    p = calibrated_probs(z, 1.0)
    assert p.shape == (2, 3)
    assert p.sum(axis=1) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    ("logits", "temperature"),
    [([1.0, 2.0], 0.0), ([1.0, 2.0], -1.0), ([1.0, 2.0], float("nan")), ([], 1.0), (3.0, 1.0)],
)
def test_softmax_rejects_bad_input(logits: Any, temperature: float) -> None:
    with pytest.raises(ValueError):
        calibrated_probs(logits, temperature)


def test_softmax_rejects_nan_logits() -> None:
    with pytest.raises(ValueError, match="NaN"):
        calibrated_probs([0.0, float("nan")], 1.0)


def assess(
    logits: Any, lesion: float | None, info: metadata.ModelInfo, dermoscopic: float = 3.0
) -> triage.Assessment:
    """``triage.assess`` on named outputs as the model returns them; ``lesion`` is the
    model's lesion logit (``None``: a clear lesion, 6.0)."""
    outputs = {
        "logits": np.asarray(logits, dtype=np.float32),
        "lesion": np.array([6.0 if lesion is None else lesion], dtype=np.float32),
        "dermoscopic": np.array([dermoscopic], dtype=np.float32),
    }
    return triage.assess(outputs, info)


def escalated(a: triage.Assessment) -> tuple[str, ...]:
    return tuple(e.code for e in a.escalated_by)


# --------------------------------------------------------------------------- priorities


def test_benign_top_class_is_low(tinfo) -> None:
    a = assess(logits_for(tinfo, nv=0.9, mel=0.05), 1.0, tinfo)
    assert (a.state, a.label, a.priority) == ("done", "nv", "Low")
    assert escalated(a) == ()
    mel = next(e for e in a.escalations if e.code == "mel")
    assert not mel.reached and mel.prob == pytest.approx(0.05) and mel.threshold == 0.2


def test_melanoma_escalates_even_when_nevus_is_top(tinfo) -> None:
    a = assess(logits_for(tinfo, nv=0.62, mel=0.31), 1.0, tinfo)
    assert a.label == "nv"  # the class verdict stays honest...
    assert a.priority == "Urgent"  # ...the priority is sensitivity-first
    assert escalated(a) == ("mel",)
    assert a.top_prob == pytest.approx(0.62)


def test_threshold_is_inclusive(raw_metadata, tinfo) -> None:
    z = logits_for(tinfo, nv=0.7, mel=0.2)
    p_mel = float(calibrated_probs(z, 1.0)[tinfo.codes.index("mel")])
    at = make_info(raw_metadata, escalation={"mel": p_mel})
    above = make_info(raw_metadata, escalation={"mel": np.nextafter(p_mel, 1.0)})
    assert triage.decide(calibrated_probs(z, 1.0), at).priority == "Urgent"
    assert triage.decide(calibrated_probs(z, 1.0), above).priority == "Low"


def test_bcc_and_akiec_escalate_to_their_levels(tinfo) -> None:
    assert assess(logits_for(tinfo, bkl=0.55, bcc=0.35), None, tinfo).priority == "High"
    assert assess(logits_for(tinfo, nv=0.5, akiec=0.41), None, tinfo).priority == "Medium"


def test_most_urgent_escalation_wins(tinfo) -> None:
    a = assess(logits_for(tinfo, bcc=0.45, mel=0.25, nv=0.25), None, tinfo)
    assert a.label == "bcc"
    assert a.priority == "Urgent"
    assert escalated(a) == ("mel",)


def test_escalation_never_lowers_priority(tinfo) -> None:
    """akiec above its threshold (Medium) must not lower a High top class."""
    a = assess(logits_for(tinfo, bcc=0.5, akiec=0.45), None, tinfo)
    assert a.priority == "High"
    assert escalated(a) == ()


def test_top_class_priority_applies_without_threshold(tinfo) -> None:
    a = assess(logits_for(tinfo, mel=0.19, nv=0.18, bkl=0.18), None, tinfo)
    assert (a.label, a.priority) == ("mel", "Urgent")
    vasc = assess(logits_for(tinfo, vasc=0.8), None, tinfo)
    assert (vasc.label, vasc.priority) == ("vasc", "Medium")


def test_temperature_is_applied(raw_metadata) -> None:
    """mel logit margin that is 31% at T=1 falls below 20% at T=0.5 (sharper)."""
    hot = make_info(raw_metadata, temperature=1.0)
    cold = make_info(raw_metadata, temperature=0.5)
    z = logits_for(hot, nv=0.62, mel=0.31)
    assert assess(z, None, hot).priority == "Urgent"
    assert assess(z, None, cold).priority == "Low"
    assert assess(z, None, cold).probs == pytest.approx(tuple(calibrated_probs(z, 0.5)))


def test_escalation_target_from_metadata_map(raw_metadata) -> None:
    raw = copy.deepcopy(raw_metadata)
    raw["escalation"] = {"mel": "Urgent", "bcc": "Urgent", "akiec": "Medium"}
    info = make_info(raw)
    assert assess(logits_for(info, nv=0.6, bcc=0.35), None, info).priority == "Urgent"


def test_unknown_escalation_class_is_an_error(raw_metadata) -> None:
    info = make_info(raw_metadata, escalation={"melanoma": 0.2})
    with pytest.raises(ValueError):
        assess(logits_for(info, nv=0.9), None, info)


def test_wrong_number_of_logits(tinfo) -> None:
    with pytest.raises(ValueError, match="expected 7"):
        assess([0.0, 1.0, 2.0], None, tinfo)


def test_smoothed_probabilities_get_the_same_rules(tinfo) -> None:
    """Live mode decides on smoothed probabilities with the photo's rules (no round trip
    through logits)."""
    p = calibrated_probs(logits_for(tinfo, nv=0.62, mel=0.31), 1.0)
    a = triage.decide(p, tinfo)
    assert (a.label, a.priority, escalated(a)) == ("nv", "Urgent", ("mel",))
    assert a.probs == pytest.approx(tuple(p))


# --------------------------------------------------------------------------- rejections


def assert_rejected(a: triage.Assessment, reason: str) -> None:
    assert a.rejected
    assert a.priority == "None"
    assert a.label is None and a.top_prob is None
    assert a.reason == reason


def test_a_photo_that_is_not_a_lesion_is_rejected(tinfo) -> None:
    a = assess(logits_for(tinfo, mel=0.9), -0.5, tinfo)
    assert_rejected(a, "not-lesion")
    assert a.probs is not None  # kept for diagnostics, never shown as a verdict
    assert a.ood == triage.OodCheck("lesion", pytest.approx(triage.sigmoid(-0.5)), 0.5, True)


def test_lesion_logit_at_threshold_is_accepted(tinfo) -> None:
    a = assess(logits_for(tinfo, nv=0.9), 0.0, tinfo)
    assert a.state == "done" and a.ood is not None and not a.ood.rejected


def test_non_finite_lesion_logit_rejects(tinfo) -> None:
    assert_rejected(assess(logits_for(tinfo, nv=0.9), float("nan"), tinfo), "not-lesion")


def test_sigmoid_is_stable_for_large_logits() -> None:
    assert triage.sigmoid(-1000.0) == 0.0 and triage.sigmoid(1000.0) == 1.0
    assert triage.sigmoid(0.0) == 0.5


@pytest.mark.parametrize(
    ("logit", "kind"), [(2.0, "dermoscopic"), (0.0, "dermoscopic"), (-0.1, "close_up")]
)
def test_photo_type_comes_from_the_dermoscopic_output(tinfo, logit: float, kind: str) -> None:
    assert assess(logits_for(tinfo, nv=0.9), None, tinfo, dermoscopic=logit).photo_type == kind


def test_low_confidence_rejects_unless_escalated(raw_metadata) -> None:
    info = make_info(raw_metadata, min_confidence=0.5)
    flat = assess(logits_for(info, nv=0.3, bkl=0.25), None, info)
    assert_rejected(flat, "low-confidence")
    risky = assess(logits_for(info, nv=0.3, mel=0.25), None, info)
    assert risky.state == "done" and risky.priority == "Urgent"


def test_rejection_before_the_model_has_no_probabilities() -> None:
    a = triage.rejected("dark")
    assert_rejected(a, "dark")
    assert a.probs is None and a.ood is None and a.error is None


def test_shipped_metadata_works_end_to_end(info) -> None:
    """Whatever numbers training wrote, the shipped file drives a valid verdict."""
    a = assess(np.zeros(7), 0.0, info)
    assert a.state in ("done", "rejected")
    assert a.probs is not None and len(a.probs) == 7


# ------------------------------------------------------------- two melanoma tiers


def two_tier(raw_metadata, lower: float = 0.08, upper: float = 0.3) -> metadata.ModelInfo:
    """Urgent from p(mel) >= ``upper``; the lower tier (High, "have it checked within
    weeks") from ``lower``. The tier's level and advice come from the metadata."""
    raw = copy.deepcopy(raw_metadata)
    raw["escalation_lower"] = {"mel": {"priority": "High", "advice": "mel-check"}}
    return make_info(
        raw, escalation={"mel": upper, "bcc": 0.3, "akiec": 0.4}, escalation_lower={"mel": lower}
    )


@pytest.mark.parametrize(
    ("p_mel", "priority", "advice"),
    [(0.05, "Low", "Low"), (0.12, "High", "mel-check"), (0.35, "Urgent", "Urgent")],
)
def test_melanoma_tiers(raw_metadata, p_mel, priority, advice) -> None:
    info = two_tier(raw_metadata)
    a = assess(logits_for(info, nv=0.9 - p_mel, mel=p_mel), None, info)
    assert a.label == "nv"
    assert (a.priority, a.advice) == (priority, advice)


def test_lower_tier_does_not_override_a_more_urgent_class(raw_metadata) -> None:
    """bcc's own High stays High with bcc's advice; the mel lower tier adds nothing."""
    info = two_tier(raw_metadata)
    a = assess(logits_for(info, bcc=0.6, mel=0.1), None, info)
    assert (a.label, a.priority, a.advice) == ("bcc", "High", "High")


def test_lower_tier_above_upper_is_refused(raw_metadata) -> None:
    with pytest.raises(ValueError, match="lower tier"):
        two_tier(raw_metadata, lower=0.4, upper=0.3)


def test_lower_tier_needs_its_level_and_advice(raw_metadata) -> None:
    raw = {k: v for k, v in raw_metadata.items() if k != "escalation_lower"}
    with pytest.raises(ValueError, match="escalation_lower"):
        make_info(raw, escalation_lower={"mel": 0.05})


def test_each_photo_type_has_its_own_temperature(raw_metadata) -> None:
    """The same logits read sharper for dermoscopy (T 0.5) than for a close-up (T 2)."""
    types = {"dermoscopic": 0.5, "close_up": 2.0}
    info = make_info(raw_metadata, temperature=1.0, by_photo_type=types)
    z = logits_for(info, nv=0.7, mel=0.1)
    derm, close = assess(z, None, info, dermoscopic=3.0), assess(z, None, info, dermoscopic=-3.0)
    assert derm.probs == pytest.approx(tuple(calibrated_probs(z, 0.5)))
    assert close.probs == pytest.approx(tuple(calibrated_probs(z, 2.0)))
    plain = make_info(raw_metadata, temperature=1.0)
    assert assess(z, None, plain, dermoscopic=-3.0).probs == pytest.approx(
        tuple(calibrated_probs(z, 1.0))
    )
