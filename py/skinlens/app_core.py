"""The page's result view, as pure functions (CPython-testable, no ``js`` import).

``web_app`` (the browser glue) collects what happened to one file - decode
facts, quality verdicts, the triage result, timings - into a plain dict, and
this module turns it into

* the ``#result`` element's ``data-*`` attributes (the automation contract),
* the result card's HTML and the compact history-list item's HTML.

All text is escaped here; the glue only assigns ``innerHTML``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skinlens.metadata import PRIORITY_ORDER, ModelInfo

PRIORITIES: tuple[str, ...] = (*PRIORITY_ORDER, "None")

PRIORITY_TEXT = {
    "Urgent": "Urgent",
    "High": "High priority",
    "Medium": "Medium priority",
    "Low": "Low priority",
    "None": "Cannot assess",
}

# Friendly titles for the machine reason codes that can reach the page.
REASON_TITLE = {
    "empty-file": "Empty file",
    "not-an-image": "Not an image",
    "unsupported-format": "Unsupported image format",
    "corrupt-image": "Damaged image",
    "image-too-large": "Image too large",
    "image-too-small": "Image too small",
    "blurry": "Too blurry",
    "blur": "Too blurry",
    "dark": "Too dark",
    "bright": "Too bright",
    "glare": "Too much glare",
    "not-lesion": "No skin lesion recognised",
    "not-skin": "No skin recognised",
    "ood": "Unlike the images the model knows",
    "low-confidence": "The model is not confident",
    "model-error": "Analysis failed",
    "read-error": "File could not be read",
    "internal-error": "Unexpected error",
}


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def esc(x: Any) -> str:
    """HTML-escape text and attribute values (like ``html.escape``; that module's import
    pulls in the entity tables, which costs start-up time in Pyodide)."""
    return ("" if x is None else str(x)).translate(_ESCAPES)


def fmt_pct(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    pct = 100.0 * p
    if pct >= 99.95:
        return "100%"
    if pct < 0.1:
        return "<0.1%" if pct > 0 else "0%"
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{int(n)} B"


def fmt_ms(ms: float | None) -> str:
    if ms is None or not math.isfinite(ms):
        return "–"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present field of a dict or an object (triage results are either)."""
    for n in names:
        if isinstance(obj, Mapping):
            if n in obj and obj[n] is not None:
                return obj[n]
        elif getattr(obj, n, None) is not None:
            return getattr(obj, n)
    return default


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass
class ResultView:
    """Everything the page shows about one file."""

    seq: int
    file_name: str
    state: str  # "done" | "rejected"
    priority: str  # Urgent|High|Medium|Low|None
    label: str = ""  # top class code ("" when not classified)
    label_name: str = ""
    top_prob: float | None = None
    probs: list[float] | None = None  # calibrated, class-index order
    reason: str = ""  # machine code when rejected
    reason_title: str = ""
    message: str = ""  # human sentence when rejected (or a caution when done)
    recommendation: str = ""
    explanation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts about the input (downscaled, ...)
    ood: float | None = None
    infer_ms: float | None = None
    prep_ms: float | None = None
    read_ms: float | None = None  # File.arrayBuffer -> Python bytes
    total_ms: float | None = None  # file picked -> result shown
    backend: str = ""

    def attrs(self) -> dict[str, str | None]:
        """``#result`` data attributes; ``None`` means "remove the attribute"."""
        return {
            "data-state": self.state,
            "data-label": self.label,
            "data-priority": self.priority,
            "data-probs": json.dumps([float(p) for p in self.probs])
            if self.probs is not None
            else None,
            "data-reason": self.reason if self.state == "rejected" else None,
            "data-ms": f"{self.infer_ms:.1f}" if self.infer_ms is not None else None,
            "data-prep-ms": f"{self.prep_ms:.1f}" if self.prep_ms is not None else None,
            "data-read-ms": f"{self.read_ms:.1f}" if self.read_ms is not None else None,
            "data-total-ms": f"{self.total_ms:.1f}" if self.total_ms is not None else None,
            "data-ood": f"{self.ood:.4g}" if self.ood is not None else None,
            "data-file": self.file_name,
            "data-seq": str(self.seq),
        }


def rejected_view(
    seq: int,
    file_name: str,
    code: str,
    message: str,
    info: ModelInfo | None,
    *,
    notes: Sequence[str] = (),
    prep_ms: float | None = None,
) -> ResultView:
    """A file that could not be assessed (decode error, quality gate, failure)."""
    rec = info.recommendations.get("None", "") if info is not None else ""
    return ResultView(
        seq=seq,
        file_name=file_name,
        state="rejected",
        priority="None",
        reason=code,
        reason_title=REASON_TITLE.get(code, code.replace("-", " ").capitalize()),
        message=message,
        recommendation=rec,
        notes=list(notes),
        prep_ms=prep_ms,
    )


def result_view(
    seq: int,
    file_name: str,
    result: Any,
    info: ModelInfo,
    *,
    notes: Sequence[str] = (),
    infer_ms: float | None = None,
    prep_ms: float | None = None,
    backend: str = "",
) -> ResultView:
    """View of a triage result (``Assessment.to_result_dict()`` or the object itself)."""
    probs_raw = _get(result, "probs", "probabilities", default=None)
    # an empty list means "no verdict" (rejected before or after inference)
    probs = [float(p) for p in probs_raw] if probs_raw else None
    state = str(_get(result, "state", default="done"))
    if state not in ("done", "rejected"):
        state = "rejected" if state in ("ood", "error") else "done"
    priority = str(_get(result, "priority", default="None"))
    if priority not in PRIORITIES:
        priority = "None"
    codes = info.codes
    names = {c.code: c.name for c in info.classes}
    label = str(_get(result, "label", "top_label", "code", default="") or "")
    if not label and probs:
        label = codes[max(range(len(probs)), key=probs.__getitem__)]
    top_prob = probs[codes.index(label)] if probs and label in codes else None
    ood = _finite(_get(result, "ood_score", "ood", default=None))
    rec = str(_get(result, "recommendation", default="") or info.recommendations.get(priority, ""))
    view = ResultView(
        seq=seq,
        file_name=file_name,
        state=state,
        priority=priority if state == "done" else "None",
        label=label if state == "done" else "",
        label_name=names.get(label, label),
        top_prob=top_prob,
        probs=probs,
        recommendation=rec,
        notes=list(notes),
        ood=ood,
        infer_ms=infer_ms,
        prep_ms=prep_ms,
        backend=backend,
    )
    if state == "rejected":
        code = str(_get(result, "reason", "reason_code", default="ood") or "ood")
        view.reason = code
        view.reason_title = REASON_TITLE.get(code, code.replace("-", " ").capitalize())
        view.message = str(
            _get(result, "message", default="")
            or "This picture does not look like the close-up skin-lesion images the model "
            "was trained on, so it is not assessed."
        )
        view.recommendation = str(
            _get(result, "recommendation", default="") or info.recommendations.get("None", "")
        )
    else:
        view.message = str(_get(result, "message", "caution", default="") or "")
    view.explanation = explain(view, result, info)
    return view


def explain(view: ResultView, result: Any, info: ModelInfo) -> list[str]:
    """Plain-language reasons for the verdict (shown under "Why this result?")."""
    lines: list[str] = []
    names = {c.code: c.name for c in info.classes}
    codes = info.codes
    given = _get(result, "explanation", "why", "reasons", default=None)
    if isinstance(given, str) and given:
        lines.append(given)
    elif isinstance(given, Sequence) and not isinstance(given, str):
        lines.extend(str(g) for g in given if g)
    if view.state == "done" and view.probs is not None and not lines:
        top_code = view.label
        top_priority = next((c.priority for c in info.classes if c.code == top_code), None)
        if top_priority and top_priority != view.priority:
            esc_rules = info.thresholds.get("escalation", {}) or {}
            hits = [
                (code, view.probs[codes.index(code)], float(t))
                for code, t in esc_rules.items()
                if code in codes and view.probs[codes.index(code)] >= float(t)
            ]
            targets = info.raw.get("escalation", {}) or {}
            matching = [h for h in hits if targets.get(h[0]) == view.priority] or hits
            if matching:
                code, p, t = max(matching, key=lambda h: h[1])
                lines.append(
                    f"Raised to {view.priority}: the probability of {names.get(code, code)} "
                    f"is {fmt_pct(p)}, at or above the {fmt_pct(t)} safety threshold, even "
                    f"though {names.get(top_code, top_code)} is the most likely class."
                )
        if not lines:
            lines.append(
                f"Priority follows the most likely class, {names.get(top_code, top_code)} "
                f"({fmt_pct(view.top_prob)})."
            )
    if view.probs is not None:
        t = info.temperature
        lines.append(
            "Percentages are calibrated probabilities (temperature scaling"
            + (f", T = {t:.2f}" if t != 1.0 else "")
            + "): among images given 70%, about 70% really were that class in validation."
        )
    limit = _finite(info.thresholds.get("ood_score"))
    if view.ood is not None and limit is not None and limit < 1e8:
        verdict = "unlike" if view.ood > limit else "similar to"
        lines.append(
            f"Out-of-distribution score {view.ood:.3g} (limit {limit:.3g}): the picture is "
            f"{verdict} the dermoscopy images the model was trained on."
        )
    return lines


# ----------------------------------------------------------------------------- HTML
def _badge(priority: str) -> str:
    return (
        f'<span class="badge badge-{esc(priority)}" data-priority="{esc(priority)}">'
        f"{esc(PRIORITY_TEXT.get(priority, priority))}</span>"
    )


def _bars(view: ResultView, info: ModelInfo) -> str:
    if view.probs is None:
        return ""
    rows = []
    for c in info.classes:
        p = view.probs[c.index] if c.index < len(view.probs) else 0.0
        top = c.code == view.label
        width = max(0.0, min(100.0, 100.0 * p))
        rows.append(
            f'<li class="bar-row{" is-top" if top else ""}" data-code="{esc(c.code)}">'
            f'<span class="bar-name" title="{esc(c.name)}">{esc(c.name)}'
            f'<span class="code">{esc(c.code)}</span></span>'
            '<span class="bar-track" role="presentation">'
            f'<span class="bar-fill p-{esc(c.priority)}" style="width:{width:.1f}%"></span></span>'
            f'<span class="bar-value">{esc(fmt_pct(p))}</span></li>'
        )
    label = "Probability of each class" + (
        " (computed, but not used: the image was rejected)" if view.state == "rejected" else ""
    )
    return f'<h3 class="small muted">{esc(label)}</h3><ol class="bars">{"".join(rows)}</ol>'


def _timing(view: ResultView) -> str:
    parts = []
    if view.prep_ms is not None:
        parts.append(f"Python preprocessing {fmt_ms(view.prep_ms)}")
    if view.infer_ms is not None:
        where = f" ({view.backend})" if view.backend else ""
        parts.append(f"inference {fmt_ms(view.infer_ms)}{where}")
    return f'<p class="meta-line">{esc(" · ".join(parts))}</p>' if parts else ""


def result_html(view: ResultView, info: ModelInfo | None) -> str:
    """The ``#result`` card."""
    file_line = f'<p class="small muted">{esc(view.file_name)}</p>'
    notes = "".join(f'<p class="small muted">{esc(n)}</p>' for n in view.notes)
    rec = (
        f'<div class="recommendation badge-{esc(view.priority)}"><p><strong>What to do:</strong> '
        f"{esc(view.recommendation)}</p></div>"
        if view.recommendation
        else ""
    )
    if view.state == "rejected":
        head = (
            '<div class="result-head"><div>'
            f'<p class="top-class reason">{esc(view.reason_title or "Cannot assess")}</p>'
            f"</div>{_badge('None')}</div>"
        )
        msg = f'<p class="reason-message">{esc(view.message)}</p>' if view.message else ""
        # No probability bars for a rejected image: they would read as a verdict. (When the
        # model did run, the numbers stay available in data-probs for diagnostics.)
        return f"{head}{file_line}{msg}{rec}{notes}{_timing(view)}"
    head = (
        '<div class="result-head"><div>'
        f'<p class="top-class">{esc(view.label_name)} '
        f'<span class="code">({esc(view.label)})</span></p>'
        f'<p class="top-prob">Most likely class · {esc(fmt_pct(view.top_prob))}</p>'
        f"</div>{_badge(view.priority)}</div>"
    )
    caution = f'<p class="small">{esc(view.message)}</p>' if view.message else ""
    why = ""
    if view.explanation:
        items = "".join(f"<li>{esc(x)}</li>" for x in view.explanation)
        why = (
            '<details class="explain" open><summary>Why this result?</summary>'
            f"<ul>{items}</ul></details>"
        )
    bars = _bars(view, info) if info is not None else ""
    return f"{head}{file_line}{caution}{rec}{bars}{why}{notes}{_timing(view)}"


def list_item_html(view: ResultView, thumb_url: str | None) -> str:
    """One compact line of the history list."""
    img = (
        f'<img src="{esc(thumb_url)}" alt="">'
        if thumb_url
        else '<span class="thumb-empty" aria-hidden="true">?</span>'
    )
    if view.state == "done":
        summary = f"{view.label_name} · {fmt_pct(view.top_prob)}"
    else:
        summary = view.reason_title or "Cannot assess"
    return (
        f'{img}<div><div class="name">{esc(view.file_name)}</div>'
        f'<div class="summary">{esc(summary)}</div></div>{_badge(view.priority)}'
    )


def analysing_html(file_name: str, step: str = "Analysing") -> str:
    return (
        f'<div class="analysing"><span class="spinner" aria-hidden="true"></span>'
        f'<span>{esc(step)}… <span class="muted small">{esc(file_name)}</span></span></div>'
    )


def decode_notes(decode_info: Any) -> list[str]:
    """Short facts about how the upload was read (shown under the result)."""
    if decode_info is None:
        return []
    notes = []
    fmt = _get(decode_info, "format", default="")
    orig = _get(decode_info, "original_size", default=None)
    dec = _get(decode_info, "decoded_size", default=None)
    if orig:
        w, h = int(orig[0]), int(orig[1])
        mp = w * h / 1e6
        s = f"{fmt} {w}×{h}" + (f" ({mp:.0f} MP)" if mp >= 1.5 else "")
        if _get(decode_info, "downscaled", default=False) and dec:
            s += f", reduced to {int(dec[0])}×{int(dec[1])} for analysis"
        notes.append(s + ".")
    if _get(decode_info, "orientation_applied", default=False):
        notes.append("Rotated upright using the photo's EXIF orientation.")
    if _get(decode_info, "animated", default=False):
        notes.append("Animated image: only the first frame was assessed.")
    return notes


DECODE_REASONS = frozenset(
    {
        "empty-file",
        "not-an-image",
        "unsupported-format",
        "corrupt-image",
        "image-too-large",
        "image-too-small",
        "read-error",
    }
)

# gate names as the quality module may spell them -> the page's reason code
GATE_REASON = {
    "blur": "blurry",
    "blurry": "blurry",
    "sharpness": "blurry",
    "dark": "dark",
    "too_dark": "dark",
    "too-dark": "dark",
    "underexposed": "dark",
    "bright": "bright",
    "too_bright": "bright",
    "too-bright": "bright",
    "overexposed": "bright",
    "glare": "glare",
    "specular": "glare",
    "not-lesion": "not-lesion",
    "not_lesion": "not-lesion",
    "not-skin": "not-skin",
    "not_skin": "not-skin",
}

GATE_MESSAGE = {
    "blurry": "The photo is too blurry to assess. Hold the camera steady, tap to focus on the "
    "lesion and take it again.",
    "dark": "The photo is too dark. Take it again in good daylight or with more light.",
    "bright": "The photo is overexposed. Avoid direct sunlight or flash and take it again.",
    "glare": "Reflections (glare) hide the lesion. Tilt the camera slightly or dim the light.",
    "not-lesion": "No skin lesion was recognised in the middle of the photo. Take a close-up "
    "with the lesion in the centre.",
    "not-skin": "This does not look like a photo of skin. Take a close-up of the lesion.",
}


def first_failed_gate(report: Any) -> tuple[str, str] | None:
    """``(reason code, message)`` of the first failed quality gate, or ``None``.

    Accepts the shapes a quality report may take: an object or dict with a list
    under ``gates``/``verdicts``/``checks`` (or the list itself, or a name ->
    verdict mapping); each verdict a dict or object with ``name`` and
    ``passed``/``ok`` (or ``failed``) and optionally ``message``/``instruction``.
    A report that is itself a single failure (``passed`` False) counts too.
    """
    if report is None:
        return None
    if _get(report, "passed", "ok", default=None) is True and not isinstance(report, Sequence):
        return None
    items = _get(report, "gates", "verdicts", "checks", "failures", default=None)
    if items is None:
        items = report
    if isinstance(items, Mapping) and "name" not in items:
        items = [
            {"name": k, **v} if isinstance(v, Mapping) else {"name": k, "passed": bool(v)}
            for k, v in items.items()
        ]
    if isinstance(items, Mapping) or not isinstance(items, Sequence):
        items = [items]
    for v in items:
        ok = _get(v, "passed", "ok", default=None)
        if ok is None:
            ok = not bool(_get(v, "failed", "rejected", default=False))
        if ok:
            continue
        name = str(_get(v, "code", "reason", "name", "gate", default="quality"))
        code = GATE_REASON.get(name, name)
        # photo wording first (the quality module's instructions are phrased for live video)
        message = GATE_MESSAGE.get(code) or str(
            _get(v, "message", "instruction", "advice", default="") or ""
        )
        return code, message or "The photo did not pass the quality check."
    return None
