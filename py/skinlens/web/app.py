"""The page: wire the photo and camera sides as siblings (or, with ``?view=speed``, the
speed test alone). ``site/main.py`` imports this module once the bytecode cache is mounted
(:mod:`skinlens.web.bytecode`) and runs :func:`main`.

Boot: the wording catalogue of the page's language (app.js fetched it and translated the
static page) -> the model's metadata (the single source for sizes, classes and settings) ->
the pipelines with the inference worker as their model -> bind the inputs and accept files
(``body[data-accepting=true]``; a photo chosen now waits for the model) -> wait for the
worker (``skinlens.ready``) -> ``<body data-ready="true" data-backend=...>``.

Only what a first photo and the camera need is loaded before that: ``pyscript.toml``'s
``[files]`` copy those modules into the interpreter; the batch table, the speed test and
the DICOM viewer are fetched when first used (:mod:`skinlens.lazy`, one line per view).
"""

from __future__ import annotations

import asyncio
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException  # type: ignore[import-not-found]

from skinlens import live, wording
from skinlens.metadata import ModelInfo
from skinlens.photo import Photo
from skinlens.web import browser
from skinlens.web.camera import LiveCamera
from skinlens.web.keep import SaveOffer
from skinlens.web.photo import PhotoPage


async def model_ready(words: wording.Wording):
    """The inference worker's bridge once the model is ready, its engine shown; ``None``
    (and the page says why) when it failed to start."""
    try:
        bridge = await browser.model_ready()
    except JsException as e:
        fatal(words.text("error.model-start", cause=browser.error_text(e)))
        return None
    show_backend(bridge, words)
    return bridge


async def history_view(info: ModelInfo, words: wording.Wording) -> None:
    """``?view=history``: my lesions (its modules fetched first); checks saved with another
    model are re-scored once the model is ready."""
    started = browser.now()
    await browser.load_feature("history")
    from skinlens.web.history import HistoryPage

    page = HistoryPage(info, words)
    await page.run(started)
    bridge = await model_ready(words)
    if bridge is None:
        return
    browser.stage("app", "done", "progress.ready")
    browser.el("loading").setAttribute("aria-busy", "false")
    js.document.body.dataset.backend = str(bridge.backend)
    js.document.body.dataset.ready = "true"
    if page.lib is not None:
        await page.rescore(browser.WorkerModel())


def fatal(message: str) -> None:
    box = browser.el("app-error")
    box.textContent = message
    box.hidden = False
    js.document.body.dataset.error = message
    browser.stage("app", "error", "progress.failed")


def why_text(why, w: wording.Wording) -> str:
    """One reason the worker passed a backend over (a catalogue entry it named)."""
    return w.text(str(why.key), engine=str(why.engine), detail=str(why.detail))


def show_backend(info, w: wording.Wording) -> None:
    """The engine pill and, when the engine is not the one wanted, why."""
    label = str(info.backendLabel)
    browser.el("backend-name").textContent = label
    browser.el("backend-pill").title = w.text("page.engine-runs", engine=label, device=info.device)
    if not info.note:
        return
    note = w.text("engine.note", why=why_text(info.note.why, w), engine=str(info.note.engine))
    others = [why_text(o, w) for o in info.note.others]
    if others:
        note += f" ({'; '.join(others)}.)"
    browser.el("backend-note").textContent = note
    browser.el("backend-note").hidden = False
    js.document.body.dataset.backendNote = note


class Batches:
    """Several files or a folder: the batch view, loaded the first time one arrives."""

    def __init__(
        self, info: ModelInfo, photo: Photo, words: wording.Wording, offer: Any = None
    ) -> None:
        self.info, self.photo, self.words, self.offer = info, photo, words, offer
        self.page: Any = None
        self.tasks: set[asyncio.Task] = set()

    def start(self, files: list[Any], chosen_ms: float) -> None:
        browser.spawn(self.screen(files, chosen_ms), self.tasks)

    async def screen(self, files: list[Any], chosen_ms: float) -> None:
        await browser.load_feature("batch")
        if self.page is None:
            from skinlens.web.batch import BatchPage

            self.page = BatchPage(self.info, self.photo, self.words)
            self.page.offer = self.offer  # "save to my lesions" from a row's detail
            self.page.bind()
        self.page.start(files, chosen_ms)


async def speed_test(info: ModelInfo, words: wording.Wording) -> None:
    """``?view=speed``: the speed test alone (its modules fetched first)."""
    await browser.load_feature("speed")
    from skinlens.web.speed import SpeedPage

    browser.stage("app", "done", "progress.ready")
    js.document.body.dataset.ready = "true"
    await SpeedPage(info, words).run()


async def main() -> None:
    words = await browser.load_wording()
    browser.mark("wording")
    browser.stage("app", "loading", "progress.starting")
    try:
        info = await browser.load_metadata()
    except Exception as e:
        fatal(words.text("error.metadata", cause=browser.error_text(e)))
        return
    browser.mark("metadata")
    if browser.query_param("view") == "speed":
        try:
            await speed_test(info, words)
        except Exception as e:  # a bug: say so on the page rather than "running" for ever
            fatal(words.text("speed.failed", cause=browser.error_text(e)))
        return
    if browser.query_param("view") == "history":
        try:
            await history_view(info, words)
        except Exception as e:  # a bug: say so on the page rather than "loading" for ever
            fatal(words.text("lesions.failed", cause=browser.error_text(e)))
            browser.warn(f"skinlens history: {e!r}")
        return
    photo_model = Photo(
        info,
        browser.WorkerModel(),
        gates=browser.query_param("gates") != "off",
        load_dicom=browser.load_dicom,
    )
    keep = SaveOffer(info, words)  # the history itself loads on the first save
    batches = Batches(info, photo_model, words, keep.offer)
    photo = PhotoPage(info, photo_model, words, batches.start)
    live_model = browser.WorkerModel(live=True)
    camera = LiveCamera(info, live.LivePipeline(info, live_model, clock=browser.now), words)
    photo.bind()
    camera.bind()
    keep.bind()
    photo.offer = camera.offer = keep.offer
    photo.accept()
    browser.mark("bound")
    js.document.body.dataset.accepting = "true"
    browser.stage("app", "loading", "progress.waiting-model")
    bridge = await model_ready(words)
    if bridge is None:
        return
    camera.enable(str(bridge.backendLabel))
    browser.el("model-version").textContent = words.text(
        "footer.model", name=info.raw["name"], variant=info.raw["variant"]
    )
    browser.el("loading").setAttribute("aria-busy", "false")
    browser.stage("app", "done", "progress.ready")
    browser.mark("ready")
    bridge.pageReadyMs = browser.now()  # since navigation start (benchmarks)
    js.document.body.dataset.backend = str(bridge.backend)
    js.document.body.dataset.ready = "true"
    await browser.next_paint()
    browser.mark("ready painted")
