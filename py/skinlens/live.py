"""The live-camera pipeline, pure (runs under CPython too): one ROI frame -> :class:`LiveResult`.

One frame: the guide circle's square ROI as RGBA (``ImageData``, already cropped and resized
to the model input by the canvas) -> quality gates (:mod:`skinlens.quality`) -> normalised
input -> the model (an injected :data:`skinlens.model.Predict`) -> calibration and the
out-of-distribution check (:func:`skinlens.triage.calibrate`) -> temporal smoothing
(:mod:`skinlens.smoothing`) -> the verdict of the *smoothed* probabilities
(:func:`skinlens.triage.decide`, the same rules as a photo's).

A frame that fails a gate is never classified; one the model calls out of distribution is
never smoothed. The loop is strictly sequential (the page asks for the next frame when this
one is done); :class:`Scheduler` spaces frames from the measured busy time and the camera's
rate, and :class:`StageStats` keeps rolling per-stage means and the achieved rate.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from skinlens import quality, triage
from skinlens.metadata import ModelInfo
from skinlens.model import Predict
from skinlens.preprocess import rgba_to_rgb
from skinlens.smoothing import Smoother, SmoothingConfig

STAGES = ("capture", "preprocess", "inference", "postprocess", "total")

_CAMERA_ERRORS = {
    "NotAllowedError": "permission-denied",
    "PermissionDeniedError": "permission-denied",
    "SecurityError": "permission-denied",
    "NotFoundError": "no-camera",
    "DevicesNotFoundError": "no-camera",
    "OverconstrainedError": "no-camera",
    "NotReadableError": "camera-busy",
    "TrackStartError": "camera-busy",
    "AbortError": "camera-busy",
}


def camera_error(name: str) -> str:
    """The reason code for a ``getUserMedia`` failure's DOMException name."""
    return _CAMERA_ERRORS.get(name, "camera-error")


def roi_box(video_w: int, video_h: int, fraction: float) -> tuple[int, int, int]:
    """``(sx, sy, side)``: the centred square ROI in video pixels (for ``drawImage``)."""
    if video_w <= 0 or video_h <= 0:
        raise ValueError("video has no pixels yet")
    side = max(1, round(min(video_w, video_h) * fraction))
    return (video_w - side) // 2, (video_h - side) // 2, side


class StageStats:
    """Rolling per-stage means (ms) and achieved frames per second."""

    def __init__(self, window: int = 30, fps_window_ms: float = 3000.0) -> None:
        self._ms: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}
        self._done: deque[float] = deque()
        self._fps_window = fps_window_ms
        self.frames = 0

    def add(self, now_ms: float, stages: dict[str, float]) -> None:
        for name, ms in stages.items():
            self._ms[name].append(float(ms))
        self.frames += 1
        self._done.append(float(now_ms))
        while len(self._done) > 2 and now_ms - self._done[0] > self._fps_window:
            self._done.popleft()

    def mean(self, stage: str) -> float | None:
        q = self._ms[stage]
        return sum(q) / len(q) if q else None

    def fps(self) -> float:
        if len(self._done) < 2:
            return 0.0
        span = self._done[-1] - self._done[0]
        return 1000.0 * (len(self._done) - 1) / span if span > 0 else 0.0

    def summary(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for s in STAGES:
            m = self.mean(s)
            out[f"{s}_ms"] = None if m is None else round(m, 2)
        out["fps"] = round(self.fps(), 2)
        out["frames"] = self.frames
        return out


@dataclass
class Scheduler:
    """Delay before the next frame, from the measured busy time.

    ``idle_share`` of the time is left to the page (rendering, input) after a frame that
    took ``busy_ms``; a frame is never started sooner than the camera can supply a new one
    (``max_fps``); never later than ``max_delay_ms``.
    """

    max_fps: float
    idle_share: float
    min_delay_ms: float = 1.0
    max_delay_ms: float = 1000.0
    smoothing: float = 0.3
    _busy: float | None = field(default=None, init=False)

    def next_delay_ms(self, busy_ms: float) -> float:
        busy = max(0.0, float(busy_ms))
        a = self.smoothing
        self._busy = busy if self._busy is None else (1 - a) * self._busy + a * busy
        share = self.idle_share / max(1e-6, 1.0 - self.idle_share)
        delay = max(self.min_delay_ms, share * self._busy, 1000.0 / self.max_fps - busy)
        return min(self.max_delay_ms, delay)


@dataclass(frozen=True)
class LiveResult:
    """What the live view shows after one frame."""

    state: str
    """``ok`` or the reason code of this frame's rejection (a ``#live[data-state]`` value)."""
    verdict: triage.Assessment | None
    """The smoothed verdict (kept through a short run of rejected frames)."""
    stable: bool
    frame_probs: tuple[float, ...] | None
    sharpness: float
    timings: dict[str, float]
    fps: float

    def attrs(self) -> dict[str, str]:
        """The ``#live`` element's ``data-*`` attributes (automation contract)."""
        v = self.verdict
        done = v is not None and not v.rejected
        return {
            "state": self.state,
            "label": v.label or "" if done else "",
            "stable": "true" if self.stable else "false",
            "fps": f"{self.fps:.1f}",
            "priority": v.priority if done else triage.NONE_PRIORITY,
            "probs": json.dumps([round(p, 5) for p in v.probs]) if done and v.probs else "[]",
            **{f"ms-{k}": f"{ms:.1f}" for k, ms in self.timings.items() if k != "total"},
        }


def _ms() -> float:
    return time.perf_counter() * 1000.0


class LivePipeline:
    """Stateful per-frame processing for one camera session."""

    def __init__(
        self, info: ModelInfo, predict: Predict, *, clock: Callable[[], float] = _ms
    ) -> None:
        self.info = info
        self.predict = predict
        self.thresholds = quality.QualityThresholds.from_info(info)
        settings = info.live
        self.smoother = Smoother(SmoothingConfig.from_mapping(settings.smoothing))
        self.scheduler = Scheduler(settings.max_fps, settings.idle_share)
        self.stats = StageStats()
        self.clock = clock
        self.last: LiveResult | None = None

    def reset(self) -> None:
        self.smoother.reset()
        self.stats = StageStats()
        self.last = None

    def gate(self, rgba: np.ndarray) -> tuple[np.ndarray, quality.QualityReport]:
        """RGBA ROI -> (contiguous RGB, the quality report)."""
        rgb = np.ascontiguousarray(rgba_to_rgb(rgba))
        return rgb, quality.run_all(rgb, self.thresholds)

    async def classify(self, rgb: np.ndarray) -> triage.Calibrated:
        """Normalise and run the model on one accepted ROI."""
        x = self.info.model_input(rgb)
        inference = await self.predict(x[np.newaxis])
        return triage.calibrate(inference.row(0), self.info)

    async def process(self, rgba: np.ndarray, capture_ms: float = 0.0) -> LiveResult:
        t0 = self.clock()
        rgb, report = self.gate(rgba)
        t1 = t2 = self.clock()
        state, calibrated = report.verdict, None
        if report.ok:
            calibrated = await self.classify(rgb)
            t2 = self.clock()
            state = triage.NOT_LESION if calibrated.rejected else "ok"
        sharpness = report.measurements["sharpness"]
        if state == "ok":
            assert calibrated is not None
            smoothed = self.smoother.update(calibrated.probs, sharpness=sharpness, image=rgb)
        else:
            smoothed = self.smoother.reject()
        verdict = None if smoothed.probs is None else triage.decide(smoothed.probs, self.info)
        t3 = self.clock()
        timings = {
            "capture": capture_ms,
            "preprocess": t1 - t0,
            "inference": t2 - t1,
            "postprocess": t3 - t2,
        }
        timings["total"] = sum(timings.values())
        self.stats.add(t3, timings)
        self.last = LiveResult(
            state=state,
            verdict=verdict,
            stable=smoothed.stable,
            frame_probs=None if calibrated is None else tuple(map(float, calibrated.probs)),
            sharpness=sharpness,
            timings=timings,
            fps=self.stats.fps(),
        )
        if state == "ok":
            self.smoother.attach_result(self.last)
        return self.last

    def next_delay_ms(self, busy_ms: float) -> float:
        """Pause before the next frame, from this frame's busy time."""
        return self.scheduler.next_delay_ms(busy_ms)
