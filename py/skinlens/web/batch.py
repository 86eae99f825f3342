"""The batch side of the page: several files, a folder or a drop -> ``#batch``.

Drives :class:`skinlens.batch.BatchRun` and renders its rows into ``#batch-results``, sorted
Urgent first as they arrive, with a progress bar, the rate and the time left, Cancel, a
priority filter (CSS, on ``data-filter``), a detail view for a clicked row and the CSV/JSON
downloads (:mod:`skinlens.export`, as ``blob:`` URLs: generated here, nothing uploaded).

File names are data from outside: they reach the page only as ``textContent`` and attribute
values, never as HTML.

Automation contract: ``#batch[data-state=running|done|cancelled][data-count][data-done]
[data-ms]``; one ``#batch-results [data-file]`` row per file with ``data-state``,
``data-label``, ``data-priority``, ``data-probs``; ``a#batch-csv``, ``a#batch-json``.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime
import json
from typing import Any

import numpy as np

from skinlens import export, view
from skinlens.batch import BatchRow, BatchRun, Progress, Source, choose_batch_size
from skinlens.metadata import ModelInfo
from skinlens.photo import Photo
from skinlens.web import browser
from skinlens.web.keep import Offer, Pending, photo_pending
from skinlens.web.photo import thumbnail_url
from skinlens.wording import Wording

BEST_BATCH_KEY = "skinlens.speed.best"
"""localStorage: ``{backend: {batch: ms_per_image}}`` written by the speed test."""


def _source(file: Any) -> Source:
    return Source(str(file.name or "image"), lambda: browser.read_file(file))


class BatchPage:
    """One batch at a time; a new one cancels the one running."""

    def __init__(self, info: ModelInfo, photo: Photo, wording: Wording) -> None:
        self.info = info
        self.photo = photo
        self.wording = wording
        self.backend = ""
        self.backend_name = ""
        self.run: BatchRun | None = None
        self.rows: list[BatchRow] = []
        self.keys: list[tuple[int, float, int]] = []
        self.started = 0.0
        self.count = 0
        self.urls: dict[str, str | None] = {"csv": None, "json": None}
        self.tasks: set[asyncio.Task] = set()
        self.sources: list[Source] = []
        """The batch's files (a row saved to the history reads its file again for the crop)."""
        self.offer: Offer | None = None
        """Where a row's result is offered for saving to the history (``SaveOffer.offer``)."""

    def bind(self) -> None:
        """The table's controls (the folder input is the photo side's: it exists before
        this module is loaded, see :mod:`skinlens.lazy`)."""
        browser.on(browser.el("batch-cancel"), "click", lambda ev: self.cancel())
        browser.on(browser.el("batch-filter"), "change", self.on_filter)
        body = browser.el("batch-rows")
        browser.on(body, "click", self.on_pick)
        browser.on(body, "keydown", self.on_key)

    def start(self, files: list[Any], chosen_ms: float) -> None:
        """Screen ``files`` (the moment they were chosen: ``chosen_ms``, for ``data-ms``)."""
        if self.run is not None:
            self.run.cancel()
        browser.spawn(self.screen([_source(f) for f in files], chosen_ms), self.tasks)

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    async def screen(self, sources: list[Source], chosen_ms: float) -> None:
        while self.run is not None:  # the previous batch (just cancelled) ends first
            await browser.next_paint()
        bridge = await browser.model_ready()  # files are accepted before the model is up
        self.backend, self.backend_name = str(bridge.backendLabel), str(bridge.backend)
        size = choose_batch_size(browser.stored_json(BEST_BATCH_KEY).get(self.backend_name))
        run = BatchRun(self.photo, thumbnail_url, self.add_row, size)
        self.reset(len(sources), chosen_ms, size)
        self.sources = sources
        self.run = run
        try:
            await run.run(sources)
        finally:
            self.run = None
            self.finish("cancelled" if run.cancelled else "done")

    def reset(self, count: int, chosen_ms: float, size: int) -> None:
        self.rows, self.keys, self.count, self.started = [], [], count, chosen_ms
        browser.el("batch-rows").replaceChildren()
        browser.el("batch-detail").hidden = True
        for kind in self.urls:
            browser.el(f"batch-{kind}").hidden = True
        browser.el("batch-cancel").disabled = False
        browser.el("batch-section").hidden = False
        browser.el("batch-size").textContent = self.wording.text("batch.batch-size", n=size)
        self.show_progress("running")

    def progress(self) -> Progress:
        return Progress(len(self.rows), self.count, browser.now() - self.started)

    def show_progress(self, state: str) -> None:
        p = self.progress()
        bar = browser.el("batch-progress")
        bar.value = p.fraction
        browser.el("batch-status").textContent = view.batch_status(p, state, self.wording)
        browser.set_attrs(
            browser.el("batch"),
            {
                "data-state": state,
                "data-count": str(p.count),
                "data-done": str(p.done),
                "data-ms": f"{p.elapsed_ms:.0f}",
            },
        )

    def add_row(self, row: BatchRow) -> None:
        """Insert the row at its sorted place (Urgent first)."""
        at = bisect.bisect(self.keys, row.sort_key)
        self.keys.insert(at, row.sort_key)
        self.rows.insert(at, row)
        body = browser.el("batch-rows")
        body.insertBefore(self.row_element(row), body.children.item(at))
        self.show_progress("running")

    def row_element(self, row: BatchRow) -> Any:
        a = row.result.assessment
        assert a is not None
        tr = browser.create("tr")
        tr.tabIndex = 0
        browser.set_attrs(
            tr,
            {
                "data-file": row.name,
                "data-index": str(row.index),
                "data-state": a.state,
                "data-label": a.label or "",
                "data-priority": a.priority,
                "data-probs": "" if a.probs is None else json.dumps(list(a.probs)),
                "data-reason": a.reason if a.rejected else None,
            },
        )
        thumb = browser.create("td")
        if row.thumb is not None:
            img = browser.create("img")
            img.src, img.alt, img.width, img.height = row.thumb, "", 48, 48
            thumb.append(img)
        badge = browser.create("span")
        badge.className = f"badge badge-{a.priority}"
        badge.textContent = self.wording.priority(a.priority)
        cells = [browser.create("td") for _ in range(3)]
        cells[0].textContent = row.name
        cells[1].append(badge)
        cells[2].textContent = view.summary_text(a, self.info, self.wording)
        tr.append(thumb, *cells)
        return tr

    def finish(self, state: str) -> None:
        browser.el("batch-cancel").disabled = True
        recs = export.records(self.rows, self.info, datetime.datetime.now(datetime.UTC).isoformat())
        texts = {
            "csv": (export.to_csv(recs, self.info.codes), "text/csv"),
            "json": (export.to_json(recs), "application/json"),
        }
        for kind, (text, mime) in texts.items():
            self.urls[kind] = browser.text_url(text, mime, self.urls[kind])
            link = browser.el(f"batch-{kind}")
            link.href = self.urls[kind]
            link.hidden = False
        self.show_progress(state)

    def on_filter(self, ev: Any) -> None:
        browser.el("batch-rows").dataset.filter = str(ev.target.value)

    def on_key(self, ev: Any) -> None:
        if ev.key in ("Enter", " "):
            ev.preventDefault()
            self.on_pick(ev)

    def on_pick(self, ev: Any) -> None:
        """A row clicked: its full result (probabilities, explanation) under the table."""
        tr = ev.target.closest("tr")
        if tr is None:
            return
        index = int(tr.dataset.index)
        row = next(r for r in self.rows if r.index == index)
        box = browser.el("batch-detail")
        browser.el("batch-detail-name").textContent = row.name
        body = browser.el("batch-detail-body")
        body.innerHTML = view.result_html(row.result, None, self.info, self.backend, self.wording)
        browser.apply_widths(body)
        box.hidden = False
        box.scrollIntoView()
        if self.offer is not None:
            self.offer(body, self.pending(row))

    def pending(self, row: BatchRow) -> Pending | None:
        """The row as a check to save: the table keeps only a thumbnail, so the crop comes
        from reading and preparing its file again (the same steps give the same crop)."""
        src = self.sources[row.index]

        async def crop() -> np.ndarray | None:
            result, _ = await self.photo.load(src.read(), src.name)
            return result.crop

        return photo_pending("batch", row.result, crop, src.read)
