"""The live-camera side of the page: camera -> :mod:`skinlens.live` -> ``#live``.

The markup is ``index.html``'s ``#live-template``, cloned into ``#live-mount`` and bound here.
The frame loop never blocks the page: a chain of ``setTimeout`` + ``requestAnimationFrame``
callbacks with at most one frame in flight, paced by :class:`skinlens.live.Scheduler`; the
model runs in the inference worker, so the main thread only grabs, gates and renders.

Automation contract: ``#live`` carries ``data-state`` (ok|blurry|dark|bright|glare|
not-lesion|warming-up), ``data-label``, ``data-stable``, ``data-fps``; also
``data-priority``, ``data-probs`` (smoothed), ``data-camera`` (off|starting|on|error),
``data-error`` (a camera error code), ``data-ms-*`` stage timings and ``data-stats``.
A captured frame's result is on ``#live-captured`` (``data-label``, ``data-priority``,
``data-probs``, ``data-stable``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from skinlens import live
from skinlens.metadata import ModelInfo
from skinlens.view import fmt_ms
from skinlens.web import browser
from skinlens.web.keep import Offer, Pending
from skinlens.wording import Wording

STAT_STAGES = ("capture", "preprocess", "inference", "postprocess")
ELEMENTS = (
    "camera-start",
    "camera-select",
    "camera-torch",
    "camera-zoom",
    "camera-capture",
    "live-message",
    "live-video",
    "live-state-badge",
    "live-instruction",
    "live-verdict",
    "live-label",
    "live-priority",
    "live-stability",
    "live-rec",
    "live-bars",
    "live-captured",
    "live-capture-canvas",
    "live-captured-text",
    "live-stat-backend",
)
"""Ids of the template's elements the view updates."""


class LiveCamera:
    """One live view: camera, frame loop and rendering."""

    def __init__(self, info: ModelInfo, pipeline: live.LivePipeline, wording: Wording) -> None:
        self.info = info
        self.pipeline = pipeline
        self.w = wording
        self.camera = browser.Camera()
        self.grabber = browser.FrameGrabber(info.input_size)
        self.running = self.frozen = self.busy = self.pending = self.torch = False
        self.model_ready = False
        self.timer: Any = None
        self.generation = 0
        self.last_stats = 0.0
        self.shown: tuple[Any, bool, bool] | None = None  # what the verdict panel shows
        self.tasks: set[asyncio.Task] = set()
        self.tick = browser.callback(self.on_timer)
        self.frame = browser.callback(self.on_frame)
        self.offer: Offer | None = None
        """Where a capture is offered for saving to the history (``SaveOffer.offer``)."""

    # ------------------------------------------------------------ markup
    def bind(self) -> None:
        """Clone the template into ``#live-mount`` and wire the controls."""
        browser.set_css_number("--roi-fraction", self.info.live.roi_fraction)
        self.root = browser.clone_template("live-template")
        browser.el("live-mount").appendChild(self.root)
        self.e = {k: browser.el(k) for k in ELEMENTS}
        self.viewport = self.root.querySelector(".live-viewport")
        self.e["live-video"].muted = True
        self.show_state("camera-off")
        browser.on(self.e["camera-start"], "click", lambda ev: self.toggle())
        browser.on(self.e["camera-capture"], "click", lambda ev: self.capture())
        browser.on(self.e["camera-torch"], "click", lambda ev: self.spawn(self.toggle_torch()))
        browser.on(self.e["camera-zoom"], "input", lambda ev: self.spawn(self.set_zoom()))
        browser.on(
            self.e["camera-select"], "change", lambda ev: self.spawn(self.start(ev.target.value))
        )
        browser.on(self.e["live-video"], "loadedmetadata", lambda ev: self.fit_viewport())
        browser.on(browser.document(), "visibilitychange", lambda ev: self.on_visibility())

    def enable(self, backend_label: str) -> None:
        self.model_ready = True
        self.e["live-stat-backend"].textContent = backend_label

    def spawn(self, coro: Any) -> None:
        browser.spawn(coro, self.tasks)

    def set(self, **attrs: str) -> None:
        browser.set_attrs(self.root, {"data-" + k.replace("_", "-"): v for k, v in attrs.items()})

    def show_state(self, code: str) -> None:
        self.e["live-state-badge"].textContent = self.w.badge(code)
        self.e["live-state-badge"].className = f"live-badge live-badge-{code}"
        self.e["live-instruction"].textContent = self.w.instruction(code)

    def show_message(self, text: str) -> None:
        self.e["live-message"].textContent = text
        self.e["live-message"].hidden = not text

    def fit_viewport(self) -> None:
        video = self.e["live-video"]
        w, h = int(video.videoWidth or 0), int(video.videoHeight or 0)
        if w and h:
            self.viewport.style.aspectRatio = f"{w} / {h}"
            self.viewport.classList.toggle("portrait", h > w)

    # ------------------------------------------------------------ camera
    def toggle(self) -> None:
        if self.running or self.camera.stream is not None:
            self.stop()
        else:
            self.spawn(self.start(None))

    async def start(self, device_id: str | None) -> None:
        self.stop_stream()
        self.generation += 1
        gen = self.generation
        self.set(camera="starting", error="", state="warming-up", stable="false")
        self.show_state("warming-up")
        self.show_message("")
        button = self.e["camera-start"]
        button.disabled = True
        try:
            await self.camera.open(device_id)
        except Exception as e:
            self.fail(browser.error_name(e))
            return
        finally:
            button.disabled = False
        if gen != self.generation:  # stopped or restarted meanwhile
            self.camera.close()
            return
        self.e["live-video"].srcObject = self.camera.stream
        self.viewport.hidden = False
        await browser.play(self.e["live-video"])
        self.set(camera="on")
        button.textContent = self.w.text("live.stop")
        button.setAttribute("aria-pressed", "true")
        self.frozen = False
        self.e["live-captured"].hidden = True
        self.pipeline.reset()
        rate = self.camera.frame_rate()
        self.pipeline.scheduler.max_fps = min(
            self.info.live.max_fps, rate or self.info.live.max_fps
        )
        self.setup_track_controls()
        self.spawn(self.list_cameras())
        self.running = True
        self.schedule(0)

    def fail(self, name: str) -> None:
        code = "insecure-context" if name == "insecure-context" else live.camera_error(name)
        self.stop_stream()
        self.set(camera="error", error=code, state="warming-up", stable="false")
        self.e["live-state-badge"].textContent = self.w.title(code)
        self.e["live-instruction"].textContent = ""
        self.show_message(self.w.get(code, "message"))
        browser.warn(f"skinlens camera: {name}")

    async def list_cameras(self) -> None:
        cams = await self.camera.devices()
        label = self.e["camera-select"].parentElement
        label.hidden = len(cams) < 2
        if len(cams) < 2:
            return
        select = self.e["camera-select"]
        select.innerHTML = ""
        current = self.camera.current_device()
        for i, (device, name) in enumerate(cams):
            opt = browser.create("option")
            opt.value = device
            opt.textContent = name or self.w.text("live.camera-n", n=i + 1)
            opt.selected = device == current
            select.appendChild(opt)

    def setup_track_controls(self) -> None:
        caps = self.camera.capabilities()
        torch, zoom = self.e["camera-torch"], self.e["camera-zoom"]
        torch.hidden = not getattr(caps, "torch", False)
        self.torch = False
        z = getattr(caps, "zoom", None)
        zoom.parentElement.hidden = z is None
        if z is not None:
            zoom.min, zoom.max, zoom.step = str(z.min), str(z.max), str(getattr(z, "step", 0.1))
            zoom.value = str(z.min)

    async def toggle_torch(self) -> None:
        self.torch = not self.torch
        await self.camera.apply({"torch": self.torch})
        self.e["camera-torch"].setAttribute("aria-pressed", "true" if self.torch else "false")

    async def set_zoom(self) -> None:
        await self.camera.apply({"zoom": float(self.e["camera-zoom"].value)})

    def stop_stream(self) -> None:
        self.running = self.pending = False
        if self.timer is not None:
            browser.clear_timeout(self.timer)
            self.timer = None
        self.camera.close()
        self.e["live-video"].srcObject = None

    def stop(self) -> None:
        self.generation += 1
        self.stop_stream()
        self.viewport.hidden = True
        self.e["camera-torch"].hidden = True
        self.e["camera-zoom"].parentElement.hidden = True
        self.e["camera-capture"].disabled = True
        self.e["camera-start"].textContent = self.w.text("live.start")
        self.e["camera-start"].setAttribute("aria-pressed", "false")
        self.set(camera="off", state="warming-up", stable="false", fps="0.0")
        self.show_state("camera-off")

    # ------------------------------------------------------------ frame loop
    def schedule(self, delay_ms: float) -> None:
        """Request the next frame; at most one request is ever pending (one loop)."""
        if self.running and not self.pending:
            self.pending = True
            self.timer = browser.set_timeout(self.tick, delay_ms)

    def on_timer(self, *_: Any) -> None:
        self.timer = None
        # align the grab with the next paint (and pause with the tab in the background)
        browser.request_frame(self.frame)

    def on_visibility(self) -> None:
        if not browser.page_hidden() and self.running and not self.pending and not self.busy:
            self.schedule(0)

    def on_frame(self, *_: Any) -> None:
        self.pending = False
        if not self.running:
            return
        if self.busy:  # a frame from before a restart is still finishing
            self.schedule(20)
            return
        self.busy = True
        self.spawn(self.run_frame(self.generation))

    async def run_frame(self, gen: int) -> None:
        try:
            delay = await self.process()
        finally:
            self.busy = False
        if gen == self.generation:
            self.schedule(delay)

    async def process(self) -> float:
        video = self.e["live-video"]
        vw, vh = int(video.videoWidth or 0), int(video.videoHeight or 0)
        if self.frozen or vw == 0 or vh == 0 or int(video.readyState) < 2:
            return 100.0
        if not self.model_ready:
            self.show_state("loading-model")
            return 250.0
        t0 = browser.now()
        sx, sy, side = live.roi_box(vw, vh, self.info.live.roi_fraction)
        rgba = self.grabber.grab(video, sx, sy, side)
        frame = self.pipeline.check(rgba, capture_ms=browser.now() - t0)
        sampler = self.pipeline.sampler  # this session's (a restart makes a new one)
        if sampler.take():  # the model is free: it assesses this frame
            self.spawn(self.assess(frame, self.generation, sampler))
        if self.running and not self.frozen:
            self.render(self.pipeline.glance(frame))
        return self.pipeline.next_delay_ms(browser.now() - t0)

    async def assess(self, frame: live.Frame, gen: int, sampler: live.Sampler) -> None:
        """The model's verdict on one frame, shown when it comes (the loop goes on meanwhile)."""
        try:
            result = await self.pipeline.assess(frame)
        finally:
            sampler.done()
        if gen == self.generation and self.running and not self.frozen:
            self.render(result)
            self.hurry()

    def hurry(self) -> None:
        """The model is free again: the frame the loop is waiting to grab is grabbed now (it
        goes to the model), not after the rest of the pause; the pause only spaced frames."""
        if self.pending and self.timer is not None:
            browser.clear_timeout(self.timer)
            self.timer = None
            self.pending = False
            self.schedule(0)

    # ------------------------------------------------------------ rendering
    def render(self, r: live.LiveResult) -> None:
        self.set(**r.attrs())
        self.show_state("stable" if r.state == "ok" and r.stable else r.state)
        self.e["camera-capture"].disabled = self.pipeline.smoother.best() is None
        v = r.verdict
        # the verdict panel changes with the model's answers, not with every frame shown
        shown = (v, r.state != "ok", r.stable)
        if shown != self.shown:
            self.shown = shown
            self.render_verdict(r)
        self.render_stats()

    def render_verdict(self, r: live.LiveResult) -> None:
        v = r.verdict
        done = v is not None and not v.rejected and v.label is not None
        self.e["live-verdict"].hidden = not done
        if done:
            name = self.w.class_name(v.label)
            held = r.state != "ok"
            self.e["live-label"].textContent = self.w.text("live.held", name=name) if held else name
            self.e["live-priority"].textContent = self.w.text(
                "live.priority", priority=self.w.priority(v.priority)
            )
            self.e["live-priority"].className = f"live-priority priority-{v.priority.lower()}"
            self.e["live-stability"].textContent = self.w.text(
                "live.stable" if r.stable else "live.settling"
            )
            self.e["live-rec"].textContent = self.w.recommendation(v.advice)
        self.render_bars(v.probs if done else None)

    def render_stats(self) -> None:
        now = browser.now()
        if now - self.last_stats > 250:
            self.last_stats = now
            s = self.pipeline.stats
            self.set(stats=json.dumps(s.summary()))
            browser.el("live-stat-fps").textContent = self.w.text(
                "unit.fps", n=self.w.number(s.fps(), 1, False)
            )
            for k in STAT_STAGES:
                browser.el(f"live-stat-{k}").textContent = fmt_ms(s.mean(k), self.w)

    def render_bars(self, probs: tuple[float, ...] | None) -> None:
        bars = self.e["live-bars"]
        bars.innerHTML = ""
        if not probs:
            return
        for i in sorted(range(len(probs)), key=lambda i: -probs[i])[:3]:
            li = browser.create("li")
            li.innerHTML = (
                f'<span class="live-bar-name"></span><meter min="0" max="1" value="{probs[i]:.3f}">'
                f'</meter><span class="live-bar-pct">{self.w.number(probs[i], 0, True)}</span>'
            )
            li.firstChild.textContent = self.w.class_name(self.info.codes[i])
            bars.appendChild(li)

    # ------------------------------------------------------------ capture
    def capture(self) -> None:
        """Freeze the sharpest recent accepted frame with its own result (again: resume)."""
        if self.frozen:
            self.frozen = False
            self.e["camera-capture"].textContent = self.w.text("live.capture")
            self.e["live-captured"].hidden = True
            if self.offer is not None:
                self.offer(self.e["live-captured-text"], None)
            self.schedule(0)
            return
        best = self.pipeline.smoother.best()
        if best is None or best.image is None:
            return
        self.frozen = True
        browser.draw_rgb(self.e["live-capture-canvas"], best.image)
        frame: live.LiveResult = best.result
        v = frame.verdict
        label = v.label if v is not None and v.label else ""
        priority = v.priority if v is not None else "None"
        browser.set_attrs(
            self.e["live-captured"],
            {
                "data-label": label,
                "data-priority": priority,
                "data-probs": json.dumps([round(float(x), 5) for x in best.probs]),
                "data-stable": "true" if frame.stable else "false",
                "data-sharpness": f"{best.sharpness:.1f}",
            },
        )
        name = self.w.class_name(label) if label else ""
        self.e["live-captured-text"].textContent = self.w.text(
            "live.captured",
            name=name,
            priority=self.w.priority(priority),
            recommendation=self.w.recommendation(v.advice if v is not None else priority),
        )
        self.e["live-captured"].hidden = False
        self.e["camera-capture"].textContent = self.w.text("live.resume")
        if self.offer is not None and v is not None and not v.rejected and label:
            image = best.image

            async def crop() -> Any:
                return image

            quality = {"sharpness": round(best.sharpness, 1), "stable": frame.stable}
            self.offer(self.e["live-captured-text"], Pending("live", v, crop, None, quality))
