"""Model outputs -> calibrated probabilities -> a sensitivity-first priority.

The one place that decides, for photos and live frames alike:

1. **Calibration**: ``softmax(logits / T)`` with ``T`` fitted on the validation split, so a
   threshold on a probability means what it says (:func:`calibrate`).
2. **Not a lesion**: the model's own ``lesion`` output (is this a photo of a skin lesion at
   all?) against its threshold (:func:`out_of_distribution`). A rejected input gets no class
   verdict.
3. **Escalation**: the priority starts at the top class's; every class listed in
   ``thresholds.escalation`` whose probability reaches its threshold raises it to the
   class's escalation priority; the most urgent level wins. Why not "priority of the top
   class": melanoma 31% / naevus 62% would then be "Low", and a 31% melanoma risk is exactly
   what screening must not wave through (:func:`decide`).
   A class may have a second, **lower tier** (``thresholds.escalation_lower``, its level and
   advice in the metadata's ``escalation_lower``): for melanoma, "Urgent: see a
   dermatologist within 1-2 weeks" needs a high probability, chosen on pooled val of every
   source within a false-alarm budget, while a lower probability still gets "have it
   checked within weeks" (chosen for sensitivity). One threshold could not do both: set for
   sensitivity it called most benign moles of other clinics Urgent; set for false alarms it
   would wave melanomas through.
4. **Low confidence**: without an escalation, a top probability below
   ``thresholds.min_confidence`` is not assessed either.

Everything else (quality gates, decode failures) rejects before the model runs and reaches
:func:`rejected` with its reason code. The words for each outcome live in
:mod:`skinlens.wording`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from skinlens.errors import SkinlensError
from skinlens.metadata import PRIORITY_ORDER, ModelInfo

NONE_PRIORITY = "None"
"""``#result[data-priority]`` value for "cannot assess"."""

NOT_LESION = "not-lesion"
"""Reason code when the model says the input is not what it knows. The same code as the
colour gate's, because the person's remedy is the same."""

LOW_CONFIDENCE = "low-confidence"


def calibrated_probs(logits: Sequence[float] | np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled softmax, numerically stable, as float64 (row-wise for N x C).

    Subtracting the maximum before ``exp`` avoids overflow for large logits; float64 keeps
    tiny probabilities from rounding to exactly 0 or 1.
    """
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError("logits must be a non-empty vector")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain NaN or infinity")
    z = z / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class OodCheck:
    """The out-of-distribution decision: which output, its value, the limit, the verdict."""

    output: str
    value: float
    limit: float
    rejected: bool


@dataclass(frozen=True)
class Calibrated:
    """One input's calibrated class probabilities and its out-of-distribution check."""

    probs: np.ndarray
    ood: OodCheck | None

    @property
    def rejected(self) -> bool:
        return self.ood is not None and self.ood.rejected


@dataclass(frozen=True)
class Escalation:
    """One escalation rule checked against a probability."""

    code: str
    priority: str
    prob: float
    threshold: float
    tier: str = "upper"  # "upper", or "lower" (the milder of a class's two levels)
    advice: str = ""  # wording key suffix of the recommendation ("" = the priority's)

    @property
    def reached(self) -> bool:
        return self.prob >= self.threshold


@dataclass(frozen=True)
class Assessment:
    """The verdict for one image or frame.

    ``state`` is ``done`` or ``rejected``. A rejected assessment has ``label is None``,
    priority ``None`` and a ``reason`` code; its ``probs`` (when the model ran at all) are
    kept for diagnostics only and never shown as a verdict. ``error`` carries the failure
    that stopped a photo, for the wording's details.
    """

    state: str
    priority: str
    reason: str = ""
    label: str | None = None
    probs: tuple[float, ...] | None = None
    escalations: tuple[Escalation, ...] = ()
    """Every escalation rule, checked (for the explanation)."""
    escalated_by: tuple[Escalation, ...] = ()
    """The reached rules that raised the priority above the top class's own."""
    ood: OodCheck | None = None
    error: SkinlensError | None = None
    photo_type: str | None = None
    """``dermoscopic`` or ``close_up`` for a photo the model ran on; ``None`` otherwise."""
    advice: str = ""
    """Which recommendation the page shows (``recommendation.<advice>``): the priority's
    own, or a decisive rule's (the lower melanoma tier has words of its own)."""

    def __post_init__(self) -> None:
        if not self.advice:
            object.__setattr__(self, "advice", self.priority)

    @property
    def rejected(self) -> bool:
        return self.state == "rejected"

    @property
    def top_prob(self) -> float | None:
        if self.probs is None or self.label is None:
            return None
        return max(self.probs)


def rejected(
    reason: str,
    *,
    probs: Sequence[float] | None = None,
    ood: OodCheck | None = None,
    error: SkinlensError | None = None,
) -> Assessment:
    """A "cannot assess" verdict: priority ``None``, no label, a reason code."""
    kept = None if probs is None else tuple(float(p) for p in probs)
    return Assessment("rejected", NONE_PRIORITY, reason, probs=kept, ood=ood, error=error)


def sigmoid(logit: float) -> float:
    """Logistic function that does not overflow for large negative logits."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    e = math.exp(logit)
    return e / (1.0 + e)


def out_of_distribution(outputs: Mapping[str, np.ndarray], info: ModelInfo) -> OodCheck:
    """Is the input something the model can assess? Its ``lesion`` output is a logit for
    "this photo shows a skin lesion", rejected below ``thresholds.lesion`` (chosen on the
    validation split). Reported as probabilities, which is how the page explains it."""
    logit = float(np.asarray(outputs["lesion"]).reshape(-1)[0])
    limit = float(info.thresholds["lesion"])
    rejected = not math.isfinite(logit) or logit < limit
    value = sigmoid(logit) if math.isfinite(logit) else 0.0
    return OodCheck("lesion", value, sigmoid(limit), rejected)


def photo_type(outputs: Mapping[str, np.ndarray], info: ModelInfo) -> str:
    """``dermoscopic`` or ``close_up``, from the model's ``dermoscopic`` output; the model is
    weaker on close-ups and the page says so (``metadata.photo_types``)."""
    logit = float(np.asarray(outputs["dermoscopic"]).reshape(-1)[0])
    return "dermoscopic" if logit >= float(info.thresholds["dermoscopic"]) else "close_up"


def calibrate(outputs: Mapping[str, np.ndarray], info: ModelInfo) -> Calibrated:
    """One input's named outputs -> calibrated probabilities and the OOD check."""
    probs = calibrated_probs(outputs["logits"], info.temperature).reshape(-1)
    if probs.shape[0] != len(info.codes):
        raise ValueError(f"expected {len(info.codes)} logits, got {probs.shape[0]}")
    return Calibrated(probs, out_of_distribution(outputs, info))


def _rank(priority: str) -> int:
    """Lower is more urgent (index in ``PRIORITY_ORDER``)."""
    return PRIORITY_ORDER.index(priority)


def escalations(probs: Sequence[float], info: ModelInfo) -> tuple[Escalation, ...]:
    """Every escalation rule of the metadata (both tiers), checked against ``probs``."""
    out = []
    for code, limit in info.thresholds.get("escalation", {}).items():
        index = info.codes.index(code)
        level = info.escalation.get(code, info.classes[index].priority)
        out.append(Escalation(code, level, float(probs[index]), float(limit)))
    for code, limit in info.thresholds.get("escalation_lower", {}).items():
        rule = info.escalation_lower[code]
        p = float(probs[info.codes.index(code)])
        out.append(Escalation(code, rule["priority"], p, float(limit), "lower", rule["advice"]))
    return tuple(out)


def decide(
    probs: Sequence[float] | np.ndarray, info: ModelInfo, ood: OodCheck | None = None
) -> Assessment:
    """Calibrated probabilities (of one frame, or smoothed over frames) -> the verdict."""
    p = tuple(float(x) for x in probs)
    if ood is not None and ood.rejected:
        return rejected(NOT_LESION, probs=p, ood=ood)
    top = max(range(len(p)), key=p.__getitem__)
    checks = escalations(p, info)
    priority = info.classes[top].priority
    for e in checks:
        if e.reached and _rank(e.priority) < _rank(priority):
            priority = e.priority
    min_conf = float(info.thresholds.get("min_confidence", 0.0))
    if p[top] < min_conf and not any(e.reached for e in checks):
        # Sensitivity first: low confidence never hides an escalation signal.
        return rejected(LOW_CONFIDENCE, probs=p, ood=ood)
    raised = priority != info.classes[top].priority
    by = tuple(e for e in checks if raised and e.reached and e.priority == priority)
    return Assessment(
        "done",
        priority,
        label=info.codes[top],
        probs=p,
        escalations=checks,
        escalated_by=by,
        ood=ood,
        advice=next((e.advice for e in by if e.advice), priority),
    )


def assess(outputs: Mapping[str, np.ndarray], info: ModelInfo) -> Assessment:
    """One input's named model outputs -> the verdict (calibration, lesion check,
    escalation) and the photo type."""
    c = calibrate(outputs, info)
    return replace(decide(c.probs, info, c.ood), photo_type=photo_type(outputs, info))
