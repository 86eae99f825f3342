"""Saved lesions and checks: records are JSON, migrate from schema 1, a lesion's priority
is raised when it changed, re-scoring keeps the old result, due dates add calendar months."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

import numpy as np
import pytest
from skinlens import change, history
from skinlens.history import RecordError
from skinlens.metadata import ModelInfo
from skinlens.triage import decide
from synthetic import drawn_lesion

V1_CHECK = {
    "id": "c1",
    "lesion_id": "l1",
    "date": "2025-03-01T10:00:00Z",
    "crop": "iVBORw0KGgo=",
    "probs": [0.1, 0.1, 0.1, 0.1, 0.1, 0.4, 0.1],
    "priority": "Low",
    "label": "nv",
    "quality": {"sharpness": 12.0},
}
V1_LESION = {"id": "l1", "name": "left shoulder", "region": "back-upper-left", "created": "x"}


def probs(info: ModelInfo, mel: float) -> list[float]:
    p = [0.0] * len(info.codes)
    p[info.codes.index("mel")] = mel
    p[info.codes.index("nv")] = 1.0 - mel
    return p


def saved(info, crop, date, mel=0.01, photo_type="dermoscopic", model=None) -> history.Check:
    a = decide(probs(info, mel), info)
    result = history.result_of(a, info)
    result["photo_type"] = photo_type
    if model:
        result["model"] = model
    return history.make_check("l1", date, crop, result, {"sharpness": 10.0})


# ------------------------------------------------------------------ records and migration
def test_a_new_check_is_json_and_keeps_the_crop_exactly(info):
    crop = drawn_lesion()
    c = saved(info, crop, "2026-01-01T09:00:00Z")
    back = json.loads(json.dumps(c))
    assert back == c and back["schema"] == history.SCHEMA_VERSION
    assert np.array_equal(history.crop_pixels(back), crop)
    assert back["result"]["model"] == info.model_id
    assert change.LesionMeasures.from_json(back["measures"]) == change.measure(crop)


def test_a_schema_1_check_nests_its_result_and_names_an_unknown_model():
    before = copy.deepcopy(V1_CHECK)
    v2 = history.migrate(V1_CHECK, "check")
    assert before == V1_CHECK  # not changed in place
    assert v2["schema"] == 2 and "probs" not in v2 and "priority" not in v2
    assert v2["result"] == {
        "probs": V1_CHECK["probs"],
        "priority": "Low",
        "label": "nv",
        "photo_type": None,
        "model": history.UNKNOWN_MODEL,
    }
    assert v2["photo"] is None
    assert history.migrate(v2, "check") == v2  # idempotent
    assert history.needs_rescore(v2, "skinlens-lite0@abc")


def test_a_schema_1_lesion_gets_no_reminder():
    v2 = history.migrate({**V1_LESION, "schema": 1}, "lesion")
    assert (v2["reminder_months"], v2["next_due"], v2["schema"]) == (None, None, 2)
    assert history.migrate(v2, "lesion") == v2


def test_a_newer_schema_is_refused_with_its_code():
    with pytest.raises(RecordError) as e:
        history.migrate({**V1_LESION, "schema": history.SCHEMA_VERSION + 1}, "lesion")
    assert e.value.code == history.NEWER_SCHEMA


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"id": "x", "schema": 2}, "lesion"),
        ({**V1_CHECK, "schema": 2}, "check"),  # v2 without result
        ("not a dict", "check"),
        ({**V1_LESION, "schema": "2"}, "lesion"),
    ],
)
def test_a_broken_record_is_refused(record, kind):
    with pytest.raises(RecordError) as e:
        history.migrate(record, kind)
    assert e.value.code == history.BAD_RECORD


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        history.migrate(V1_LESION, "photo")


# ------------------------------------------------------------------ timeline and status
def test_timeline_sorts_by_date_then_id(info):
    checks = [
        {"id": i, "date": d} for i, d in [("b", "2026-02"), ("c", "2026-01"), ("a", "2026-02")]
    ]
    assert [c["id"] for c in history.timeline(checks)] == ["c", "a", "b"]


def test_one_check_gives_its_own_priority(info):
    status = history.lesion_status([saved(info, drawn_lesion(), "2026-01-01T00:00:00Z")], info)
    assert (status.priority, status.changed, status.reasons) == ("Low", False, ())
    assert history.lesion_status([], info).priority == "None"


def test_an_unchanged_lesion_keeps_its_priority(info):
    checks = [
        saved(info, drawn_lesion(angle=a), f"2026-0{i + 1}-01T00:00:00Z")
        for i, a in enumerate((0.0, 40.0, 80.0))
    ]
    status = history.lesion_status(checks, info)
    assert (status.priority, status.changed) == ("Low", False)
    assert status.last_date == "2026-03-01T00:00:00Z"


def test_growth_raises_the_priority_by_one_level(info):
    checks = [
        saved(info, drawn_lesion(radius=48.0), "2026-06-01T00:00:00Z"),
        saved(info, drawn_lesion(), "2026-01-01T00:00:00Z"),  # order does not matter
    ]
    status = history.lesion_status(checks, info)
    assert (status.priority, status.changed, status.reasons) == ("Medium", True, ("grew",))
    assert status.changes is not None and status.changes.measures["area_share"].relative > 0.4


def test_slow_growth_is_caught_against_the_first_check(info):
    """+12% area per check never crosses 20% between neighbours, but does from the start."""
    radii = [40.0 * math.sqrt(1.12**k) for k in range(3)]
    checks = [
        saved(info, drawn_lesion(radius=r), f"2026-0{k + 1}-01T00:00:00Z")
        for k, r in enumerate(radii)
    ]
    assert not change.compare(
        history.check_data(checks[1]), history.check_data(checks[2]), info.change
    ).escalate
    status = history.lesion_status(checks, info)
    assert status.reasons == ("grew",) and status.priority == "Medium"


def test_melanoma_rising_past_its_threshold_makes_it_urgent(info):
    t = info.change.mel_threshold
    crop = drawn_lesion()
    low, high = (
        saved(info, crop, "2026-01-01T00:00:00Z", mel=t / 2),
        saved(info, crop, "2026-02-01T00:00:00Z", mel=t),
    )
    status = history.lesion_status([low, high], info)
    assert status.priority == "Urgent" and status.reasons == ("mel-rose",)
    other_model = saved(info, crop, "2026-01-01T00:00:00Z", mel=t / 2, model="m@old")
    assert not history.lesion_status([other_model, high], info).changed


def test_checks_that_could_not_be_assessed_are_skipped(info):
    crop = drawn_lesion()
    first = saved(info, crop, "2026-01-01T00:00:00Z")
    grown = saved(info, drawn_lesion(radius=48.0), "2026-02-01T00:00:00Z")
    blurry = copy.deepcopy(grown)
    blurry.update(id="z", date="2026-03-01T00:00:00Z")
    blurry["result"].update(priority="None", label=None)
    status = history.lesion_status([first, grown, blurry], info)
    assert status.priority == "Medium" and status.last_date == "2026-03-01T00:00:00Z"


def test_stale_measures_are_recomputed_from_the_crop(info):
    crop = drawn_lesion()
    c = saved(info, crop, "2026-01-01T00:00:00Z")
    c["measures"] = {**c["measures"], "version": 0}
    assert history.check_data(c).measures is None
    assert history.check_data(c).measured(0.05) == change.measure(crop)


# ------------------------------------------------------------------ re-scoring
def test_rescoring_keeps_the_old_result(info):
    old = history.migrate(V1_CHECK, "check")
    new_probs = probs(info, 0.9)
    r = history.rescored(old, new_probs, info)
    assert r["result"]["model"] == info.model_id and not history.needs_rescore(r, info.model_id)
    assert (r["result"]["priority"], r["result"]["label"]) == ("Urgent", "mel")
    assert r["history"] == [old["result"]]
    assert r["result"]["photo_type"] is None
    again = history.rescored(r, new_probs, info, photo_type="dermoscopic")
    assert [h["model"] for h in again["history"]] == [history.UNKNOWN_MODEL, info.model_id]
    assert again["result"]["photo_type"] == "dermoscopic"
    assert old["result"]["model"] == history.UNKNOWN_MODEL  # input untouched


# ------------------------------------------------------------------ due dates
@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-05-06", 12, "2027-05-06"),
    ],
)
def test_next_due_adds_calendar_months(start, months, due):
    assert history.next_due(dt.date.fromisoformat(start), months).isoformat() == due


def test_next_due_needs_a_month():
    with pytest.raises(ValueError):
        history.next_due(dt.date(2026, 1, 1), 0)


def test_reminders_and_due_lesions():
    lesion = history.make_lesion("mole", "back", "2026-01-10T08:00:00Z", reminder_months=3)
    assert lesion["next_due"] == "2026-04-10"
    later = history.with_reminder(lesion, 6, dt.date(2026, 4, 12))
    assert later["next_due"] == "2026-10-12"
    assert history.with_reminder(lesion, None, dt.date(2026, 4, 12))["next_due"] is None
    plain = history.make_lesion("freckle", "arm", "2026-01-10T08:00:00Z")
    due = history.due_lesions([later, plain, lesion], dt.date(2026, 5, 1))
    assert due == [lesion]
