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
from typing import TYPE_CHECKING

import numpy as np

from skinlens import errors, heatmap, preprocess, quality, triage
from skinlens.decode import DecodedImage, DecodeInfo, decode_image, is_dicom, target_for
from skinlens.metadata import ModelInfo
from skinlens.model import Inference, Predict
from skinlens.triage import Assessment

if TYPE_CHECKING:  # skinlens.dicom is loaded with the first DICOM file (skinlens.lazy)
    from skinlens.dicom import DicomInfo, Monochrome


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
    cam: np.ndarray | None = None
    """The class activation map (g x g, 0..1) of the class shown; ``None`` when rejected or
    when the model has no ``cam`` output (:mod:`skinlens.heatmap`)."""
    cam_ms: float | None = None
    """Turning the ``cam`` output into that map."""
    dicom: DicomInfo | None = None
    """A DICOM file's modality, photometric interpretation, size, frames, body part."""
    monochrome: Monochrome | None = None
    """A grey-scale DICOM image (shown with its window, then declined)."""


async def _ready() -> None:
    """The DICOM reader is importable as it is (CPython, tests)."""


class Photo:
    """The photo pipeline for one model: ``await Photo(info, predict).assess(data)``."""

    def __init__(
        self,
        info: ModelInfo,
        predict: Predict,
        *,
        gates: bool = True,
        clock: Callable[[], float] = time.perf_counter,
        load_dicom: Callable[[], Awaitable[None]] = _ready,
    ) -> None:
        """``load_dicom`` makes pydicom importable (the page loads its wheel on first use)."""
        self.info = info
        self.load_dicom = load_dicom
        self.predict = predict
        self.thresholds = quality.QualityThresholds.from_info(info) if gates else None
        self.clock = clock

    async def assess(self, read: Awaitable[bytes], name: str = "", frame: int = 0) -> PhotoResult:
        """Read the file and run the whole pipeline; never raises for an unreadable file, a
        bad photo or a failing model (``read``: the browser's file read, awaited here so
        that its failure is handled with the others; ``name``: the file's name, which tells
        a DICOM file without a preamble; ``frame``: a multi-frame DICOM file's frame)."""
        result, x = await self.load(read, name, frame)
        if x is None:
            return result
        try:
            inference = await self.predict(x)
        except errors.SkinlensError as e:
            result.assessment = triage.rejected(e.code, error=e)
            return result
        self.conclude(result, inference, 0)
        return result

    async def load(
        self, read: Awaitable[bytes], name: str = "", frame: int = 0
    ) -> tuple[PhotoResult, np.ndarray | None]:
        """Read, decode, crop and gate one file: its result so far and the model input, or
        ``None`` when it was rejected (then ``result.assessment`` says why). Split from
        :meth:`assess` so that a batch (:mod:`skinlens.batch`) can stack many inputs into
        one model call; every failure is caught here, in one place."""
        result = PhotoResult()
        try:
            t0 = self.clock()
            data = await read
            result.read_ms = (self.clock() - t0) * 1000.0
            if is_dicom(name, data):
                await self.load_dicom()
            return result, self.prepare(data, result, name, frame)
        except errors.SkinlensError as e:
            result.assessment = triage.rejected(e.code, error=e)
        except MemoryError:
            e = errors.DecodeError(errors.IMAGE_TOO_LARGE, "memory")
            result.assessment = triage.rejected(e.code, error=e)
        return result, None

    def decode(self, data: bytes, result: PhotoResult, name: str, frame: int) -> DecodedImage:
        """A photo's or a colour DICOM frame's RGB image; a grey-scale DICOM image is kept
        in ``result.monochrome`` for the viewer and declined."""
        target = target_for(self.info.input_size)
        if not is_dicom(name, data):
            return decode_image(data, target=target)
        from skinlens import dicom  # loaded by load_dicom (skinlens.lazy)

        image = dicom.read(data, frame)
        result.dicom = image.info
        if image.monochrome is not None:
            result.monochrome = image.monochrome
            raise errors.DecodeError(errors.DICOM_MONOCHROME, modality=image.info.modality)
        return dicom.to_decoded(image, target, len(data))

    def prepare(
        self, data: bytes, result: PhotoResult, name: str = "", frame: int = 0
    ) -> np.ndarray | None:
        """Decode, crop and gate; the normalised model inputs, one per view of the metadata
        (``(views, size, size, 3)``; the views are averaged in :meth:`conclude`), or ``None``
        when a gate failed (then ``result.assessment`` says which)."""
        t0 = self.clock()
        decoded = self.decode(data, result, name, frame)
        result.decoded = decoded.info
        result.crop = preprocess.crop_resize(decoded.image, self.info.input_size)
        if self.thresholds is not None:
            report = quality.run_all(result.crop, self.thresholds)
            if not report.ok:
                result.assessment = triage.rejected(report.verdict)
                result.prep_ms = (self.clock() - t0) * 1000.0
                return None
        views = preprocess.views(result.crop, self.info.views)
        x = np.stack([self.info.model_input(v) for v in views])
        result.prep_ms = (self.clock() - t0) * 1000.0
        return x

    def conclude(self, result: PhotoResult, inference: Inference, i: int) -> None:
        """The verdict for item ``i`` of a model call (its views averaged; a batch's time is
        shared by its items), and the class activation map of the verdict's class when the
        model gives one."""
        k = len(self.info.views)
        result.infer_ms = inference.ms * k / inference.batch_size
        outputs = inference.views_mean(i, k)
        assessment = triage.assess(outputs, self.info)
        result.assessment = assessment
        if not assessment.rejected and "cam" in outputs:
            t0 = self.clock()
            result.cam = heatmap.class_map(outputs["cam"], self.info.codes.index(assessment.label))
            result.cam_ms = (self.clock() - t0) * 1000.0
