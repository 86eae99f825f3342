"""Browser glue for photo screening (Pyodide only: imports ``js``/``pyodide``).

Boot: read the model metadata, wait for the TF.js bridge (``window.skinlens``,
``site/app.js``), then flag ``<body data-ready="true" data-backend=...>``.

One file: bytes (``File.arrayBuffer``) -> :func:`skinlens.decode.decode_image`
-> centred square crop + resize to 224 (:mod:`skinlens.preprocess`) -> quality
gates (:mod:`skinlens.quality`, on the 224 crop, same as the live camera) ->
normalise -> ``skinlens.predict`` (the numpy array goes to JS as a PyProxy whose
buffer is read directly: no conversion) -> :func:`skinlens.triage.assess` ->
:mod:`skinlens.app_core` builds the view and the ``#result`` attributes.

Files are processed one at a time in arrival order, so ``#result`` always
shows the latest file; every failure becomes a "rejected" result with a reason
code and a message, and the page keeps working.

URL switches (for tests and debugging; the defaults are what users get):
``?gates=off`` skips the quality gates (parity tests feed synthetic patterns).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
import traceback
from typing import Any

import js
import numpy as np
from PIL import Image
from pyodide.ffi import JsException, create_proxy

from skinlens import app_core, metadata, preprocess
from skinlens.decode import decode_image
from skinlens.errors import SkinlensError

MODEL_DIR = "models/skinlens-lite0/"


def _el(id_: str) -> Any:
    return js.document.getElementById(id_)


def _set_attrs(el: Any, attrs: dict[str, str | None]) -> None:
    for k, v in attrs.items():
        if v is None:
            el.removeAttribute(k)
        else:
            el.setAttribute(k, v)


def _mark(name: str) -> None:
    with contextlib.suppress(Exception):
        js.skinlens.mark(name)


def _stage(stage: str, state: str, text: str) -> None:
    # (if the bridge failed to load at all there is nothing to report to)
    with contextlib.suppress(Exception):
        js.skinlens.setStage(stage, state, text)


def _ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _query_param(name: str) -> str:
    return str(js.URLSearchParams.new(js.location.search).get(name) or "").lower()


async def _next_paint() -> None:
    """Let the browser render (e.g. the "Analysing…" state) before heavy work."""
    try:
        await js.skinlens.nextPaint()
    except Exception:
        await asyncio.sleep(0.02)


def _thumb_url(rgb: np.ndarray, side: int = 112) -> str:
    """A small JPEG data: URL of the model's input crop (no blob lifetimes to manage)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR).save(
        buf, "JPEG", quality=82
    )
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _quality_runner(info: metadata.ModelInfo):
    """``rgb224 -> (code, message) | None`` from :mod:`skinlens.quality`, if present."""
    try:
        from skinlens import quality
    except ImportError:
        return None
    run = getattr(quality, "check_photo", None) or getattr(quality, "check", None)
    if run is None:
        run = getattr(quality, "run_all", None)
    if run is None:
        return None

    def check(rgb: np.ndarray) -> tuple[str, str] | None:
        report = run(rgb, info)
        return app_core.first_failed_gate(report)

    return check


class App:
    def __init__(self) -> None:
        self.info: metadata.ModelInfo | None = None
        self.backend = ""
        self.backend_label = ""
        self.seq = 0
        self.count = 0
        self.queue: asyncio.Queue = asyncio.Queue()
        self.gates_enabled = _query_param("gates") != "off"
        self.quality = None
        self._proxies: list[Any] = []
        self._preview_url: str | None = None
        self._worker: asyncio.Task | None = None

    # ------------------------------------------------------------------ boot
    async def start(self) -> None:
        _mark("python start")
        _stage("app", "loading", "starting…")
        try:
            res = await js.fetch(MODEL_DIR + "metadata.json")
            if not res.ok:
                raise RuntimeError(f"HTTP {res.status} for metadata.json")
            self.info = metadata.parse(str(await res.text()))
        except Exception as e:
            self.fatal(f"The model description could not be loaded ({e}).")
            return
        self.quality = _quality_runner(self.info) if self.gates_enabled else None
        self.bind()
        self._worker = asyncio.ensure_future(self.work())
        _stage("app", "loading", "waiting for the model…")
        try:
            await js.skinlens.ready
        except Exception as e:
            msg = _js_error_message(e)
            self.fatal(
                f"The model could not be started: {msg}. Reload the page; if this keeps "
                "happening, try an up-to-date Chrome, Edge, Firefox or Safari."
            )
            return
        self.on_ready()
        # Prime Pillow's plugins and the gates right after "ready" (not before: it is not
        # needed to accept a file, and a file picked meanwhile just waits ~0.1-0.3 s).
        await asyncio.sleep(0)
        self.warm_up()
        _mark("python warm")

    def warm_up(self) -> None:
        """Run the Python path once on a generated image (imports Pillow's JPEG/PNG
        plugins and triage, fills caches), so the first real photo is not the slow one."""
        t0 = time.perf_counter()
        try:
            import skinlens.triage  # noqa: F401

            rng = np.random.default_rng(0)
            pixels = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
            for fmt in ("JPEG", "PNG"):
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, fmt)
                rgb = preprocess.crop_resize(decode_image(buf.getvalue()).image, 224)
            if self.quality is not None:
                self.quality(rgb)
            if self.info is not None:
                preprocess.normalize(rgb, self.info.norm_scale, self.info.norm_offset)
        except Exception:
            traceback.print_exc()
        self.warmup_ms = _ms_since(t0)
        with contextlib.suppress(Exception):
            js.skinlens.info.pythonWarmupMs = self.warmup_ms

    def on_ready(self) -> None:
        bridge = js.skinlens
        self.backend = str(bridge.backend)
        self.backend_label = str(bridge.info.backendLabel or self.backend)
        body = js.document.body
        _el("backend-name").textContent = self.backend_label
        _el(
            "backend-pill"
        ).title = f"Neural network runs on {self.backend_label}: {bridge.info.device or ''}"
        note = str(bridge.info.note or "")
        note_el = _el("backend-note")
        if note:
            note_el.textContent = note
            note_el.hidden = False
            body.dataset.backendNote = note
        info = self.info
        version = _el("model-version")
        if version is not None and info is not None:
            variant = info.raw.get("variant", "")
            version.textContent = f"Model: {info.raw.get('name', '')} ({variant})."
        _el("file-input").disabled = False
        _el("drop-zone").dataset.disabled = "false"
        _el("loading").setAttribute("aria-busy", "false")
        _stage("app", "done", "ready")
        _mark("ready")
        bridge.info.pageReadyMs = js.performance.now()  # since navigation start (benchmarks)
        body.dataset.backend = self.backend
        body.dataset.ready = "true"
        self.start_camera_module()

    def start_camera_module(self) -> None:
        """Hand over to the live-camera glue (issue 4) when it is shipped."""
        try:
            from skinlens import web_camera
        except ImportError:
            return
        except Exception:
            traceback.print_exc()
            return
        entry = getattr(web_camera, "main", None) or getattr(web_camera, "setup", None)
        if entry is None:
            return
        try:
            out = entry(self.info)
            if asyncio.iscoroutine(out):
                self._camera_task = asyncio.ensure_future(out)
        except Exception:
            traceback.print_exc()

    def fatal(self, message: str) -> None:
        box = _el("app-error")
        box.textContent = message
        box.hidden = False
        js.document.body.dataset.error = message
        _stage("app", "error", "failed")

    # ------------------------------------------------------------------ input
    def _proxy(self, fn) -> Any:
        p = create_proxy(fn)
        self._proxies.append(p)
        return p

    def bind(self) -> None:
        inp = _el("file-input")
        zone = _el("drop-zone")

        def on_change(ev):
            files = ev.target.files
            self.enqueue([files.item(i) for i in range(files.length)])
            ev.target.value = ""  # choosing the same file again still fires "change"

        def on_dragover(ev):
            ev.preventDefault()
            if ev.dataTransfer:
                ev.dataTransfer.dropEffect = "copy"
            zone.classList.add("dragover")

        def on_dragleave(ev):
            zone.classList.remove("dragover")

        def on_drop(ev):
            ev.preventDefault()
            zone.classList.remove("dragover")
            if zone.dataset.disabled == "true":
                return
            files = ev.dataTransfer.files if ev.dataTransfer else None
            if files is not None:
                self.enqueue([files.item(i) for i in range(files.length)])

        inp.addEventListener("change", self._proxy(on_change))
        zone.addEventListener("dragover", self._proxy(on_dragover))
        zone.addEventListener("dragenter", self._proxy(on_dragover))
        zone.addEventListener("dragleave", self._proxy(on_dragleave))
        zone.addEventListener("drop", self._proxy(on_drop))
        # a drop outside the zone must not navigate away from the app
        js.window.addEventListener("dragover", self._proxy(lambda ev: ev.preventDefault()))
        js.window.addEventListener("drop", self._proxy(lambda ev: ev.preventDefault()))

    def enqueue(self, files: list[Any]) -> None:
        for f in files:
            self.queue.put_nowait(f)

    async def work(self) -> None:
        while True:
            f = await self.queue.get()
            try:
                await self.process(f)
            except Exception as e:  # never let one file kill the worker
                traceback.print_exc()
                self.show(
                    app_core.rejected_view(
                        self.seq,
                        str(getattr(f, "name", "file")),
                        "internal-error",
                        f"Something went wrong while analysing this file ({type(e).__name__}). "
                        "Try another photo.",
                        self.info,
                    ),
                    None,
                )

    # ------------------------------------------------------------------ one file
    async def process(self, file: Any) -> None:
        info = self.info
        assert info is not None
        self.seq += 1
        seq = self.seq
        self._t_start = time.perf_counter()
        self._read_ms = None
        name = str(file.name or "image")
        result = _el("result")
        _set_attrs(
            result,
            {
                "data-state": "analysing",
                "data-label": None,
                "data-priority": None,
                "data-probs": None,
                "data-reason": None,
                "data-ms": None,
                "data-prep-ms": None,
                "data-read-ms": None,
                "data-total-ms": None,
                "data-ood": None,
                "data-file": name,
                "data-seq": str(seq),
            },
        )
        result.setAttribute("aria-busy", "true")
        result.innerHTML = app_core.analysing_html(name, "Reading")
        self.show_preview(file, name)
        await _next_paint()

        try:
            t_read = time.perf_counter()
            buf = await file.arrayBuffer()
            data = buf.to_bytes()
            self._read_ms = _ms_since(t_read)
        except Exception as e:
            self.show(
                app_core.rejected_view(
                    seq,
                    name,
                    "read-error",
                    f"The file could not be read ({_js_error_message(e)}). Choose it again.",
                    info,
                ),
                None,
            )
            return

        t0 = time.perf_counter()
        try:
            decoded = decode_image(data)
        except SkinlensError as e:
            self.show(
                app_core.rejected_view(seq, name, e.code, e.message, info, prep_ms=_ms_since(t0)),
                None,
            )
            return
        except MemoryError:
            self.show(
                app_core.rejected_view(
                    seq,
                    name,
                    "image-too-large",
                    "This image is too large to open on this device. Send a smaller photo.",
                    info,
                    prep_ms=_ms_since(t0),
                ),
                None,
            )
            return
        notes = app_core.decode_notes(decoded.info)
        rgb = preprocess.crop_resize(decoded.image, info.input_size)
        del decoded, data
        if self.quality is not None:
            failed = self.quality(rgb)
            if failed is not None:
                code, message = failed
                self.show(
                    app_core.rejected_view(
                        seq, name, code, message, info, notes=notes, prep_ms=_ms_since(t0)
                    ),
                    rgb,
                )
                return
        x = preprocess.normalize(rgb, info.norm_scale, info.norm_offset)
        prep_ms = _ms_since(t0)

        result.innerHTML = app_core.analysing_html(name, "Analysing")
        await _next_paint()
        try:
            out = await js.skinlens.predict(x)
            logits = np.frombuffer(out.logits.to_bytes(), dtype=np.float32).astype(np.float64)
            ood = float(out.ood)
            infer_ms = float(out.ms)
        except Exception as e:
            self.show(
                app_core.rejected_view(
                    seq,
                    name,
                    "model-error",
                    f"The model failed on this image ({_js_error_message(e)}). "
                    "Try again or reload the page.",
                    info,
                    notes=notes,
                    prep_ms=prep_ms,
                ),
                rgb,
            )
            return

        from skinlens import triage

        assessment = triage.assess(logits, None if np.isnan(ood) else ood, info)
        as_dict = getattr(assessment, "to_result_dict", None)
        outcome = dict(as_dict()) if callable(as_dict) else assessment
        kept = getattr(assessment, "probs", None)
        if isinstance(outcome, dict) and not outcome.get("probs") and kept is not None:
            # rejected after inference (out of distribution): no verdict, but the
            # probabilities stay in data-probs for diagnostics and parity checks
            outcome["probs"] = list(kept)
        view = app_core.result_view(
            seq,
            name,
            outcome,
            info,
            notes=notes,
            infer_ms=infer_ms,
            prep_ms=prep_ms,
            backend=self.backend_label,
        )
        if view.ood is None and not np.isnan(ood):
            view.ood = ood
        self.show(view, rgb)

    # ------------------------------------------------------------------ rendering
    def show_preview(self, file: Any, name: str) -> None:
        fig = _el("preview")
        img = _el("preview-img")
        if self._preview_url:
            js.URL.revokeObjectURL(self._preview_url)
        self._preview_url = js.URL.createObjectURL(file)
        img.alt = f"Preview of {name}"
        img.onerror = self._proxy(lambda ev: setattr(fig, "hidden", True))
        img.src = self._preview_url
        _el("preview-caption").textContent = name
        fig.hidden = False

    def show(self, view: app_core.ResultView, rgb: np.ndarray | None) -> None:
        result = _el("result")
        if view.read_ms is None:
            view.read_ms = getattr(self, "_read_ms", None)
        t_start = getattr(self, "_t_start", None)
        if t_start is not None:
            view.total_ms = _ms_since(t_start)
        if view.state == "rejected" and view.reason in app_core.DECODE_REASONS:
            _el("preview").hidden = True
        result.innerHTML = app_core.result_html(view, self.info)
        _set_attrs(result, view.attrs())
        result.setAttribute("aria-busy", "false")
        thumb = _thumb_url(rgb) if rgb is not None else None
        li = js.document.createElement("li")
        li.className = f"result-item state-{view.state}"
        li.dataset.state = view.state
        li.dataset.priority = view.priority
        li.dataset.seq = str(view.seq)
        li.innerHTML = app_core.list_item_html(view, thumb)
        lst = _el("result-list")
        lst.insertBefore(li, lst.firstChild)
        self.count += 1
        _el("history-count").textContent = f"({self.count})"
        if self.count >= 2:
            _el("history-section").hidden = False
        js.console.log(
            "skinlens result " + json.dumps({k: v for k, v in view.attrs().items() if v})
        )


def _js_error_message(e: Any) -> str:
    if isinstance(e, JsException):
        return str(getattr(e, "message", "") or e).strip()
    return str(e).strip() or type(e).__name__


_app: App | None = None


async def main() -> App:
    global _app
    _app = App()
    try:
        await _app.start()
    except Exception as e:
        traceback.print_exc()
        _app.fatal(f"The app failed to start ({type(e).__name__}: {e}).")
    return _app
