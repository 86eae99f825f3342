"""DICOM input (skinlens.dicom) under CPython, through the photo pipeline with a stub model."""

from __future__ import annotations

import asyncio

import dicoms
import numpy as np
import pytest
from skinlens import decode, dicom, errors, view, wording
from skinlens.photo import Photo
from synthetic import lesion_like
from test_photo import StubModel, data

W = wording.load()
RGB = lesion_like(256)


def assess(info, payload: bytes, name: str = "x.dcm", frame: int = 0):
    return asyncio.run(Photo(info, StubModel()).assess(data(payload), name, frame))


def test_detected_by_preamble_or_name():
    assert decode.is_dicom("no-extension", dicoms.colour(RGB))
    assert decode.is_dicom("scan.DCM", b"\0" * 10)
    assert not decode.is_dicom("photo.jpg", b"\xff\xd8\xff" + b"\0" * 200)


@pytest.mark.parametrize(
    "photometric,planar,tol",
    [("RGB", 0, 0), ("RGB", 1, 0), ("YBR_FULL", 0, 2), ("YBR_FULL", 1, 2), ("YBR_FULL_422", 0, 12)],
)
def test_colour_files_read_as_their_rgb_pixels(photometric, planar, tol):
    image = dicom.read(dicoms.colour(RGB, photometric, planar))
    assert image.monochrome is None and image.rgb.shape == RGB.shape
    assert np.abs(image.rgb.astype(int) - RGB).max() <= tol
    assert image.info.photometric == photometric and image.info.size == (256, 256)


def test_jpeg_baseline_is_decoded_as_pillow_decodes_it():
    import io

    from PIL import Image

    payload = dicoms.jpeg_baseline(RGB)
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "JPEG", quality=95)
    expected = np.asarray(Image.open(buf).convert("RGB"))
    assert np.array_equal(dicom.read(payload).rgb, expected)


def test_a_colour_dicom_is_classified_like_the_same_pixels_as_png(info):
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(RGB).save(png, "PNG")
    as_png = asyncio.run(Photo(info, StubModel()).assess(data(png.getvalue()), "x.png"))
    as_dicom = assess(info, dicoms.colour(RGB))
    assert np.array_equal(as_png.crop, as_dicom.crop)
    assert as_dicom.assessment.probs == as_png.assessment.probs
    assert as_dicom.decoded.format == "DICOM" and as_dicom.dicom.modality == "XC"


def test_multi_frame_gives_the_chosen_frame(info):
    frames = np.stack([RGB, RGB[::-1].copy(), RGB[:, ::-1].copy()])
    payload = dicoms.colour(frames, frames=3)
    first, third = assess(info, payload), assess(info, payload, frame=2)
    assert first.dicom.frames == 3 and first.dicom.frame == 0 and third.dicom.frame == 2
    assert not np.array_equal(first.crop, third.crop)
    assert "Frame 3 of 3." in view.dicom_notes(third.dicom, W)


def test_monochrome_is_windowed_and_declined(info):
    r = assess(info, dicoms.ct())
    assert r.assessment.reason == errors.DICOM_MONOCHROME and r.monochrome is not None
    mono = r.monochrome
    assert mono.window == (40.0, 400.0)
    assert mono.values.min() == -1024 and mono.values.max() == 976  # rescale applied (HU)
    grey = mono.render(40, 400)
    assert grey[0, 0] == 0 and grey[-1, -1] == 255 and grey.dtype == np.uint8
    assert "CT" in view.reason_message(r.assessment, W)
    no_window = dicom.read(dicoms.ct(window=None)).monochrome
    assert no_window.window == (-24.0, 2000.0)  # the values' range


@pytest.mark.parametrize(
    "make,code",
    [
        (lambda: dicoms.rle(RGB), errors.DICOM_UNSUPPORTED),
        (dicoms.without_pixels, errors.DICOM_NO_PIXELS),
        (lambda: dicoms.corrupt(RGB), errors.DICOM_CORRUPT),
        (lambda: b"\0" * 128 + b"DICM" + b"\x02\x00garbage", errors.DICOM_CORRUPT),
    ],
)
def test_each_bad_file_has_its_own_message(info, make, code):
    r = assess(info, make())
    assert r.assessment.reason == code
    assert view.reason_message(r.assessment, W)


def test_patient_data_never_reaches_the_page(info):
    for payload in (dicoms.colour(RGB), dicoms.ct()):
        r = assess(info, payload)
        html = view.result_html(r, "x.dcm", info, "WASM", W)
        attrs = str(view.result_attrs(r, 1, "x.dcm", 1.0))
        for secret in (dicoms.PATIENT, "Doe", dicoms.PATIENT_ID, "19700101"):
            assert secret not in html and secret not in attrs and secret not in str(r.dicom)
