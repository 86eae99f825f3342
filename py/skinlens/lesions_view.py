"""What the history view shows, as pure functions of the stored records (CPython-testable).

* :func:`lesions_html`: ``#lesions``, one ``li[data-lesion]`` per lesion (the automation
  contract's ``data-name``, ``data-region``, ``data-checks``, ``data-priority``,
  ``data-changed``);
* :func:`timeline_html`: ``#timeline``, one ``li[data-check]`` per check (``data-date``,
  ``data-priority``, ``data-label``, ``data-probs``, ``data-model``) with its thumbnail and
  its model version;
* :func:`plot_svg`: the melanoma probability and the priority over time;
* :func:`compare_html`: two checks side by side, as an overlay, the measures in words and
  every class probability before and after.

Records are the dicts of :mod:`skinlens.history`; a check's result is ``check["result"]``
(``probs``, ``priority``, ``label``, ``photo_type``, ``model``). Everything is escaped here;
no ``style=`` (the security policy): the overlay's opacity is a CSS variable set by script.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from skinlens import bodymap
from skinlens.view import esc, fmt_pct
from skinlens.wording import Wording

PRIORITY_LEVEL = {"Urgent": 3, "High": 2, "Medium": 1, "Low": 0}
"""The plot's priority axis (``None``, cannot assess, is not plotted)."""


@dataclass(frozen=True)
class LesionRow:
    """One lesion as the list shows it (its status comes from ``history.lesion_status``)."""

    lesion: dict[str, Any]
    checks: int
    priority: str
    changed: bool


def date_text(iso: str, w: Wording) -> str:
    """A check's date as the day it was taken (``YYYY-MM-DD``, the same in every language)."""
    return iso[:10] if iso else "–"


def lesions_html(rows: Sequence[LesionRow], w: Wording) -> str:
    out = []
    for r in rows:
        les = r.lesion
        attrs = {
            "data-lesion": les["id"],
            "data-name": les.get("name", ""),
            "data-region": les.get("region", ""),
            "data-checks": str(r.checks),
            "data-priority": r.priority,
            "data-changed": "true" if r.changed else "false",
        }
        attr_text = " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items())
        changed = (
            f'<span class="changed">{esc(w.text("lesions.changed"))}</span>' if r.changed else ""
        )
        out.append(
            f'<li {attr_text} tabindex="0" role="button">'
            f'<input class="print-pick" type="checkbox" value="{esc(les["id"])}" '
            f'aria-label="{esc(w.text("lesions.print-pick"))}">'
            f'<span class="name">{esc(les.get("name", ""))}</span>'
            f'<span class="small muted">{esc(bodymap.region_text(les.get("region", ""), w))}'
            f" · {esc(w.text('lesions.checks', n=r.checks))}</span>{changed}"
            f'<span class="badge badge-{esc(r.priority)}">{esc(w.priority(r.priority))}</span>'
            "</li>"
        )
    if not out:
        return f'<li class="muted empty">{esc(w.text("lesions.none"))}</li>'
    return "".join(out)


def result_of(check: dict[str, Any]) -> dict[str, Any]:
    return check.get("result") or {}


def check_attrs(check: dict[str, Any]) -> dict[str, str]:
    """``li[data-check]``'s contract attributes."""
    res = result_of(check)
    probs = res.get("probs")
    return {
        "data-check": check["id"],
        "data-date": check.get("date", ""),
        "data-priority": res.get("priority") or "None",
        "data-label": res.get("label") or "",
        "data-probs": "" if probs is None else json.dumps([round(float(p), 5) for p in probs]),
        "data-model": res.get("model") or "",
    }


def summary_text(res: dict[str, Any], w: Wording) -> str:
    """ "Melanocytic nevi, 82%" or the reason it could not be assessed."""
    label = res.get("label")
    if not label:
        return w.text("lesions.not-assessed")
    probs = res.get("probs") or []
    return w.text(
        "lesions.summary",
        name=w.class_name(label),
        p=fmt_pct(max(probs) if probs else None, w),
    )


def timeline_html(
    checks: Sequence[dict[str, Any]], thumbs: dict[str, str], w: Wording, current_model: str
) -> str:
    """Newest first; ``thumbs``: check id -> ``data:`` URL of its crop."""
    out = []
    for c in reversed(checks):
        res = result_of(c)
        attr_text = " ".join(f'{k}="{esc(v)}"' for k, v in check_attrs(c).items())
        src = thumbs.get(c["id"])
        img = f'<img src="{esc(src)}" alt="" width="64" height="64">' if src else "<span></span>"
        model = res.get("model") or ""
        older = [r.get("model", "") for r in c.get("history", [])]
        model_text = w.text("lesions.model", model=model)
        if older:
            model_text += " " + w.text("lesions.rescored", models=", ".join(older))
        elif model and model != current_model:
            model_text += " " + w.text("lesions.older-model")
        priority = res.get("priority") or "None"
        out.append(
            f"<li {attr_text}>"
            f'<input class="compare-pick" type="checkbox" value="{esc(c["id"])}" '
            f'aria-label="{esc(w.text("lesions.compare-pick"))}">{img}'
            f"<span><strong>{esc(date_text(c.get('date', ''), w))}</strong> "
            f'<span class="badge badge-{esc(priority)}">{esc(w.priority(priority))}</span><br>'
            f"{esc(summary_text(res, w))}<br>"
            f'<span class="model">{esc(model_text)}</span></span>'
            f'<button class="button delete-check" type="button" value="{esc(c["id"])}">'
            f"{esc(w.text('lesions.delete-check'))}</button></li>"
        )
    return "".join(out)


def _days(iso: str) -> float:
    try:
        t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    return t.timestamp() / 86400.0


def plot_svg(checks: Sequence[dict[str, Any]], mel_index: int, w: Wording) -> str:
    """p(melanoma) (line, left axis 0-100%) and the priority (dots, right axis) by date."""
    width, height, left, right, top, bottom = 600, 180, 46, 130, 16, 30
    pts = [
        (_days(c.get("date", "")), result_of(c))
        for c in checks
        if result_of(c).get("probs") is not None
    ]
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(w.text("lesions.plot-label"))}">'
    ]
    plot_w, plot_h = width - left - right, height - top - bottom
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(w.number(frac, 0, True))}</text>"
        )
    for level, n in PRIORITY_LEVEL.items():
        y = top + plot_h * (1 - n / 3)
        parts.append(
            f'<text x="{width - right + 14}" y="{y + 4:.1f}">{esc(w.priority(level))}</text>'
        )
    parts.append(f'<text x="{left}" y="{top - 3}">{esc(w.text("lesions.plot-mel"))}</text>')
    if pts:
        t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
        span = (t1 - t0) or 1.0

        def x_of(t: float) -> float:
            return left + (plot_w * (t - t0) / span if t1 > t0 else plot_w / 2)

        line = []
        for t, res in pts:
            p = float(res["probs"][mel_index])
            line.append(f"{x_of(t):.1f},{top + plot_h * (1 - p):.1f}")
        parts.append(f'<polyline class="line" points="{" ".join(line)}"/>')
        for t, res in pts:
            prio = res.get("priority") or "None"
            if prio in PRIORITY_LEVEL:
                y = top + plot_h * (1 - PRIORITY_LEVEL[prio] / 3)
                parts.append(
                    f'<circle class="prio-{esc(prio)}" cx="{x_of(t):.1f}" cy="{y:.1f}" r="4">'
                    f"<title>{esc(w.priority(prio))}</title></circle>"
                )
        first = datetime.datetime.fromtimestamp(t0 * 86400, datetime.UTC).date().isoformat()
        last = datetime.datetime.fromtimestamp(t1 * 86400, datetime.UTC).date().isoformat()
        parts.append(f'<text x="{left}" y="{height - 8}">{esc(first)}</text>')
        if t1 > t0:
            parts.append(
                f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{esc(last)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def compare_html(
    a: dict[str, Any],
    b: dict[str, Any],
    urls: tuple[str, str],
    measures_html: str,
    probs: dict[str, dict[str, float | None]],
    codes: Sequence[str],
    w: Wording,
) -> str:
    """Two checks (``a`` earlier) side by side and as an overlay with an opacity slider
    (``#compare-opacity``), then ``measures_html`` (the measures in words:
    :func:`skinlens.report.changes_html`, as on paper) and every class probability before
    and after (``probs``: ``Changes.to_json()["probs"]``)."""
    figs = []
    for c, url in zip((a, b), urls, strict=True):
        res = result_of(c)
        figs.append(
            f'<figure><img src="{esc(url)}" alt="" width="224" height="224">'
            f"<figcaption><strong>{esc(date_text(c.get('date', ''), w))}</strong> "
            f"{esc(summary_text(res, w))}<br>"
            f'<span class="model">{esc(w.text("lesions.model", model=res.get("model", "")))}'
            "</span></figcaption></figure>"
        )
    rows = "".join(
        f'<tr><th scope="row">{esc(w.class_name(code))}</th>'
        f"<td>{esc(fmt_pct(probs[code]['before'], w))}</td>"
        f"<td>{esc(fmt_pct(probs[code]['after'], w))}</td></tr>"
        for code in codes
        if code in probs
    )
    return (
        f'<div class="compare-pair">{"".join(figs)}'
        f'<figure><div class="compare-overlay"><img src="{esc(urls[0])}" alt="" width="224" '
        f'height="224"><img class="top" src="{esc(urls[1])}" alt="" width="224" height="224">'
        f"</div><figcaption><label>{esc(w.text('lesions.overlay-opacity'))} "
        '<input id="compare-opacity" type="range" min="0" max="100" value="50"></label>'
        f"</figcaption></figure></div>{measures_html}"
        f'<table class="compare-probs"><thead><tr><th scope="col">'
        f"{esc(w.text('change.probability'))}</th>"
        f'<th scope="col">{esc(date_text(a.get("date", ""), w))}</th>'
        f'<th scope="col">{esc(date_text(b.get("date", ""), w))}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
