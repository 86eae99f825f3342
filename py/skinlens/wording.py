"""The one wording catalogue: every sentence a person reads, keyed by a stable code.

Reason codes (``#result[data-reason]``, ``#live[data-state]``, camera error codes) are the
automation contract and never change; the words behind them live in
``wording_<lang>.json`` beside this module, so translating the app means translating
that one file. Code never spells out user-facing sentences; it names a code and the
values to fill in.

An entry has any of ``title`` (a result's heading), ``message`` (a sentence for the
photo result), ``instruction`` (the live view's advice), ``badge`` (a short live state)
and ``text`` (anything else); ``{name}`` placeholders are filled with ``str.format``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIELDS = ("title", "message", "instruction", "badge", "text")


@dataclass(frozen=True)
class Wording:
    """One language's catalogue."""

    entries: dict[str, dict[str, str]]

    def get(self, code: str, field: str, **values: object) -> str:
        """The ``field`` of ``code`` with ``values`` filled in.

        A missing entry is a programming error (every code the app emits is in the
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


@cache
def load(lang: str = "en") -> Wording:
    """The catalogue for ``lang`` (read once)."""
    path = Path(__file__).with_name(f"wording_{lang}.json")
    return Wording(json.loads(path.read_text(encoding="utf-8")))
