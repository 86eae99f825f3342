"""PyScript entry point: wire the photo and the camera sides of the page, as siblings.

Boot: the model's metadata (the single source for sizes, classes and settings) -> the
pipelines with the inference worker as their model -> bind the inputs -> wait for the worker
(``skinlens.ready``) -> ``<body data-ready="true" data-backend=...>``. The ``skinlens``
package is copied into the interpreter's file system by ``pyscript.toml``'s ``[files]``.
"""

import js
from pyodide.ffi import JsException
from skinlens import browser, live, wording
from skinlens.photo import Photo
from skinlens.web_camera import LiveCamera
from skinlens.web_photo import PhotoPage

browser.mark("main.py")


def fatal(message: str) -> None:
    box = browser.el("app-error")
    box.textContent = message
    box.hidden = False
    js.document.body.dataset.error = message
    browser.stage("app", "error", "failed")


def show_backend(info) -> None:
    """The engine pill and, when the engine is not the one wanted, why."""
    label = str(info.backendLabel)
    browser.el("backend-name").textContent = label
    browser.el("backend-pill").title = f"Neural network runs on {label}: {info.device}"
    note = str(info.note or "")
    if note:
        browser.el("backend-note").textContent = note
        browser.el("backend-note").hidden = False
        js.document.body.dataset.backendNote = note


async def main() -> None:
    browser.stage("app", "loading", "starting…")
    try:
        info = await browser.load_metadata()
    except Exception as e:
        fatal(f"The model description could not be loaded ({browser.error_text(e)}).")
        return
    words = wording.load()
    photo_model = Photo(info, browser.WorkerModel(), gates=browser.query_param("gates") != "off")
    photo = PhotoPage(info, photo_model, words)
    live_model = browser.WorkerModel(live=True)
    camera = LiveCamera(info, live.LivePipeline(info, live_model, clock=browser.now), words)
    photo.bind()
    camera.bind()
    browser.stage("app", "loading", "waiting for the model…")
    try:
        bridge = await browser.model_ready()
    except JsException as e:
        fatal(
            f"The model could not be started: {browser.error_text(e)}. Reload the page; if this "
            "keeps happening, try an up-to-date Chrome, Edge, Firefox or Safari."
        )
        return
    show_backend(bridge)
    photo.enable(str(bridge.backendLabel))
    camera.enable(str(bridge.backendLabel))
    browser.el("model-version").textContent = f"Model: {info.raw['name']} ({info.raw['variant']})."
    browser.el("loading").setAttribute("aria-busy", "false")
    browser.stage("app", "done", "ready")
    browser.mark("ready")
    bridge.pageReadyMs = browser.now()  # since navigation start (benchmarks)
    js.document.body.dataset.backend = str(bridge.backend)
    js.document.body.dataset.ready = "true"


main_task = browser.spawn(main(), set())
