"""Uploaded bytes -> small RGB ``PIL.Image``, robustly and fast.

Why this module exists rather than a bare ``Image.open``:

* The file type is sniffed from the bytes (magic numbers), never trusted from
  the name or MIME type, and Pillow is then restricted to that one decoder,
  so a renamed PDF gives a clear "not an image" instead of a Pillow traceback.
* Every failure is a :class:`~skinlens.errors.DecodeError` with a stable
  ``code`` (see :mod:`skinlens.errors`) and a message a person can act on.
* Phone photos are 12-200 megapixels but the model sees 224x224. Decoding a
  12 MP JPEG at full size costs hundreds of milliseconds and ~36 MB in the
  WASM heap, so JPEGs are decoded with libjpeg's DCT scaling
  (``Image.draft``) at 1/2..1/8 size; other formats are box-reduced after
  decoding. The result has its short side in ``[target, 2 * target)``
  whenever the source was larger, which keeps enough detail for the crop
  and the antialiased resize in :mod:`skinlens.preprocess`.
* Small images (such as the 200x150 HAM10000 training copies) are never
  resampled here, so training and the page see identical pixels.
* Decompression bombs are refused from the header alone, before any pixel is
  decoded; Pillow's warn-and-continue is turned into an error.
* EXIF orientation is applied (also on draft-decoded JPEGs) and every mode
  (palette, alpha, 16-bit, CMYK, bilevel) becomes 8-bit RGB, with
  transparency composited on white.

Pure Pillow + numpy: runs unchanged under CPython and Pyodide.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError, features

from skinlens import errors
from skinlens.errors import DecodeError

DECODE_SCALE = 1.5
"""A big JPEG is decoded down to about this multiple of the model's input side (by libjpeg's
DCT scaling, 1/2..1/8): 1.5x still leaves the antialiased resize real detail to average, and
lets a 12 MP photo decode at 1/8 scale (375 px for a 224 input), about twice as fast as at
1/4, which keeps the 12 MP path within its budget in Pyodide."""


def target_for(input_size: int) -> int:
    """Short side (px) to decode down to for a model whose input is ``input_size`` square."""
    return round(DECODE_SCALE * input_size)


MAX_PIXELS = 200_000_000
"""Largest JPEG accepted (pixels, from the header). 200 MP covers the largest
phone sensors (16320x12240); draft decoding keeps its memory small."""

MAX_FULL_DECODE_PIXELS = 50_000_000
"""Largest non-JPEG accepted. PNG/WebP/BMP/GIF cannot be decoded at reduced
scale, so the full image (up to 4 bytes/px, plus a conversion copy) must fit
the browser's WASM heap; 50 MP is ~400 MB at worst."""

MIN_SIDE = 32
"""Smaller images carry no usable lesion detail (and catch 1x1 trackers)."""

SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF")

UNSUPPORTED_IMAGES = frozenset({"HEIC", "AVIF", "TIFF", "SVG", "ICO", "PSD", "JPEG2000", "JPEGXL"})
"""Image types recognised by their bytes but not decoded (each has its own advice in the
wording catalogue, ``unsupported-format.<KIND>``)."""

NON_IMAGES = frozenset({"PDF", "ZIP", "GZIP", "VIDEO", "TEXT", "HTML"})
"""File types recognised as not being images at all (``file-kind.<KIND>`` names them)."""

# EXIF orientation -> transpose that displays the image upright. Same table as
# ``PIL.ImageOps.exif_transpose``; applied here on the already-reduced image
# so the rotation never touches full-resolution pixels.
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112

# Everything Pillow's decoders raise on malformed input.
_DECODER_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class DecodeInfo:
    """What happened while decoding, for the stats panel and for tests.

    ``original_size`` is the upright (EXIF-oriented) size the person's photo
    viewer shows; ``decoded_size`` is the size of the returned image.
    """

    format: str
    original_size: tuple[int, int]
    decoded_size: tuple[int, int]
    downscaled: bool
    draft_scale: int
    """libjpeg DCT scale denominator used (1 = full size, 2/4/8)."""
    orientation: int
    """EXIF orientation tag value (1..8; 1 = none or absent)."""
    orientation_applied: bool
    source_mode: str
    animated: bool
    n_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (tuples become lists on the JS side anyway)."""
        out = asdict(self)
        out["original_size"] = list(self.original_size)
        out["decoded_size"] = list(self.decoded_size)
        return out


@dataclass(frozen=True)
class DecodedImage:
    """An 8-bit RGB image ready for :func:`skinlens.preprocess.prepare`."""

    image: Image.Image
    info: DecodeInfo


def sniff_format(data: bytes | bytearray | memoryview) -> str | None:
    """Name the file type from its leading bytes, or ``None`` if unknown.

    Returns one of :data:`SUPPORTED_FORMATS`, a recognised-but-unsupported
    image label (``HEIC``, ``AVIF``, ``TIFF``, ...), or a non-image label
    (``PDF``, ``ZIP``, ``TEXT``, ...). Extensions and MIME types lie (phones
    rename HEIC to .jpg); magic bytes do not.
    """
    head = bytes(data[:64])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM") and len(head) >= 26:
        return "BMP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC"
        return "VIDEO"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG2000"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return "JPEGXL"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if head.startswith(b"\x1f\x8b"):
        return "GZIP"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in bytes(data[:1024])):
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    ascii_bytes = [b for b in head if b < 0x80]
    if (
        head
        and len(ascii_bytes) >= 0.75 * len(head)
        and all(b >= 0x20 or b in (0x09, 0x0A, 0x0D) for b in ascii_bytes)
    ):
        return "TEXT"
    return None


@contextmanager
def _bomb_guard(max_pixels: int) -> Iterator[None]:
    """Make Pillow's own decompression-bomb check use our limit and raise.

    Pillow warns (and carries on) between ``MAX_IMAGE_PIXELS`` and twice that,
    and raises above. We want one limit, enforced as an error. Truncated files
    must fail too, even if some other code enabled
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` (it fills the missing part with grey,
    which the model would happily classify). Both globals are restored
    afterwards; Pyodide runs Python on one thread, so the temporary change
    cannot leak into a concurrent ``Image.open``.
    """
    saved_limit = Image.MAX_IMAGE_PIXELS
    saved_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (e.g. "Corrupt EXIF data") are about
            # metadata we tolerate; they would only clutter the browser console.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
        ImageFile.LOAD_TRUNCATED_IMAGES = saved_truncated


def _too_large(pixels: int | None, limit: int, fmt: str) -> DecodeError:
    return DecodeError(
        errors.IMAGE_TOO_LARGE,
        None if pixels else "unknown-size",
        pixels=pixels,
        megapixels=f"{(pixels or 0) / 1e6:.0f}",
        limit_mp=f"{limit / 1e6:.0f}",
        format=fmt,
    )


def _corrupt(fmt: str, exc: BaseException) -> DecodeError:
    return DecodeError(errors.CORRUPT_IMAGE, format=fmt, cause=f"{type(exc).__name__}: {exc}")


def _read_orientation(image: Image.Image) -> int:
    """EXIF (or XMP) orientation 1..8; 1 when absent, invalid or unreadable.

    A broken EXIF block must not cost the person their photo, so any parsing
    error means "no orientation" rather than a decode failure.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data": handled below
            value = int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _composite_on_white(image: Image.Image) -> Image.Image:
    """Alpha -> RGB over white: transparent PNG lesions read as on paper, not
    on black (black borders would look like a dermatoscope vignette)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit ``RGB`` without surprises.

    ``convert("RGB")`` alone would clip 16-bit greyscale to white and drop
    transparency onto black; both are handled explicitly here.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        palette = image.palette
        has_alpha = "transparency" in image.info or (palette is not None and palette.mode == "RGBA")
        return _composite_on_white(image) if has_alpha else image.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite_on_white(image)
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image)
        if mode.startswith("I;16") or (mode == "I" and values.size and int(values.max()) > 255):
            values = (values.astype(np.float32) * (255.0 / 65535.0)).round()
        grey = np.clip(values, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def _sniff(data: bytes | bytearray | memoryview) -> str:
    """The decodable format of ``data``, or the :class:`DecodeError` saying why not."""
    if len(data) == 0:
        raise DecodeError(errors.EMPTY_FILE, n_bytes=0)
    kind = sniff_format(data)
    if kind is None:
        raise DecodeError(errors.NOT_AN_IMAGE, detected=None)
    if kind in NON_IMAGES:
        raise DecodeError(errors.NOT_AN_IMAGE, "detected", detected=kind)
    if kind in UNSUPPORTED_IMAGES or (kind == "WEBP" and not features.check("webp")):
        raise DecodeError(errors.UNSUPPORTED_FORMAT, kind, detected=kind)
    return kind


def _load(
    data: bytes | bytearray | memoryview, kind: str, target: int, limits: tuple[int, int, int]
) -> tuple[Image.Image, int, tuple[int, int]]:
    """Open, check the size from the header, decode (big JPEGs at reduced DCT scale).

    ``limits`` is ``(max_pixels, limit for this format, min_side)``; returns the loaded
    image, the libjpeg scale denominator used and the stored (not yet oriented) size.
    """
    max_pixels, limit, min_side = limits
    with _bomb_guard(max_pixels):
        try:
            image = Image.open(io.BytesIO(data), formats=[kind])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(None, limit, kind) from exc
        except _DECODER_ERRORS as exc:
            raise _corrupt(kind, exc) from exc
        width, height = image.size
        pixels = width * height
        if pixels > limit:
            raise _too_large(pixels, limit, kind)
        if min(width, height) < min_side:
            raise DecodeError(errors.IMAGE_TOO_SMALL, width=width, height=height, min_side=min_side)
        draft_scale = 1
        if kind == "JPEG" and min(width, height) >= 2 * target:
            # libjpeg picks the largest 1/2^k scale whose result is still >= target
            # on both sides (short side // target, rounded down to 1, 2, 4 or 8).
            drafted = image.draft("RGB", (target, target))
            if drafted is not None:
                draft_scale = max(1, round(width / image.size[0]))
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(pixels, limit, kind) from exc
        except _DECODER_ERRORS as exc:
            raise _corrupt(kind, exc) from exc
    return image, draft_scale, (width, height)


def reduce_to(rgb: Image.Image, target: int) -> Image.Image:
    """Box-average by an integer factor when the short side is at least ``2 * target``:
    antialiased, cheap, and it lands the short side in ``[target, 2 * target)``."""
    factor = min(rgb.size) // target
    return rgb.reduce(factor) if factor >= 2 else rgb


def decode_image(
    data: bytes | bytearray | memoryview,
    *,
    target: int,
    max_pixels: int = MAX_PIXELS,
    max_full_decode_pixels: int = MAX_FULL_DECODE_PIXELS,
    min_side: int = MIN_SIDE,
) -> DecodedImage:
    """Decode an uploaded file's bytes into an upright 8-bit RGB image.

    ``target`` comes from :func:`target_for` (the model's input size).
    Images whose short side is at least ``2 * target`` are downscaled so the
    result's short side lies in ``[target, 2 * target)``; smaller images are
    returned at their own size. Raises :class:`DecodeError` (never a Pillow
    exception) with one of :data:`skinlens.errors.DECODE_CODES`.
    """
    kind = _sniff(data)
    limit = max_pixels if kind == "JPEG" else min(max_pixels, max_full_decode_pixels)
    image, draft_scale, (width, height) = _load(data, kind, target, (max_pixels, limit, min_side))
    source_mode = image.mode
    # ``is_animated`` peeks at the second frame only (``n_frames`` would scan the whole file).
    animated = bool(getattr(image, "is_animated", False))
    orientation = _read_orientation(image)
    try:
        rgb = to_rgb(image)
    except _DECODER_ERRORS as exc:
        raise _corrupt(kind, exc) from exc
    rgb = reduce_to(rgb, target)
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    if method is not None:
        rgb = rgb.transpose(method)
    swapped = orientation in (5, 6, 7, 8)
    original_size = (height, width) if swapped else (width, height)
    info = DecodeInfo(
        format=kind,
        original_size=original_size,
        decoded_size=rgb.size,
        downscaled=rgb.size != original_size,
        draft_scale=draft_scale,
        orientation=orientation,
        orientation_applied=method is not None,
        source_mode=source_mode,
        animated=animated,
        n_bytes=len(data),
    )
    return DecodedImage(rgb, info)


def is_dicom(name: str, data: bytes) -> bool:
    """A DICOM file: the ``DICM`` prefix after the 128-byte preamble, or a ``.dcm`` name.
    Here, not in :mod:`skinlens.dicom`: every file is sniffed, and that module (with
    pydicom) is loaded only when one is a DICOM file (:mod:`skinlens.lazy`)."""
    return bytes(data[128:132]) == b"DICM" or name.lower().endswith(".dcm")
