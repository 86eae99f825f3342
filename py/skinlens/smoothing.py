"""Temporal aggregation of live-camera verdicts (pure; no browser, no model).

A live stream gives many noisy looks at the same lesion. Showing each frame's
top class would flicker, so accepted frames (those that passed every quality
gate and the out-of-distribution gate) are aggregated:

* ``method="ema"``: exponential moving average of the calibrated probabilities,
  ``s <- (1 - alpha) * s + alpha * p`` (the first frame initialises ``s``);
* ``method="window"``: plain mean of the last ``window`` accepted frames.

Stability rule: the verdict is *stable* once the last ``min_stable_frames``
accepted frames all had the same top class as the smoothed probabilities and
the smoothed top probability is at least ``min_confidence``. A frame whose top
class disagrees restarts the count. Rejected frames do not count either way,
but ``reset_after_rejects`` rejections in a row (the lesion left the guide
circle, the camera moved away...) discard everything: the next lesion starts
from scratch. A shorter rejection streak keeps the verdict (and its stability),
so one blurry frame in a steady session does not make it flicker.

The smoother also remembers the sharpest accepted frame among the last
``best_window`` accepted ones, with its own result, for the "capture" button.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SmoothingConfig:
    method: str = "ema"
    alpha: float = 0.35
    window: int = 8
    min_stable_frames: int = 5
    min_confidence: float = 0.5
    reset_after_rejects: int = 8
    best_window: int = 20

    def __post_init__(self) -> None:
        if self.method not in ("ema", "window"):
            raise ValueError(f"unknown smoothing method {self.method!r} (ema|window)")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        for name in ("window", "min_stable_frames", "reset_after_rejects", "best_window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError("min_confidence must be in [0, 1]")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, **overrides: Any) -> SmoothingConfig:
        """Build from a metadata ``live``/``smoothing`` section (unknown keys ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in dict(raw or {}).items() if k in known}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class BestFrame:
    """One accepted frame kept for 'capture'."""

    frame_index: int
    sharpness: float
    probs: np.ndarray
    image: np.ndarray | None = None
    result: Any = None


@dataclass(frozen=True)
class SmoothedVerdict:
    """What the UI shows after each frame (accepted or rejected)."""

    probs: np.ndarray | None
    top: int | None
    confidence: float
    stable: bool
    consistent: int
    accepted: int
    rejected_streak: int

    @property
    def has_verdict(self) -> bool:
        return self.probs is not None


@dataclass
class Smoother:
    config: SmoothingConfig = field(default_factory=SmoothingConfig)

    def __post_init__(self) -> None:
        self._recent: deque[np.ndarray] = deque(maxlen=self.config.window)
        self._best: deque[BestFrame] = deque(maxlen=self.config.best_window)
        self.reset()

    # -- state -----------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (a new lesion, or the camera restarted)."""
        self._ema: np.ndarray | None = None
        self._recent.clear()
        self._best.clear()
        self._consistent = 0
        self._accepted = 0
        self._rejected_streak = 0
        self._stable = False
        self._frame_index = 0

    @property
    def probs(self) -> np.ndarray | None:
        if self.config.method == "ema":
            return None if self._ema is None else self._ema.copy()
        if not self._recent:
            return None
        return np.mean(np.stack(self._recent), axis=0)

    def verdict(self) -> SmoothedVerdict:
        probs = self.probs
        top = None if probs is None else int(np.argmax(probs))
        conf = 0.0 if probs is None else float(probs[top])
        return SmoothedVerdict(
            probs=probs,
            top=top,
            confidence=conf,
            stable=self._stable,
            consistent=self._consistent,
            accepted=self._accepted,
            rejected_streak=self._rejected_streak,
        )

    # -- updates ---------------------------------------------------------
    def update(
        self,
        probs: Sequence[float] | np.ndarray,
        *,
        sharpness: float = 0.0,
        image: np.ndarray | None = None,
        result: Any = None,
    ) -> SmoothedVerdict:
        """Add one accepted frame's calibrated probabilities."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.size == 0 or not np.all(np.isfinite(p)):
            raise ValueError("probabilities must be a non-empty finite vector")
        total = float(p.sum())
        if total <= 0:
            raise ValueError("probabilities must sum to a positive number")
        p = p / total
        prev = self.probs
        if prev is not None and prev.shape != p.shape:
            raise ValueError(f"expected {prev.shape[0]} probabilities, got {p.size}")

        self._frame_index += 1
        self._accepted += 1
        self._rejected_streak = 0
        if self.config.method == "ema":
            a = self.config.alpha
            self._ema = p.copy() if self._ema is None else (1.0 - a) * self._ema + a * p
        self._recent.append(p)

        smoothed = self.probs
        assert smoothed is not None
        top = int(np.argmax(smoothed))
        if int(np.argmax(p)) == top:
            self._consistent += 1
        else:
            self._consistent = 0
        self._stable = (
            self._consistent >= self.config.min_stable_frames
            and float(smoothed[top]) >= self.config.min_confidence
        )

        stored = None if image is None else np.array(image, copy=True)
        self._best.append(BestFrame(self._frame_index, float(sharpness), p, stored, result))
        return self.verdict()

    def reject(self) -> SmoothedVerdict:
        """Note a rejected frame; a long enough streak resets the verdict."""
        self._frame_index += 1
        self._rejected_streak += 1
        if self._rejected_streak >= self.config.reset_after_rejects:
            streak = self._rejected_streak
            self.reset()
            self._rejected_streak = streak
        return self.verdict()

    # -- capture ---------------------------------------------------------
    def best(self) -> BestFrame | None:
        """The sharpest of the recent accepted frames (latest wins ties)."""
        if not self._best:
            return None
        best = None
        for item in self._best:
            if best is None or item.sharpness >= best.sharpness:
                best = item
        return best

    def attach_result(self, result: Any) -> None:
        """Attach the final (post-processed) result to the latest accepted frame."""
        if self._best:
            self._best[-1] = replace(self._best[-1], result=result)
