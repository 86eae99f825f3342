"""The photo side of the page: file input and drop zone -> :mod:`skinlens.photo` -> ``#result``.

One file chosen or dropped: processed here, in arrival order, so ``#result`` always shows
the latest file; every failure is a rejected result with a reason code and the page keeps
working. Several at once, or a folder: a batch (``on_many``, :mod:`skinlens.web.batch`,
loaded on first use). Files are accepted as soon as Python is up; the model worker answers
when its model is (the photo waits for it, see :class:`skinlens.web.browser.WorkerModel`).
The DICOM panel's controller (:mod:`skinlens.web.dicom`) is loaded with the first DICOM
file (:mod:`skinlens.lazy`).
``data-total-ms`` runs from the moment the file was chosen (the input's ``change`` or the
``drop``) to the result on screen.

URL switch (tests, debugging): ``?gates=off`` skips the quality gates (the parity tests feed
synthetic patterns).
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from skinlens import heatmap, view
from skinlens.errors import DECODE_CODES, INTERNAL_ERROR, SkinlensError
from skinlens.metadata import ModelInfo
from skinlens.photo import Photo, PhotoResult
from skinlens.triage import rejected
from skinlens.web import browser
from skinlens.web.keep import Offer, photo_pending
from skinlens.wording import Wording

if TYPE_CHECKING:
    from skinlens.web.dicom import DicomView


def thumbnail_url(rgb: np.ndarray, side: int = 112) -> str:
    """A small JPEG ``data:`` URL of the model's input crop (no blob lifetimes to manage)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR).save(
        buf, "JPEG", quality=82
    )
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class PhotoPage:
    """Binds ``#file-input`` and ``#drop-zone``; renders ``#result`` and the history list."""

    def __init__(
        self,
        info: ModelInfo,
        photo: Photo,
        wording: Wording,
        on_many: Callable[[list[Any], float], None],
    ) -> None:
        self.info = info
        self.on_many = on_many
        self.photo = photo
        self.wording = wording
        self.queue: asyncio.Queue[tuple[Any, float, int]] = asyncio.Queue()
        self.last_file: Any = None
        self.dicom: DicomView | None = None  # with the first DICOM file
        self.seq = 0
        self.count = 0
        self.preview_url: str | None = None
        self.tasks: set[asyncio.Task] = set()
        self.offer: Offer | None = None
        """Where a result is offered for saving to the history (``SaveOffer.offer``)."""

    def bind(self) -> None:
        inp, zone = browser.el("file-input"), browser.el("drop-zone")

        def on_change(ev: Any) -> None:
            self.enqueue(browser.files_of(ev.target.files), float(ev.timeStamp))
            ev.target.value = ""  # choosing the same file again still fires "change"

        def on_dragover(ev: Any) -> None:
            ev.preventDefault()
            zone.classList.add("dragover")

        def on_drop(ev: Any) -> None:
            ev.preventDefault()
            zone.classList.remove("dragover")
            if zone.dataset.disabled != "true" and ev.dataTransfer:
                self.enqueue(browser.files_of(ev.dataTransfer.files), float(ev.timeStamp))

        browser.on(inp, "change", on_change)
        for event in ("dragover", "dragenter"):
            browser.on(zone, event, on_dragover)
        browser.on(zone, "dragleave", lambda ev: zone.classList.remove("dragover"))
        browser.on(zone, "drop", on_drop)
        toggle, opacity = browser.el("heatmap-toggle"), browser.el("heatmap-opacity")

        def on_toggle(ev: Any) -> None:
            browser.el("heatmap").hidden = not toggle.checked

        def on_opacity(ev: Any) -> None:
            browser.set_css_number("--heatmap-opacity", int(opacity.value) / 100)

        browser.on(toggle, "change", on_toggle)
        browser.on(opacity, "input", on_opacity)

        def on_folder(ev: Any) -> None:
            # a folder holds more than photos: only images get a row (DICOM: not yet)
            files = [
                f for f in browser.files_of(ev.target.files) if str(f.type).startswith("image/")
            ]
            ev.target.value = ""
            if files:
                self.on_many(files, float(ev.timeStamp))

        browser.on(browser.el("folder-input"), "change", on_folder)
        browser.spawn(self.work(), self.tasks)

    def accept(self) -> None:
        """Python is up: accept files and folders (the model may still be loading)."""
        for node in ("file-input", "folder-input"):
            browser.el(node).disabled = False
        browser.el("drop-zone").dataset.disabled = "false"

    def enqueue(self, files: list[Any], chosen_ms: float) -> None:
        """One file: its result in ``#result``; several: a batch (``on_many``)."""
        if len(files) > 1:
            self.on_many(files, chosen_ms)
            return
        for f in files:
            self.queue.put_nowait((f, chosen_ms, 0))

    def pick_frame(self, frame: int) -> None:
        """Another frame of the last (multi-frame DICOM) file, assessed like a new file."""
        self.queue.put_nowait((self.last_file, browser.now(), frame))

    async def work(self) -> None:
        while True:
            file, chosen_ms, frame = await self.queue.get()
            await self.process(file, chosen_ms, frame)

    async def process(self, file: Any, chosen_ms: float, frame: int) -> None:
        self.seq += 1
        self.last_file = file
        name = str(file.name or "image")
        self.show_analysing(name)
        self.show_preview(file, name)
        if self.offer is not None:
            self.offer(browser.el("result"), None)
        try:
            result = await self.photo.assess(browser.read_file(file), name, frame)
        except Exception as e:  # a bug, not a bad photo: say so and keep the page working
            err = SkinlensError(INTERNAL_ERROR, cause=type(e).__name__)
            result = PhotoResult(rejected(INTERNAL_ERROR, error=err))
            browser.warn(f"skinlens: {e!r}")
        self.show(result, name, browser.now() - chosen_ms)
        if self.offer is not None:
            crop = result.crop

            async def get_crop() -> np.ndarray | None:
                return crop

            pending = photo_pending("photo", result, get_crop, lambda: browser.read_file(file))
            self.offer(browser.el("result"), pending)

    def show_heatmap(self, r: PhotoResult) -> None:
        """The map of the class shown over the model's crop (``#heatmap``), or nothing; its
        drawing is added to ``r.cam_ms`` (the heatmap's whole cost in the page)."""
        figure = browser.el("heatmap-figure")
        if r.cam is None or r.crop is None or r.cam_ms is None or r.assessment is None:
            figure.hidden = True
            return
        t0 = browser.now()
        browser.draw_rgb(browser.el("heatmap-photo"), r.crop)
        browser.draw_rgba(browser.el("heatmap"), heatmap.overlay(r.cam, r.crop.shape[0]))
        r.cam_ms += browser.now() - t0
        name = self.wording.class_name(r.assessment.label or "")
        browser.el("heatmap-title").textContent = self.wording.text("heatmap.title", name=name)
        figure.hidden = False

    def show_analysing(self, name: str) -> None:
        result = browser.el("result")
        browser.set_attrs(
            result,
            dict.fromkeys(
                ("data-label", "data-priority", "data-probs", "data-reason", "data-ms"), None
            )
            | {"data-state": "analysing", "data-file": name, "data-seq": str(self.seq)},
        )
        result.setAttribute("aria-busy", "true")
        result.innerHTML = view.analysing_html(name, self.wording.text("result.analysing"))

    def show_preview(self, file: Any, name: str) -> None:
        self.preview_url = browser.object_url(file, self.preview_url)
        img = browser.el("preview-img")
        img.alt = name
        img.src = self.preview_url
        browser.el("preview-caption").textContent = name
        browser.el("preview").hidden = False

    def show(self, r: PhotoResult, name: str, total_ms: float) -> None:
        assert r.assessment is not None
        w = self.wording
        result = browser.el("result")
        if r.assessment.reason in DECODE_CODES or r.dicom is not None:
            browser.el("preview").hidden = True  # nothing the browser can show
        if r.dicom is not None and self.dicom is None:
            from skinlens.web.dicom import DicomView  # fetched by Photo.load_dicom

            self.dicom = DicomView(self.pick_frame)
            self.dicom.bind()
        if self.dicom is not None:
            self.dicom.show(r)
        result.innerHTML = view.result_html(r, name, self.info, browser.backend_label(), w)
        browser.apply_widths(result)
        self.show_heatmap(r)
        browser.set_attrs(result, view.result_attrs(r, self.seq, name, total_ms))
        result.setAttribute("aria-busy", "false")
        li = browser.create("li")
        li.className = f"result-item state-{r.assessment.state}"
        li.dataset.state = r.assessment.state
        li.dataset.priority = r.assessment.priority
        li.dataset.seq = str(self.seq)
        thumb = None if r.crop is None else thumbnail_url(r.crop)
        li.innerHTML = view.list_item_html(r, name, thumb, self.info, w)
        lst = browser.el("result-list")
        lst.insertBefore(li, lst.firstChild)
        self.count += 1
        browser.el("history-count").textContent = w.text("history.count", n=self.count)
        browser.el("history-section").hidden = self.count < 2
