"""Choosing the melanoma thresholds on pooled `val` of every source.

A threshold trades misses against false alarms, and the trade differs by source: a
melanoma threshold that costs few false alarms on one clinic's moles calls most of
another's Urgent. So the false-alarm rate that counts is the **worst source's** (each
source with enough non-melanomas to measure it: an average would let the largest
dermoscopy source hide behind phone and atlas sets whose non-melanomas are mostly other
cancers), and sensitivity counts every melanoma of every source once (pooled). The two
tiers answer two questions:

* **Urgent** ("see a dermatologist within 1-2 weeks"): the lowest threshold whose
  false-alarm rate (Urgent on non-melanomas) stays within the budget in every source: as
  sensitive as the budget allows (:func:`upper_threshold`).
* **lower tier** ("have it checked within weeks"): the highest threshold whose pooled
  melanoma sensitivity still meets the target: the fewest false alarms at that
  sensitivity (:func:`lower_threshold`), never above the Urgent one.

Nothing here reads `test` or Derm7pt: the caller passes `val` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A cancer counts as flagged at these priorities (issue 15); a photo the page refuses is
# a miss. The model card and the page benchmark (bench.sources) both count this way.
FLAGGED_AT = {"mel": ("Urgent",), "bcc": ("Urgent", "High"), "akiec": ("Urgent", "High", "Medium")}


def flagged(dx: str, priority: str, accepted: bool) -> bool | None:
    """Was a cancer flagged at its level? ``None`` for a class that is not a cancer."""
    if dx not in FLAGGED_AT:
        return None
    return accepted and priority in FLAGGED_AT[dx]


MIN_NEGATIVES = 30  # a source's false-alarm rate counts once it has this many non-melanomas


@dataclass(frozen=True)
class Rates:
    """The rates at one threshold."""

    threshold: float
    sensitivity: float  # melanomas at or above the threshold, pooled over the sources
    false_alarms: float  # non-melanomas at or above it, in the worst source


def rates(score: np.ndarray, is_mel: np.ndarray, source: np.ndarray, t: float) -> Rates:
    """Pooled sensitivity; the highest false-alarm rate of any source with at least
    ``MIN_NEGATIVES`` non-melanomas (all of them pooled if none has that many)."""
    hit = score >= t
    fa = [
        float(hit[(source == s) & ~is_mel].mean())
        for s in np.unique(source)
        if ((source == s) & ~is_mel).sum() >= MIN_NEGATIVES
    ]
    worst = max(fa) if fa else float(hit[~is_mel].mean())
    return Rates(float(t), float(hit[is_mel].mean()), worst)


def _candidates(score: np.ndarray) -> np.ndarray:
    return np.unique(score)


def upper_threshold(
    score: np.ndarray, is_mel: np.ndarray, source: np.ndarray, budget: float
) -> Rates:
    """The lowest threshold with source-averaged false alarms <= ``budget``."""
    for t in _candidates(score):
        r = rates(score, is_mel, source, t)
        if r.false_alarms <= budget:
            return r
    return rates(score, is_mel, source, float(np.nextafter(score.max(), np.inf)))


def lower_threshold(
    score: np.ndarray, is_mel: np.ndarray, source: np.ndarray, target: float, ceiling: float
) -> Rates:
    """The highest threshold (at most ``ceiling``) whose source-averaged melanoma
    sensitivity is >= ``target``."""
    best = rates(score, is_mel, source, float(score.min()))
    for t in _candidates(score[score <= ceiling]):
        r = rates(score, is_mel, source, t)
        if r.sensitivity >= target:
            best = r
        else:
            break
    return best
