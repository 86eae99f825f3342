"""The change measures and their escalation rules on synthetic lesions with known changes:
identical, rotated or shifted only (no change), grown, a new colour, a bud (asymmetry), a
scalloped border, the melanoma probability crossing its threshold; the thresholds come from
the metadata."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from skinlens import change
from skinlens.change import CheckData, LesionMeasures
from skinlens.metadata import ModelInfo
from synthetic import BLUE_GREY, LIGHT_BROWN, SKIN, drawn_lesion

DERMOSCOPIC = "dermoscopic"


def probs(info: ModelInfo, mel: float) -> list[float]:
    """Seven probabilities with melanoma at ``mel`` and the rest spread over naevus."""
    p = [0.0] * len(info.codes)
    p[info.codes.index("mel")] = mel
    p[info.codes.index("nv")] = 1.0 - mel
    return p


def check(info: ModelInfo, crop: np.ndarray, mel: float = 0.01, kind: str = DERMOSCOPIC):
    return CheckData(crop, probs(info, mel), kind)


def painted(mask: np.ndarray) -> np.ndarray:
    """A light-brown lesion of exactly ``mask``'s shape on noisy skin."""
    img = np.zeros((*mask.shape, 3)) + SKIN
    img[mask] = LIGHT_BROWN
    img += np.random.default_rng(0).normal(0, 3, (*mask.shape, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    return drawn_lesion()


def test_identical_checks_change_nothing(info, base):
    c = change.compare(check(info, base), check(info, base), info.change)
    assert not c.escalate and c.reasons == ()
    assert all(d.delta == 0 for d in c.measures.values())
    assert all(d.delta == 0 for d in c.probs.values())
    assert c.found == (True, True) and c.new_colours == ()


@pytest.mark.parametrize(
    "moved", [{"angle": 37.0}, {"angle": 90.0}, {"angle": 200.0}, {"centre": (96.0, 125.0)}]
)
def test_rotated_or_shifted_only_is_no_change(info, base, moved):
    c = change.compare(check(info, base), check(info, drawn_lesion(**moved)), info.change)
    assert not c.escalate, c.reasons
    assert abs(c.measures["area_share"].relative) < 0.02
    assert abs(c.measures["asymmetry"].delta) < 0.01
    assert abs(c.measures["border_irregularity"].relative) < 0.02
    assert c.colours_before == c.colours_after


def test_grown_by_a_fifth_in_diameter_escalates_as_grew(info, base):
    """+20% diameter is +44% area; shape and colours stay."""
    grown = drawn_lesion(radius=48.0)
    c = change.compare(check(info, base), check(info, grown), info.change)
    assert c.measures["area_share"].relative == pytest.approx(0.44, abs=0.04)
    assert c.reasons == (change.GREW,)
    assert abs(c.measures["asymmetry"].delta) < 0.01


def test_growth_between_close_ups_is_reported_but_does_not_escalate(info, base):
    grown = drawn_lesion(radius=48.0)
    c = change.compare(check(info, base, kind="close_up"), check(info, grown), info.change)
    assert not c.framing_comparable and not c.escalate
    assert c.measures["area_share"].relative > 0.4
    assert c.framing_dependent == change.FRAMING_DEPENDENT
    assert c.to_json()["framing_dependent"] == ["area_share"]


def test_growth_below_the_threshold_does_not_escalate(info, base):
    """+10% area (radius x sqrt(1.1)) is under the 20% rule."""
    c = change.compare(
        check(info, base), check(info, drawn_lesion(radius=40.0 * math.sqrt(1.1))), info.change
    )
    assert c.measures["area_share"].relative == pytest.approx(0.10, abs=0.02)
    assert not c.escalate


def test_a_new_colour_escalates(info, base):
    c = change.compare(check(info, base), check(info, drawn_lesion(patch=BLUE_GREY)), info.change)
    assert c.measures["colours"].delta == 1
    assert c.new_colours == ("blue-grey",)
    assert c.reasons == (change.NEW_COLOUR,)
    assert c.to_json()["colours"]["new"] == ["blue-grey"]


def test_a_bud_raises_asymmetry(info):
    yy, xx = np.mgrid[0:224, 0:224]
    disc = np.hypot(yy - 112, xx - 112) < 40
    bud = disc | (np.hypot(yy - 142, xx - 152) < 25)
    a, b = check(info, painted(disc), kind="close_up"), check(info, painted(bud))
    c = change.compare(a, b, info.change)
    assert c.measures["asymmetry"].before < 0.02
    assert c.measures["asymmetry"].delta >= 0.15
    assert c.reasons == (change.ASYMMETRY,)  # close-up: its growth does not count


def test_a_scalloped_border_escalates(info, base):
    c = change.compare(check(info, base), check(info, drawn_lesion(scallops=0.12)), info.change)
    assert c.measures["border_irregularity"].relative >= 0.3
    assert change.BORDER in c.reasons
    assert abs(c.measures["area_share"].relative) < 0.05


def test_melanoma_probability_crossing_its_threshold_escalates(info, base):
    t = info.change.mel_threshold
    assert t == info.thresholds["escalation"]["mel"]
    rose = change.compare(check(info, base, t * 0.5), check(info, base, t), info.change)
    assert rose.reasons == (change.MEL_ROSE,)
    assert rose.probs["mel"].delta == pytest.approx(t * 0.5)
    stayed = change.compare(check(info, base, t), check(info, base, 0.9), info.change)
    assert not stayed.escalate  # already past it: the check itself was Urgent


def test_no_outline_means_no_shape_rules(info, base):
    skin = painted(np.zeros((224, 224), dtype=bool))
    c = change.compare(check(info, skin), check(info, drawn_lesion(patch=BLUE_GREY)), info.change)
    assert c.found == (False, True) and not c.escalate
    assert c.measures["asymmetry"].before is None and c.measures["asymmetry"].delta is None


def test_thresholds_come_from_the_metadata(info, base_metadata, base):
    t = info.change
    section = info.raw["change"]
    assert section == base_metadata["change"]
    assert (t.area_growth, t.asymmetry_rise, t.border_rise) == (
        section["area_growth"],
        section["asymmetry_rise"],
        section["border_rise"],
    )
    assert t.new_colours == section["new_colours"] and t.codes == tuple(info.codes)
    grown = check(info, drawn_lesion(radius=48.0))
    assert change.compare(check(info, base), grown, t).escalate
    lenient = dataclasses.replace(t, area_growth=0.5)
    assert not change.compare(check(info, base), grown, lenient).escalate


def test_changes_json_has_every_measure_and_class(info, base):
    c = change.compare(check(info, base), check(info, drawn_lesion(radius=48.0)), info.change)
    data = json.loads(json.dumps(c.to_json()))
    assert set(data["measures"]) == set(change.MEASURE_NAMES)
    assert set(data["probs"]) == set(info.codes)
    assert data["measures"]["area_share"]["escalates"] is True
    assert data["measures"]["area_share"]["framing_dependent"] is True
    assert data["measures"]["asymmetry"]["framing_dependent"] is False
    assert data["escalate"] is True and data["reasons"] == ["grew"]
    assert len(data["mean_colour"]["before"]) == 3


def test_stored_measures_round_trip_and_are_used(info, base):
    m = change.measure(base)
    back = LesionMeasures.from_json(json.loads(json.dumps(m.to_json())))
    assert back == m
    assert LesionMeasures.from_json({**m.to_json(), "version": 0}) is None
    blank = np.zeros_like(base)  # the crop is not read when measures are given
    a = CheckData(blank, probs(info, 0.01), DERMOSCOPIC, measures=m)
    assert change.compare(a, check(info, base), info.change).measures["area_share"].delta == 0


def test_every_prototype_colour_is_counted_and_skin_is_not():
    yy, xx = np.mgrid[0:224, 0:224]
    mask = np.hypot(yy - 112, xx - 112) < 50
    cc = np.zeros((224, 224, 3), dtype=np.uint8) + np.array([185, 180, 178], dtype=np.uint8)
    for name, rgb in change.COLOUR_PROTOTYPES.items():
        img = cc.copy()
        img[mask] = rgb
        shares = change.colour_shares(img, mask)
        assert shares[name] == 1.0, name
    assert sum(change.colour_shares(cc, mask).values()) == 0.0


def test_asymmetry_is_zero_for_a_disc_and_free_of_rotation():
    yy, xx = np.mgrid[0:160, 0:160]
    assert change.asymmetry(np.hypot(yy - 80, xx - 80) < 40) < 0.01
    comma = (np.hypot(yy - 80, xx - 80) < 35) | (np.hypot(yy - 100, xx - 110) < 20)
    assert change.asymmetry(comma) == pytest.approx(change.asymmetry(np.rot90(comma)), abs=1e-6)


def test_border_irregularity_is_one_for_a_disc_at_any_size():
    yy, xx = np.mgrid[0:224, 0:224]
    for r in (15, 40, 90):
        assert change.border_irregularity(np.hypot(yy - 112, xx - 112) < r) == pytest.approx(
            1.0, abs=0.03
        )
