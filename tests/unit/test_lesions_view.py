"""The history view's pure parts: the body map (regions, words, markup) and the lesion list,
timeline, plot and comparison markup (:mod:`skinlens.bodymap`, :mod:`skinlens.lesions_view`)."""

from __future__ import annotations

import json
import re

import pytest
from skinlens import bodymap, lesions_view, wording


@pytest.mark.parametrize("lang", wording.LANGUAGES)
def test_every_region_has_words_and_one_shape(lang):
    w = wording.load(lang)
    svg = bodymap.svg(w, svg_id="m", chosen="back-left-thigh")
    codes = re.findall(r'data-region="([^"]+)"', svg)
    assert sorted(codes) == sorted(r.code for r in bodymap.REGIONS)
    assert len(set(codes)) == len(codes) == 34
    names = {bodymap.region_text(r.code, w) for r in bodymap.REGIONS}
    assert len(names) == len(bodymap.REGIONS)  # no two regions read the same
    assert svg.count('aria-pressed="true"') == 1
    assert "style=" not in svg  # the security policy refuses inline styles


def test_left_and_right_are_the_persons_sides():
    """From the front the person's left is on the viewer's right; from the back, the left."""
    front_left = bodymap.BY_CODE["front-left-hand"].centre[0]
    front_right = bodymap.BY_CODE["front-right-hand"].centre[0]
    back_left = bodymap.BY_CODE["back-left-hand"].centre[0]
    back_right = bodymap.BY_CODE["back-right-hand"].centre[0]
    assert front_left > front_right and back_left < back_right


def test_dots_share_a_region_side_by_side_and_names_are_escaped():
    w = wording.load("en")
    dots = [bodymap.Dot(f"l{i}", "front-chest", "Urgent", "<b>x</b>") for i in range(3)]
    svg = bodymap.svg(w, svg_id="m", dots=dots)
    centres = re.findall(r'<circle class="dot prio-Urgent" data-lesion="l\d" cx="([\d.]+)"', svg)
    assert len(set(centres)) == 3
    assert "<b>" not in svg and "&lt;b&gt;" in svg


def lesion(name: str = 'Mole "A" <left>') -> dict:
    return {"id": "L1", "name": name, "region": "back-upper-back", "created": "2025-01-01"}


def check(i: int, mel: float, priority: str, model: str = "m@1") -> dict:
    probs = [0.0] * 7
    probs[4], probs[5] = mel, 1 - mel
    return {
        "id": f"C{i}",
        "lesion_id": "L1",
        "date": f"2025-0{i}-01T10:00:00Z",
        "result": {
            "probs": probs,
            "priority": priority,
            "label": "mel" if mel > 0.5 else "nv",
            "photo_type": "dermoscopic",
            "model": model,
        },
    }


def test_lesion_list_carries_the_contract_attributes_escaped():
    w = wording.load("en")
    html = lesions_view.lesions_html([lesions_view.LesionRow(lesion(), 2, "High", True)], w)
    assert 'data-lesion="L1"' in html and 'data-checks="2"' in html
    assert 'data-priority="High"' in html and 'data-changed="true"' in html
    assert 'data-name="Mole &quot;A&quot; &lt;left&gt;"' in html
    assert "<left>" not in html
    assert lesions_view.lesions_html([], w).count("<li") == 1  # "no lesions yet"


def test_timeline_newest_first_with_model_versions():
    w = wording.load("en")
    old = check(1, 0.1, "Low", model="m@0")
    new = {**check(2, 0.7, "Urgent"), "history": [old["result"]]}
    html = lesions_view.timeline_html([old, new], {"C2": "data:image/png;base64,AAAA"}, w, "m@1")
    assert html.index('data-check="C2"') < html.index('data-check="C1"')
    assert json.loads(re.search(r'data-check="C2"[^>]*data-probs="([^"]+)"', html)[1])[4] == 0.7
    assert 'data-model="m@0"' in html and "re-scored" in html  # C2 says it was re-scored
    assert html.count('class="compare-pick"') == 2 and html.count("<img") == 1


def test_plot_has_one_point_per_scored_check():
    w = wording.load("en")
    svg = lesions_view.plot_svg([check(1, 0.1, "Low"), check(2, 0.7, "Urgent")], 4, w)
    points = re.search(r'<polyline class="line" points="([^"]+)"', svg)[1].split()
    assert len(points) == 2
    (x1, y1), (x2, y2) = (map(float, p.split(",")) for p in points)
    assert x2 > x1 and y2 < y1  # later and higher
    assert 'class="prio-Urgent"' in svg and 'class="prio-Low"' in svg


def test_compare_shows_both_checks_the_measures_and_every_class():
    w = wording.load("ru")
    a, b = check(1, 0.1, "Low"), check(2, 0.7, "Urgent")
    codes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    probs = {c: {"before": 0.1, "after": 0.2} for c in codes}
    html = lesions_view.compare_html(a, b, ("data:a", "data:b"), "<table id=m>", probs, codes, w)
    assert html.count('src="data:a"') == 2 and html.count('src="data:b"') == 2  # pair + overlay
    assert 'id="compare-opacity"' in html and "<table id=m>" in html
    assert all(w.class_name(c) in html for c in codes)
    assert "m@1" in html  # each figure's model version
