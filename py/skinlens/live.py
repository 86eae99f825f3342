"""The live-camera frame loop, minus the browser (pure; runs under CPython too).

One frame: ROI ``ImageData`` (224x224 RGBA, already cropped and resized by the
canvas) -> RGB view -> quality gates (``skinlens.quality``) -> normalised
float32 tensor -> inference (an injected async callable: TF.js in the page, a
stub in tests) -> calibrated probabilities and the out-of-distribution gate
(``skinlens.triage``) -> temporal smoothing (``skinlens.smoothing``) ->
priority of the *smoothed* probabilities -> a :class:`LiveResult` whose
:meth:`LiveResult.attrs` are the ``#live`` element's ``data-*`` attributes.

A rejected frame is never classified: a failing quality gate stops the frame
before inference; an out-of-distribution score stops it before smoothing.

Scheduling (:class:`Scheduler`): the loop is strictly sequential (the next
frame is requested only once the previous one is finished, so no queue can
build up); the pause before the next frame grows with the measured busy time
so that the page keeps a share of the CPU, and is capped by the camera's frame
rate (no point in classifying the same video frame twice).

Stage timings (:class:`StageStats`): capture (canvas grab), preprocess (Python:
RGBA -> RGB, gates, normalise), inference (the awaited call), postprocess
(calibration, OOD, smoothing, priority) - rolling means - and the achieved fps.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skinlens.metadata import ModelInfo
from skinlens.preprocess import normalize, rgba_to_rgb
from skinlens.smoothing import Smoother, SmoothingConfig

ROI_FRACTION = 0.7
"""Side of the guide circle's square ROI, as a fraction of the video's short side."""

STATES = ("ok", "blurry", "dark", "bright", "glare", "not-lesion", "warming-up")

STAGES = ("capture", "preprocess", "inference", "postprocess", "total")

# quality-gate name (as skinlens.quality names it) -> #live data-state
GATE_STATE = {
    "blur": "blurry",
    "blurry": "blurry",
    "sharpness": "blurry",
    "dark": "dark",
    "too_dark": "dark",
    "underexposed": "dark",
    "bright": "bright",
    "too_bright": "bright",
    "overexposed": "bright",
    "glare": "glare",
    "specular": "glare",
    "not-lesion": "not-lesion",
    "not_lesion": "not-lesion",
    "not-skin": "not-lesion",
    "not_skin": "not-lesion",
    "ood": "not-lesion",
}

INSTRUCTIONS = {
    "ok": "Hold still: assessing.",
    "blurry": "Hold the camera steadier and let it focus.",
    "dark": "More light, please: the picture is too dark.",
    "bright": "Too bright: move away from direct light or turn the torch off.",
    "glare": "Glare on the skin: tilt the camera slightly or dim the light.",
    "not-lesion": "No skin lesion in the circle: move closer and centre the lesion.",
    "warming-up": "Starting the camera...",
}


def roi_box(video_w: int, video_h: int, fraction: float = ROI_FRACTION) -> tuple[int, int, int]:
    """``(sx, sy, side)``: the centred square ROI in video pixels (for ``drawImage``)."""
    if video_w <= 0 or video_h <= 0:
        raise ValueError("video has no pixels yet")
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    side = max(1, round(min(video_w, video_h) * fraction))
    return (video_w - side) // 2, (video_h - side) // 2, side


# --------------------------------------------------------------------------
# gates and triage adapters
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """One quality verdict, in the loop's own terms."""

    name: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
    instruction: str = ""

    @property
    def state(self) -> str:
        return GATE_STATE.get(self.name, self.name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "instruction": self.instruction,
        }


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def _as_float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def to_gates(report: Any) -> list[Gate]:
    """Normalise a quality report (list/dict of verdict objects or dicts) to Gates."""
    items = _field(report, "verdicts", "gates", "checks", default=report)
    if isinstance(items, Mapping):
        items = [
            {"name": k, **v} if isinstance(v, Mapping) else _named(k, v) for k, v in items.items()
        ]
    gates = []
    for v in items:
        name = str(_field(v, "name", "gate", "code", default="unknown"))
        ok = _field(v, "passed", "ok", default=None)
        if ok is None:
            failed = _field(v, "failed", "rejected", default=False)
            ok = not failed
        gates.append(
            Gate(
                name=name,
                passed=bool(ok),
                value=_as_float(_field(v, "value", "measured", "measure")),
                threshold=_as_float(_field(v, "threshold", "limit")),
                instruction=str(_field(v, "instruction", "message", "advice", default="") or ""),
            )
        )
    return gates


def _named(name: str, v: Any) -> Any:
    if hasattr(v, "name"):
        return v
    return {"name": name, "passed": bool(v)}


GateFn = Callable[[np.ndarray], Sequence[Gate]]


def default_gates(info: ModelInfo) -> GateFn:
    """All of ``skinlens.quality``'s gates, thresholds from the model metadata."""
    from skinlens import quality

    def gates(rgb: np.ndarray) -> list[Gate]:
        return to_gates(quality.run_all(rgb, info))

    return gates


@dataclass(frozen=True)
class Calibrated:
    """Per-frame post-inference facts."""

    probs: np.ndarray
    ood_score: float | None
    ood_rejected: bool


def default_calibrate(info: ModelInfo) -> Callable[[Any, float | None], Calibrated]:
    """Calibration via ``skinlens.triage.calibrated_probs``; OOD threshold from metadata."""
    from skinlens.triage import calibrated_probs

    limit = _as_float(info.thresholds.get("ood_score"))

    def calibrate(logits: Any, ood: float | None) -> Calibrated:
        probs = np.asarray(calibrated_probs(logits, info.temperature), dtype=np.float64)
        score = _as_float(ood)
        rejected = score is not None and limit is not None and score > limit
        return Calibrated(probs.reshape(-1), score, rejected)

    return calibrate


def default_priority(info: ModelInfo) -> Callable[[np.ndarray], tuple[str, str]]:
    """``probs -> (priority, recommendation)`` via ``skinlens.triage.assess``.

    Smoothed probabilities are turned back into logits ``T * log(p)`` whose
    calibrated softmax is ``p`` itself, so triage's sensitivity-first rules apply
    to the smoothed verdict unchanged. The OOD gate was already applied per frame
    (``ood_score=None`` skips it).
    """
    from skinlens.triage import assess

    def priority(probs: np.ndarray) -> tuple[str, str]:
        logits = (info.temperature * np.log(np.clip(probs, 1e-12, 1.0))).tolist()
        result = assess(logits, None, info)
        level = str(_field(result, "priority"))
        rec = _field(result, "recommendation", default=None)
        return level, str(rec if rec is not None else info.recommendations.get(level, ""))

    return priority


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------
class StageStats:
    """Rolling per-stage means (ms) and achieved frames per second."""

    def __init__(self, window: int = 30, fps_window_ms: float = 3000.0) -> None:
        self._ms: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}
        self._done: deque[float] = deque()
        self._fps_window = fps_window_ms
        self.frames = 0

    def add(self, now_ms: float, **stages: float) -> None:
        for name, ms in stages.items():
            if ms is not None and name in self._ms:
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
        out: dict[str, float | None] = {
            f"{s}_ms": (None if self.mean(s) is None else round(self.mean(s), 2)) for s in STAGES
        }
        out["fps"] = round(self.fps(), 2)
        out["frames"] = self.frames
        return out


@dataclass
class Scheduler:
    """Delay before the next frame, from the measured busy time.

    ``idle_share`` of the time is left to the page (rendering, input) after a
    frame that took ``busy_ms``; a frame is never started sooner than the
    camera can supply a new one (``max_fps``); never longer than ``max_delay_ms``.
    """

    max_fps: float = 15.0
    idle_share: float = 0.15
    min_delay_ms: float = 4.0
    max_delay_ms: float = 1000.0
    smoothing: float = 0.3
    _busy: float | None = field(default=None, init=False)

    def next_delay_ms(self, busy_ms: float) -> float:
        busy = max(0.0, float(busy_ms))
        self._busy = (
            busy
            if self._busy is None
            else ((1 - self.smoothing) * self._busy + self.smoothing * busy)
        )
        share = self.idle_share / max(1e-6, 1.0 - self.idle_share)
        delay = max(self.min_delay_ms, share * self._busy)
        frame_interval = 1000.0 / self.max_fps if self.max_fps > 0 else 0.0
        delay = max(delay, frame_interval - busy)
        return min(self.max_delay_ms, delay)

    @property
    def busy_ms(self) -> float | None:
        return self._busy


# --------------------------------------------------------------------------
# the per-frame pipeline
# --------------------------------------------------------------------------
@dataclass
class LiveResult:
    state: str
    instruction: str
    label: str | None
    name: str | None
    priority: str
    recommendation: str
    stable: bool
    probs: list[float] | None
    frame_probs: list[float] | None
    confidence: float
    ood_score: float | None
    gates: list[Gate]
    timings: dict[str, float]
    fps: float
    frame: int
    accepted: bool

    def attrs(self) -> dict[str, str]:
        """The ``#live`` element's ``data-*`` attributes (all strings)."""
        import json

        return {
            "state": self.state,
            "label": self.label or "",
            "stable": "true" if self.stable else "false",
            "fps": f"{self.fps:.1f}",
            "priority": self.priority,
            "probs": json.dumps([round(p, 5) for p in self.probs]) if self.probs else "[]",
            "confidence": f"{self.confidence:.3f}",
            "reason": "" if self.state == "ok" else self.state,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "instruction": self.instruction,
            "label": self.label,
            "name": self.name,
            "priority": self.priority,
            "recommendation": self.recommendation,
            "stable": self.stable,
            "probs": self.probs,
            "frame_probs": self.frame_probs,
            "confidence": self.confidence,
            "ood_score": self.ood_score,
            "gates": [g.as_dict() for g in self.gates],
            "timings": dict(self.timings),
            "fps": self.fps,
            "frame": self.frame,
            "accepted": self.accepted,
        }


InferFn = Callable[[np.ndarray], Awaitable[Any]]


def _unpack_inference(out: Any) -> tuple[Any, float | None, float | None]:
    if isinstance(out, Mapping) or hasattr(out, "logits"):
        return (
            _field(out, "logits"),
            _as_float(_field(out, "ood", "ood_score")),
            _as_float(_field(out, "ms")),
        )
    seq = list(out)
    logits = seq[0]
    ood = _as_float(seq[1]) if len(seq) > 1 else None
    ms = _as_float(seq[2]) if len(seq) > 2 else None
    return logits, ood, ms


def _ms() -> float:
    return time.perf_counter() * 1000.0


class LivePipeline:
    """Stateful per-frame processing for one camera session."""

    def __init__(
        self,
        info: ModelInfo,
        infer: InferFn,
        *,
        gates: GateFn | None = None,
        calibrate: Callable[[Any, float | None], Calibrated] | None = None,
        priority: Callable[[np.ndarray], tuple[str, str]] | None = None,
        smoother: Smoother | None = None,
        scheduler: Scheduler | None = None,
        clock: Callable[[], float] = _ms,
        keep_images: bool = True,
    ) -> None:
        self.info = info
        self.infer = infer
        self.gates = gates or default_gates(info)
        self.calibrate = calibrate or default_calibrate(info)
        self.priority = priority or default_priority(info)
        live_cfg = info.raw.get("live", {}) if isinstance(info.raw, Mapping) else {}
        if smoother is None:
            cfg = SmoothingConfig.from_mapping(live_cfg.get("smoothing", live_cfg))
            floor = _as_float(info.thresholds.get("min_confidence")) or 0.0
            if floor > cfg.min_confidence:
                cfg = SmoothingConfig.from_mapping(
                    {**cfg.__dict__, "min_confidence": min(1.0, floor)}
                )
            smoother = Smoother(cfg)
        self.smoother = smoother
        self.scheduler = scheduler or Scheduler()
        self.stats = StageStats()
        self.clock = clock
        self.keep_images = keep_images
        self.frames = 0
        self.last: LiveResult | None = None

    def reset(self) -> None:
        self.smoother.reset()
        self.stats = StageStats()
        self.frames = 0
        self.last = None

    def warming_up(self, instruction: str | None = None) -> LiveResult:
        """A result for before the first frame (camera or model still starting)."""
        return LiveResult(
            state="warming-up",
            instruction=instruction or INSTRUCTIONS["warming-up"],
            label=None,
            name=None,
            priority="None",
            recommendation=self.info.recommendations.get("None", ""),
            stable=False,
            probs=None,
            frame_probs=None,
            confidence=0.0,
            ood_score=None,
            gates=[],
            timings={},
            fps=self.stats.fps(),
            frame=self.frames,
            accepted=False,
        )

    def preprocess(self, rgba: np.ndarray) -> tuple[np.ndarray, list[Gate], np.ndarray | None]:
        """RGBA ROI -> (rgb, gate verdicts, tensor or None when rejected)."""
        rgba = np.asarray(rgba)
        if rgba.ndim == 1:
            n = self.info.input_size
            rgba = rgba.reshape(n, n, 4)
        rgb = np.ascontiguousarray(rgba_to_rgb(rgba))
        gates = list(self.gates(rgb))
        if any(not g.passed for g in gates):
            return rgb, gates, None
        return rgb, gates, normalize(rgb, self.info.norm_scale, self.info.norm_offset)

    async def process(self, rgba: np.ndarray, capture_ms: float = 0.0) -> LiveResult:
        t0 = self.clock()
        rgb, gates, tensor = self.preprocess(rgba)
        t1 = self.clock()
        pre_ms = t1 - t0
        self.frames += 1

        failed = [g for g in gates if not g.passed]
        infer_ms = 0.0
        calib: Calibrated | None = None
        if tensor is not None:
            out = await self.infer(tensor)
            t2 = self.clock()
            logits, ood, reported = _unpack_inference(out)
            infer_ms = t2 - t1
            t1 = t2
            calib = self.calibrate(logits, ood)
            if calib.ood_rejected:
                failed = [
                    Gate(
                        "ood",
                        False,
                        calib.ood_score,
                        _as_float(self.info.thresholds.get("ood_score")),
                        INSTRUCTIONS["not-lesion"],
                    )
                ]
            elif reported is not None and infer_ms <= 0:
                infer_ms = reported

        if failed:
            verdict = self.smoother.reject()
            state = failed[0].state
            instruction = failed[0].instruction or INSTRUCTIONS.get(state, "")
        else:
            assert calib is not None
            sharp = next((g.value for g in gates if g.state == "blurry" and g.value), 0.0)
            verdict = self.smoother.update(
                calib.probs,
                sharpness=float(sharp or 0.0),
                image=rgb if self.keep_images else None,
            )
            state = "ok"
            instruction = "Steady: verdict stable." if verdict.stable else INSTRUCTIONS["ok"]

        if verdict.has_verdict:
            label = self.info.codes[verdict.top]
            name = self.info.classes[verdict.top].name
            level, rec = self.priority(verdict.probs)
            probs = [float(p) for p in verdict.probs]
        else:
            label = name = None
            level, rec = "None", self.info.recommendations.get("None", "")
            probs = None
        t3 = self.clock()
        post_ms = t3 - t1
        total = capture_ms + pre_ms + infer_ms + post_ms
        self.stats.add(
            t3,
            capture=capture_ms,
            preprocess=pre_ms,
            inference=infer_ms if tensor is not None else None,
            postprocess=post_ms,
            total=total,
        )
        result = LiveResult(
            state=state,
            instruction=instruction,
            label=label,
            name=name,
            priority=level,
            recommendation=rec,
            stable=verdict.stable,
            probs=probs,
            frame_probs=None if calib is None else [float(p) for p in calib.probs],
            confidence=verdict.confidence,
            ood_score=None if calib is None else calib.ood_score,
            gates=gates,
            timings={
                "capture": round(capture_ms, 2),
                "preprocess": round(pre_ms, 2),
                "inference": round(infer_ms, 2),
                "postprocess": round(post_ms, 2),
                "total": round(total, 2),
            },
            fps=self.stats.fps(),
            frame=self.frames,
            accepted=not failed,
        )
        if not failed:
            self.smoother.attach_result(result)
        self.last = result
        return result

    def next_delay_ms(self, busy_ms: float | None = None) -> float:
        """Pause before the next frame, from the last frame's busy time."""
        if busy_ms is None:
            busy_ms = self.last.timings.get("total", 0.0) if self.last else 0.0
        return self.scheduler.next_delay_ms(busy_ms)

    def capture(self) -> dict[str, Any] | None:
        """Freeze the best recent frame: its image and its own and the smoothed result."""
        best = self.smoother.best()
        if best is None:
            return None
        frame_result = best.result.as_dict() if isinstance(best.result, LiveResult) else None
        return {
            "image": best.image,
            "sharpness": best.sharpness,
            "frame_probs": [float(p) for p in best.probs],
            "frame_result": frame_result,
            "verdict": self.last.as_dict() if self.last else None,
        }


# --------------------------------------------------------------------------
# camera errors (getUserMedia DOMException names -> code and message)
# --------------------------------------------------------------------------
CAMERA_ERRORS: dict[str, tuple[str, str]] = {
    "permission-denied": (
        "Camera permission was denied",
        "Camera access was denied. To use the live view, allow the camera for this site "
        "(the camera or lock icon next to the address bar), then press Start camera again. "
        "You can still choose a photo instead.",
    ),
    "no-camera": (
        "No camera found",
        "No camera was found on this device. Connect a camera, or choose a photo instead.",
    ),
    "camera-busy": (
        "The camera could not be started",
        "The camera is in use by another app or could not be started. Close other apps "
        "that use the camera and try again.",
    ),
    "insecure-context": (
        "The camera needs a secure connection",
        "The browser offers the camera only on secure (https) pages. Open this app over "
        "https, or choose a photo instead.",
    ),
    "camera-error": (
        "The camera could not be started",
        "The camera could not be started. Try again, or choose a photo instead.",
    ),
}

_ERROR_NAMES = {
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


def camera_error(name: str | None, message: str = "") -> tuple[str, str, str]:
    """``(code, title, message)`` for a getUserMedia failure's DOMException name.

    ``name`` may also be a whole ``"NotAllowedError: ..."`` string.
    """
    text = f"{name or ''} {message or ''}"
    code = "camera-error"
    for js_name, c in _ERROR_NAMES.items():
        if js_name in text:
            code = c
            break
    title, msg = CAMERA_ERRORS[code]
    return code, title, msg
