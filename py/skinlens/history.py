"""A person's saved lesions and their checks, as plain JSON-able records, and what follows from
them: the timeline, the lesion's current priority (raised when it changed), re-scoring with a
new model, the next due date.

The records are what IndexedDB and the backup file hold (:mod:`skinlens.web` stores them;
:mod:`skinlens.backup` packs them), so they are plain dicts of JSON values: bytes are base64
strings, dates ISO 8601 strings (UTC datetimes ``YYYY-MM-DDTHH:MM:SSZ`` sort as text).
Every record carries ``schema``; :func:`migrate` upgrades older ones, so a database or backup
written by an earlier version opens in this one.

Schema history:

* **1** (the first saved-results format): a check kept ``probs``, ``priority``, ``label`` and
  ``photo_type`` at its top level and did not say which model made them; a lesion had no
  reminder. Records of version 1 may lack ``schema`` altogether.
* **2**: a check's verdict is nested in ``result`` with the ``model`` (``name@version``) it
  came from, so a new model can re-score old checks (:func:`rescored`, the previous results
  kept under ``history``); stored change ``measures`` may ride along; a lesion has
  ``reminder_months`` and ``next_due``. Version-1 checks get the model
  ``skinlens-lite0@unknown``, which never equals a real model id, so they are re-scored.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
from PIL import Image

from skinlens import change
from skinlens.errors import SkinlensError
from skinlens.metadata import PRIORITY_ORDER, ModelInfo
from skinlens.triage import NONE_PRIORITY, Assessment, decide

SCHEMA_VERSION = 2
UNKNOWN_MODEL = "skinlens-lite0@unknown"
"""The model of a version-1 check, which did not record it."""

NEWER_SCHEMA = "newer-schema"
BAD_RECORD = "bad-record"
KINDS = ("lesion", "check")

PHOTO_MAX_SIDE = 1024
"""Longest side of a kept photo (the person's choice): enough to show a doctor, about
100-200 kB as JPEG, so hundreds of checks fit the browser's storage."""
PHOTO_QUALITY = 85


class RecordError(SkinlensError):
    """A stored record this version cannot use: ``newer-schema`` (written by a newer
    skinlens: update the app) or ``bad-record`` (a required field is missing)."""


class Result(TypedDict):
    """A check's verdict: calibrated probabilities in the metadata's class order, the
    priority (``Urgent`` ... ``Low`` or ``None``), the top class code (``None`` when not
    assessed), the photo type, and the model (``name@version``) that made it."""

    probs: list[float]
    priority: str
    label: str | None
    photo_type: str | None
    model: str


class Lesion(TypedDict):
    id: str
    name: str
    region: str
    """Body-map region code (the page's ``#body-map [data-region]``)."""
    created: str
    reminder_months: int | None
    next_due: str | None
    """ISO date of the next check, ``None`` without a reminder."""
    schema: int


class Check(TypedDict):
    id: str
    lesion_id: str
    date: str
    crop: str
    """PNG, base64: the model-input crop (what re-scoring and the change measures read)."""
    photo: str | None
    """JPEG, base64, at most :data:`PHOTO_MAX_SIDE` pixels: kept only if the person chose."""
    result: Result
    quality: dict[str, Any]
    """The quality gates' facts when the photo was taken."""
    schema: int
    history: NotRequired[list[Result]]
    """Earlier results of this check, oldest first (before each re-scoring)."""
    measures: NotRequired[dict[str, Any]]
    """:meth:`skinlens.change.LesionMeasures.to_json` of the crop, when computed."""


REQUIRED: dict[str, tuple[str, ...]] = {
    "lesion": ("id", "name", "region", "created", "reminder_months", "next_due"),
    "check": ("id", "lesion_id", "date", "crop", "result", "quality"),
}
RESULT_KEYS = ("probs", "priority", "label", "photo_type", "model")


# ------------------------------------------------------------------ records
def now_iso(now: dt.datetime | None = None) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (sorts as text)."""
    t = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def png_base64(rgb: np.ndarray) -> str:
    """A ``uint8`` RGB crop as PNG, base64 (lossless: the crop re-scores exactly)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def crop_pixels(check: Check) -> np.ndarray:
    """The check's stored crop as ``uint8`` RGB."""
    data = base64.b64decode(check["crop"], validate=True)
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def photo_base64(image: Image.Image) -> str:
    """The photo, shrunk to :data:`PHOTO_MAX_SIDE` and JPEG-encoded, base64."""
    im = image.convert("RGB")
    im.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=PHOTO_QUALITY)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def make_lesion(
    name: str, region: str, created: str, reminder_months: int | None = None, ident: str = ""
) -> Lesion:
    """A new lesion record (with its first due date when a reminder is set)."""
    due = None
    if reminder_months:
        due = next_due(dt.date.fromisoformat(created[:10]), reminder_months).isoformat()
    return Lesion(
        id=ident or new_id(),
        name=name,
        region=region,
        created=created,
        reminder_months=reminder_months,
        next_due=due,
        schema=SCHEMA_VERSION,
    )


def result_of(a: Assessment, info: ModelInfo) -> Result:
    """The stored verdict of an assessment made by the model ``info`` describes."""
    return Result(
        probs=[float(p) for p in (a.probs or ())],
        priority=a.priority,
        label=a.label,
        photo_type=a.photo_type,
        model=info.model_id,
    )


def make_check(
    lesion_id: str,
    date: str,
    crop: np.ndarray,
    result: Result,
    quality: dict[str, Any],
    photo: str | None = None,
    ident: str = "",
) -> Check:
    """A new check record; its change measures are computed now so the history view never
    has to segment crops again."""
    return Check(
        id=ident or new_id(),
        lesion_id=lesion_id,
        date=date,
        crop=png_base64(crop),
        photo=photo,
        result=result,
        quality=dict(quality),
        schema=SCHEMA_VERSION,
        measures=change.measure(crop).to_json(),
    )


# ------------------------------------------------------------------ migration
def _check_v1_to_v2(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k not in ("probs", "priority", "label", "photo_type")}
    out["result"] = {
        "probs": list(r.get("probs") or []),
        "priority": r.get("priority", NONE_PRIORITY),
        "label": r.get("label"),
        "photo_type": r.get("photo_type"),
        "model": UNKNOWN_MODEL,
    }
    out.setdefault("quality", {})
    return out


def _lesion_v1_to_v2(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "reminder_months": None, "next_due": None}


_UPGRADES = {"check": {1: _check_v1_to_v2}, "lesion": {1: _lesion_v1_to_v2}}


def migrate(record: dict[str, Any], kind: str) -> dict[str, Any]:
    """``record`` (a ``lesion`` or a ``check``) upgraded to :data:`SCHEMA_VERSION`, as a new
    dict; a current record comes back equal. Raises :class:`RecordError` ``newer-schema`` for
    a record from a newer skinlens and ``bad-record`` when required fields are missing."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(record, dict):
        raise RecordError(BAD_RECORD, kind=kind, missing="all")
    version = record.get("schema", 1)
    if not isinstance(version, int) or version < 1:
        raise RecordError(BAD_RECORD, kind=kind, missing="schema")
    if version > SCHEMA_VERSION:
        raise RecordError(NEWER_SCHEMA, kind=kind, schema=version, supported=SCHEMA_VERSION)
    out = dict(record)
    while version < SCHEMA_VERSION:
        out = _UPGRADES[kind][version](out)
        version += 1
    out["schema"] = SCHEMA_VERSION
    if kind == "check":
        out.setdefault("photo", None)  # optional in every version: the person's choice
    missing = [k for k in REQUIRED[kind] if k not in out]
    if kind == "check" and "result" in out:
        missing += [f"result.{k}" for k in RESULT_KEYS if k not in out["result"]]
    if missing:
        raise RecordError(BAD_RECORD, kind=kind, missing=",".join(missing))
    return out


# ------------------------------------------------------------------ a lesion's story
def timeline(checks: Iterable[Check]) -> list[Check]:
    """The checks oldest first (by date, then id so equal dates keep one order)."""
    return sorted(checks, key=lambda c: (c["date"], c["id"]))


def check_data(check: Check) -> change.CheckData:
    """What :func:`skinlens.change.compare` needs of a stored check (stored measures when
    they are current, else the crop is measured)."""
    stored = check.get("measures")
    measures = change.LesionMeasures.from_json(stored) if stored else None
    return change.CheckData(
        crop=crop_pixels(check) if measures is None else None,
        probs=check["result"]["probs"],
        photo_type=check["result"]["photo_type"],
        measures=measures,
    )


@dataclass(frozen=True)
class LesionStatus:
    """A lesion's current priority and why: the last assessed check's priority, raised when
    the lesion changed (``changed``, with the reasons of :mod:`skinlens.change`)."""

    priority: str
    changed: bool
    reasons: tuple[str, ...]
    last_date: str | None
    changes: change.Changes | None = None
    """Previous -> last assessed check (``None`` with fewer than two)."""


def raised(priority: str, reasons: Sequence[str]) -> str:
    """``priority`` raised for a change: to Urgent when the melanoma probability rose past
    its threshold, else by one level (Urgent stays Urgent)."""
    if change.MEL_ROSE in reasons:
        return PRIORITY_ORDER[0]
    return PRIORITY_ORDER[max(0, PRIORITY_ORDER.index(priority) - 1)]


def lesion_status(checks: Iterable[Check], info: ModelInfo) -> LesionStatus:
    """The lesion's priority from its checks.

    The last assessed check's priority (checks that could not be assessed are skipped),
    raised (:func:`raised`) when it changed against the previous assessed check **or
    against the first** (slow growth of 10% a check never crosses a 20% limit between
    neighbours, but does against the baseline). The melanoma probability counts only
    between results of the same model; :func:`rescored` brings old checks to the current one.
    """
    ordered = timeline(checks)
    last_date = ordered[-1]["date"] if ordered else None
    assessed = [c for c in ordered if c["result"]["priority"] != NONE_PRIORITY]
    if not assessed:
        return LesionStatus(NONE_PRIORITY, False, (), last_date)
    last = assessed[-1]
    priority = last["result"]["priority"]
    if len(assessed) < 2:
        return LesionStatus(priority, False, (), last_date)
    last_data = check_data(last)
    found: list[str] = []
    pairs = []
    earlier = [assessed[-2]] if len(assessed) == 2 else [assessed[-2], assessed[0]]
    for before in earlier:
        c = change.compare(check_data(before), last_data, info.change)
        pairs.append(c)
        same_model = before["result"]["model"] == last["result"]["model"]
        found += [r for r in c.reasons if same_model or r != change.MEL_ROSE]
    reasons = tuple(r for r in change.REASONS if r in found)
    if reasons:
        priority = raised(priority, reasons)
    return LesionStatus(priority, bool(reasons), reasons, last_date, pairs[0])


# ------------------------------------------------------------------ re-scoring
def needs_rescore(check: Check, model_id: str) -> bool:
    """Whether the check's result came from another model than ``model_id``."""
    return check["result"]["model"] != model_id


def rescored(
    check: Check, new_probs: Sequence[float], info: ModelInfo, photo_type: str | None = None
) -> Check:
    """The check with a new result from the current model (triage applied by
    :func:`skinlens.triage.decide`), the old result appended to ``history``. The photo type
    is the new one when given (the model's ``dermoscopic`` output), else the old."""
    a = decide(new_probs, info)
    old = check["result"]
    new = Result(
        probs=[float(p) for p in new_probs],
        priority=a.priority,
        label=a.label,
        photo_type=photo_type if photo_type is not None else old["photo_type"],
        model=info.model_id,
    )
    out: Check = {**check, "result": new, "history": [*check.get("history", []), old]}
    return out


# ------------------------------------------------------------------ reminders
def next_due(date: dt.date, months: int) -> dt.date:
    """``date`` plus ``months`` calendar months; a day the month lacks becomes its last
    (31 January + 1 month = 28 or 29 February)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    index = date.month - 1 + months
    year, month = date.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))


def with_reminder(lesion: Lesion, months: int | None, since: dt.date) -> Lesion:
    """The lesion with a reminder every ``months`` counted from ``since`` (its last check;
    the page calls it again after each new check), or none for ``None``."""
    due = None if not months else next_due(since, months).isoformat()
    return {**lesion, "reminder_months": months, "next_due": due}


def due_lesions(lesions: Iterable[Lesion], today: dt.date) -> list[Lesion]:
    """Lesions whose next check is due today or earlier, most overdue first."""
    due = [les for les in lesions if les["next_due"] and les["next_due"] <= today.isoformat()]
    return sorted(due, key=lambda les: les["next_due"] or "")
