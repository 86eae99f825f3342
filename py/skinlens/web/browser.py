"""The one boundary to the browser (Pyodide only): every ``js`` / ``pyodide.ffi`` call.

The pipelines (:mod:`skinlens.photo`, :mod:`skinlens.live`) and the view
(:mod:`skinlens.view`) are pure Python; the page controllers (:mod:`skinlens.web.photo`,
:mod:`skinlens.web.camera`) reach the DOM, the camera and the model only through here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import js  # type: ignore[import-not-found]
import numpy as np
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from skinlens import lazy, metadata, wording
from skinlens.errors import ModelError, ReadError
from skinlens.model import Inference

_proxies: list[Any] = []


def el(id_: str) -> Any:
    return js.document.getElementById(id_)


def on(target: Any, event: str, fn: Callable[[Any], object]) -> None:
    """``addEventListener`` with a proxy kept alive for the page's lifetime."""
    p = create_proxy(fn)
    _proxies.append(p)
    target.addEventListener(event, p)


def callback(fn: Callable[..., object]) -> Any:
    """A long-lived JS function for ``setTimeout`` / ``requestAnimationFrame`` loops."""
    p = create_proxy(fn)
    _proxies.append(p)
    return p


def document() -> Any:
    return js.document


def create(tag: str) -> Any:
    return js.document.createElement(tag)


def set_attrs(node: Any, attrs: dict[str, str | None]) -> None:
    """Set (or, for ``None``, remove) attributes; unchanged values are not rewritten."""
    for k, v in attrs.items():
        if v is None:
            node.removeAttribute(k)
        elif node.getAttribute(k) != v:
            node.setAttribute(k, v)


def clone_template(template_id: str) -> Any:
    """The first element of a ``<template>``'s content, cloned (the live view's markup)."""
    return el(template_id).content.firstElementChild.cloneNode(True)


def now() -> float:
    return float(js.performance.now())


def query_param(name: str) -> str:
    return str(js.URLSearchParams.new(js.location.search).get(name) or "").lower()


def mark(name: str) -> None:
    js.skinlens.mark(name)


def stage(name: str, state: str, key: str) -> None:
    """A load step's state and the catalogue entry for its text (app.js words it)."""
    js.skinlens.setStage(name, state, key)


def intl_number(locale: str) -> wording.NumberFormat:
    """:data:`skinlens.wording.NumberFormat` by the browser's ``Intl.NumberFormat`` for
    ``locale`` (decimal comma in Russian, "25%" vs "25 %"), one formatter per style kept."""
    formats: dict[tuple[int, bool], Any] = {}

    def number(value: float, digits: int, percent: bool) -> str:
        fmt = formats.get((digits, percent))
        if fmt is None:
            opts: dict[str, object] = {
                "minimumFractionDigits": digits,
                "maximumFractionDigits": digits,
            }
            if percent:
                opts["style"] = "percent"
            fmt = js.Intl.NumberFormat.new(
                locale, to_js(opts, dict_converter=js.Object.fromEntries)
            )
            formats[(digits, percent)] = fmt
        return str(fmt.format(value))

    return number


async def load_wording() -> wording.Wording:
    """The page language's catalogue: the text app.js fetched (``skinlens.words``), with
    numbers formatted by ``Intl`` for its locale."""
    text = await js.skinlens.words
    return wording.parse(str(text), str(js.skinlens.lang), intl_number(str(js.skinlens.locale)))


async def next_paint() -> None:
    """Let the browser render (e.g. the "Analysing…" state) before more work."""
    await js.skinlens.nextPaint()


def error_text(e: BaseException) -> str:
    """A JS error's message (or a Python exception's text) for a person to read."""
    if isinstance(e, JsException):
        return str(getattr(e, "message", "") or e).strip()
    return str(e).strip() or type(e).__name__


def error_name(e: BaseException) -> str:
    """A JS DOMException's ``name`` (``NotAllowedError``, ...), else the text."""
    return str(getattr(e, "name", "") or e)


async def load_metadata() -> metadata.ModelInfo:
    """The model's ``metadata.json`` (its URL is the page's ``<meta name=skinlens-model>``)."""
    res = await js.fetch(js.skinlens.metadataUrl)
    if not res.ok:
        raise RuntimeError(f"HTTP {res.status} for metadata.json")
    return metadata.parse(str(await res.text()))


async def model_ready() -> Any:
    """Wait for the inference worker (``skinlens.ready``); returns the bridge's ``info``."""
    await js.skinlens.ready
    return js.skinlens.info


def backend_label() -> str:
    """The model's engine ("WASM", ...), or "" while it is still loading."""
    return str(getattr(js.skinlens.info, "backendLabel", None) or "")


async def load_model(backend: str) -> Any:
    """A ``SkinlensModel`` on exactly ``backend`` (raises ``JsException`` where the browser
    does not offer it); the caller disposes of it."""
    return await js.skinlens.loadModel(backend)


async def device_facts() -> dict[str, Any]:
    """Cores, cross-origin isolation, the WebGPU adapter, the user agent (app.js)."""
    return to_py(await js.skinlens.deviceFacts())


def to_py(value: Any) -> Any:
    """A plain JS object as Python dicts and lists."""
    return value.to_py()


def set_css_number(name: str, value: float) -> None:
    """A number from the metadata as a CSS custom property on ``:root``."""
    js.document.documentElement.style.setProperty(name, str(value))


def apply_widths(root: Any) -> None:
    """Give each ``[data-width]`` element under ``root`` that width, through the CSSOM.

    The Content Security Policy (``security.py``) has no ``'unsafe-inline'`` in
    ``style-src``: ``style="..."`` in markup is refused, while a property set from script
    is not. So views write a width as ``data-width`` and this applies it.
    """
    for node in root.querySelectorAll("[data-width]"):
        node.style.width = node.dataset.width


class WorkerModel:
    """:data:`skinlens.model.Predict` backed by an inference worker: the page's model
    (``skinlens.model``), with ``live=True`` the camera's (``skinlens.liveModel()``,
    started on first use; see app.js for why the camera has its own), or a given
    ``SkinlensModel`` ``handle`` (the speed test's, one per backend)."""

    def __init__(self, *, live: bool = False, handle: Any = None) -> None:
        self.live = live
        self.given = handle

    async def handle(self) -> Any:
        if self.given is not None:
            return self.given
        if self.live:
            return await js.skinlens.liveModel()
        await js.skinlens.ready  # a photo chosen while the model loads waits for it here
        return js.skinlens.model

    async def __call__(self, batch: np.ndarray) -> Inference:
        """Copy the batch once out of the WASM heap into a buffer the worker takes over."""
        data = js.Float32Array.new(batch.size)
        data.assign(np.ascontiguousarray(batch, dtype=np.float32).reshape(-1))
        try:
            res = await (await self.handle()).predict(data, batch.shape[0])
        except JsException as e:
            raise ModelError(error_text(e)) from e
        outputs = {}
        for name in js.Object.keys(res.outputs):
            shape = tuple(int(d) for d in getattr(res.shapes, name))
            raw = getattr(res.outputs, name).to_bytes()
            outputs[str(name)] = np.frombuffer(raw, dtype=np.float32).reshape(shape)
        return Inference(outputs, float(res.ms))


async def read_file(file: Any) -> bytes:
    """A ``File``'s bytes; :class:`ReadError` when the browser cannot read it."""
    try:
        return (await file.arrayBuffer()).to_bytes()
    except JsException as e:
        raise ReadError(error_text(e)) from e


_features: dict[str, asyncio.Future] = {}
"""The pending or finished load of each feature of :data:`skinlens.lazy.FEATURES`."""


async def load_feature(name: str) -> None:
    """Make the modules of ``name`` (:data:`skinlens.lazy.FEATURES`) importable, the first
    time the feature is used: each file is fetched from ``py/`` (the service worker has it
    precached) into the interpreter's file system, where ``pyscript.toml``'s ``[files]``
    put the rest of the package. A failed load is tried again on the next use."""
    if name not in _features:
        _features[name] = asyncio.ensure_future(_fetch_modules(lazy.FEATURES[name]))
    try:
        await _features[name]
    except BaseException:
        _features.pop(name, None)
        raise


async def _fetch_modules(modules: tuple[str, ...]) -> None:
    async def fetch_one(module: str) -> None:
        path = Path(lazy.path_of(module))
        if path.exists():  # another feature brought it
            return
        res = await js.fetch(js.URL.new(f"py/{path.as_posix()}", js.document.baseURI).href)
        if not res.ok:
            raise RuntimeError(f"HTTP {res.status} for py/{path.as_posix()}")
        text = str(await res.text())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    await asyncio.gather(*(fetch_one(m) for m in modules))
    importlib.invalidate_caches()


_pydicom: list[Any] = []
"""The pending or finished load of pydicom's wheel (at most one)."""


async def load_dicom() -> None:
    """The DICOM modules (:func:`load_feature`) and pydicom's wheel from ``dist/`` into
    Pyodide, the first time a DICOM file arrives (not at start-up: most people never open
    one). Pyodide's ``loadPackage`` takes the wheel's URL; the service worker caches it on
    that first use."""
    if not _pydicom:
        _pydicom.append(asyncio.ensure_future(_load_dicom()))
    await _pydicom[0]


async def _load_dicom() -> None:
    import pyodide_js  # type: ignore[import-not-found]

    await load_feature("dicom")
    from skinlens import dicom

    await pyodide_js.loadPackage(js.URL.new(dicom.WHEEL, js.location.href).href)


def files_of(file_list: Any) -> list[Any]:
    return [file_list.item(i) for i in range(file_list.length)]


def object_url(file: Any, previous: str | None) -> str:
    if previous:
        js.URL.revokeObjectURL(previous)
    return str(js.URL.createObjectURL(file))


def text_url(text: str, mime: str, previous: str | None) -> str:
    """A ``blob:`` URL of generated text (a download link's ``href``); frees ``previous``."""
    if previous:
        js.URL.revokeObjectURL(previous)
    parts = to_js([text])
    blob = js.Blob.new(parts, to_js({"type": mime}, dict_converter=js.Object.fromEntries))
    return str(js.URL.createObjectURL(blob))


def stored_json(key: str) -> dict[str, Any]:
    """A JSON object this origin kept in ``localStorage`` (``{}`` when absent or unreadable:
    storage may be disabled, and then the caller's default applies)."""
    try:
        text = js.localStorage.getItem(key)
    except JsException:
        return {}
    if not text:
        return {}
    value = json.loads(str(text))
    return value if isinstance(value, dict) else {}


def store_json(key: str, value: dict[str, Any]) -> None:
    try:
        js.localStorage.setItem(key, json.dumps(value))
    except JsException as e:  # storage disabled or full: the next batch uses the default
        warn(f"localStorage: {error_text(e)}")


async def play(video: Any) -> None:
    """Start a video; a refusal (autoplay policy, a newer ``srcObject``) is not an error
    here: the loop keeps polling frames and the next start tries again."""
    try:
        await video.play()
    except JsException as e:
        warn(f"video.play: {error_text(e)}")


class FrameGrabber:
    """Copies the video's square ROI, scaled to ``size`` by the canvas, into a numpy RGBA."""

    def __init__(self, size: int) -> None:
        self.canvas = js.document.createElement("canvas")
        self.canvas.width = self.canvas.height = size
        opts = to_js({"willReadFrequently": True}, dict_converter=js.Object.fromEntries)
        self.ctx = self.canvas.getContext("2d", opts)
        self.rgba = np.empty((size, size, 4), np.uint8)
        self.size = size

    def grab(self, video: Any, sx: int, sy: int, side: int) -> np.ndarray:
        n = self.size
        self.ctx.drawImage(video, sx, sy, side, side, 0, 0, n, n)
        self.ctx.getImageData(0, 0, n, n).data.assign_to(self.rgba)
        return self.rgba


def draw_rgb(canvas: Any, rgb: np.ndarray) -> None:
    """Paint a uint8 RGB array onto a canvas (the captured frame, the model's crop)."""
    h, w = rgb.shape[:2]
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = 255
    draw_rgba(canvas, rgba)


def draw_rgba(canvas: Any, rgba: np.ndarray) -> None:
    """Paint a uint8 RGBA array onto a canvas (the heatmap layer keeps its alpha)."""
    h, w = rgba.shape[:2]
    data = js.Uint8ClampedArray.new(h * w * 4)
    data.assign(rgba.reshape(-1))
    canvas.width, canvas.height = w, h
    canvas.getContext("2d").putImageData(js.ImageData.new(data, w, h), 0, 0)


class Camera:
    """``getUserMedia`` and the track's controls; raises JS errors as they come."""

    def __init__(self) -> None:
        self.stream: Any = None
        self.track: Any = None

    async def open(self, device_id: str | None) -> None:
        md = getattr(js.navigator, "mediaDevices", None)
        if md is None:
            name = "NotFoundError" if js.window.isSecureContext else "insecure-context"
            raise RuntimeError(name)
        video: dict[str, Any] = (
            {"deviceId": {"exact": device_id}}
            if device_id
            else {"facingMode": {"ideal": "environment"}, "width": {"ideal": 1280}}
        )
        constraints = to_js({"video": video, "audio": False}, dict_converter=js.Object.fromEntries)
        self.stream = await md.getUserMedia(constraints)
        tracks = self.stream.getVideoTracks()
        self.track = tracks[0] if tracks.length else None

    def close(self) -> None:
        if self.stream is not None:
            for t in self.stream.getTracks():
                t.stop()
        self.stream = self.track = None

    def frame_rate(self) -> float:
        return float(getattr(self.track.getSettings(), "frameRate", 0) or 0)

    async def devices(self) -> list[tuple[str, str]]:
        """``(deviceId, label)`` of every video input."""
        found = await js.navigator.mediaDevices.enumerateDevices()
        return [(str(d.deviceId), str(d.label)) for d in found if d.kind == "videoinput"]

    def current_device(self) -> str:
        return str(getattr(self.track.getSettings(), "deviceId", "") or "")

    def capabilities(self) -> Any:
        return self.track.getCapabilities() if hasattr(self.track, "getCapabilities") else None

    async def apply(self, constraint: dict[str, object]) -> None:
        opts = to_js({"advanced": [constraint]}, dict_converter=js.Object.fromEntries)
        await self.track.applyConstraints(opts)


def set_timeout(fn: Any, ms: float) -> Any:
    return js.setTimeout(fn, max(0, int(ms)))


def clear_timeout(handle: Any) -> None:
    js.clearTimeout(handle)


def request_frame(fn: Any) -> Any:
    return js.requestAnimationFrame(fn)


def cancel_frame(handle: Any) -> None:
    js.cancelAnimationFrame(handle)


def page_hidden() -> bool:
    return bool(js.document.hidden)


def log(text: str) -> None:
    js.console.log(text)


def warn(text: str) -> None:
    js.console.warn(text)


def spawn(coro: Any, tasks: set[asyncio.Task]) -> asyncio.Task:
    """Start a coroutine and keep a reference until it ends (asyncio keeps only weak ones)."""
    task = asyncio.ensure_future(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


# ---------------------------------------------------------------- the lesion history (issue 16)
class StoreError(Exception):
    """A refused storage or backup step; ``code`` is history-db.js's stable code (``quota``,
    ``storage``, ``unavailable``, ``wrong-passphrase``, ``tampered``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _bytes_to_js(data: bytes) -> Any:
    arr = js.Uint8Array.new(len(data))
    arr.assign(data)
    return arr


class HistoryStore:
    """``site/history-db.js`` (IndexedDB and Web Crypto), loaded on first use, with Python
    types: records go in and come out as JSON text / dicts, bytes as ``bytes``, and every
    refusal is a :class:`StoreError` with its code."""

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    async def load(cls) -> HistoryStore:
        if not hasattr(js.skinlens, "history"):
            await js.skinlens.loadScript("history-db.js")
        return cls(js.skinlens.history)

    async def _call(self, name: str, *args: Any) -> Any:
        try:
            return await getattr(self.api, name)(*args)
        except JsException as e:
            raise StoreError(str(getattr(e, "code", None) or error_text(e))) from e

    async def all(self) -> dict[str, list[dict[str, Any]]]:
        """Every lesion, check (without pictures) and meta record."""
        return json.loads(str(await self._call("all")))

    async def images(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """``{check id: {id, crop, photo}}`` of these checks."""
        return json.loads(str(await self._call("images", to_js(ids))))

    async def save(
        self, lesion: dict[str, Any], check: dict[str, Any], image: dict[str, Any] | None
    ) -> None:
        """A lesion and its new check in one transaction (both or neither are stored)."""
        await self._call(
            "save", json.dumps(lesion), json.dumps(check), json.dumps(image) if image else None
        )

    async def put_many(self, store: str, records: list[dict[str, Any]]) -> None:
        await self._call("putMany", store, json.dumps(records))

    async def delete_check(self, check_id: str) -> None:
        await self._call("deleteCheck", check_id)

    async def delete_lesion(self, lesion_id: str) -> None:
        await self._call("deleteLesion", lesion_id)

    async def delete_all(self) -> None:
        await self._call("deleteAll")

    async def import_all(self, data_json: str) -> None:
        """Records added (same id: replaced) in one transaction (all or nothing)."""
        await self._call("importAll", data_json)

    async def storage(self) -> dict[str, Any]:
        """``{usage, quota, persisted}`` (bytes) from ``navigator.storage``."""
        return json.loads(str(await self._call("storage")))

    async def persist(self) -> bool:
        return bool(await self._call("persist"))

    async def encrypt(
        self, passphrase: str, salt: bytes, iv: bytes, iterations: int, plain: bytes
    ) -> tuple[bytes, bytes]:
        """``(ciphertext with its GCM tag, key check)``; the keys: history-db.js."""
        out = await self._call(
            "encrypt",
            passphrase,
            _bytes_to_js(salt),
            _bytes_to_js(iv),
            iterations,
            _bytes_to_js(plain),
        )
        return out.ciphertext.to_bytes(), out.keyCheck.to_bytes()

    async def decrypt(
        self,
        passphrase: str,
        salt: bytes,
        iv: bytes,
        iterations: int,
        key_check: bytes,
        ciphertext: bytes,
    ) -> bytes:
        """The plaintext; :class:`StoreError` ``wrong-passphrase`` or ``tampered``."""
        out = await self._call(
            "decrypt",
            passphrase,
            _bytes_to_js(salt),
            _bytes_to_js(iv),
            iterations,
            _bytes_to_js(key_check),
            _bytes_to_js(ciphertext),
        )
        return out.to_bytes()

    def random_bytes(self, n: int) -> bytes:
        return self.api.randomBytes(n).to_bytes()

    def download(self, data: bytes, name: str, mime: str) -> None:
        """A file made in the page, offered as a download (nothing leaves the device)."""
        self.api.download(_bytes_to_js(data), name, mime)


def print_page() -> None:
    js.window.print()


def today_iso() -> str:
    """Today's date on this device (local calendar), ``YYYY-MM-DD``."""
    d = js.Date.new()
    return f"{int(d.getFullYear()):04d}-{int(d.getMonth()) + 1:02d}-{int(d.getDate()):02d}"
