"""The heatmap in the page: ``#heatmap`` over the crop with its toggle and opacity slider,
``#result[data-cam]`` (7x7, 0..1), and on HAM10000 ``test`` lesions the map's peak on the
darker lesion area in most images (criterion in ``heatmap_page.py``)."""

from __future__ import annotations

import pytest
from harness import DATA_DIR
from heatmap_page import measure, page_cam
from sources_page import every, source_images

pytestmark = pytest.mark.browser


def test_the_map_is_shown_with_its_controls(app, ham_images):
    photo = sorted(ham_images.glob("*.jpg"))[0]
    r = page_cam(app, photo)
    assert r["state"] == "done", r
    assert r["cam"].shape == (7, 7) and r["cam"].min() >= 0 and r["cam"].max() == 1.0
    d = app.driver
    shown = (
        "return !document.getElementById('heatmap-figure').hidden"
        " && getComputedStyle(document.getElementById('heatmap')).display !== 'none'"
    )
    assert d.execute_script(shown)
    d.find_element("id", "heatmap-toggle").click()
    assert d.execute_script("return document.getElementById('heatmap').hidden")
    d.find_element("id", "heatmap-toggle").click()
    d.execute_script(
        "const s=document.getElementById('heatmap-opacity'); s.value='25';"
        "s.dispatchEvent(new Event('input'));"
    )
    assert (
        d.execute_script("return getComputedStyle(document.getElementById('heatmap')).opacity")
        == "0.25"
    )


def test_a_rejected_photo_shows_no_map(app, tmp_path):
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.new("RGB", (300, 300), (128, 128, 128)).save(grey)
    r = page_cam(app, grey)
    assert r["state"] == "rejected" and r["cam"] is None
    assert app.driver.execute_script("return document.getElementById('heatmap-figure').hidden")


def test_the_peak_lies_on_the_darker_lesion_area_in_most_test_images(app):
    images = source_images().get("ham10000/test")
    if not images:
        pytest.skip(f"no HAM10000 test split under {DATA_DIR}")
    out = measure(app, [im.path for im in every(images, 60)])
    print("heatmap on HAM10000 test:", out)
    assert out["with_map"] >= 40, out
    assert out["peak_on_darker_area"] > 0.5, out
