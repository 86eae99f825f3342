"""Classification and calibration metrics (numpy only, no scikit-learn)."""

from __future__ import annotations

import itertools

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def recalls(cm: np.ndarray) -> np.ndarray:
    return np.diag(cm) / np.maximum(cm.sum(1), 1)


def precisions(cm: np.ndarray) -> np.ndarray:
    return np.diag(cm) / np.maximum(cm.sum(0), 1)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n: int, present_only: bool = False) -> float:
    """Mean per-class recall: the ISIC 2018 Task 3 metric.

    ``present_only`` averages over the classes that occur in ``y`` (PAD-UFES-20
    has 5 of the 7, Derm7pt 6), instead of counting an absent class as recall 0.
    """
    cm = confusion(y, pred, n)
    r = recalls(cm)
    return float(r[cm.sum(1) > 0].mean() if present_only else r.mean())


def auc_binary(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (ties count half)."""
    scores = np.concatenate([pos_scores, neg_scores])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    n_pos, n_neg = len(pos_scores), len(neg_scores)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def macro_auc(y: np.ndarray, probs: np.ndarray) -> tuple[float, list[float]]:
    """Macro one-vs-rest ROC AUC and the per-class values."""
    per = [auc_binary(probs[y == c, c], probs[y != c, c]) for c in range(probs.shape[1])]
    return float(np.mean(per)), per


def ece(y: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def reliability(y: np.ndarray, probs: np.ndarray, bins: int = 15) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per bin, for the reliability diagram."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        out.append(
            (
                float(conf[m].mean()) if m.any() else (lo + hi) / 2,
                float(correct[m].mean()) if m.any() else 0.0,
                int(m.sum()),
            )
        )
    return out


def nll(y: np.ndarray, logits: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())


def fit_temperature(y: np.ndarray, logits: np.ndarray) -> float:
    """Temperature minimising validation NLL (golden-section search on log T)."""
    lo, hi = np.log(0.05), np.log(20.0)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(80):
        if nll(y, logits, np.exp(a)) < nll(y, logits, np.exp(b)):
            hi = b
        else:
            lo = a
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    return float(np.exp((lo + hi) / 2))


def threshold_for_sensitivity(pos_scores: np.ndarray, sensitivity: float) -> float:
    """Largest threshold t with mean(pos_scores >= t) >= sensitivity."""
    s = np.sort(pos_scores)[::-1]
    k = int(np.ceil(sensitivity * len(s))) - 1
    return float(s[max(k, 0)])


def binary_rates(pos: np.ndarray, neg: np.ndarray, t: float) -> tuple[float, float]:
    """(sensitivity, specificity) of ``score >= t``."""
    return float((pos >= t).mean()), float((neg < t).mean())


def bootstrap_rates(hits: np.ndarray, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """Bootstrap distribution of the mean of a boolean vector (resampled with replacement)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(hits), (n_boot, len(hits)))
    return hits[idx].mean(axis=1)


def threshold_with_confidence(
    pos_scores: np.ndarray, sensitivity: float, alpha: float = 0.05, n_boot: int = 2000
) -> float:
    """Largest threshold whose bootstrap lower ``alpha`` bound of sensitivity
    (``mean(pos_scores >= t)``) still reaches ``sensitivity``.

    A point estimate on ~100 validation positives is too noisy to promise a
    sensitivity on new data; requiring the lower confidence bound to meet the
    target builds in the margin from the validation data alone.
    """
    for t in np.sort(np.unique(pos_scores))[::-1]:
        lower = np.quantile(bootstrap_rates(pos_scores >= t, n_boot), alpha)
        if lower >= sensitivity:
            return float(t)
    return float(pos_scores.min())
