"""Model outputs -> calibrated probabilities -> a sensitivity-first priority.

Why not simply "priority of the top class": a lesion the model scores
melanoma 31% / naevus 62% would then be "Low", yet a 31% melanoma risk is
exactly what a screening tool must not wave through. So:

1. Probabilities are temperature-calibrated (``softmax(logits / T)``, ``T``
   fitted on the validation split), so a threshold on them means what it says.
2. The priority starts at the top class's priority; every class listed in
   ``thresholds.escalation`` whose probability reaches its threshold (chosen on
   the validation split for high sensitivity) raises it to that class's
   escalation priority. The most urgent level wins.
3. Inputs the model should not judge get *no* class verdict and priority
   ``None`` ("cannot assess"), with a reason code and a message: failed
   quality gates, an out-of-distribution score above ``thresholds.ood_score``,
   files that could not be decoded, and (when no escalation fired) a top
   probability below ``thresholds.min_confidence``.

Everything the page shows comes from :meth:`Assessment.to_result_dict`, so the
automation contract (``#result`` data attributes) is produced in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skinlens.errors import SkinlensError
from skinlens.metadata import PRIORITY_ORDER, ModelInfo
from skinlens.quality import QualityReport

NONE_PRIORITY = "None"
"""``#result[data-priority]`` value for "cannot assess"."""

REASON_NOT_LESION = "not-lesion"
"""Reason code when the model's OOD score (or low confidence) rejects the input.
The same code as the colour gate's, because the person's remedy is the same."""

_NOT_LESION_MESSAGE = (
    "This does not look like a skin lesion the model knows. "
    "Move closer: put one skin lesion inside the circle, or choose a close-up photo of it."
)
_LOW_CONFIDENCE_MESSAGE = (
    "The model is not confident about this image. "
    "Retake a sharp, close-up photo of one skin lesion."
)

LogitsLike = Sequence[float] | np.ndarray


def calibrated_probs(logits: LogitsLike, temperature: float) -> np.ndarray:
    """Temperature-scaled softmax, numerically stable, as float64.

    Subtracting the maximum before ``exp`` avoids overflow for large logits;
    float64 keeps tiny probabilities from rounding to exactly 0 or 1. A batch
    (N x C) is handled row-wise.
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


def _rank(priority: str) -> int:
    """Lower is more urgent (index in ``PRIORITY_ORDER``)."""
    return PRIORITY_ORDER.index(priority)


def _pct(p: float, other: float | None = None) -> str:
    """Percent for people: whole numbers, one decimal when two values would
    otherwise print the same (``18%`` vs ``18%`` reads as a contradiction)."""
    if other is not None and round(p * 100) == round(other * 100) and p != other:
        return f"{p * 100:.1f}%"
    return f"{p * 100:.0f}%"


@dataclass(frozen=True)
class ClassProb:
    """One class with its calibrated probability, for display."""

    index: int
    code: str
    name: str
    prob: float
    priority: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "index": self.index,
            "code": self.code,
            "name": self.name,
            "prob": self.prob,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Assessment:
    """The verdict for one image or frame.

    ``state`` is ``done`` or ``rejected``. A rejected assessment has
    ``label is None`` and ``priority == "None"``; its ``probs`` (when the model
    ran at all) are kept for diagnostics only and never shown as a verdict.
    """

    state: str
    priority: str
    label: str | None = None
    label_name: str | None = None
    probs: tuple[float, ...] | None = None
    reason: str = ""
    message: str = ""
    recommendation: str = ""
    explanation: str = ""
    escalated_by: tuple[str, ...] = ()
    ood_score: float | None = None
    classes: tuple[ClassProb, ...] = ()
    quality: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def rejected(self) -> bool:
        """True when the input was not assessed (priority ``None``)."""
        return self.state == "rejected"

    def top_k(self, k: int = 3) -> list[ClassProb]:
        """The ``k`` most probable classes, most probable first (empty if rejected)."""
        if self.rejected:
            return []
        return sorted(self.classes, key=lambda c: (-c.prob, c.index))[: max(0, k)]

    def to_result_dict(self, k: int = 3) -> dict[str, Any]:
        """Exactly what the page writes onto ``#result`` and shows.

        Keys ``state``, ``label``, ``priority``, ``probs``, ``reason`` map 1:1 onto
        the ``data-*`` attributes of the automation contract (``probs`` is a
        list of 7 floats in class-index order; empty when rejected, because a
        rejected input has no class verdict). The rest is display text.
        """
        done = not self.rejected
        return {
            "state": self.state,
            "label": self.label or "",
            "label_name": self.label_name or "",
            "priority": self.priority,
            "probs": list(self.probs) if (done and self.probs is not None) else [],
            "reason": self.reason,
            "message": self.message,
            "recommendation": self.recommendation,
            "explanation": self.explanation,
            "escalated_by": list(self.escalated_by),
            "ood_score": self.ood_score,
            "topk": [c.to_dict() for c in self.top_k(k)],
            "classes": [c.to_dict() for c in self.classes] if done else [],
        }


def _escalation_priority(info: ModelInfo, code: str, default: str) -> str:
    """Priority a class escalates to: metadata ``escalation`` map, else its own."""
    mapping = info.raw.get("escalation", {})
    level = mapping.get(code, default) if isinstance(mapping, Mapping) else default
    if level not in PRIORITY_ORDER:
        raise ValueError(f"escalation priority for {code!r} is not a priority: {level!r}")
    return level


def reject(
    info: ModelInfo,
    reason: str,
    message: str,
    *,
    probs: Sequence[float] | None = None,
    ood_score: float | None = None,
    quality: QualityReport | None = None,
) -> Assessment:
    """A "cannot assess" verdict: priority ``None``, no label, a reason code."""
    return Assessment(
        state="rejected",
        priority=NONE_PRIORITY,
        probs=None if probs is None else tuple(float(p) for p in probs),
        reason=reason,
        message=message,
        recommendation=info.recommendations.get(NONE_PRIORITY, ""),
        explanation=message,
        ood_score=ood_score,
        quality=None if quality is None else quality.to_dict(),
    )


def from_error(error: SkinlensError, info: ModelInfo) -> Assessment:
    """Rejection for a file that could not be decoded (reason = the error's code)."""
    return reject(info, error.code, error.message)


def assess(
    logits: LogitsLike | None,
    ood_score: float | None,
    info: ModelInfo,
    quality: QualityReport | None = None,
) -> Assessment:
    """Turn the model's outputs (and the quality report) into an :class:`Assessment`.

    ``logits`` may be ``None`` when a quality gate failed and the model was
    (rightly) not run. ``ood_score`` ``None`` skips the OOD gate (e.g. for
    already-gated, smoothed live probabilities).
    """
    if quality is not None and not quality.ok:
        return reject(info, quality.verdict, quality.instruction, quality=quality)
    if logits is None:
        raise ValueError("logits are required when the quality gates passed")

    classes = info.classes
    probs = calibrated_probs(logits, info.temperature).reshape(-1)
    if probs.shape[0] != len(classes):
        raise ValueError(f"expected {len(classes)} logits, got {probs.shape[0]}")
    prob_list = tuple(float(p) for p in probs)
    thresholds = info.thresholds

    ood_limit = thresholds.get("ood_score")
    if ood_score is not None and ood_limit is not None:
        score = float(ood_score)
        if not math.isfinite(score) or score > float(ood_limit):
            return reject(
                info,
                REASON_NOT_LESION,
                _NOT_LESION_MESSAGE,
                probs=prob_list,
                ood_score=score,
                quality=quality,
            )

    top = int(np.argmax(probs))
    top_class = classes[top]
    priority = top_class.priority
    escalated: list[tuple[str, str, float, float]] = []
    by_code = {c.code: c for c in classes}
    for code, limit in (thresholds.get("escalation") or {}).items():
        if code not in by_code:
            raise ValueError(f"escalation threshold for unknown class {code!r}")
        cls = by_code[code]
        p = prob_list[cls.index]
        if p >= float(limit):
            level = _escalation_priority(info, code, cls.priority)
            escalated.append((code, level, p, float(limit)))
            if _rank(level) < _rank(priority):
                priority = level

    min_conf = float(thresholds.get("min_confidence", 0.0) or 0.0)
    if not escalated and prob_list[top] < min_conf:
        # Sensitivity first: low confidence never hides an escalation signal.
        return reject(
            info,
            "low-confidence",
            _LOW_CONFIDENCE_MESSAGE,
            probs=prob_list,
            ood_score=None if ood_score is None else float(ood_score),
            quality=quality,
        )

    explanation = _explain(info, top, prob_list, priority, escalated)
    class_probs = tuple(
        ClassProb(c.index, c.code, c.name, prob_list[c.index], c.priority) for c in classes
    )
    raising = [code for code, level, _, _ in escalated if level == priority]
    return Assessment(
        state="done",
        priority=priority,
        label=top_class.code,
        label_name=top_class.name,
        probs=prob_list,
        recommendation=info.recommendations.get(priority, ""),
        explanation=explanation,
        escalated_by=tuple(raising) if _rank(priority) < _rank(top_class.priority) else (),
        ood_score=None if ood_score is None else float(ood_score),
        classes=class_probs,
        quality=None if quality is None else quality.to_dict(),
    )


def _explain(
    info: ModelInfo,
    top: int,
    probs: Sequence[float],
    priority: str,
    escalated: list[tuple[str, str, float, float]],
) -> str:
    """One or two sentences saying why this priority, in plain numbers."""
    classes = info.classes
    names = {c.code: c.name for c in classes}
    top_class = classes[top]
    base = f"Most likely: {top_class.name} ({_pct(probs[top])})."
    decisive = [e for e in escalated if e[1] == priority]
    if decisive and _rank(priority) < _rank(top_class.priority):
        parts = [
            f"{names[code]} probability {_pct(p, limit)} is at or above the "
            f"{_pct(limit, p)} escalation threshold"
            for code, _, p, limit in decisive
        ]
        return f"{priority}: {'; '.join(parts)}. {base}"
    checked = [
        f"{names[code]} {_pct(probs[idx], float(limit))} < {_pct(float(limit), probs[idx])}"
        for code, limit in (info.thresholds.get("escalation") or {}).items()
        for idx in [next(c.index for c in classes if c.code == code)]
        if code not in {e[0] for e in escalated} and code != top_class.code
    ]
    below = f" Below escalation thresholds: {', '.join(checked)}." if checked else ""
    return f"{priority}: priority of the most likely class. {base}{below}"
