#!/usr/bin/env python3
"""Benchmark the photo-screening page in headless Chromium; prints one JSON object.

    python -m bench.startup [--dist DIR] [--photo PATH] [--runs N]

Measures (issue 3 targets in brackets):
* ``warm_ready_ms``: navigation start -> ``body[data-ready=true]`` on a revisit with the
  assets cached (HTTP cache, or the service worker once it has precached) [<= 3000];
  ``cold_ready_ms`` for the first visit.
* ``classify_ms``: on the wasm backend after ready: ``data-ms`` (TF.js predict incl.
  upload/download) and ``total_ms`` (file picked -> result shown: read, decode, gates,
  preprocess, predict, triage, render) [inference <= 250].
* ``preprocess_12mp_ms``: the page's whole Python preprocessing of a 12-megapixel JPEG
  (``data-prep-ms``: decode + crop/resize + gates +
  normalise) [<= 150].
* ``first_visit_bytes``: what the page downloaded to become ready (resource timing), and
  what the server sent in total during the first visit including the service worker's
  background precache (server log x file sizes) [<= 30 MB].
Numbers vary +-30% here (2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
from harness import DATA_DIR, Browser, LoggedServer, classify, open_app  # noqa: E402
from imagegen import lesion_like, write_lesion_jpeg  # noqa: E402
from PIL import Image  # noqa: E402

import build  # noqa: E402
import serve  # noqa: E402


def ready_ms(browser: Browser) -> float:
    return float(browser.driver.execute_script("return skinlens.info.pageReadyMs"))


def served_bytes(server: LoggedServer, dist: Path, start: int) -> tuple[int, int]:
    total, n = 0, 0
    for line in server.requests()[start:]:
        parts = line.split()
        if len(parts) < 3 or parts[2] != "200" or parts[0] != "GET":
            continue
        path = unquote(urlsplit(parts[1]).path).lstrip("/") or "index.html"
        f = dist / path
        if f.is_dir():
            f = f / "index.html"
        if f.is_file():
            total += f.stat().st_size
            n += 1
    return total, n


def write_12mp_jpeg(path: Path) -> Path:
    """A 4000x3000 photo-like JPEG (lesion picture upscaled, fine noise so it is not trivial
    to compress: ~3-4 MB like a phone photo)."""
    import numpy as np

    img = lesion_like(1000, 750, seed=11).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16)
    noise = np.random.default_rng(0).integers(-6, 7, arr.shape, dtype=np.int16)
    Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dist", help="prebuilt dist/ (default: build into a temp dir)")
    ap.add_argument("--photo", help="photo to classify (default: a HAM10000 image or generated)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="skinlens-bench-"))
    if args.dist:
        dist = Path(args.dist).resolve()
    else:
        dist = tmp / "dist"
        build.build(dist=dist, quiet=True)
    log = tmp / "requests.log"
    srv = serve.make_server(dist, "127.0.0.1", 0, log=log).start()
    server = LoggedServer(srv, log)

    photo = Path(args.photo) if args.photo else None
    if photo is None:
        ham = sorted((DATA_DIR / "images").glob("*.jpg")) if (DATA_DIR / "images").is_dir() else []
        photo = ham[0] if ham else write_lesion_jpeg(tmp / "lesion.jpg")
    big = write_12mp_jpeg(tmp / "photo-12mp.jpg")

    out: dict = {"photo": photo.name, "notes": "headless Chromium, 2 shared cores, +-30%"}
    b = Browser()
    try:
        # first visit (fresh profile)
        t0 = time.monotonic()
        state = open_app(b, server)
        out["backend"] = state["backend"]
        out["cold_ready_ms"] = round(ready_ms(b))
        out["cold_ready_wall_s"] = round(time.monotonic() - t0, 2)
        out["cold_marks_ms"] = b.driver.execute_script("return skinlens.info.marks")
        page_bytes = b.driver.execute_script(
            "return performance.getEntriesByType('resource').reduce((s,e)=>s+(e.transferSize||0),0)"
            " + performance.getEntriesByType('navigation').reduce((s,e)=>s+(e.transferSize||0),0)"
        )
        # let a service worker finish its background precache (pwa.js), up to 60 s
        t_sw = time.monotonic()
        while time.monotonic() - t_sw < 60:
            st = b.driver.execute_script("return window.skinlensPWA ? skinlensPWA.state : null")
            if st in (None, "offline-ready", "unsupported", "error"):
                break
            if st == "online" and time.monotonic() - t_sw > 5:
                break  # no service worker activity
            time.sleep(0.5)
        total_bytes, n_files = served_bytes(server, dist, 0)
        out["first_visit_bytes"] = {
            "page_until_ready": int(page_bytes),
            "served_total_incl_precache": total_bytes,
            "served_files": n_files,
            "pwa_state": b.driver.execute_script(
                "return window.skinlensPWA ? skinlensPWA.state : null"
            ),
        }

        # warm starts (assets cached)
        warm = []
        for _ in range(3):
            n0 = len(server.requests())
            open_app(b, server)
            warm.append(ready_ms(b))
            out.setdefault("warm_requests_to_server", []).append(len(server.requests()) - n0)
            out["warm_marks_ms"] = b.driver.execute_script("return skinlens.info.marks")
        out["warm_ready_ms"] = {
            "median": round(statistics.median(warm)),
            "runs": [round(x) for x in warm],
        }
        out["python_warmup_ms"] = b.driver.execute_script("return skinlens.info.pythonWarmupMs")

        # classification after ready (wasm)
        infer, total = [], []
        for _ in range(args.runs):
            r = classify(b, photo)
            infer.append(float(r["ms"]) if r["ms"] else float("nan"))
            total.append(float(r["total-ms"]))
        out["classify_ms"] = {
            "state": r["state"],
            "label": r["label"],
            "priority": r["priority"],
            "inference_median": round(statistics.median(infer), 1),
            "inference_runs": [round(x, 1) for x in infer],
            "total_median": round(statistics.median(total), 1),
        }

        # 12 MP JPEG through the Python path
        prep, read = [], []
        for _ in range(3):
            r = classify(b, big)
            prep.append(float(r["prep-ms"]))
            read.append(float(r["read-ms"]))
        out["preprocess_12mp_ms"] = {
            "file_bytes": big.stat().st_size,
            "read_median": round(statistics.median(read), 1),
            "decode_gates_normalise_median": round(statistics.median(prep), 1),
            "whole_median": round(
                statistics.median([a + c for a, c in zip(read, prep, strict=True)]), 1
            ),
            "runs": [round(a + c, 1) for a, c in zip(read, prep, strict=True)],
        }
        out["info"] = b.driver.execute_script(
            "const i = skinlens.info; return {tfjs: i.tfjs, wasmThreads: i.wasmThreads,"
            " wasmSimd: i.wasmSimd, crossOriginIsolated: i.crossOriginIsolated,"
            " modelBytes: i.modelBytes, warmupMs: i.warmupMs}"
        )
    finally:
        b.close()
        srv.stop()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
