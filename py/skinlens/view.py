"""What the page shows, as pure functions of the typed results (CPython-testable, no ``js``).

* :func:`result_attrs`: the ``#result`` element's ``data-*`` attributes (the automation
  contract) for a :class:`skinlens.photo.PhotoResult`;
* :func:`result_html` / :func:`list_item_html`: the result card and the history line;
* :func:`explain`: the one explanation of a verdict ("Why this result?");
* :func:`reason_message`: the sentence for a rejection, from the wording catalogue.

All text comes from :mod:`skinlens.wording` and is escaped here; the browser glue only
assigns ``innerHTML``. No ``style=`` attribute: the security policy refuses inline styles, so
a bar's width travels as ``data-width`` (applied by :func:`skinlens.web.browser.apply_widths`).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from skinlens import heatmap
from skinlens.decode import DecodeInfo
from skinlens.metadata import ModelInfo
from skinlens.photo import PhotoResult
from skinlens.triage import Assessment, Escalation
from skinlens.wording import Wording

if TYPE_CHECKING:  # loaded with their views (skinlens.lazy); only their types are named here
    from skinlens.batch import Progress
    from skinlens.dicom import DicomInfo

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def esc(x: object) -> str:
    """HTML-escape text and attribute values (like ``html.escape``, whose import pulls in
    the entity tables and costs start-up time in Pyodide)."""
    return ("" if x is None else str(x)).translate(_ESCAPES)


def fmt_pct(p: float | None, w: Wording) -> str:
    """A probability for people: whole percent, finer near 0, never "100%" by rounding; in
    the catalogue's language (``Intl`` in the page)."""
    if p is None or not math.isfinite(p):
        return "–"
    pct = 100.0 * p
    if pct >= 99.95:
        return w.number(1.0, 0, True)
    if pct < 0.1:
        return "<" + w.number(0.001, 1, True) if pct > 0 else w.number(0.0, 0, True)
    return w.number(p, 1 if pct < 10 else 0, True)


def fmt_ms(ms: float | None, w: Wording) -> str:
    if ms is None or not math.isfinite(ms):
        return "–"
    return w.text("unit.ms", n=w.number(ms, 0 if ms >= 10 else 1, False))


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}"


def result_attrs(
    r: PhotoResult, seq: int, file_name: str, total_ms: float
) -> dict[str, str | None]:
    """``#result`` data attributes; ``None`` removes the attribute."""
    a = r.assessment
    assert a is not None
    return {
        "data-state": a.state,
        "data-label": a.label or "",
        "data-priority": a.priority,
        "data-advice": a.advice,
        "data-probs": None if a.probs is None else json.dumps(list(a.probs)),
        "data-reason": a.reason if a.rejected else None,
        "data-ms": _num(r.infer_ms),
        "data-cam-ms": None if r.cam_ms is None else f"{r.cam_ms:.2f}",
        "data-prep-ms": _num(r.prep_ms),
        "data-read-ms": _num(r.read_ms),
        "data-total-ms": _num(total_ms),
        "data-lesion": None if a.ood is None else f"{a.ood.value:.4g}",
        "data-photo-type": a.photo_type,
        "data-cam": None if r.cam is None else json.dumps(heatmap.grid_json(r.cam)),
        "data-file": file_name,
        "data-seq": str(seq),
    }


def reason_message(a: Assessment, w: Wording) -> str:
    """The sentence for a rejected assessment (with the failure's details when there is one)."""
    if a.error is None:
        return w.get(a.reason, "message")
    details = dict(a.error.details)
    if a.error.variant == "detected":  # a known kind of file that is not an image: name it
        details["what"] = w.text(f"file-kind.{details['detected']}")
    return w.variant(a.error.code, a.error.variant, "message", **details)


def decode_notes(d: DecodeInfo | None, w: Wording) -> list[str]:
    """Short facts about how the upload was read (shown under the result)."""
    if d is None:
        return []
    (width, height), (dw, dh) = d.original_size, d.decoded_size
    mp = width * height / 1e6
    values = {"format": d.format, "width": width, "height": height, "megapixels": f"{mp:.0f}"}
    if d.downscaled:
        key = "note.reduced" if mp >= 1.5 else "note.reduced-small"
        notes = [w.text(key, dwidth=dw, dheight=dh, **values)]
    else:
        notes = [w.text("note.decoded-mp" if mp >= 1.5 else "note.decoded", **values)]
    if d.orientation_applied:
        notes.append(w.text("note.rotated"))
    if d.animated:
        notes.append(w.text("note.animated"))
    return notes


def dicom_notes(d: DicomInfo | None, w: Wording) -> list[str]:
    """What a DICOM file is (modality, photometric interpretation, size, body part, frame);
    nothing about the patient."""
    if d is None:
        return []
    width, height = d.size
    notes = [
        w.text(
            "note.dicom",
            modality=d.modality or "–",
            photometric=d.photometric,
            width=width,
            height=height,
        )
    ]
    if d.body_part:
        notes.append(w.text("note.dicom-body", part=d.body_part))
    if d.frames > 1:
        notes.append(w.text("note.dicom-frames", n=d.frame + 1, total=d.frames))
    return notes


def explain(a: Assessment, info: ModelInfo, w: Wording) -> list[str]:
    """Plain-language reasons for a verdict, from the numbers triage used."""
    names = {c.code: w.class_name(c.code) for c in info.classes}
    lines = []
    if not a.rejected and a.label is not None:
        top = names[a.label]
        decisive = (
            a.escalated_by if a.priority != info.classes[info.codes.index(a.label)].priority else ()
        )
        for e in decisive:
            lines.append(
                w.text(
                    "explain.escalated",
                    priority=w.priority(a.priority),
                    name=names[e.code],
                    prob=fmt_pct(e.prob, w),
                    threshold=fmt_pct(e.threshold, w),
                    top=top,
                )
            )
            upper = [u for u in a.escalations if u.code == e.code and u.tier == "upper"]
            if e.tier == "lower" and upper:
                lines.append(
                    w.text(
                        "explain.tier-lower",
                        prob=fmt_pct(e.prob, w),
                        urgent=fmt_pct(upper[0].threshold, w),
                    )
                )
        if not decisive:
            lines.append(w.text("explain.top-class", top=top, prob=fmt_pct(a.top_prob, w)))
        # Per class, the lowest threshold it did not reach, when it reached none of its own.
        reached = {e.code for e in a.escalations if e.reached}
        lowest: dict[str, Escalation] = {}
        for e in sorted(a.escalations, key=lambda e: -e.threshold):
            if e.code not in reached and e.code != a.label:
                lowest[e.code] = e
        below = [
            w.text(
                "explain.below-item",
                name=names[e.code],
                prob=fmt_pct(e.prob, w),
                threshold=fmt_pct(e.threshold, w),
            )
            for e in lowest.values()
        ]
        if below:
            lines.append(w.text("explain.below", items=w.text("list.separator").join(below)))
    if a.probs is not None:
        lines.append(w.text("explain.calibrated", temperature=w.number(info.temperature, 2, False)))
    if a.ood is not None:
        verdict = w.text("explain.ood-unlike" if a.ood.rejected else "explain.ood-similar")
        lines.append(
            w.text(
                "explain.ood",
                value=fmt_pct(a.ood.value, w),
                limit=fmt_pct(a.ood.limit, w),
                verdict=verdict,
            )
        )
    return lines


def photo_type_note(a: Assessment, info: ModelInfo, w: Wording) -> str:
    """What the model thinks the photo is, and how reliable it is for that kind of photo
    (measured per source; ``metadata.photo_types``)."""
    if a.photo_type is None:
        return ""
    types = info.raw["photo_types"]
    text = w.text(
        f"phototype.{a.photo_type}",
        bal=w.number(types[a.photo_type]["balanced_accuracy"], 2, False),
        bal_dermoscopic=w.number(types["dermoscopic"]["balanced_accuracy"], 2, False),
    )
    return f'<p class="photo-type photo-type-{esc(a.photo_type)}">{esc(text)}</p>'


def _badge(priority: str, w: Wording) -> str:
    return (
        f'<span class="badge badge-{esc(priority)}" data-priority="{esc(priority)}">'
        f"{esc(w.priority(priority))}</span>"
    )


def _bars(a: Assessment, info: ModelInfo, w: Wording) -> str:
    assert a.probs is not None
    rows = []
    names = {c.code: w.class_name(c.code) for c in info.classes}
    for c in info.classes:
        p = a.probs[c.index]
        rows.append(
            f'<li class="bar-row{" is-top" if c.code == a.label else ""}" '
            f'data-code="{esc(c.code)}">'
            f'<span class="bar-name" title="{esc(names[c.code])}">{esc(names[c.code])}'
            f'<span class="code">{esc(c.code)}</span></span>'
            '<span class="bar-track" role="presentation">'
            f'<span class="bar-fill p-{esc(c.priority)}" '
            f'data-width="{100 * p:.1f}%"></span></span>'
            f'<span class="bar-value">{esc(fmt_pct(p, w))}</span></li>'
        )
    title = f'<h3 class="small muted">{esc(w.text("result.bars"))}</h3>'
    return f'{title}<ol class="bars">{"".join(rows)}</ol>'


def _timing(r: PhotoResult, backend: str, w: Wording) -> str:
    parts = []
    if r.prep_ms is not None:
        parts.append(w.text("result.timing-prep", ms=fmt_ms(r.prep_ms, w)))
    if r.infer_ms is not None:
        parts.append(w.text("result.timing-infer", ms=fmt_ms(r.infer_ms, w)) + f" ({backend})")
    return f'<p class="meta-line">{esc(" · ".join(parts))}</p>' if parts else ""


def result_html(
    r: PhotoResult, file_name: str | None, info: ModelInfo, backend: str, w: Wording
) -> str:
    """The ``#result`` card (``file_name=None``: the caller shows the name as text)."""
    a = r.assessment
    assert a is not None
    file_line = "" if file_name is None else f'<p class="small muted">{esc(file_name)}</p>'
    notes = "".join(
        f'<p class="small muted">{esc(n)}</p>'
        for n in decode_notes(r.decoded, w) + dicom_notes(r.dicom, w)
    )
    rec = (
        f'<div class="recommendation badge-{esc(a.priority)}"><p><strong>'
        f"{esc(w.text('result.what-to-do'))}</strong> "
        f"{esc(w.recommendation(a.advice))}</p></div>"
    )
    if a.rejected:
        # No probability bars for a rejected image: they would read as a verdict (when the
        # model did run, the numbers stay in data-probs for diagnostics).
        head = (
            '<div class="result-head"><div>'
            f'<p class="top-class reason">{esc(w.title(a.reason))}</p>'
            f"</div>{_badge(a.priority, w)}</div>"
        )
        msg = f'<p class="reason-message">{esc(reason_message(a, w))}</p>'
        return f"{head}{file_line}{msg}{rec}{notes}{_timing(r, backend, w)}"
    name = w.class_name(a.label or "")
    head = (
        '<div class="result-head"><div>'
        f'<p class="top-class">{esc(name)} <span class="code">({esc(a.label)})</span></p>'
        f'<p class="top-prob">{esc(w.text("result.most-likely", prob=fmt_pct(a.top_prob, w)))}</p>'
        f"</div>{_badge(a.priority, w)}</div>"
    )
    items = "".join(f"<li>{esc(x)}</li>" for x in explain(a, info, w))
    summary = f"<summary>{esc(w.text('result.why'))}</summary>"
    why = f'<details class="explain" open>{summary}<ul>{items}</ul></details>'
    kind = photo_type_note(a, info, w)
    return f"{head}{file_line}{rec}{kind}{_bars(a, info, w)}{why}{notes}{_timing(r, backend, w)}"


def summary_text(a: Assessment, info: ModelInfo, w: Wording) -> str:
    """One line: the top class and its probability, or why it could not be assessed."""
    if a.rejected:
        return w.title(a.reason)
    return f"{w.class_name(a.label or '')} · {fmt_pct(a.top_prob, w)}"


def list_item_html(
    r: PhotoResult, file_name: str, thumb_url: str | None, info: ModelInfo, w: Wording
) -> str:
    """One compact line of the history list."""
    a = r.assessment
    assert a is not None
    img = (
        f'<img src="{esc(thumb_url)}" alt="">'
        if thumb_url
        else '<span class="thumb-empty" aria-hidden="true">?</span>'
    )
    summary = summary_text(a, info, w)
    return (
        f'{img}<div><div class="name">{esc(file_name)}</div>'
        f'<div class="summary">{esc(summary)}</div></div>{_badge(a.priority, w)}'
    )


def analysing_html(file_name: str, step: str) -> str:
    return (
        f'<div class="analysing"><span class="spinner" aria-hidden="true"></span>'
        f'<span>{esc(step)}… <span class="muted small">{esc(file_name)}</span></span></div>'
    )


def batch_status(p: Progress, state: str, w: Wording) -> str:
    """The line under the batch's progress bar: count, rate and time left while running,
    the total when done, how far it got when cancelled."""
    rate = f"{p.per_second:.1f}"
    if state == "done":
        return w.text("batch.done", count=p.count, seconds=f"{p.elapsed_ms / 1000:.1f}", rate=rate)
    if state == "cancelled":
        return w.text("batch.cancelled", done=p.done, count=p.count)
    line = w.text("batch.progress", done=p.done, count=p.count, rate=rate)
    left = p.seconds_left
    if left is None:
        return line
    eta = (
        w.text("batch.eta-seconds", n=max(1, round(left)))
        if left < 90
        else w.text("batch.eta-minutes", n=round(left / 60))
    )
    return f"{line} · {eta}"
