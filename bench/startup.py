#!/usr/bin/env python3
"""Start-up, stage by stage, in headless Chromium (wasm); prints one JSON object.

    python -m bench.startup [--dist DIR] [--compare BEFORE_DIST] [--rates 1,4] [--warm-runs 3]

For each CPU throttling rate (``Emulation.setCPUThrottlingRate``: 4 is the usual stand-in
for a mid-range phone) and each build (``--dist``, and ``--compare``'s, run interleaved in
the same process so one run gives the ratios):

* **cold**: a fresh profile's first visit (no service worker, empty caches);
* **warm**: the installed app reopened: the service worker has precached everything
  (``offline-ready``), then the page is navigated away and opened again ``--warm-runs``
  times (median);
* **photo**: a 200x150 JPEG's result after ready, timed in the page (``data-total-ms``:
  file chosen -> result shown), and its inference (``data-ms``);
* x1 only: a 12 MP JPEG's Python path (``data-read-ms`` + ``data-prep-ms``).

Stages come from the page's own marks (``skinlens.info.marks``: ``performance.mark`` at each
step in app.js, main.py and the model worker, all on the page's clock, ms since navigation
start) and its resource timings (each wheel, the Pyodide runtime files): see ``STAGES``.
A stage whose marks a build lacks is ``null``. ``ready`` is ``body[data-ready=true]``.
Numbers vary +-30% on a shared machine; the CPU is named in the output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from harness import DATA_DIR, Browser, LoggedServer, classify, open_app, wait_for
from imagegen import lesion_like, write_lesion_jpeg
from PIL import Image

import serve
from bench.common import cpu_name, workspace

STAGES: tuple[tuple[str, str, str], ...] = (
    ("html", "nav:fetchStart", "nav:responseEnd"),
    ("html -> app.js", "nav:responseEnd", "app.js"),
    ("pyscript (core.js, config)", "app.js", "py:Loading Pyodide"),
    ("pyodide boot + packages", "py:Loaded Storage", "py:Loading files"),
    ("pyscript [files] into the FS", "py:Loading files", "py:Loaded files"),
    ("pyodide ready -> main.py", "py:Loaded files", "main.py"),
    ("import skinlens (with the bytecode cache)", "main.py", "import skinlens"),
    ("  of which: bytecode cache read", "main.py", "bytecode cache"),
    ("wording", "import skinlens", "wording"),
    ("metadata", "wording", "metadata"),
    ("controllers bound", "metadata", "bound"),
    ("model: tf.js", "worker:start", "worker:tf.js"),
    ("model: backend", "worker:tf.js", "worker:backend"),
    ("model: model.json", "worker:backend", "worker:model.json"),
    ("model: weights + upload", "worker:model.json", "worker:weights"),
    ("model: warm-up", "worker:weights", "worker:warm-up"),
    ("python chain (nav -> controllers bound)", "nav:fetchStart", "bound"),
    ("model chain (nav -> model warm)", "nav:fetchStart", "worker:warm-up"),
    ("ready", "nav:fetchStart", "ready"),
    ("first paint of the ready page", "ready", "ready painted"),
)
"""(stage, from mark, to mark). ``nav:*`` are the navigation timing's fields."""

RESOURCES = (".whl", "pyodide.asm.wasm", "pyodide.asm.js", "python_stdlib.zip", "core.js")

PAGE_JS = """
const n = performance.getEntriesByType('navigation')[0] || {};
const res = {};
for (const e of performance.getEntriesByType('resource')) {
  const name = e.name.split('?')[0].split('/').pop();
  if (arguments[0].some((s) => name.endsWith(s))) res[name] = [e.startTime, e.responseEnd];
}
return {marks: Object.assign({'nav:fetchStart': n.fetchStart, 'nav:responseEnd': n.responseEnd,
  'nav:domContentLoaded': n.domContentLoadedEventEnd}, window.skinlens ? skinlens.info.marks : {}),
  resources: res};
"""


def stages_of(marks: dict[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, a, b in STAGES:
        ok = marks.get(a) is not None and marks.get(b) is not None
        out[name] = round(marks[b] - marks[a]) if ok else None
    return out


def snapshot(b: Browser) -> dict:
    """The page's marks, stages and resource spans (ms since navigation start) once ready,
    after the ready page's first paint has been marked (when the build marks it)."""
    d = b.driver
    wait_for(
        lambda: d.execute_script(
            "return !window.skinlens || 'ready painted' in skinlens.info.marks"
            " || !('bound' in skinlens.info.marks)"
        ),
        30,
        "the ready page's first paint",
        poll=0.05,
    )
    got = d.execute_script(PAGE_JS, list(RESOURCES))
    marks = {k: v for k, v in got["marks"].items() if v is not None}
    return {
        "ready_ms": round(marks["ready"]) if "ready" in marks else None,
        "stages_ms": stages_of(marks),
        "resources_ms": {k: [round(x) for x in v] for k, v in sorted(got["resources"].items())},
        "marks_ms": {k: round(v) for k, v in sorted(marks.items(), key=lambda kv: kv[1])},
    }


def throttle(b: Browser, rate: float) -> None:
    b.driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": rate})


def wait_precached(b: Browser) -> str:
    """The service worker has precached every file (pwa.js: ``offline-ready``)."""
    return wait_for(
        lambda: b.driver.execute_script(
            "const s = document.getElementById('pwa-status');"
            "return !!navigator.serviceWorker.controller && !!s"
            " && s.dataset.state === 'offline-ready' && s.dataset.state"
        ),
        300,
        "the service worker's precache (offline-ready)",
    )


def median_stages(runs: list[dict]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in runs[0]["stages_ms"]:
        vals = [r["stages_ms"][name] for r in runs if r["stages_ms"][name] is not None]
        out[name] = round(statistics.median(vals)) if vals else None
    return out


IDLE_FETCH_JS = """
const done = arguments[arguments.length - 1];
(async () => {
  const url = arguments[0];
  const ms = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await (await fetch(url)).arrayBuffer();
    ms.push(performance.now() - t0);
  }
  done(ms);
})();
"""


def idle_wheel_fetch(b: Browser) -> dict:
    """NumPy's wheel fetched on the idle, ready page (the service worker's cache hit, body
    read), to tell the worker's own cost from the page's busy main thread: during start-up
    resource timing charges the wheel with the time the page had no turn to read it."""
    url = b.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".find(n => /numpy-.*\\.whl/.test(n)) || null"
    )
    if not url:
        return {"url": None}
    ms = b.driver.execute_async_script(IDLE_FETCH_JS, url)
    return {"ms_runs": [round(x, 1) for x in ms], "ms_median": round(statistics.median(ms), 1)}


def photo_result(b: Browser, photo: Path, runs: int) -> dict:
    totals, infer = [], []
    classify(b, photo)  # first photo: kernels, caches
    for _ in range(runs):
        r = classify(b, photo)
        totals.append(float(r["total-ms"]))
        infer.append(float(r["ms"] or "nan"))
    return {
        "state": r["state"],
        "label": r["label"],
        "total_ms_median": round(statistics.median(totals), 1),
        "total_ms_runs": [round(x, 1) for x in totals],
        "inference_ms_median": round(statistics.median(infer), 1),
    }


def python_12mp(b: Browser, big: Path) -> dict:
    runs = []
    for _ in range(3):
        r = classify(b, big)
        runs.append(float(r["read-ms"]) + float(r["prep-ms"]))
    return {"read_decode_gates_normalise_ms_median": round(statistics.median(runs), 1)}


def measure(server: LoggedServer, rate: float, warm_runs: int, photo: Path, big: Path) -> dict:
    """Cold first visit, precache, warm reopenings and a photo, at one throttling rate."""
    b = Browser()
    try:
        throttle(b, rate)
        cold = open_app(b, server)
        out: dict = {"backend": cold["backend"], "cold": snapshot(b)}
        throttle(b, 1)  # the background precache is not what is measured: do not wait x4
        wait_precached(b)
        throttle(b, rate)
        warm = []
        for _ in range(warm_runs):
            b.driver.get("about:blank")
            t0 = time.monotonic()
            open_app(b, server)
            snap = snapshot(b)
            snap["wall_s"] = round(time.monotonic() - t0, 2)
            warm.append(snap)
        out["warm"] = {
            "ready_ms_median": round(statistics.median(w["ready_ms"] for w in warm)),
            "ready_ms_runs": [w["ready_ms"] for w in warm],
            "stages_ms_median": median_stages(warm),
            "last": warm[-1],
        }
        out["warm"]["numpy_wheel_fetch_idle"] = idle_wheel_fetch(b)
        out["photo"] = photo_result(b, photo, 5)
        if rate == 1:
            out["python_12mp"] = python_12mp(b, big)
        return out
    finally:
        b.close()


def ratios(after: dict, before: dict) -> dict:
    """after / before for ready and every stage present in both (< 1: faster)."""

    def r(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    out = {
        "cold_ready": r(after["cold"]["ready_ms"], before["cold"]["ready_ms"]),
        "warm_ready": r(after["warm"]["ready_ms_median"], before["warm"]["ready_ms_median"]),
        "photo_total": r(after["photo"]["total_ms_median"], before["photo"]["total_ms_median"]),
    }
    for kind, a_st, b_st in (
        ("cold", after["cold"]["stages_ms"], before["cold"]["stages_ms"]),
        ("warm", after["warm"]["stages_ms_median"], before["warm"]["stages_ms_median"]),
    ):
        out[f"{kind}_stages"] = {k: r(a_st.get(k), b_st.get(k)) for k in a_st}
    return out


def write_12mp_jpeg(path: Path) -> Path:
    """A 4000x3000 photo-like JPEG (~3-4 MB, fine noise so it is not trivial to compress)."""
    img = lesion_like(1000, 750, seed=11).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16)
    noise = np.random.default_rng(0).integers(-6, 7, arr.shape, dtype=np.int16)
    Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    ap.add_argument("--compare", help="another build's dist/ (the 'before'), run interleaved")
    ap.add_argument("--rates", default="1,4", help="CPU throttling rates (default 1,4)")
    ap.add_argument("--warm-runs", type=int, default=3)
    args = ap.parse_args()
    rates = [float(x) for x in args.rates.split(",")]
    with workspace("startup", args.dist) as (tmp, dist):
        ham = sorted((DATA_DIR / "images").glob("*.jpg")) if (DATA_DIR / "images").is_dir() else []
        photo = ham[0] if ham else write_lesion_jpeg(tmp / "lesion.jpg")
        big = write_12mp_jpeg(tmp / "photo-12mp.jpg")
        builds = {"after": dist} | ({"before": Path(args.compare)} if args.compare else {})
        out: dict = {
            "cpu": cpu_name(),
            "photo": photo.name,
            "builds": {k: str(v) for k, v in builds.items()},
            "results": {},
        }
        for rate in rates:
            key = f"x{rate:g}"
            for name, d in builds.items():
                log = tmp / f"{name}-{key}.log"
                with serve.running_server(d, port=0, log=log) as srv:
                    res = measure(LoggedServer(srv, log), rate, args.warm_runs, photo, big)
                out["results"].setdefault(name, {})[key] = res
            if "before" in builds:
                out.setdefault("ratios_after_over_before", {})[key] = ratios(
                    out["results"]["after"][key], out["results"]["before"][key]
                )
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
