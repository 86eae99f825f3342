"""DICOM files -> the RGB image the photo pipeline classifies, or a clear refusal.

Clinics keep dermoscopy and clinical photographs as DICOM (VL photographic / dermoscopic
images). pydicom reads them; it runs in Pyodide too, but its wheel (:data:`WHEEL`, shipped
in ``dist/`` and not precached) is loaded only when a DICOM file arrives
(:func:`skinlens.web.browser.load_dicom`), so this module imports it inside :func:`read`.

* Colour (``RGB``, ``YBR_FULL``, ``YBR_FULL_422``; planar configuration 0 or 1;
  uncompressed or JPEG baseline, which pydicom decodes with Pillow) -> 8-bit RGB
  (pydicom converts YCbCr); multi-frame files give one frame (the first unless asked).
* Monochrome (``MONOCHROME1``/``2``: CT, MR, X-ray) -> :class:`Monochrome` (the modality
  LUT applied, the file's VOI window) for the viewer, then declined: skinlens classifies
  skin-lesion photos.
* Everything else is a :class:`~skinlens.errors.DecodeError` with its own code.

Patient data never leaves this module: :class:`DicomInfo` keeps only modality,
photometric interpretation, size, frames and body part.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from skinlens import errors
from skinlens.decode import DecodedImage, DecodeInfo, reduce_to
from skinlens.errors import DecodeError

WHEEL = "vendor/pydicom/pydicom-3.0.2-py3-none-any.whl"
"""pydicom's wheel in ``dist/`` (``build.py`` pins and ships it)."""

COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422")
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
SYNTAXES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
}
"""Transfer syntaxes read here: uncompressed, and JPEG baseline (Pillow decodes it)."""

PRESETS: dict[str, tuple[float, float]] = {
    "soft-tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
"""Common CT windows (centre, width) in Hounsfield units, besides the file's own."""


_PIXEL_ERRORS = (
    ValueError,
    RuntimeError,
    NotImplementedError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
)
"""What pydicom's pixel handlers (and Pillow under them) raise on damaged pixel data."""


@dataclass(frozen=True)
class DicomInfo:
    """What the page shows about a DICOM file (never the patient's data)."""

    modality: str
    photometric: str
    size: tuple[int, int]
    """(columns, rows)."""
    body_part: str
    frames: int
    frame: int
    """The frame shown (0-based)."""


@dataclass(frozen=True)
class Monochrome:
    """A grey-scale image with its modality LUT applied (Hounsfield units for CT)."""

    values: np.ndarray
    window: tuple[float, float]
    """(centre, width) from the file, else the full range of the values."""
    invert: bool
    """``MONOCHROME1``: low values are white."""

    def render(self, centre: float, width: float) -> np.ndarray:
        """uint8 grey image for a VOI window (DICOM's linear function, PS3.3 C.11.2.1.2)."""
        width = max(width, 1.0)
        x = (self.values - (centre - 0.5)) / (width - 1.0) + 0.5
        grey = np.clip(x, 0.0, 1.0) * 255.0
        if self.invert:
            grey = 255.0 - grey
        return (grey + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class DicomImage:
    info: DicomInfo
    rgb: np.ndarray | None
    monochrome: Monochrome | None


def _window(ds: object, values: np.ndarray) -> tuple[float, float]:
    """The file's first VOI window (centre, width), else the values' full range."""
    from pydicom.multival import MultiValue

    centre, width = getattr(ds, "WindowCenter", None), getattr(ds, "WindowWidth", None)
    if centre is None or width is None:
        lo, hi = float(values.min()), float(values.max())
        return (lo + hi) / 2.0, max(hi - lo, 1.0)
    if isinstance(centre, MultiValue):
        centre, width = centre[0], width[0]
    return float(centre), float(width)


def _dataset(data: bytes) -> object:
    """Parse the file; a damaged file or one without pixel data is refused here."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        syntax = str(ds.file_meta.TransferSyntaxUID)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, AttributeError) as e:
        raise DecodeError(errors.DICOM_CORRUPT, cause=type(e).__name__) from e
    if "PixelData" not in ds:
        raise DecodeError(errors.DICOM_NO_PIXELS)
    if syntax not in SYNTAXES:
        name = ds.file_meta.TransferSyntaxUID.name
        raise DecodeError(errors.DICOM_UNSUPPORTED, syntax=f"{name} ({syntax})")
    photometric = str(getattr(ds, "PhotometricInterpretation", ""))
    if photometric not in COLOUR + MONOCHROME:
        raise DecodeError(errors.DICOM_UNSUPPORTED, "photometric", photometric=photometric)
    return ds


def read(data: bytes, frame: int = 0) -> DicomImage:
    """A DICOM file's bytes -> its ``frame`` as RGB (colour) or :class:`Monochrome`."""
    from pydicom.pixels import apply_modality_lut

    ds = _dataset(data)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    frame = min(max(frame, 0), frames - 1)
    try:
        pixels = ds.pixel_array  # type: ignore[attr-defined]
    except _PIXEL_ERRORS as e:
        raise DecodeError(errors.DICOM_CORRUPT, cause=type(e).__name__) from e
    if frames > 1:
        pixels = pixels[frame]
    photometric = str(ds.PhotometricInterpretation)  # type: ignore[attr-defined]
    info = DicomInfo(
        modality=str(getattr(ds, "Modality", "")),
        photometric=photometric,
        size=(int(ds.Columns), int(ds.Rows)),  # type: ignore[attr-defined]
        body_part=str(getattr(ds, "BodyPartExamined", "")),
        frames=frames,
        frame=frame,
    )
    if photometric in MONOCHROME:
        values = np.asarray(apply_modality_lut(pixels, ds), dtype=np.float32)
        mono = Monochrome(values, _window(ds, values), photometric == "MONOCHROME1")
        return DicomImage(info, None, mono)
    if pixels.dtype != np.uint8:
        bits = int(ds.BitsStored)  # type: ignore[attr-defined]
        pixels = (pixels.astype(np.float32) * (255.0 / (2**bits - 1)) + 0.5).astype(np.uint8)
    return DicomImage(info, np.ascontiguousarray(pixels), None)


def to_decoded(image: DicomImage, target: int, n_bytes: int) -> DecodedImage:
    """A colour DICOM frame as the photo pipeline's :class:`DecodedImage` (reduced like a
    large photo)."""
    assert image.rgb is not None
    rgb = reduce_to(Image.fromarray(image.rgb, "RGB"), target)
    info = DecodeInfo(
        format="DICOM",
        original_size=image.info.size,
        decoded_size=rgb.size,
        downscaled=rgb.size != image.info.size,
        draft_scale=1,
        orientation=1,
        orientation_applied=False,
        source_mode=image.info.photometric,
        animated=False,  # the frame is chosen in the page (view.dicom_notes says which)
        n_bytes=n_bytes,
    )
    return DecodedImage(rgb, info)
