"""decode_image: every error path, every supported format and mode, EXIF
orientation (also with draft decoding), and the fast path for huge JPEGs."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps, features
from skinlens import errors, metadata, triage, view, wording
from skinlens.decode import (
    MAX_FULL_DECODE_PIXELS,
    SUPPORTED_FORMATS,
    DecodedImage,
    decode_image,
    sniff_format,
    target_for,
    to_rgb,
)
from skinlens.errors import DecodeError
from skinlens.preprocess import crop_resize

Encoder = Callable[..., bytes]
REPO = Path(__file__).resolve().parents[2]
DEFAULT_TARGET = target_for(metadata.load(REPO / "models/skinlens-lite0/metadata.json").input_size)


def message_of(err: DecodeError) -> str:
    """What the person reads for this failure (the wording catalogue's sentence)."""
    return view.reason_message(triage.rejected(err.code, error=err), wording.load())


def quadrants(width: int = 120, height: int = 80) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right:
    any flip or rotation moves the colours to a predictable corner."""
    a = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    a[:h2, :w2] = (255, 0, 0)
    a[:h2, w2:] = (0, 255, 0)
    a[h2:, :w2] = (0, 0, 255)
    a[h2:, w2:] = (255, 255, 255)
    return Image.fromarray(a)


def corner_colours(image: Image.Image) -> list[tuple[int, ...]]:
    """Colours 10% in from each corner: TL, TR, BL, BR."""
    a = np.asarray(image.convert("RGB"))
    h, w = a.shape[:2]
    ys, xs = (h // 10, h - 1 - h // 10), (w // 10, w - 1 - w // 10)
    return [tuple(int(v) for v in a[y, x]) for y in ys for x in xs]


def expect_error(data: bytes, code: str, **kwargs) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_image(data, target=DEFAULT_TARGET, **kwargs)
    err = info.value
    assert err.code == code, (err.code, err.details)
    assert err.code in errors.DECODE_CODES
    message = message_of(err)
    assert message[0].isupper() and len(message) > 20 and "{" not in message
    return err


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour gradient with mild noise: compresses like a photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 230, (height // 50 + 2, width // 50 + 2, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)
    return image


def patch_png_size(png: bytes, width: int, height: int) -> bytes:
    """Rewrite IHDR width/height (and its CRC) of a valid PNG: a header-only bomb."""
    assert png[12:16] == b"IHDR"
    ihdr = bytearray(png[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return png[:16] + bytes(ihdr) + crc + png[33:]


def patch_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF0 frame size of a baseline JPEG."""
    i = jpeg.index(b"\xff\xc0")
    out = bytearray(jpeg)
    out[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(out)


# --------------------------------------------------------------------------- errors


def test_empty_file() -> None:
    err = expect_error(b"", errors.EMPTY_FILE)
    assert "empty" in message_of(err).lower()


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" * 5, "PDF"),
        (b"Hello, this is a plain text file.\nNot a picture at all.\n" * 3, "TEXT"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (b"PK\x03\x04" + b"\x00" * 100, "ZIP"),
        (bytes(range(256)) * 4, None),
    ],
    ids=["pdf", "text", "html", "zip", "binary"],
)
def test_not_an_image(data: bytes, detected: str | None) -> None:
    err = expect_error(data, errors.NOT_AN_IMAGE)
    assert err.details["detected"] == detected
    assert "not an image" in message_of(err).lower()


@pytest.mark.parametrize(
    ("head", "detected", "hint"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC", "JPEG"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "AVIF", "JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG", "photo"),
    ],
)
def test_unsupported_image_types(head: bytes, detected: str, hint: str) -> None:
    err = expect_error(head + b"\x00" * 64, errors.UNSUPPORTED_FORMAT)
    assert err.details["detected"] == detected
    assert hint in message_of(err)


def test_tiff_is_unsupported(encoder: Encoder) -> None:
    err = expect_error(encoder(quadrants(), "TIFF"), errors.UNSUPPORTED_FORMAT)
    assert err.details["detected"] == "TIFF"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_truncated_file_is_corrupt(encoder: Encoder, fmt: str) -> None:
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("this Pillow has no WebP support")
    data = encoder(photo_like(300, 200), fmt)
    err = expect_error(data[: len(data) * 2 // 3], errors.CORRUPT_IMAGE)
    assert err.details["format"] == fmt
    assert "damaged" in message_of(err)


def test_garbage_after_magic_is_corrupt() -> None:
    expect_error(b"\xff\xd8\xff\xe0" + b"\x13\x37" * 200, errors.CORRUPT_IMAGE)
    expect_error(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, errors.CORRUPT_IMAGE)


def test_truncation_fails_even_if_someone_enabled_truncated_loading(
    encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grey-filled half images must never reach the model."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encoder(photo_like(300, 200), "JPEG")
    expect_error(data[: len(data) // 2], errors.CORRUPT_IMAGE)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_png_bomb_is_refused_from_the_header(encoder: Encoder) -> None:
    saved = Image.MAX_IMAGE_PIXELS
    data = patch_png_size(encoder(quadrants(), "PNG"), 30000, 30000)  # 900 MP
    start = time.perf_counter()
    err = expect_error(data, errors.IMAGE_TOO_LARGE)
    assert time.perf_counter() - start < 1.0, "must not decode pixels"
    assert "too large" in message_of(err)
    assert saved == Image.MAX_IMAGE_PIXELS


def test_non_jpeg_limit_is_lower_than_jpeg_limit(encoder: Encoder) -> None:
    """A 60 MP PNG must be fully decoded (no draft): refused; a 60 MP JPEG header is fine."""
    side = int((MAX_FULL_DECODE_PIXELS * 1.2) ** 0.5)
    err = expect_error(patch_png_size(encoder(quadrants(), "PNG"), side, side), "image-too-large")
    assert err.details["pixels"] == side * side
    assert err.details["limit_mp"] == f"{MAX_FULL_DECODE_PIXELS / 1e6:.0f}"


def test_jpeg_bomb_is_refused(encoder: Encoder) -> None:
    data = patch_jpeg_size(encoder(quadrants(), "JPEG", quality=90), 20000, 15000)  # 300 MP
    expect_error(data, errors.IMAGE_TOO_LARGE)


def test_between_pillow_warning_and_error_is_an_error_not_a_warning(encoder: Encoder) -> None:
    """Pillow would only *warn* here and decode anyway; we refuse, and no warning escapes."""
    data = encoder(photo_like(400, 300), "PNG")
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        expect_error(data, errors.IMAGE_TOO_LARGE, max_pixels=100_000)
    assert not [w for w in log if issubclass(w.category, Image.DecompressionBombWarning)]


def test_too_small(encoder: Encoder) -> None:
    err = expect_error(encoder(quadrants(20, 16), "PNG"), errors.IMAGE_TOO_SMALL)
    assert (err.details["width"], err.details["height"]) == (20, 16)


# --------------------------------------------------------------------------- formats


def test_sniffing_covers_supported_formats(encoder: Encoder) -> None:
    for fmt in SUPPORTED_FORMATS:
        if fmt == "WEBP" and not features.check("webp"):
            continue
        assert sniff_format(encoder(quadrants(), fmt)) == fmt


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "GIF"])
def test_decodes_each_supported_format(encoder: Encoder, fmt: str) -> None:
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("this Pillow has no WebP support")
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    decoded = decode_image(encoder(quadrants(), fmt, **kwargs), target=DEFAULT_TARGET)
    assert isinstance(decoded, DecodedImage)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (120, 80)
    assert decoded.info.format == fmt
    assert decoded.info.downscaled is False
    tol = 40 if fmt in ("JPEG", "WEBP") else 0
    got = np.array(corner_colours(decoded.image), dtype=int)
    want = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)])
    assert np.abs(got - want).max() <= tol


def test_type_comes_from_bytes_not_name(encoder: Encoder) -> None:
    """A PNG delivered as 'photo.jpg' (or with a lying MIME type) is still a PNG."""
    decoded = decode_image(encoder(quadrants(), "PNG"), target=DEFAULT_TARGET)
    assert decoded.info.format == "PNG"


def test_accepts_bytearray_and_memoryview(encoder: Encoder) -> None:
    data = encoder(quadrants(), "PNG")
    for buf in (bytearray(data), memoryview(data)):
        assert decode_image(buf, target=DEFAULT_TARGET).image.size == (120, 80)


def test_animated_gif_first_frame(encoder: Encoder) -> None:
    frames = [Image.new("RGB", (64, 48), c) for c in ((200, 30, 30), (30, 200, 30))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    decoded = decode_image(buf.getvalue(), target=DEFAULT_TARGET)
    assert decoded.info.animated is True
    r, g, _ = np.asarray(decoded.image).reshape(-1, 3).mean(axis=0)
    assert r > 150 and g < 80


def test_small_images_are_not_resampled(encoder: Encoder) -> None:
    """HAM10000-sized images reach preprocessing untouched (training == page)."""
    data = encoder(photo_like(200, 150), "JPEG", quality=90)
    decoded = decode_image(data, target=DEFAULT_TARGET)
    reference = Image.open(io.BytesIO(data)).convert("RGB")
    assert decoded.info.draft_scale == 1
    assert np.array_equal(np.asarray(decoded.image), np.asarray(reference))


# --------------------------------------------------------------------------- modes


def test_rgba_is_composited_on_white(encoder: Encoder) -> None:
    a = np.zeros((64, 64, 4), np.uint8)
    a[..., 0] = 200
    a[:, 32:, 3] = 255  # right half opaque red, left half fully transparent
    decoded = decode_image(encoder(Image.fromarray(a, "RGBA"), "PNG"), target=DEFAULT_TARGET)
    px = np.asarray(decoded.image)
    assert tuple(px[10, 5]) == (255, 255, 255)
    assert tuple(px[10, 50]) == (200, 0, 0)
    assert decoded.info.source_mode == "RGBA"


def test_la_and_palette_transparency(encoder: Encoder) -> None:
    la = Image.fromarray(np.dstack([np.full((40, 40), 90, np.uint8), np.zeros((40, 40), np.uint8)]))
    assert la.mode == "LA"
    assert np.asarray(decode_image(encoder(la, "PNG"), target=DEFAULT_TARGET).image).min() == 255

    p = Image.new("P", (40, 40), 1)
    p.putpalette([0, 0, 0, 10, 120, 30] + [0] * 762)
    data = encoder(p, "PNG", transparency=1)
    assert np.asarray(decode_image(data, target=DEFAULT_TARGET).image).min() == 255
    opaque = decode_image(encoder(p, "PNG"), target=DEFAULT_TARGET).image
    assert tuple(np.asarray(opaque)[0, 0]) == (10, 120, 30)


def test_sixteen_bit_grey_is_scaled_not_clipped(encoder: Encoder) -> None:
    values = np.array([[0, 16384, 32768, 65535]] * 40, np.uint16).repeat(10, axis=1)
    image = Image.fromarray(values)  # I;16
    decoded = decode_image(encoder(image, "PNG"), target=DEFAULT_TARGET)
    row = np.asarray(decoded.image)[0, ::10, 0]
    assert list(row) == [0, 64, 128, 255]


def test_to_rgb_handles_modes_directly() -> None:
    i32 = Image.fromarray(np.array([[0, 65535]] * 2, np.int32), "I")
    assert np.asarray(to_rgb(i32))[0].tolist() == [[0, 0, 0], [255, 255, 255]]
    f = Image.fromarray(np.array([[-5.0, 300.0]], np.float32), "F")
    assert np.asarray(to_rgb(f))[0].tolist() == [[0, 0, 0], [255, 255, 255]]
    one = Image.new("1", (4, 4), 1)
    assert np.asarray(to_rgb(one)).min() == 255
    rgb = Image.new("RGB", (4, 4))
    assert to_rgb(rgb) is rgb


def test_cmyk_jpeg(encoder: Encoder) -> None:
    cmyk = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # pure red in CMYK
    decoded = decode_image(encoder(cmyk, "JPEG", quality=95), target=DEFAULT_TARGET)
    assert decoded.info.source_mode == "CMYK"
    r, g, b = np.asarray(decoded.image).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60


def test_bilevel_bmp(encoder: Encoder) -> None:
    one = Image.fromarray(np.eye(64, dtype=bool))
    decoded = decode_image(encoder(one, "BMP"), target=DEFAULT_TARGET)
    assert decoded.image.mode == "RGB"
    assert set(np.unique(np.asarray(decoded.image))) == {0, 255}


# --------------------------------------------------------------------------- EXIF


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(encoder: Encoder, orientation: int) -> None:
    data = encoder(quadrants(), "PNG", exif=exif_with_orientation(orientation))
    decoded = decode_image(data, target=DEFAULT_TARGET)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    assert decoded.image.size == expected.size
    assert np.array_equal(np.asarray(decoded.image), np.asarray(expected))
    assert decoded.info.orientation == orientation
    assert decoded.info.orientation_applied is (orientation != 1)
    assert decoded.info.original_size == expected.size


def test_exif_orientation_6_rotates_a_jpeg(encoder: Encoder) -> None:
    """Orientation 6 = camera held upright: rotate 90 degrees clockwise to display."""
    data = encoder(quadrants(120, 80), "JPEG", quality=95, exif=exif_with_orientation(6))
    decoded = decode_image(data, target=DEFAULT_TARGET)
    assert decoded.image.size == (80, 120)
    # Clockwise: old bottom-left (blue) -> top-left, old top-left (red) -> top-right.
    tl, tr, bl, br = corner_colours(decoded.image)
    assert tl[2] > 200 and tl[0] < 60
    assert tr[0] > 200 and tr[1] < 60
    assert min(bl) > 200  # white
    assert br[1] > 200 and br[0] < 60


def test_broken_exif_does_not_lose_the_photo(encoder: Encoder) -> None:
    data = encoder(quadrants(), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    decoded = decode_image(data, target=DEFAULT_TARGET)
    assert decoded.info.orientation == 1
    assert decoded.image.size == (120, 80)


# --------------------------------------------------------------------------- huge photos


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 4000x3000 (12 MP) phone-like JPEG with EXIF orientation 6."""
    image = photo_like(4000, 3000, seed=3)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, exif=exif_with_orientation(6))
    return buf.getvalue()


def test_big_jpeg_is_draft_decoded_oriented_and_fast(big_jpeg: bytes) -> None:
    decode_image(big_jpeg, target=DEFAULT_TARGET)  # warm-up
    start = time.perf_counter()
    decoded = decode_image(big_jpeg, target=DEFAULT_TARGET)
    ms = (time.perf_counter() - start) * 1000
    info = decoded.info
    print(f"\n12 MP JPEG decode (draft 1/{info.draft_scale}): {ms:.1f} ms -> {info.decoded_size}")
    assert info.draft_scale == 8
    assert info.downscaled is True
    assert info.original_size == (3000, 4000)  # upright: portrait
    assert decoded.image.size == (375, 500)
    assert DEFAULT_TARGET <= min(decoded.image.size) < 2 * DEFAULT_TARGET
    assert info.orientation_applied is True
    assert ms < 2000


def test_draft_result_matches_full_decode(big_jpeg: bytes) -> None:
    """DCT-domain downscaling changes the 224 input by less than JPEG noise."""
    fast = crop_resize(decode_image(big_jpeg, target=DEFAULT_TARGET).image, 224)
    full = ImageOps.exif_transpose(Image.open(io.BytesIO(big_jpeg))).convert("RGB")
    slow = crop_resize(full, 224)
    diff = np.abs(fast.astype(int) - slow.astype(int))
    assert diff.mean() < 2.0
    assert diff.max() < 40


def test_huge_png_is_reduced(encoder: Encoder) -> None:
    data = encoder(photo_like(3000, 2100), "PNG", compress_level=1)
    decoded = decode_image(data, target=DEFAULT_TARGET)
    assert decoded.info.draft_scale == 1
    assert decoded.info.downscaled is True
    assert DEFAULT_TARGET <= min(decoded.image.size) < 2 * DEFAULT_TARGET
    factor = 2100 // DEFAULT_TARGET
    assert decoded.image.size == (3000 // factor, 2100 // factor)


def test_target_is_configurable(big_jpeg: bytes) -> None:
    decoded = decode_image(big_jpeg, target=256)
    assert decoded.info.draft_scale == 8
    assert 256 <= min(decoded.image.size) < 512
