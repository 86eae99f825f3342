"""The photo pipeline, pure (runs under CPython too): file bytes -> :class:`PhotoResult`.

decode (:mod:`skinlens.decode`, down to the size the model's input needs) -> centred square
crop resized to the model input (:mod:`skinlens.preprocess`) -> quality gates
(:mod:`skinlens.quality`, on the same crop the model sees) -> normalise -> the model (an
injected :data:`skinlens.model.Predict`) -> :func:`skinlens.triage.assess`.

Every failure on the way is a :class:`skinlens.errors.SkinlensError` and is caught here, in
one place, becoming a rejected assessment with its reason code; what was learned before the
failure (decode facts, the crop, timings) stays in the result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from skinlens import errors, preprocess, quality, triage
from skinlens.decode import DecodeInfo, decode_image, target_for
from skinlens.metadata import ModelInfo
from skinlens.model import Predict
from skinlens.triage import Assessment


@dataclass
class PhotoResult:
    """One photo's verdict and what the page shows about how it was reached."""

    assessment: Assessment | None = None
    decoded: DecodeInfo | None = None
    crop: np.ndarray | None = None
    """The uint8 RGB model-input crop (for the thumbnail); ``None`` before decoding."""
    read_ms: float | None = None
    """Handing the file's bytes over (the browser's read)."""
    prep_ms: float | None = None
    """Decode, crop, resize, gates and normalisation (Python)."""
    infer_ms: float | None = None
    """The model call, as the worker timed it."""


class Photo:
    """The photo pipeline for one model: ``await Photo(info, predict).assess(data)``."""

    def __init__(
        self,
        info: ModelInfo,
        predict: Predict,
        *,
        gates: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.info = info
        self.predict = predict
        self.thresholds = quality.QualityThresholds.from_info(info) if gates else None
        self.clock = clock

    async def assess(self, read: Awaitable[bytes]) -> PhotoResult:
        """Read the file and run the whole pipeline; never raises for an unreadable file, a
        bad photo or a failing model (``read``: the browser's file read, awaited here so
        that its failure is handled with the others)."""
        result = PhotoResult()
        try:
            t0 = self.clock()
            data = await read
            result.read_ms = (self.clock() - t0) * 1000.0
            result.assessment = await self._run(data, result)
        except errors.SkinlensError as e:
            result.assessment = triage.rejected(e.code, error=e)
        except MemoryError:
            e = errors.DecodeError(errors.IMAGE_TOO_LARGE, "memory")
            result.assessment = triage.rejected(e.code, error=e)
        return result

    def prepare(self, data: bytes, result: PhotoResult) -> np.ndarray | None:
        """Decode, crop and gate; the normalised model input, or ``None`` when a gate failed
        (then ``result.assessment`` says which)."""
        t0 = self.clock()
        decoded = decode_image(data, target=target_for(self.info.input_size))
        result.decoded = decoded.info
        result.crop = preprocess.crop_resize(decoded.image, self.info.input_size)
        if self.thresholds is not None:
            report = quality.run_all(result.crop, self.thresholds)
            if not report.ok:
                result.assessment = triage.rejected(report.verdict)
                result.prep_ms = (self.clock() - t0) * 1000.0
                return None
        x = self.info.model_input(result.crop)
        result.prep_ms = (self.clock() - t0) * 1000.0
        return x

    async def _run(self, data: bytes, result: PhotoResult) -> Assessment:
        x = self.prepare(data, result)
        if x is None:
            assert result.assessment is not None
            return result.assessment
        inference = await self.predict(x[np.newaxis])
        result.infer_ms = inference.ms
        return triage.assess(inference.row(0), self.info)
