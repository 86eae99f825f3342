"""A batch's results as CSV and JSON, pure: generated in the page, nothing uploaded.

One record per file: file name, priority, label, the calibrated probability of every class
(class-index order, one column each in CSV), the reason when it could not be assessed, the
photo type the model saw (``dermoscopic`` or ``close_up``; empty when the model did not
run), the model's name and variant, and the export's date. :func:`records` is the single place that
says what a row exports; :func:`to_csv` and :func:`to_json` only format it.

Spreadsheet safety lives here, in one place: a CSV cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is read as a formula by Excel, LibreOffice and
Google Sheets (a file named ``=HYPERLINK(...).jpg`` would run), so such text cells get a
leading apostrophe (:func:`neutralise`, OWASP's advice). Numbers are written as numbers and
are never altered. JSON needs no such care and keeps names exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from skinlens.batch import BatchRow
from skinlens.metadata import ModelInfo

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Text that a spreadsheet would run as a formula, made inert by a leading ``'``."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def records(rows: Sequence[BatchRow], info: ModelInfo, date: str) -> list[dict[str, Any]]:
    """What each row exports (table order as given; ``date``: ISO 8601 export time)."""
    model = str(info.raw["name"])
    version = str(info.raw.get("variant", ""))
    out = []
    for row in rows:
        a = row.result.assessment
        assert a is not None
        out.append(
            {
                "file": row.name,
                "priority": a.priority,
                "label": a.label or "",
                "probs": None if a.probs is None else dict(zip(info.codes, a.probs, strict=True)),
                "reason": a.reason if a.rejected else "",
                "photo_type": a.photo_type or "",
                "model": model,
                "model_version": version,
                "date": date,
            }
        )
    return out


def to_json(recs: list[dict[str, Any]]) -> str:
    return json.dumps(recs, indent=1, ensure_ascii=False)


def to_csv(recs: list[dict[str, Any]], codes: Sequence[str]) -> str:
    """One header line, one line per record; ``p_<code>`` columns hold the probabilities
    (empty when the model did not run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    head = ["file", "priority", "label", *(f"p_{c}" for c in codes)]
    writer.writerow([*head, "reason", "photo_type", "model", "model_version", "date"])
    for r in recs:
        # probabilities lie in [0, 1]: numbers, never read as formulas
        probs = ["" if r["probs"] is None else f"{r['probs'][c]:.6f}" for c in codes]
        text = [r["file"], r["priority"], r["label"]]
        tail = [r["reason"], r["photo_type"], r["model"], r["model_version"], r["date"]]
        writer.writerow([*map(neutralise, text), *probs, *map(neutralise, tail)])
    return buf.getvalue()
