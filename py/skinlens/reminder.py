"""A "check this lesion again" reminder as an iCalendar file (RFC 5545), made in the page.

An ``.ics`` download works with every calendar (phone, desktop, web) and needs no server or
notification permission. The event is all-day on the due date (``DTSTART;VALUE=DATE``; the
next day as ``DTEND``) with an alarm at 09:00 that day (``TRIGGER:PT9H`` from the start of an
all-day event, i.e. local midnight), marked free time (``TRANSP:TRANSPARENT``).

RFC 5545 details kept here: CRLF line ends; lines folded at 75 octets (never inside a UTF-8
character: Chinese and Russian names are 3 and 2 octets a character); ``\\``, ``;``, ``,``
and newlines escaped in text; ``DTSTAMP`` in UTC. The words come from the wording catalogue.
"""

from __future__ import annotations

import datetime as dt

from skinlens.wording import Wording

PRODID = "-//skinlens//lesion reminder//EN"
ALARM_TRIGGER = "PT9H"
MAX_OCTETS = 75


def escape_text(text: str) -> str:
    """An RFC 5545 TEXT value: backslash first, then ``;`` ``,`` and newlines."""
    out = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return out.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded to at most 75 octets a line (continuations start with a
    space, which counts), breaking only between characters."""
    parts: list[str] = []
    current, size, limit = [], 0, MAX_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(ch)
        size += n
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _utc_stamp(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(lesion_name: str, due: dt.date, uid: str, now: dt.datetime, words: Wording) -> str:
    """The calendar file's text: one all-day event on ``due`` with an alarm that morning.

    ``uid`` must be stable for one lesion's reminder (e.g. ``<lesion id>@skinlens``) so a
    calendar updates the event when a new file is imported instead of adding a second one.
    ``now`` (aware) is the ``DTSTAMP``.
    """
    summary = words.text("lesions.reminder-title", name=lesion_name)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape_text(uid)}",
        f"DTSTAMP:{_utc_stamp(now)}",
        f"DTSTART;VALUE=DATE:{due.strftime('%Y%m%d')}",
        f"DTEND;VALUE=DATE:{(due + dt.timedelta(days=1)).strftime('%Y%m%d')}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(words.text('lesions.reminder-text', name=lesion_name))}",
        "TRANSP:TRANSPARENT",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(summary)}",
        f"TRIGGER:{ALARM_TRIGGER}",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def file_name(lesion_name: str, due: dt.date) -> str:
    """A download name safe on every system: ``skinlens-<name>-<date>.ics`` with anything
    but letters, digits and ``-`` turned into ``-``."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in lesion_name).strip("-")[:40]
    return f"skinlens-{safe or 'lesion'}-{due.isoformat()}.ics"
