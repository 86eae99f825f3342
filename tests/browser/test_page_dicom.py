"""DICOM files in the page: pydicom is fetched only when one is opened; a colour DICOM is
classified exactly like the same pixels as PNG; grey-scale images are shown with their
window and declined; multi-frame files get a frame picker; every bad file its message;
no patient data on the page."""

from __future__ import annotations

import dicoms
import numpy as np
import pytest
from harness import classify, result_attrs, wait_for
from PIL import Image
from sources_page import source_images

pytestmark = pytest.mark.browser


def _write(tmp_path, name: str, payload: bytes):
    p = tmp_path / name
    p.write_bytes(payload)
    return p


def _pydicom_requests(server) -> list[str]:
    return [line for line in server.requests() if "pydicom" in line]


@pytest.fixture(scope="module")
def dicom_page(app):
    """The module's page (fresh: no DICOM opened in it yet)."""
    return app


def test_colour_dicom_matches_the_png_and_pydicom_loads_only_then(
    dicom_page, server, tmp_path, ham_images
):
    assert not _pydicom_requests(server), "pydicom was fetched before any DICOM file"
    test_split = source_images().get("ham10000/test")
    photo = test_split[0].path if test_split else sorted(ham_images.glob("*.jpg"))[0]
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    png = tmp_path / "same.png"
    Image.fromarray(rgb).save(png)
    as_png = classify(dicom_page, png)
    assert not _pydicom_requests(server)
    as_dicom = classify(dicom_page, _write(tmp_path, "same", dicoms.colour(rgb)))  # no .dcm
    assert _pydicom_requests(server), "pydicom was not fetched for a DICOM file"
    assert as_dicom["state"] == as_png["state"] and as_dicom["label"] == as_png["label"]
    diff = np.abs(np.array(as_dicom["probs"]) - np.array(as_png["probs"])).max()
    print(
        f"DICOM vs PNG: max |prob diff| {diff:.2e}; first DICOM (pydicom load included)"
        f" {as_dicom['total-ms']} ms, the PNG {as_png['total-ms']} ms"
    )
    assert diff <= 1e-4
    text = as_dicom["text"]
    assert "DICOM" in text and "XC" in text and "ARM" in text
    for secret in ("Doe", dicoms.PATIENT_ID, "19700101"):
        assert secret not in dicom_page.driver.page_source


def test_ybr_jpeg_and_planar_files_are_classified(dicom_page, tmp_path, ham_images):
    rgb = np.asarray(Image.open(sorted(ham_images.glob("*.jpg"))[1]).convert("RGB"))
    for name, payload in [
        ("ybr.dcm", dicoms.colour(rgb, "YBR_FULL")),
        ("planar.dcm", dicoms.colour(rgb, "RGB", planar=1)),
        ("jpeg.dcm", dicoms.jpeg_baseline(rgb)),
    ]:
        r = classify(dicom_page, _write(tmp_path, name, payload))
        assert r["state"] in ("done", "rejected") and r["probs"], (name, r)
        assert not r["reason"] or r["reason"] not in ("internal-error", "dicom-corrupt"), r


def test_multi_frame_has_a_frame_picker(dicom_page, tmp_path, ham_images):
    frames = [
        np.asarray(Image.open(p).convert("RGB")) for p in sorted(ham_images.glob("*.jpg"))[:2]
    ]
    r = classify(
        dicom_page, _write(tmp_path, "frames.dcm", dicoms.colour(np.stack(frames), frames=2))
    )
    d = dicom_page.driver
    assert d.execute_script("return !document.getElementById('dicom-frame-field').hidden")
    seq = int(r["seq"])
    d.execute_script(
        "const s=document.getElementById('dicom-frame'); s.value='1';"
        "s.dispatchEvent(new Event('change'));"
    )
    wait_for(
        lambda: int(result_attrs(d)["seq"] or 0) > seq and result_attrs(d)["state"] != "analysing",
        60,
        "frame 2's result",
    )
    assert d.execute_script("return document.getElementById('dicom-frame').value") == "1"
    assert "Frame 2 of 2" in result_attrs(d)["text"]


def test_monochrome_is_shown_with_its_window_and_declined(dicom_page, tmp_path):
    r = classify(dicom_page, _write(tmp_path, "ct.dcm", dicoms.ct()))
    assert r["state"] == "rejected" and r["reason"] == "dicom-monochrome"
    assert "CT" in r["text"]
    d = dicom_page.driver
    panel = (
        "const p=document.getElementById('dicom-panel');"
        "return [p.dataset.centre, p.dataset.width,"
        " document.getElementById('dicom-viewer').hidden];"
    )
    assert d.execute_script(panel) == ["40", "400", False]
    d.execute_script(
        "const s=document.getElementById('dicom-preset'); s.value='lung';"
        "s.dispatchEvent(new Event('change'));"
    )
    assert d.execute_script(panel)[:2] == ["-600", "1500"]
    d.execute_script(
        "const s=document.getElementById('dicom-width'); s.value='100';"
        "s.dispatchEvent(new Event('input'));"
    )
    assert d.execute_script(panel)[1] == "100"


@pytest.mark.parametrize(
    "name,make,reason",
    [
        ("rle.dcm", lambda: dicoms.rle(np.full((64, 64, 3), 120, np.uint8)), "dicom-unsupported"),
        ("report.dcm", dicoms.without_pixels, "dicom-no-pixels"),
        ("cut.dcm", lambda: dicoms.corrupt(np.full((64, 64, 3), 120, np.uint8)), "dicom-corrupt"),
    ],
)
def test_each_bad_dicom_gets_its_message(dicom_page, tmp_path, name, make, reason):
    r = classify(dicom_page, _write(tmp_path, name, make()))
    assert r["state"] == "rejected" and r["reason"] == reason, r
