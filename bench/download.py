"""Download / offline benchmark: prints one JSON object.

    python -m bench.download [--no-isolation-headers] [--base /sub/] [--runs 3]

- first_visit_bytes: response bytes the server sent for a first visit (fresh profile) until
  the page is ready AND the service worker has precached everything (what a user downloads);
  first_visit_bytes_until_ready: the part sent before body[data-ready=true];
- second_visit_requests / second_visit_bytes: what a later visit asks the server for
  (target: only the service-worker update check);
- offline_reload_to_ready_s: with the server stopped, navigation to body[data-ready=true]
  (median of --runs, wall clock from the driver's get(); target <= 3 s here);
  offline_page_ready_ms: the same from navigation start (skinlens.info.pageReadyMs), and
  offline_marks_ms: the boot steps of the last run.
Not a test: numbers depend on the machine (2 cores, headless Chromium, no GPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from harness import Browser  # noqa: E402

import build  # noqa: E402
import serve  # noqa: E402


def wait(driver, script: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if driver.execute_script(script):
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


READY = "return document.body && document.body.dataset.ready === 'true'"
SW_DONE = (
    "const s=document.getElementById('pwa-status');"
    "return !!navigator.serviceWorker.controller && !!s && s.dataset.state==='offline-ready'"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-isolation-headers", action="store_true")
    ap.add_argument("--base", default="/")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=240)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="skinlens-bench-"))
    t0 = time.perf_counter()
    res = build.build(dist=tmp / "dist", quiet=True)
    build_s = time.perf_counter() - t0
    srv = serve.make_server(
        tmp / "dist", port=0, base=args.base, isolation=not args.no_isolation_headers
    ).start()
    url = srv.url
    out: dict = {
        "build_id": res.manifest["build"],
        "build_s": round(build_s, 2),
        "dist_bytes": res.manifest["total_bytes"],
        "precache_bytes": res.manifest["precache_bytes"],
        "isolation_headers": not args.no_isolation_headers,
    }
    browser = Browser()
    d = browser.driver
    try:
        t = time.monotonic()
        d.get(url)
        ready = wait(d, READY, args.timeout)
        out["first_visit_ready"] = ready
        out["first_visit_to_ready_s"] = round(time.monotonic() - t, 2) if ready else None
        out["first_visit_bytes_until_ready"] = srv.bytes_sent
        sw = wait(d, SW_DONE, args.timeout)
        out["service_worker_ready"] = sw
        out["first_visit_to_offline_ready_s"] = round(time.monotonic() - t, 2) if sw else None
        time.sleep(1.0)
        out["first_visit_bytes"] = srv.bytes_sent
        out["first_visit_requests"] = len(srv.transfers)
        out["cross_origin_isolated_after_first_visit"] = d.execute_script(
            "return crossOriginIsolated"
        )

        n = len(srv.transfers)
        d.get(url)
        wait(d, READY, args.timeout)
        time.sleep(1.0)
        second = srv.transfers[n:]
        out["second_visit_requests"] = [f"{m} {p} {s}" for m, p, s, _ in second]
        out["second_visit_bytes"] = sum(b for *_, b in second)

        srv.stop()
        times, page_ms = [], []
        for _ in range(args.runs):
            t = time.monotonic()
            d.get(url)
            ok = wait(d, READY, 60)
            times.append(round(time.monotonic() - t, 2) if ok else None)
            if ok:
                # navigation start -> ready, as bench.startup's warm_ready_ms (no driver overhead)
                page_ms.append(d.execute_script("return skinlens.info.pageReadyMs"))
        good = [x for x in times if x is not None]
        out["offline_reload_to_ready_s"] = statistics.median(good) if good else None
        out["offline_reload_runs_s"] = times
        out["offline_page_ready_ms"] = round(statistics.median(page_ms)) if page_ms else None
        # boot steps of the last offline run (performance.now() ms; see site/app.js marks)
        out["offline_marks_ms"] = d.execute_script("return skinlens.info.marks")
    finally:
        browser.close()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
