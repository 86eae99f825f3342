"""The shipped model through the page on every source a user brings (issue 8: judge the
model where users are, not only on HAM10000's own test split).

A deterministic sample per source is opened one by one in headless Chromium (wasm);
``python -m bench.sources`` runs every image and prints the full figures. Thresholds
here are looser than the model card's (a sample of 24-40 images), but a model that
refuses another camera's photos, or accepts a cat, fails them.
"""

from __future__ import annotations

import pytest
from sources_page import every, run, source_images, summary

pytestmark = pytest.mark.data

SAMPLE = {"derm7pt": 40, "pad-ufes-20/test": 24, "nonlesion": 24}


@pytest.fixture(scope="module")
def images():
    found = source_images()
    missing = [s for s in SAMPLE if s not in found]
    if missing:
        pytest.skip(f"data sources not found under ../shared/data: {missing} (fresh clone)")
    return {s: every(found[s], n) for s, n in SAMPLE.items()}


def test_dermoscopy_from_another_atlas_is_accepted_and_classified(app, images):
    s = summary(run(app, images["derm7pt"]))
    assert s["accepted"] >= 0.85, s
    # A sample of 40: looser than the card's targets (either tier 0.90, Urgent <= 30%), but
    # a policy that waves melanomas through or calls most moles Urgent fails.
    assert s["melanoma_to_either_tier"] >= 0.7, s
    assert s["urgent_non_mel"] <= 0.45, s


def test_phone_close_ups_are_accepted_and_marked_as_close_ups(app, images):
    results = run(app, images["pad-ufes-20/test"])
    s = summary(results)
    assert s["accepted"] >= 0.85, s
    done = [r for r in results if r["state"] == "done"]
    assert sum(r["photo-type"] == "close_up" for r in done) >= 0.8 * len(done), done[:3]


def test_photos_that_are_not_lesions_are_refused(app, images):
    results = run(app, images["nonlesion"])
    s = summary(results)
    assert s["accepted"] <= 0.1, s
    assert all(r["priority"] == "None" for r in results if r["state"] == "rejected")
