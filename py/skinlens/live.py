"""The live-camera pipeline, pure (runs under CPython too): one ROI frame -> :class:`LiveResult`.

One frame: the guide circle's square ROI as RGBA (``ImageData``, already cropped and resized
to the model input by the canvas) -> quality gates (:mod:`skinlens.quality`) -> normalised
input -> the model (an injected :data:`skinlens.model.Predict`) -> calibration and the
out-of-distribution check (:func:`skinlens.triage.calibrate`) -> temporal smoothing
(:mod:`skinlens.smoothing`) -> the verdict of the *smoothed* probabilities
(:func:`skinlens.triage.decide`, the same rules as a photo's).

A frame that fails a gate is never classified; one the model calls out of distribution is
never smoothed.

Adapting to the device: every frame is grabbed and gated (:meth:`LivePipeline.check`, a few
ms on the page's thread), so the guide's state follows the camera; the model (in its worker,
tens of ms) sees a frame only when it is free (:class:`Sampler`), while the next frames are
grabbed and gated. So a slow device assesses every k-th frame, k measured rather than set,
and the frames the smoother sees are the ones a strictly sequential loop would have seen:
the verdict comes as fast and is as stable as before, and the overlay no longer waits for
the model. :class:`Scheduler` spaces frames from the measured busy time and the camera's
rate; :class:`StageStats` keeps rolling per-stage means and both rates.
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
    """Rolling per-stage means (ms), frames per second and frames assessed per second."""

    def __init__(self, window: int = 30, fps_window_ms: float = 3000.0) -> None:
        self._ms: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}
        self._done: deque[float] = deque()
        self._assessed: deque[float] = deque()
        self._fps_window = fps_window_ms
        self.frames = 0
        self.inferences = 0

    def add(self, now_ms: float, stages: dict[str, float]) -> None:
        """A frame shown (grabbed and gated)."""
        self._record(stages)
        self.frames += 1
        self._tick(self._done, now_ms)

    def add_inference(self, now_ms: float, stages: dict[str, float]) -> None:
        """A frame the model assessed."""
        self._record(stages)
        self.inferences += 1
        self._tick(self._assessed, now_ms)

    def _record(self, stages: dict[str, float]) -> None:
        for name, ms in stages.items():
            self._ms[name].append(float(ms))

    def _tick(self, times: deque[float], now_ms: float) -> None:
        times.append(float(now_ms))
        while len(times) > 2 and now_ms - times[0] > self._fps_window:
            times.popleft()

    def mean(self, stage: str) -> float | None:
        q = self._ms[stage]
        return sum(q) / len(q) if q else None

    @staticmethod
    def _rate(times: deque[float]) -> float:
        if len(times) < 2:
            return 0.0
        span = times[-1] - times[0]
        return 1000.0 * (len(times) - 1) / span if span > 0 else 0.0

    def fps(self) -> float:
        return self._rate(self._done)

    def inference_fps(self) -> float:
        return self._rate(self._assessed)

    def summary(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for s in STAGES:
            m = self.mean(s)
            out[f"{s}_ms"] = None if m is None else round(m, 2)
        out["fps"] = round(self.fps(), 2)
        out["inference_fps"] = round(self.inference_fps(), 2)
        out["frames"] = self.frames
        out["inferences"] = self.inferences
        return out


@dataclass
class Sampler:
    """Which frames the model assesses: the next one after it is free again.

    The model runs in a worker while the page grabs and gates the following frames, so the
    number of frames per assessment (:attr:`every`) follows the device: 1 where the model
    keeps up with the camera, more where it does not. At most one frame is with the model.
    """

    busy: bool = False
    frames: int = 0
    assessed: int = 0

    def take(self) -> bool:
        """A frame was gated: True when it goes to the model (then :meth:`done` follows)."""
        self.frames += 1
        if self.busy:
            return False
        self.busy = True
        self.assessed += 1
        return True

    def done(self) -> None:
        self.busy = False

    @property
    def every(self) -> float:
        """Frames per assessed frame so far (k)."""
        return self.frames / self.assessed if self.assessed else 0.0


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


@dataclass(frozen=True)
class Frame:
    """One ROI after the quality gates (every frame gets this far)."""

    rgb: np.ndarray
    report: quality.QualityReport
    capture_ms: float
    preprocess_ms: float


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
        self.sampler = Sampler()
        self.stats = StageStats()
        self.clock = clock
        self.last: LiveResult | None = None

    def reset(self) -> None:
        self.smoother.reset()
        self.sampler = Sampler()
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

    def check(self, rgba: np.ndarray, capture_ms: float = 0.0) -> Frame:
        """Every frame: the gates (counted as a frame shown)."""
        t0 = self.clock()
        rgb, report = self.gate(rgba)
        t1 = self.clock()
        own = {"capture": capture_ms, "preprocess": t1 - t0}
        self.stats.add(t1, {**own, "total": sum(own.values())})
        return Frame(rgb, report, capture_ms, t1 - t0)

    def glance(self, frame: Frame) -> LiveResult:
        """A frame the model does not see: its own gate state over the last verdict (a frame
        that passes the gates shows what the model said last; nothing is smoothed)."""
        last = self.last
        if frame.report.ok:
            state = last.state if last and last.state in ("ok", triage.NOT_LESION) else "ok"
        else:
            state = frame.report.verdict
        return LiveResult(
            state=state,
            verdict=None if last is None else last.verdict,
            stable=last is not None and last.stable,
            frame_probs=None,
            sharpness=frame.report.measurements["sharpness"],
            timings=self._timings(frame, last),
            fps=self.stats.fps(),
        )

    async def assess(self, frame: Frame) -> LiveResult:
        """A frame the model sees (when it passed the gates), smoothed into the verdict."""
        report, calibrated = frame.report, None
        state = report.verdict
        t1 = t2 = self.clock()
        if report.ok:
            calibrated = await self.classify(frame.rgb)
            t2 = self.clock()
            state = triage.NOT_LESION if calibrated.rejected else "ok"
        sharpness = report.measurements["sharpness"]
        if state == "ok":
            assert calibrated is not None
            smoothed = self.smoother.update(calibrated.probs, sharpness=sharpness, image=frame.rgb)
        else:
            smoothed = self.smoother.reject()
        verdict = None if smoothed.probs is None else triage.decide(smoothed.probs, self.info)
        t3 = self.clock()
        model = {"inference": t2 - t1, "postprocess": t3 - t2}
        self.stats.add_inference(t3, model)
        self.last = LiveResult(
            state=state,
            verdict=verdict,
            stable=smoothed.stable,
            frame_probs=None if calibrated is None else tuple(map(float, calibrated.probs)),
            sharpness=sharpness,
            timings={
                "capture": frame.capture_ms,
                "preprocess": frame.preprocess_ms,
                **model,
                "total": frame.capture_ms + frame.preprocess_ms + sum(model.values()),
            },
            fps=self.stats.fps(),
        )
        if state == "ok":
            self.smoother.attach_result(self.last)
        return self.last

    async def process(self, rgba: np.ndarray, capture_ms: float = 0.0) -> LiveResult:
        """One frame all the way through (the model sees every frame: tests, tools)."""
        return await self.assess(self.check(rgba, capture_ms))

    @staticmethod
    def _timings(frame: Frame, last: LiveResult | None) -> dict[str, float]:
        model = {k: last.timings[k] for k in ("inference", "postprocess")} if last else {}
        own = {"capture": frame.capture_ms, "preprocess": frame.preprocess_ms}
        return {**own, **model, "total": sum(own.values())}

    def next_delay_ms(self, busy_ms: float) -> float:
        """Pause before the next frame, from this frame's busy time."""
        return self.scheduler.next_delay_ms(busy_ms)
