"""training.policy: melanoma thresholds from pooled val, each source weighing the same."""

from __future__ import annotations

import numpy as np
import pytest

from training import policy


def two_sources():
    """Source a: melanomas score 0.6-0.9, its moles 0.0-0.3. Source b (another clinic):
    melanomas 0.3-0.6, its moles 0.2-0.5, i.e. a weak ranking."""
    rng = np.random.default_rng(0)
    score = np.concatenate(
        [rng.uniform(0.6, 0.9, 50), rng.uniform(0.0, 0.3, 500), rng.uniform(0.3, 0.6, 20)]
    )
    score = np.concatenate([score, rng.uniform(0.2, 0.5, 100)])
    is_mel = np.r_[np.ones(50), np.zeros(500), np.ones(20), np.zeros(100)].astype(bool)
    source = np.array(["a"] * 550 + ["b"] * 120)
    return score, is_mel, source


def test_rates_weigh_each_source_the_same():
    score, is_mel, source = two_sources()
    r = policy.rates(score, is_mel, source, 0.3)
    fa_a = (score[(source == "a") & ~is_mel] >= 0.3).mean()
    fa_b = (score[(source == "b") & ~is_mel] >= 0.3).mean()
    assert r.false_alarms == pytest.approx((fa_a + fa_b) / 2)
    assert r.sensitivity == pytest.approx(1.0)


def test_upper_threshold_keeps_false_alarms_within_budget_and_is_the_lowest():
    score, is_mel, source = two_sources()
    r = policy.upper_threshold(score, is_mel, source, budget=0.2)
    assert r.false_alarms <= 0.2
    below = score[score < r.threshold].max()
    assert policy.rates(score, is_mel, source, below).false_alarms > 0.2


def test_lower_threshold_meets_the_sensitivity_target_and_is_the_highest():
    score, is_mel, source = two_sources()
    r = policy.lower_threshold(score, is_mel, source, target=0.95, ceiling=1.0)
    assert r.sensitivity >= 0.95
    above = score[score > r.threshold].min()
    assert policy.rates(score, is_mel, source, above).sensitivity < 0.95


def test_lower_threshold_never_exceeds_the_ceiling():
    score, is_mel, source = two_sources()
    r = policy.lower_threshold(score, is_mel, source, target=0.5, ceiling=0.25)
    assert r.threshold <= 0.25
