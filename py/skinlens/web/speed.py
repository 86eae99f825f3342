"""The speed test view (``?view=speed``): :mod:`skinlens.speed` against every backend.

For each backend the browser offers (``?backends=wasm,cpu`` narrows the list: tests), a
model worker on exactly that backend is started (``skinlens.loadModel``), warmed up, timed
at every batch size and closed again, one backend at a time so that they do not compete for
the cores. Then the Python steps are timed, the two plots, the table and the device facts
are drawn, "Export JSON" gets a ``blob:`` URL, and each backend's per-image times are kept
in ``localStorage`` for batch mode to pick its batch size.

Automation contract: ``#speed[data-state=running|done][data-results]`` (a JSON list of
``{backend, batch, ms_per_batch, ms_per_image}``), the plots under ``#speed svg``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pyodide.ffi import JsException  # type: ignore[import-not-found]

from skinlens import speed
from skinlens.metadata import ModelInfo
from skinlens.speed import Measurement
from skinlens.view import esc
from skinlens.web import browser
from skinlens.web.batch import BEST_BATCH_KEY
from skinlens.wording import Wording

BACKENDS = ("webgpu", "webgl", "wasm", "cpu")


class SpeedPage:
    def __init__(self, info: ModelInfo, wording: Wording) -> None:
        self.info = info
        self.wording = wording
        self.points: list[Measurement] = []
        self.backends: dict[str, dict[str, Any]] = {}
        self.json_url: str | None = None

    def backends_wanted(self) -> list[str]:
        wanted = [b for b in browser.query_param("backends").split(",") if b in BACKENDS]
        return wanted or list(BACKENDS)

    async def run(self) -> None:
        box = browser.el("speed")
        browser.set_attrs(box, {"data-state": "running", "data-results": "[]"})
        facts = await browser.device_facts()
        size = self.info.input_size
        rng = np.random.default_rng(0)
        inputs = rng.uniform(-1, 1, (max(speed.BATCH_SIZES), size, size, 3)).astype(np.float32)
        for name in self.backends_wanted():
            await self.time_backend(name, inputs)
        steps = speed.python_steps(self.info)
        self.render(facts, steps)
        best = speed.best_batches(self.points)
        browser.store_json(BEST_BATCH_KEY, browser.stored_json(BEST_BATCH_KEY) | best)
        browser.set_attrs(box, {"data-state": "done"})

    async def time_backend(self, name: str, inputs: np.ndarray) -> None:
        browser.el("speed-status").textContent = self.wording.text("speed.timing", backend=name)
        try:
            handle = await browser.load_model(name)
        except JsException as e:
            self.backends[name] = {"available": False, "why": browser.error_text(e)}
            return
        model = browser.WorkerModel(handle=handle)

        async def call(x: np.ndarray) -> float:
            return (await model(x)).ms

        self.backends[name] = {"available": True, **browser.to_py(handle.info)}
        try:
            await speed.time_backend(name, call, inputs, self.add_point)
        finally:
            await handle.dispose()

    def add_point(self, point: Measurement) -> None:
        self.points.append(point)
        data = json.dumps([p.as_dict() for p in self.points])
        browser.set_attrs(browser.el("speed"), {"data-results": data})

    def render(self, facts: dict[str, Any], steps: dict[str, float]) -> None:
        w = self.wording
        x_label = w.text("speed.axis-batch")
        browser.el("speed-plots").innerHTML = speed.plot_svg(
            self.points,
            "ms_per_batch",
            w.text("speed.plot-batch"),
            w.text("speed.axis-ms"),
            x_label,
        ) + speed.plot_svg(
            self.points,
            "ms_per_image",
            w.text("speed.plot-image"),
            w.text("speed.axis-ms"),
            x_label,
        )
        rows = "".join(
            f"<tr><td>{esc(p.backend)}</td><td>{p.batch}</td><td>{p.ms_per_batch:.1f}</td>"
            f"<td>{p.ms_per_image:.1f}</td></tr>"
            for p in self.points
        )
        rows += "".join(
            f'<tr><td>{esc(n)}</td><td colspan="3">{esc(w.text("speed.unavailable", why=b["why"]))}'
            "</td></tr>"
            for n, b in self.backends.items()
            if not b["available"]
        )
        browser.el("speed-rows").innerHTML = rows
        threads = {n: b.get("threads") for n, b in self.backends.items() if b["available"]}
        shown = {
            **facts,
            "threads": ", ".join(f"{n}: {t}" for n, t in threads.items() if t) or "-",
            **steps,
        }
        for key, value in shown.items():
            browser.el(f"speed-{key}").textContent = str(value)
        report = {"results": [p.as_dict() for p in self.points], "backends": self.backends}
        report |= {"device": facts, "python": steps, "model": self.info.raw["name"]}
        self.json_url = browser.text_url(
            json.dumps(report, indent=1), "application/json", self.json_url
        )
        link = browser.el("speed-json")
        link.href = self.json_url
        link.hidden = False
        browser.el("speed-status").textContent = w.text("speed.done")
