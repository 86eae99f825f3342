"""Live camera in the page: browser glue around :mod:`skinlens.live` (Pyodide only).

The page's entry imports this module lazily and calls :func:`setup` once::

    import skinlens.web_camera
    skinlens.web_camera.setup("live-mount", "camera-start")

``setup`` builds the live view inside ``#live-mount`` (video, guide circle,
camera picker, torch/zoom when the camera offers them, Capture, verdict and a
stats panel) and makes ``#camera-start`` start/stop the camera. Everything runs
on the page's main thread without ever blocking it: the frame loop is a chain of
``setTimeout``/``requestAnimationFrame`` callbacks (one frame in flight at most),
paced by :class:`skinlens.live.Scheduler` from the measured busy time.

Automation contract (DESIGN.md): ``#live`` carries ``data-state``
(ok|blurry|dark|bright|glare|not-lesion|warming-up), ``data-label``,
``data-stable`` (true|false), ``data-fps``; also ``data-priority``,
``data-probs`` (smoothed, class-index order), ``data-camera``
(off|starting|on|error), ``data-error`` (permission-denied|no-camera|
camera-busy|insecure-context|camera-error) and ``data-ms-*`` stage timings.
A captured frame's result is on ``#live-captured`` (``data-label``,
``data-priority``, ``data-probs``, ``data-stable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import js  # type: ignore[import-not-found]
import numpy as np
from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]

from skinlens import live
from skinlens.metadata import ModelInfo
from skinlens.metadata import parse as parse_metadata

MODEL_DIR = "models/skinlens-lite0/"
CSS_HREF = "camera.css"

_instance: LiveCamera | None = None


def _obj(d: dict[str, Any]) -> Any:
    return to_js(d, dict_converter=js.Object.fromEntries)


def _now() -> float:
    return float(js.performance.now())


def _el(
    tag: str,
    *,
    id: str | None = None,
    cls: str | None = None,
    text: str | None = None,
    **attrs: Any,
) -> Any:
    e = js.document.createElement(tag)
    if id:
        e.id = id
    if cls:
        e.className = cls
    if text is not None:
        e.textContent = text
    for k, v in attrs.items():
        name = k.rstrip("_").replace("_", "-")
        if v is True:
            e.setAttribute(name, "")
        elif v is not False and v is not None:
            e.setAttribute(name, str(v))
    return e


def _error_name(exc: BaseException) -> tuple[str, str]:
    name = getattr(exc, "name", None)
    message = getattr(exc, "message", None)
    text = str(exc)
    return (str(name) if name else text), (str(message) if message else text)


def _fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} ms"


class LiveCamera:
    """One live view: camera, frame loop and rendering."""

    def __init__(self, mount: Any, start_button: Any, info: ModelInfo | None = None) -> None:
        self.mount = mount
        self.button = start_button
        self.info = info
        self.pipeline: live.LivePipeline | None = None
        self.stream: Any = None
        self.track: Any = None
        self.running = False
        self.frozen = False
        self.model_ready = False
        self.model_error: str | None = None
        self._busy = False
        self._pending = False
        self._timer: Any = None
        self._raf: Any = None
        self._generation = 0
        self._torch = False
        self._proxies: list[Any] = []
        self._tasks: set[Any] = set()
        self._size = 224
        self._rgba = np.empty((self._size, self._size, 4), np.uint8)
        self._last_stats = 0.0
        self._build()
        self._tick_proxy = self._proxy(self._on_timer)
        self._raf_proxy = self._proxy(self._on_frame)

    def _spawn(self, coro: Any) -> Any:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------ DOM
    def _proxy(self, fn: Any) -> Any:
        p = create_proxy(fn)
        self._proxies.append(p)
        return p

    def _on(self, el: Any, event: str, fn: Any) -> None:
        el.addEventListener(event, self._proxy(fn))

    def _build(self) -> None:
        doc = js.document
        if not doc.querySelector(f'link[href="{CSS_HREF}"]'):
            doc.head.appendChild(_el("link", rel="stylesheet", href=CSS_HREF))
        root = _el("div", id="live", cls="live", aria_live="off")
        for k, v in {
            "state": "warming-up",
            "label": "",
            "stable": "false",
            "fps": "0.0",
            "priority": "None",
            "probs": "[]",
            "camera": "off",
            "error": "",
        }.items():
            root.setAttribute("data-" + k, v)
        self.root = root

        controls = _el("div", cls="live-controls")
        self.select_label = _el("label", cls="live-field", hidden=True)
        self.select_label.appendChild(_el("span", text="Camera "))
        self.select = _el("select", id="camera-select")
        self.select_label.appendChild(self.select)
        self.torch_btn = _el(
            "button",
            id="camera-torch",
            cls="button",
            type="button",
            text="Torch",
            aria_pressed="false",
            hidden=True,
        )
        self.zoom_label = _el("label", cls="live-field", hidden=True)
        self.zoom_label.appendChild(_el("span", text="Zoom "))
        self.zoom = _el("input", id="camera-zoom", type="range")
        self.zoom_label.appendChild(self.zoom)
        self.capture_btn = _el(
            "button",
            id="camera-capture",
            cls="button button-primary",
            type="button",
            text="Capture",
            disabled=True,
        )
        for c in (self.select_label, self.torch_btn, self.zoom_label, self.capture_btn):
            controls.appendChild(c)
        root.appendChild(controls)

        self.message = _el("p", id="live-message", cls="live-message", role="alert", hidden=True)
        root.appendChild(self.message)

        stage = _el("div", cls="live-stage")
        self.viewport = _el("div", cls="live-viewport", hidden=True)
        self.video = _el(
            "video",
            id="live-video",
            playsinline=True,
            muted=True,
            autoplay=True,
            aria_label="Camera preview",
        )
        self.video.muted = True
        self.viewport.appendChild(self.video)
        self.viewport.appendChild(_el("div", cls="live-guide", aria_hidden="true"))
        stage.appendChild(self.viewport)

        panel = _el("div", cls="live-panel")
        status = _el("p", cls="live-status", aria_live="polite")
        self.badge = _el("span", id="live-state-badge", cls="live-badge", text="Camera off")
        self.instruction = _el(
            "span",
            id="live-instruction",
            text="Press Start camera and put the lesion in the circle.",
        )
        status.appendChild(self.badge)
        status.appendChild(js.document.createTextNode(" "))
        status.appendChild(self.instruction)
        panel.appendChild(status)
        self.verdict = _el("div", id="live-verdict", cls="live-verdict")
        panel.appendChild(self.verdict)
        self.bars = _el("ol", id="live-bars", cls="live-bars")
        panel.appendChild(self.bars)
        stats = _el("dl", id="live-stats", cls="live-stats")
        self.stat_el: dict[str, Any] = {}
        for key, label in (
            ("fps", "Live rate"),
            ("capture", "Capture"),
            ("preprocess", "Python preprocessing"),
            ("inference", "Inference"),
            ("postprocess", "Post-processing"),
            ("backend", "Engine"),
        ):
            stats.appendChild(_el("dt", text=label))
            dd = _el("dd", id=f"live-stat-{key}", text="–")
            stats.appendChild(dd)
            self.stat_el[key] = dd
        panel.appendChild(stats)
        stage.appendChild(panel)
        root.appendChild(stage)

        self.captured = _el("figure", id="live-captured", cls="live-captured", hidden=True)
        self.capture_canvas = _el(
            "canvas", id="live-capture-canvas", width=self._size, height=self._size
        )
        self.captured.appendChild(self.capture_canvas)
        self.captured_text = _el("figcaption", cls="live-captured-text")
        self.captured.appendChild(self.captured_text)
        root.appendChild(self.captured)

        self.mount.appendChild(root)

        self.grab = js.document.createElement("canvas")
        self.grab.width = self._size
        self.grab.height = self._size
        self.ctx = self.grab.getContext("2d", _obj({"willReadFrequently": True}))

        self._on(self.button, "click", lambda e: self.toggle())
        self._on(self.capture_btn, "click", lambda e: self.capture())
        self._on(self.torch_btn, "click", lambda e: self._spawn(self._toggle_torch()))
        self._on(self.zoom, "input", lambda e: self._spawn(self._set_zoom()))
        self._on(self.select, "change", lambda e: self._spawn(self.start(self.select.value)))
        self._on(self.video, "loadedmetadata", lambda e: self._fit_viewport())
        self._on(js.document, "visibilitychange", lambda e: self._on_visibility())
        self.button.setAttribute("aria-controls", "live")
        self.button.setAttribute("aria-pressed", "false")

    def _set(self, **attrs: str) -> None:
        for k, v in attrs.items():
            name = "data-" + k.replace("_", "-")
            if self.root.getAttribute(name) != v:
                self.root.setAttribute(name, v)

    def _show_message(self, text: str | None) -> None:
        if text:
            self.message.textContent = text
            self.message.hidden = False
        else:
            self.message.textContent = ""
            self.message.hidden = True

    def _fit_viewport(self) -> None:
        w, h = int(self.video.videoWidth or 0), int(self.video.videoHeight or 0)
        if w and h:
            self.viewport.style.aspectRatio = f"{w} / {h}"
            self.viewport.classList.toggle("portrait", h > w)

    # ------------------------------------------------------------ model / metadata
    async def _ensure_pipeline(self) -> None:
        if self.pipeline is not None:
            return
        if self.info is None:
            from pyodide.http import pyfetch  # type: ignore[import-not-found]

            resp = await pyfetch(MODEL_DIR + "metadata.json")
            self.info = parse_metadata(await resp.string())
        self._size = self.info.input_size
        if self._rgba.shape[0] != self._size:
            self._rgba = np.empty((self._size, self._size, 4), np.uint8)
            self.grab.width = self.grab.height = self._size
        self.pipeline = live.LivePipeline(self.info, self._infer, clock=_now)

    async def _wait_model(self) -> None:
        api = getattr(js.window, "skinlens", None)
        if api is None:
            self.model_error = "The classifier is not loaded on this page."
            return
        try:
            await api.ready
            self.model_ready = True
            self.stat_el["backend"].textContent = str(api.backend)
        except Exception as exc:  # the page reports the details itself
            self.model_error = f"The classifier could not start: {_error_name(exc)[1]}"

    async def _infer(self, tensor: np.ndarray) -> dict[str, Any]:
        res = await js.window.skinlens.predict(tensor)
        logits = [float(x) for x in res.logits]
        ood = float(res.ood) if res.ood is not None else float("nan")
        return {"logits": logits, "ood": None if ood != ood else ood, "ms": float(res.ms)}

    # ------------------------------------------------------------ camera
    def toggle(self) -> None:
        if self.running or self.stream is not None:
            self.stop()
        else:
            self._spawn(self.start())

    async def start(self, device_id: str | None = None) -> None:
        self._stop_stream()
        self._generation += 1
        gen = self._generation
        self._set(camera="starting", error="", state="warming-up", stable="false")
        self.badge.textContent = "Starting"
        self.instruction.textContent = live.INSTRUCTIONS["warming-up"]
        self._show_message(None)
        self.button.disabled = True
        try:
            await self._ensure_pipeline()
            if not self.model_ready and self.model_error is None:
                self._spawn(self._wait_model())
            stream = await self._open(device_id)
        except Exception as exc:
            self._fail(*_error_name(exc))
            return
        finally:
            self.button.disabled = False
        if gen != self._generation:  # stopped or restarted meanwhile
            for t in stream.getTracks():
                t.stop()
            return
        self.stream = stream
        tracks = stream.getVideoTracks()
        self.track = tracks[0] if tracks.length else None
        self.video.srcObject = stream
        self.viewport.hidden = False
        with contextlib.suppress(Exception):  # autoplay+muted plays anyway; frames are polled
            await self.video.play()
        self._fit_viewport()
        self._set(camera="on")
        self.button.textContent = "Stop camera"
        self.button.setAttribute("aria-pressed", "true")
        self.frozen = False
        self._fps_set = False
        self.captured.hidden = True
        self.capture_btn.textContent = "Capture"
        if self.pipeline is not None:
            self.pipeline.reset()
        await self._setup_track_controls()
        self._spawn(self._list_cameras())
        self.running = True
        self._schedule(0)

    async def _open(self, device_id: str | None) -> Any:
        md = getattr(js.navigator, "mediaDevices", None)
        if md is None or not hasattr(md, "getUserMedia"):
            if not bool(getattr(js.window, "isSecureContext", True)):
                raise RuntimeError("insecure-context")
            raise RuntimeError("NotFoundError: no mediaDevices")
        if device_id:
            video: dict[str, Any] = {"deviceId": {"exact": device_id}}
        else:
            video = {
                "facingMode": {"ideal": "environment"},
                "width": {"ideal": 1280},
                "height": {"ideal": 720},
            }
        try:
            return await md.getUserMedia(_obj({"video": video, "audio": False}))
        except Exception as exc:
            if "OverconstrainedError" in _error_name(exc)[0]:
                return await md.getUserMedia(_obj({"video": True, "audio": False}))
            raise

    def _fail(self, name: str, message: str) -> None:
        if name == "insecure-context" or message == "insecure-context":
            code, title, text = "insecure-context", *live.CAMERA_ERRORS["insecure-context"]
        else:
            code, title, text = live.camera_error(name, message)
        self._stop_stream()
        self._set(camera="error", error=code, state="warming-up", stable="false")
        self.badge.textContent = title
        self.instruction.textContent = ""
        self._show_message(text)
        js.console.warn(f"skinlens camera: {name}: {message}")

    async def _list_cameras(self) -> None:
        try:
            devices = await js.navigator.mediaDevices.enumerateDevices()
        except Exception:
            return
        cams = [d for d in devices if d.kind == "videoinput"]
        if len(cams) < 2:
            self.select_label.hidden = True
            return
        current = ""
        if self.track is not None and hasattr(self.track, "getSettings"):
            current = str(getattr(self.track.getSettings(), "deviceId", "") or "")
        self.select.innerHTML = ""
        for i, d in enumerate(cams):
            opt = _el("option", text=str(d.label or f"Camera {i + 1}"), value=str(d.deviceId))
            if str(d.deviceId) == current:
                opt.selected = True
            self.select.appendChild(opt)
        self.select_label.hidden = False

    async def _setup_track_controls(self) -> None:
        self.torch_btn.hidden = True
        self.zoom_label.hidden = True
        self._torch = False
        t = self.track
        if t is None or not hasattr(t, "getCapabilities"):
            return
        try:
            caps = t.getCapabilities()
        except Exception:
            return
        if getattr(caps, "torch", None):
            self.torch_btn.hidden = False
            self.torch_btn.setAttribute("aria-pressed", "false")
        zoom = getattr(caps, "zoom", None)
        if zoom is not None and getattr(zoom, "max", None) is not None:
            self.zoom.min = str(zoom.min)
            self.zoom.max = str(zoom.max)
            self.zoom.step = str(getattr(zoom, "step", None) or 0.1)
            settings = t.getSettings()
            self.zoom.value = str(getattr(settings, "zoom", None) or zoom.min)
            self.zoom_label.hidden = False

    async def _toggle_torch(self) -> None:
        if self.track is None:
            return
        want = not self._torch
        try:
            await self.track.applyConstraints(_obj({"advanced": [{"torch": want}]}))
            self._torch = want
            self.torch_btn.setAttribute("aria-pressed", "true" if want else "false")
        except Exception as exc:
            js.console.warn(f"torch: {exc}")

    async def _set_zoom(self) -> None:
        if self.track is None:
            return
        try:
            await self.track.applyConstraints(
                _obj({"advanced": [{"zoom": float(self.zoom.value)}]})
            )
        except Exception as exc:
            js.console.warn(f"zoom: {exc}")

    def _stop_stream(self) -> None:
        self.running = False
        if self._timer is not None:
            js.clearTimeout(self._timer)
            self._timer = None
        if self._raf is not None:
            js.cancelAnimationFrame(self._raf)
            self._raf = None
        self._pending = False
        if self.stream is not None:
            for t in self.stream.getTracks():
                t.stop()
        self.stream = None
        self.track = None
        self.video.srcObject = None

    def stop(self) -> None:
        self._generation += 1
        self._stop_stream()
        self.viewport.hidden = True
        self.torch_btn.hidden = True
        self.zoom_label.hidden = True
        self.capture_btn.disabled = True
        self.button.textContent = "Start camera"
        self.button.setAttribute("aria-pressed", "false")
        self._set(camera="off", state="warming-up", stable="false", fps="0.0")
        self.badge.textContent = "Camera off"
        self.instruction.textContent = "Press Start camera and put the lesion in the circle."

    # ------------------------------------------------------------ frame loop
    def _schedule(self, delay_ms: float) -> None:
        """Request the next frame; at most one request is ever pending (one loop)."""
        if not self.running or self._pending:
            return
        self._pending = True
        self._timer = js.setTimeout(self._tick_proxy, max(0, int(delay_ms)))

    def _on_timer(self, *args: Any) -> None:
        self._timer = None
        if not self.running:
            self._pending = False
            return
        # align the grab with the next paint (and pause with the tab in the background)
        self._raf = js.requestAnimationFrame(self._raf_proxy)

    def _on_visibility(self) -> None:
        if not js.document.hidden and self.running and not self._pending and not self._busy:
            self._schedule(0)

    def _on_frame(self, *args: Any) -> None:
        self._raf = None
        self._pending = False
        if not self.running:
            return
        if self._busy:  # a frame from before a restart is still finishing
            self._schedule(20)
            return
        self._busy = True
        self._spawn(self._frame(self._generation))

    async def _frame(self, gen: int) -> None:
        delay = 100.0
        try:
            delay = await self._process()
        except Exception as exc:
            js.console.error(f"skinlens live frame: {exc!r}")
            delay = 500.0
        finally:
            self._busy = False
        if gen == self._generation:
            self._schedule(delay)

    async def _process(self) -> float:
        p = self.pipeline
        vw, vh = int(self.video.videoWidth or 0), int(self.video.videoHeight or 0)
        if p is None or self.frozen or vw == 0 or vh == 0 or int(self.video.readyState) < 2:
            return 100.0
        if not self.model_ready:
            self._render(p.warming_up(self.model_error or "Loading the classifier..."))
            return 250.0
        t0 = _now()
        sx, sy, side = live.roi_box(vw, vh)
        n = self._size
        self.ctx.drawImage(self.video, sx, sy, side, side, 0, 0, n, n)
        self.ctx.getImageData(0, 0, n, n).data.assign_to(self._rgba)
        t1 = _now()
        result = await p.process(self._rgba, capture_ms=t1 - t0)
        if self.running and not self.frozen:
            self._render(result)
        busy = _now() - t0
        self._max_fps_from_track()
        return p.next_delay_ms(busy)

    def _max_fps_from_track(self) -> None:
        if self.track is None or self.pipeline is None or getattr(self, "_fps_set", False):
            return
        self._fps_set = True
        try:
            rate = float(getattr(self.track.getSettings(), "frameRate", 0) or 0)
        except Exception:
            rate = 0.0
        if rate > 0:
            self.pipeline.scheduler.max_fps = min(30.0, rate)

    # ------------------------------------------------------------ rendering
    def _render(self, r: live.LiveResult) -> None:
        attrs = r.attrs()
        for stage in ("capture", "preprocess", "inference", "postprocess"):
            attrs[f"ms_{stage}"] = f"{r.timings.get(stage, 0.0):.1f}"
        self._set(**attrs)
        labels = {
            "ok": "Assessing" if not r.stable else "Stable",
            "blurry": "Blurry",
            "dark": "Too dark",
            "bright": "Too bright",
            "glare": "Glare",
            "not-lesion": "No lesion",
            "warming-up": "Starting",
        }
        self.badge.textContent = labels.get(r.state, r.state)
        self.badge.className = f"live-badge live-badge-{r.state}"
        self.instruction.textContent = r.instruction
        self.capture_btn.disabled = self.pipeline is None or self.pipeline.smoother.best() is None

        if r.label:
            held = "" if r.state == "ok" else " (last verdict)"
            stable = "stable" if r.stable else "settling…"
            self.verdict.innerHTML = ""
            self.verdict.appendChild(_el("strong", cls="live-label", text=f"{r.name}{held}"))
            self.verdict.appendChild(
                _el(
                    "span",
                    cls=f"live-priority priority-{r.priority.lower()}",
                    text=f"Priority: {r.priority}",
                )
            )
            self.verdict.appendChild(_el("span", cls="live-stability", text=stable))
            self.verdict.appendChild(_el("p", cls="live-rec small", text=r.recommendation))
        else:
            self.verdict.textContent = ""
        self._render_bars(r.probs)
        now = _now()
        if now - self._last_stats > 250 and self.pipeline is not None:
            self._last_stats = now
            s = self.pipeline.stats
            self.stat_el["fps"].textContent = f"{s.fps():.1f} fps"
            self._set(stats=json.dumps(s.summary()))
            for k in ("capture", "preprocess", "inference", "postprocess"):
                self.stat_el[k].textContent = _fmt_ms(s.mean(k))

    def _render_bars(self, probs: list[float] | None) -> None:
        self.bars.innerHTML = ""
        if not probs or self.info is None:
            return
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[:3]
        for i in order:
            li = _el("li")
            li.appendChild(_el("span", cls="live-bar-name", text=self.info.classes[i].name))
            bar = _el("meter", min="0", max="1", value=f"{probs[i]:.3f}")
            li.appendChild(bar)
            li.appendChild(_el("span", cls="live-bar-pct", text=f"{100 * probs[i]:.0f}%"))
            self.bars.appendChild(li)

    # ------------------------------------------------------------ capture
    def capture(self) -> None:
        if self.frozen:
            self.frozen = False
            self.capture_btn.textContent = "Capture"
            self.captured.hidden = True
            self._schedule(0)
            return
        if self.pipeline is None:
            return
        cap = self.pipeline.capture()
        if cap is None or cap["image"] is None:
            return
        self.frozen = True
        rgb = cap["image"]
        h, w = rgb.shape[:2]
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[..., :3] = rgb
        rgba[..., 3] = 255
        data = js.Uint8ClampedArray.new(h * w * 4)
        data.assign(rgba.reshape(-1))
        self.capture_canvas.width, self.capture_canvas.height = w, h
        self.capture_canvas.getContext("2d").putImageData(js.ImageData.new(data, w, h), 0, 0)
        fr = cap["frame_result"] or {}
        verdict = cap["verdict"] or {}
        label = fr.get("label") or verdict.get("label") or ""
        probs = fr.get("probs") or cap["frame_probs"]
        for k, v in {
            "label": label,
            "priority": str(fr.get("priority") or verdict.get("priority") or "None"),
            "probs": json.dumps([round(x, 5) for x in probs]),
            "stable": "true" if fr.get("stable") else "false",
            "sharpness": f"{cap['sharpness']:.1f}",
        }.items():
            self.captured.setAttribute("data-" + k, v)
        name = fr.get("name") or label
        self.captured_text.textContent = (
            f"Captured the sharpest recent frame: {name} · priority "
            f"{fr.get('priority', 'None')} · {fr.get('recommendation', '')}"
        )
        self.captured.hidden = False
        self.capture_btn.textContent = "Resume live"


def setup(
    mount_id: str = "live-mount",
    start_button_id: str = "camera-start",
    info: ModelInfo | None = None,
) -> LiveCamera:
    """Build the live view in ``#mount_id`` and wire ``#start_button_id`` (idempotent).

    ``info`` (the parsed model metadata) is optional: without it the metadata is
    fetched on the first camera start. A ``ModelInfo`` passed as the first
    argument is accepted too (``setup(info)``).
    """
    global _instance
    if isinstance(mount_id, ModelInfo):
        info, mount_id = mount_id, "live-mount"
    if _instance is not None:
        if info is not None and _instance.info is None:
            _instance.info = info
        return _instance
    mount = js.document.getElementById(mount_id)
    button = js.document.getElementById(start_button_id)
    if mount is None or button is None:
        raise RuntimeError(f"live view needs #{mount_id} and #{start_button_id} in the page")
    _instance = LiveCamera(mount, button, info)
    return _instance


def main(info: ModelInfo | None = None) -> LiveCamera:
    """Entry used by ``web_app.App.start_camera_module``: ``setup()`` with the page's metadata."""
    return setup(info=info)
