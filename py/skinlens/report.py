"""The printable summary for a doctor: chosen lesions, where they are, their photos by date,
the results, what changed, and the disclaimer. Pure markup (CPython-testable); the page puts
it into its print view and the browser's "Print" / "Save as PDF" does the rest.

Like :mod:`skinlens.view`: every text from the wording catalogue, escaped with
:func:`skinlens.view.esc`; no ``style=`` (the security policy refuses inline styles), only
classes that the print stylesheet styles; photos as ``data:`` URLs of the stored JPEG or, when
no photo was kept, of the model's crop (PNG), so the page needs no object URLs to print.
The body map is the page's own SVG markup (``map_svg``), passed in, so this module does
not draw a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from skinlens import change
from skinlens.change import Changes
from skinlens.history import Check, Lesion, LesionStatus, timeline
from skinlens.triage import NONE_PRIORITY
from skinlens.view import esc, fmt_pct
from skinlens.wording import Wording


def photo_url(check: Check) -> str:
    """The check's photo (JPEG) as a ``data:`` URL, else its crop (PNG)."""
    if check.get("photo"):
        return f"data:image/jpeg;base64,{check['photo']}"
    return f"data:image/png;base64,{check['crop']}"


def _with_markup(w: Wording, key: str, name: str, markup: str, **values: object) -> str:
    """Entry ``key`` escaped, with ``markup`` (already HTML) where its ``{name}`` is."""
    marker = "\x00"
    parts = w.text(key, **{name: marker}, **values).split(marker)
    return markup.join(esc(p) for p in parts)


def _badge(priority: str, w: Wording) -> str:
    return (
        f'<span class="badge badge-{esc(priority)}" data-priority="{esc(priority)}">'
        f"{esc(w.priority(priority))}</span>"
    )


def _result(check: Check, w: Wording) -> str:
    r = check["result"]
    if r["priority"] == NONE_PRIORITY or r["label"] is None:
        return esc(w.text("lesions.not-assessed"))
    codes_prob = max(r["probs"]) if r["probs"] else None
    return f"{esc(w.class_name(r['label']))} · {esc(fmt_pct(codes_prob, w))}"


def _checks_table(lesion: Lesion, checks: Sequence[Check], w: Wording) -> str:
    head = "".join(
        f"<th>{esc(w.text(k))}</th>"
        for k in ("report.col-date", "report.col-photo", "report.col-result")
    )
    head += f"<th>{esc(w.text('report.col-priority'))}</th>"
    head += f"<th>{esc(w.text('report.col-model'))}</th>"
    rows = []
    for c in checks:
        date = c["date"][:10]
        alt = w.text("report.photo-alt", name=lesion["name"], date=date)
        rows.append(
            f'<tr data-check="{esc(c["id"])}"><td class="report-date">{esc(date)}</td>'
            f'<td><img class="report-photo" src="{esc(photo_url(c))}" alt="{esc(alt)}"></td>'
            f"<td>{_result(c, w)}</td><td>{_badge(c['result']['priority'], w)}</td>"
            f'<td class="report-model">{esc(c["result"]["model"])}</td></tr>'
        )
    return (
        f'<table class="report-checks"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _value(name: str, value: float | None, w: Wording) -> str:
    if value is None:
        return "–"
    if name == "area_share":
        return w.number(value, 1, True)
    if name == "colours":
        return w.number(value, 0, False)
    return w.number(value, 2, False)


def _delta(name: str, d: change.Delta, w: Wording) -> str:
    if name in ("area_share", "border_irregularity"):
        rel = d.relative
        return "–" if rel is None else ("+" if rel > 0 else "") + w.number(rel, 0, True)
    delta = d.delta
    if delta is None:
        return "–"
    digits = 0 if name == "colours" else 2
    return ("+" if delta > 0 else "") + w.number(delta, digits, False)


def _reasons(reasons: Sequence[str], w: Wording) -> str:
    """Why the priority was raised, one item per reason code (empty without reasons)."""
    items = "".join(f"<li>{esc(w.text(f'change.reason.{r}'))}</li>" for r in reasons)
    return f'<ul class="report-reasons">{items}</ul>' if items else ""


def changes_html(c: Changes, w: Wording) -> str:
    """What changed between two checks: each measure before/after/change with whether it
    depends on framing, the melanoma probability, and the verdict with its reasons."""
    head = "".join(
        f"<th>{esc(w.text(k))}</th>"
        for k in (
            "change.col-measure",
            "report.col-before",
            "report.col-after",
            "report.col-change",
            "change.col-note",
        )
    )
    rows = []
    for name, d in c.measures.items():
        note = "change.framing-dependent" if c.framing_dependent[name] else "change.framing-free"
        rows.append(
            f'<tr data-measure="{esc(name)}"><th>{esc(w.text(f"change.measure.{name}"))}</th>'
            f"<td>{esc(_value(name, d.before, w))}</td><td>{esc(_value(name, d.after, w))}</td>"
            f"<td>{esc(_delta(name, d, w))}</td><td>{esc(w.text(note))}</td></tr>"
        )
    mel = c.probs["mel"]
    rows.append(
        f'<tr data-measure="mel"><th>{esc(w.text("lesions.plot-mel"))}</th>'
        f"<td>{esc(fmt_pct(mel.before, w))}</td><td>{esc(fmt_pct(mel.after, w))}</td>"
        f"<td>{esc(_delta('mel', mel, w))}</td><td>{esc(w.text('change.probability'))}</td></tr>"
    )
    notes = []
    if not all(c.found):
        notes.append(w.text("report.no-outline"))
    elif not c.framing_comparable:
        notes.append(w.text("change.framing-not-comparable"))
    if c.new_colours:
        names = w.text("list.separator").join(w.text(f"change.colour.{x}") for x in c.new_colours)
        notes.append(w.text("change.new-colours", colours=names))
    verdict = w.text("change.escalated" if c.escalate else "change.not-escalated")
    return (
        f'<table class="report-measures"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        + "".join(f'<p class="report-note">{esc(n)}</p>' for n in notes)
        + f'<p class="report-verdict{" is-escalated" if c.escalate else ""}">{esc(verdict)}</p>'
        + _reasons(c.reasons, w)
    )


def disclaimer_html(w: Wording) -> str:
    """The app's disclaimer, its "see a doctor" part in bold."""
    strong = f"<strong>{esc(w.text('disclaimer.see-doctor'))}</strong>"
    text = _with_markup(w, "disclaimer.text", "strong", strong)
    return (
        f'<footer class="report-disclaimer"><h2>{esc(w.text("disclaimer.title"))}</h2>'
        f"<p>{text}</p></footer>"
    )


def summary_html(
    lesions: Sequence[Lesion],
    checks_by_lesion: Mapping[str, Sequence[Check]],
    changes: Mapping[str, Changes | None],
    words: Wording,
    *,
    statuses: Mapping[str, LesionStatus] | None = None,
    map_svg: str = "",
    region_text: Callable[[str], str] | None = None,
    made: str = "",
) -> str:
    """The summary's body for the chosen ``lesions``.

    ``checks_by_lesion``: each lesion's checks (any order; shown oldest first);
    ``changes``: each lesion's :class:`skinlens.change.Changes` from its previous to its last
    check (``None`` or absent: fewer than two); ``statuses``: each lesion's current priority
    (:func:`skinlens.history.lesion_status`), else its last check's; ``map_svg``: the body
    map markup; ``region_text``: a region code as words (else the code); ``made``: the date
    printed in the heading.
    """
    w = words
    out = [
        '<article class="report">',
        f'<header class="report-head"><h1>{esc(w.text("report.title"))}</h1>',
        f'<p class="report-made">{esc(w.text("report.made", date=made))}</p></header>',
    ]
    if map_svg:
        out.append(
            f'<section class="report-map"><h2>{esc(w.text("report.body-map"))}</h2>'
            f"{map_svg}</section>"
        )
    for lesion in lesions:
        checks = timeline(checks_by_lesion.get(lesion["id"], ()))
        status = (statuses or {}).get(lesion["id"])
        if status is not None:
            priority = status.priority
        elif checks:
            priority = checks[-1]["result"]["priority"]
        else:
            priority = NONE_PRIORITY
        where = region_text(lesion["region"]) if region_text else lesion["region"]
        out.append(
            f'<section class="report-lesion" data-lesion="{esc(lesion["id"])}">'
            f"<h2>{esc(lesion['name'])}</h2>"
            f'<p class="report-where">{esc(w.text("report.where", region=where))}</p>'
            f'<p class="report-priority">'
            f"{_with_markup(w, 'lesions.priority-now', 'priority', _badge(priority, w))}</p>"
        )
        if status is not None and status.changed:
            out.append(
                f'<p class="report-verdict is-escalated">{esc(w.text("change.escalated"))}</p>'
                + _reasons(status.reasons, w)
            )
        out.append(f"<h3>{esc(w.text('report.checks', n=len(checks)))}</h3>")
        out.append(_checks_table(lesion, checks, w))
        c = changes.get(lesion["id"])
        out.append(f'<section class="report-changes"><h3>{esc(w.text("report.changes"))}</h3>')
        single = f"<p>{esc(w.text('report.single'))}</p>"
        out.append(changes_html(c, w) if c is not None else single)
        out.append("</section></section>")
    out.append(disclaimer_html(w))
    out.append("</article>")
    return "".join(out)
