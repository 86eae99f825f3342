"""The reminder's iCalendar file is valid RFC 5545 and parses back to what went in: CRLF,
folding at 75 octets without splitting a character, escaping, UTC stamp, all-day date,
an alarm; in every language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from skinlens import reminder, wording

NOW = dt.datetime(2026, 12, 6, 9, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))
NASTY = 'Mole, back; near \\ the "scar"\nsecond line — 左肩上的痣 ' + "родинка " * 12


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line end is CRLF
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def parse(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Content lines -> (name, params, value), per RFC 5545 section 3.1."""
    out = []
    for line in unfold(text):
        m = re.fullmatch(r"([A-Z-]+)((?:;[A-Z-]+=[^;:]*)*):(.*)", line)
        assert m, line
        params = dict(p.split("=", 1) for p in m[2].split(";")[1:])
        out.append((m[1], params, m[3]))
    return out


@pytest.mark.parametrize("lang", wording.LANGUAGES)
def test_the_file_parses_back(lang):
    w = wording.load(lang)
    text = reminder.ics(NASTY, dt.date(2027, 3, 6), "lesion-1@skinlens", NOW, w)
    lines = parse(text)
    names = [n for n, _, _ in lines]
    assert names[:2] == ["BEGIN", "VERSION"] and names[-1] == "END"
    begins = [v for n, _, v in lines if n == "BEGIN"]
    ends = [v for n, _, v in lines if n == "END"]
    assert begins == ["VCALENDAR", "VEVENT", "VALARM"] and ends == begins[::-1]
    fields = {n: (p, v) for n, p, v in lines if n not in ("BEGIN", "END", "DESCRIPTION")}
    assert fields["DTSTART"] == ({"VALUE": "DATE"}, "20270306")
    assert fields["DTEND"] == ({"VALUE": "DATE"}, "20270307")
    assert fields["DTSTAMP"][1] == "20261206T063005Z"  # 09:30:05 at UTC+3
    assert fields["UID"][1] == "lesion-1@skinlens"
    assert fields["PRODID"][1] and fields["VERSION"][1] == "2.0"
    assert unescape(fields["SUMMARY"][1]) == w.text("lesions.reminder-title", name=NASTY)
    descriptions = [unescape(v) for n, _, v in lines if n == "DESCRIPTION"]
    assert descriptions == [
        w.text("lesions.reminder-text"),
        w.text("lesions.reminder-title", name=NASTY),
    ]
    assert fields["ACTION"][1] == "DISPLAY" and fields["TRIGGER"][1] == "PT9H"


def test_escaping_covers_the_special_characters():
    assert reminder.escape_text("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"
    assert unescape(reminder.escape_text(NASTY)) == NASTY


def test_folding_never_splits_a_character():
    line = "SUMMARY:" + "左" * 60
    folded = reminder.fold(line)
    parts = folded.split("\r\n")
    assert len(parts) > 1 and all(len(p.encode()) <= 75 for p in parts)
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line
    assert reminder.fold("A" * 75) == "A" * 75


def test_stamp_needs_an_aware_time():
    with pytest.raises(ValueError):
        reminder.ics("x", dt.date(2027, 1, 1), "u", dt.datetime(2026, 1, 1), wording.load())


def test_file_name_is_safe():
    assert reminder.file_name("left/shoulder: 痣", dt.date(2027, 1, 2)) == (
        "skinlens-left-shoulder--痣-2027-01-02.ics"
    )
    assert reminder.file_name("???", dt.date(2027, 1, 2)) == "skinlens-lesion-2027-01-02.ics"
