"""Typed failures with stable machine codes.

A failure that stops one photo is raised as a :class:`SkinlensError` subclass and caught in
one place (:func:`skinlens.photo.assess_photo`), which turns it into a rejected
assessment. ``code`` goes into ``#result[data-reason]`` (the automation contract: codes
never change once released); the words come from :mod:`skinlens.wording` keyed by the code
(and ``variant``, a refinement such as the detected file kind), filled with ``details``.
"""

from __future__ import annotations

# Decode failures (``decode.decode_image``).
EMPTY_FILE = "empty-file"
NOT_AN_IMAGE = "not-an-image"
UNSUPPORTED_FORMAT = "unsupported-format"
CORRUPT_IMAGE = "corrupt-image"
IMAGE_TOO_LARGE = "image-too-large"
IMAGE_TOO_SMALL = "image-too-small"
# DICOM files (``dicom.read``).
DICOM_CORRUPT = "dicom-corrupt"
DICOM_NO_PIXELS = "dicom-no-pixels"
DICOM_UNSUPPORTED = "dicom-unsupported"
DICOM_MONOCHROME = "dicom-monochrome"
# Failures around the pipeline.
READ_ERROR = "read-error"
MODEL_ERROR = "model-error"
INTERNAL_ERROR = "internal-error"

DECODE_CODES: tuple[str, ...] = (
    EMPTY_FILE,
    NOT_AN_IMAGE,
    UNSUPPORTED_FORMAT,
    CORRUPT_IMAGE,
    IMAGE_TOO_LARGE,
    IMAGE_TOO_SMALL,
    DICOM_CORRUPT,
    DICOM_NO_PIXELS,
    DICOM_UNSUPPORTED,
    DICOM_MONOCHROME,
)


class SkinlensError(Exception):
    """A stable ``code`` for machines; ``variant`` and ``details`` for the wording.

    ``details`` are measured facts (the pixel count that was refused, the detected
    format, the cause's text) that the catalogue's sentence is filled with.
    """

    def __init__(self, code: str, variant: str | None = None, **details: object) -> None:
        super().__init__(f"{code}{'.' + variant if variant else ''} {details}")
        self.code = code
        self.variant = variant
        self.details: dict[str, object] = details


class DecodeError(SkinlensError):
    """The uploaded bytes could not be turned into an RGB image (one of ``DECODE_CODES``)."""


class ReadError(SkinlensError):
    """The browser could not hand over the file's bytes."""

    def __init__(self, cause: str) -> None:
        super().__init__(READ_ERROR, cause=cause)


class ModelError(SkinlensError):
    """The model (the inference worker) failed on an input."""

    def __init__(self, cause: str) -> None:
        super().__init__(MODEL_ERROR, cause=cause)
