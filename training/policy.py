"""Choosing the melanoma thresholds on pooled `val` of every source.

A threshold trades misses against false alarms, and the trade differs by source: on
HAM10000 a low melanoma threshold costs few false alarms, on other clinics' moles it
calls most of them Urgent. So each rate is averaged over the sources (every source counts
the same, however many images it has), and the two tiers answer two questions:

* **Urgent** ("see a dermatologist within 1-2 weeks"): the lowest threshold whose
  false-alarm rate (Urgent on non-melanomas, averaged over sources) stays within the
  budget: as sensitive as the budget allows (:func:`upper_threshold`).
* **lower tier** ("have it checked within weeks"): the highest threshold whose
  melanoma sensitivity (averaged over sources) still meets the target: the fewest
  false alarms at that sensitivity (:func:`lower_threshold`), never above the Urgent one.

Nothing here reads `test` or Derm7pt: the caller passes `val` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rates:
    """Source-averaged rates at one threshold."""

    threshold: float
    sensitivity: float  # melanomas at or above the threshold
    false_alarms: float  # non-melanomas at or above the threshold


def rates(score: np.ndarray, is_mel: np.ndarray, source: np.ndarray, t: float) -> Rates:
    """Sensitivity over the sources that have melanomas, false alarms over those that
    have non-melanomas; each source weighs the same."""
    sens, fa = [], []
    for s in np.unique(source):
        m = source == s
        if (m & is_mel).any():
            sens.append(float((score[m & is_mel] >= t).mean()))
        if (m & ~is_mel).any():
            fa.append(float((score[m & ~is_mel] >= t).mean()))
    return Rates(float(t), float(np.mean(sens)), float(np.mean(fa)))


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
