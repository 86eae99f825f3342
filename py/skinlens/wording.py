"""The wording catalogues: every sentence a person reads, keyed by a stable code, per language.

Reason codes (``#result[data-reason]``, ``#live[data-state]``, camera error codes) are the
automation contract and never change; the words behind them live in
``wording_<lang>.json`` beside this module (``en``, ``zh``, ``ru``: :data:`LANGUAGES`), one
data file per language with the same keys and the same ``{placeholders}``, so translating
the app means translating one file. Code never spells out user-facing sentences; it names
a code and the values to fill in.

An entry has any of ``title`` (a result's heading), ``message`` (a sentence for the
photo result), ``instruction`` (the live view's advice), ``badge`` (a short live state)
and ``text`` (anything else); ``{name}`` placeholders are filled with ``str.format``.

Numbers are formatted for the language by an injected :data:`NumberFormat`: the page passes
one backed by the browser's ``Intl.NumberFormat`` (:func:`skinlens.web.browser.intl_number`);
CPython (tests, tools) uses :func:`plain_number`, which writes English numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIELDS = ("title", "message", "instruction", "badge", "text")
LANGUAGES = ("en", "zh", "ru")
"""Languages with a catalogue; the first is the fallback when the browser asks for none."""

NumberFormat = Callable[[float, int, bool], str]
"""``(value, fraction digits, as percent)`` -> the number as the language writes it
(a percent ``value`` is a fraction: 0.25 -> "25%")."""


def plain_number(value: float, digits: int, percent: bool) -> str:
    """English digits without ``Intl`` (CPython): ``0.251, 1, True`` -> ``"25.1%"``."""
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Wording:
    """One language's catalogue and its number format."""

    entries: dict[str, dict[str, str]]
    lang: str = "en"
    number: NumberFormat = plain_number

    def get(self, code: str, field: str, **values: object) -> str:
        """The ``field`` of ``code`` with ``values`` filled in.

        A missing entry is a programming error (every code the app emits is in every
        catalogue; ``tests/unit/test_wording.py`` checks it), so it raises ``KeyError``.
        """
        return self.entries[code][field].format(**values)

    def variant(self, code: str, variant: str | None, field: str, **values: object) -> str:
        """``code.variant``'s field when the catalogue has that refinement, else ``code``'s.

        Used where one reason code has more specific wording for some cases (an
        unsupported format named by its kind, an image too large of unknown size).
        """
        key = f"{code}.{variant}"
        if variant is not None and field in self.entries.get(key, {}):
            return self.get(key, field, **values)
        return self.get(code, field, **values)

    def title(self, code: str) -> str:
        return self.get(code, "title")

    def instruction(self, code: str) -> str:
        return self.get(code, "instruction")

    def badge(self, code: str) -> str:
        return self.get(code, "badge")

    def text(self, code: str, **values: object) -> str:
        return self.get(code, "text", **values)

    def priority(self, level: str) -> str:
        """How a priority level (``Urgent`` ... ``None``) reads."""
        return self.get(f"priority.{level}", "text")

    def class_name(self, code: str) -> str:
        """A class code's medical name in this language (``class.<code>``)."""
        return self.get(f"class.{code}", "text")

    def recommendation(self, level: str) -> str:
        """What to do at a priority level (``recommendation.<level>``)."""
        return self.get(f"recommendation.{level}", "text")


def path(lang: str) -> Path:
    return Path(__file__).with_name(f"wording_{lang}.json")


def parse(text: str, lang: str, number: NumberFormat = plain_number) -> Wording:
    """A catalogue from its JSON text (the page gets it from app.js, which fetched it once
    to show the load progress in the person's language before Python was up)."""
    return Wording(json.loads(text), lang, number)


@cache
def load(lang: str = "en") -> Wording:
    """The catalogue for ``lang`` from the file beside this module (read once; CPython)."""
    return parse(path(lang).read_text(encoding="utf-8"), lang)
