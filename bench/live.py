"""Live-mode responsiveness in headless Chromium on the wasm backend; prints one JSON object.

    python -m bench.live [--seconds 20] [--dist DIR] [--compare BEFORE_DIST] [--rates 1,4]

Feeds Chromium's fake camera a 30 frames/s clip of a steady lesion (a HAM10000 test image
when the data is present, else a drawn stand-in), and for each CPU throttling rate
(``Emulation.setCPUThrottlingRate``; it slows the page's main thread, where the frames are
grabbed, gated and drawn) and each build (``--dist``, and ``--compare``'s, interleaved)
starts the live view, notes the time from the click to the first stable verdict
(``#live[data-stable=true]``), waits for a settling period, then measures for ``--seconds``:

* ``fps``: frames the live loop finished in the window divided by the window (the
  ``frames`` counter in ``#live[data-stats]``), and the page's own ``data-fps``;
* ``inference_fps``: frames the model assessed per second (``inferences``; a build that
  assesses every frame it shows has no such counter: then it equals ``fps``);
* ``long_tasks``: main-thread tasks over 50 ms (``PerformanceObserver`` ``longtask``,
  registered before any page script runs): count, longest, durations;
* per-stage milliseconds the page reports.

Issue 17 targets: x4 >= 10 frames/s with no task over 100 ms; x1 >= 20 frames/s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import fixtures_video as fv
import numpy as np
from harness import chromium, live_attrs, start_live, wait_for

import serve
from bench.common import cpu_name, workspace

LONGTASK_JS = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
} catch (e) { window.__longtasks = null; }
"""
CLIP_FPS = 30


def lesion_base() -> tuple[np.ndarray, str]:
    """A steady lesion frame: a HAM10000 test image, or a drawn stand-in without the data."""
    images = fv.lesion_images(1)
    if images:
        return fv.lesion_base(images[0]), images[0].name
    rng = np.random.default_rng(0)
    h, w = fv.HEIGHT + 16, fv.WIDTH + 16
    img = np.empty((h, w, 3), np.float32)
    img[:] = (215, 160, 140)
    img += rng.normal(0, 6, (h, w, 1))
    yy, xx = np.mgrid[:h, :w]
    blob = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < 70**2
    img[blob] = (120, 70, 50)
    return np.clip(img, 0, 255).astype(np.uint8), "synthetic"


def counters(driver) -> tuple[float, int, int | None]:
    """(performance.now(), frames finished, frames the model assessed or None) from the page."""
    now, stats = driver.execute_script(
        "return [performance.now(), document.getElementById('live').dataset.stats || '{}']"
    )
    st = json.loads(stats)
    inferences = st.get("inferences")
    return float(now), int(st.get("frames") or 0), None if inferences is None else int(inferences)


def measure(driver, url: str, seconds: float, rate: float) -> dict:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONGTASK_JS})
    driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": rate})
    t0 = time.monotonic()
    start_live(driver, url)
    clicked = time.monotonic()
    wait_for(lambda: (live_attrs(driver) or {}).get("stable") == "true", 120, "a stable verdict")
    stable_s = time.monotonic() - clicked
    wait_for(lambda: counters(driver)[1] >= 5, 60, "the first frames")
    time.sleep(3.0)  # warm-up: first frames compile kernels, fill caches
    warm_s = time.monotonic() - t0
    start_ms, start_frames, start_inf = counters(driver)
    states: dict[str, int] = {}
    fps_samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a = live_attrs(driver) or {}
        states[a.get("state", "?")] = states.get(a.get("state", "?"), 0) + 1
        fps_samples.append(float(a.get("fps") or 0))
        time.sleep(0.5)
    end_ms, end_frames, end_inf = counters(driver)
    tasks = driver.execute_script("return window.__longtasks")
    after = [d for s, d in (tasks or []) if s >= start_ms]
    stats = json.loads((live_attrs(driver) or {}).get("stats") or "{}")
    window_s = (end_ms - start_ms) / 1000
    fps = (end_frames - start_frames) / window_s
    return {
        "cpu_throttling": rate,
        "backend": driver.execute_script("return document.body.dataset.backend"),
        "info": driver.execute_script(
            "const i = window.skinlens && skinlens.info || {};"
            "return {wasmThreads: i.wasmThreads, threads: i.threads, worker: i.worker}"
        ),
        "click_to_stable_verdict_s": round(stable_s, 2),
        "warm_up_s": round(warm_s, 1),
        "window_s": round(window_s, 2),
        "fps": round(fps, 2),
        "inference_fps": round(fps if start_inf is None else (end_inf - start_inf) / window_s, 2),
        "data_fps_median": round(float(np.median(fps_samples)), 2),
        "long_tasks": {
            "observed": tasks is not None,
            "count": len(after),
            "max_ms": round(max(after), 1) if after else 0,
            "durations_ms": [round(d) for d in after],
            "during_warm_up": len([1 for s, _ in (tasks or []) if s < start_ms]),
        },
        "stage_ms": {k: v for k, v in stats.items() if k.endswith("_ms")},
        "state_samples": states,
    }


def targets(r: dict) -> dict:
    """Issue 17's live targets for one run."""
    if r["cpu_throttling"] >= 4:
        return {
            "fps_at_least_10": r["fps"] >= 10.0,
            "no_task_over_100_ms": r["long_tasks"]["max_ms"] <= 100.0,
        }
    return {"fps_at_least_20": r["fps"] >= 20.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    ap.add_argument("--compare", help="another build's dist/ (the 'before'), run interleaved")
    ap.add_argument("--rates", default="1,4", help="CPU throttling rates (default 1,4)")
    args = ap.parse_args()
    with workspace("live", args.dist) as (tmp, dist):
        base, source = lesion_base()
        clip = tmp / "lesion.y4m"
        fv.write_y4m(clip, fv.moving(base, 60, 3.0), fps=CLIP_FPS)
        builds = {"after": dist} | ({"before": Path(args.compare)} if args.compare else {})
        out: dict = {"cpu": cpu_name(), "clip": source, "clip_fps": CLIP_FPS, "results": {}}
        for rate in (float(x) for x in args.rates.split(",")):
            for name, d in builds.items():
                with serve.running_server(d, port=0) as srv, chromium(clip) as driver:
                    r = measure(driver, srv.url, args.seconds, rate)
                r["targets"] = targets(r)
                out["results"].setdefault(name, {})[f"x{rate:g}"] = r
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
