"""PyScript entry point: wire the photo, batch and camera sides of the page, as siblings
(or, with ``?view=speed``, the speed test alone).

Boot: the wording catalogue of the page's language (app.js fetched it and translated the
static page) -> the model's metadata (the single source for sizes, classes and settings) ->
the pipelines with the inference worker as their model -> bind the inputs -> wait for the
worker (``skinlens.ready``) -> ``<body data-ready="true" data-backend=...>``. The
``skinlens`` package is copied into the interpreter's file system by ``pyscript.toml``'s
``[files]``.
"""

import js

js.skinlens.mark("main.py")  # before the imports: bench.startup times `import skinlens`

from pyodide.ffi import JsException  # noqa: E402
from skinlens import live, wording  # noqa: E402
from skinlens.photo import Photo  # noqa: E402
from skinlens.web import browser  # noqa: E402
from skinlens.web.batch import BatchPage  # noqa: E402
from skinlens.web.camera import LiveCamera  # noqa: E402
from skinlens.web.photo import PhotoPage  # noqa: E402
from skinlens.web.speed import SpeedPage  # noqa: E402

browser.mark("import skinlens")


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
        browser.stage("app", "done", "progress.ready")
        js.document.body.dataset.ready = "true"
        try:
            await SpeedPage(info, words).run()
        except Exception as e:  # a bug: say so on the page rather than "running" for ever
            fatal(words.text("speed.failed", cause=browser.error_text(e)))
        return
    photo_model = Photo(
        info,
        browser.WorkerModel(),
        gates=browser.query_param("gates") != "off",
        load_dicom=browser.load_pydicom,
    )
    batch = BatchPage(info, photo_model, words)
    photo = PhotoPage(info, photo_model, words, batch.start)
    live_model = browser.WorkerModel(live=True)
    camera = LiveCamera(info, live.LivePipeline(info, live_model, clock=browser.now), words)
    photo.bind()
    batch.bind()
    camera.bind()
    browser.mark("bound")
    browser.stage("app", "loading", "progress.waiting-model")
    try:
        bridge = await browser.model_ready()
    except JsException as e:
        fatal(words.text("error.model-start", cause=browser.error_text(e)))
        return
    show_backend(bridge, words)
    photo.enable(str(bridge.backendLabel))
    batch.enable(str(bridge.backend), str(bridge.backendLabel))
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


main_task = browser.spawn(main(), set())
