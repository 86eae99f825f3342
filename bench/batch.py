"""Batch screening throughput and memory in headless Chromium (wasm); prints one JSON object.

    python -m bench.batch [--n 200] [--only ham|12mp] [--dist DIR]

Two runs through ``#file-input`` (several files start a batch):

* ``ham``: ``--n`` photos of the HAM10000 ``test`` split (200x150 JPEGs), from
  ``../shared/data/ham10000`` or ``$SKINLENS_DATA`` (skipped, with the reason, when absent);
* ``12mp``: ``--n`` 4000x3000 JPEGs generated here (8 distinct pictures, each saved under
  ``--n / 8`` names: decoding cost is per file, whatever the bytes).

Time: the page's own ``#batch[data-ms]`` (from the input's ``change`` event to the last row)
and the same span seen by a ``MutationObserver`` registered before any page script.
Memory: the resident size of the browser's renderer processes (the page's JS heap, Pyodide's
WebAssembly memory and the inference worker's live there; an upper bound of "JS heap plus
wasm memory"), sampled every 0.5 s during the run, the peak reported.
(``performance.measureUserAgentSpecificMemory()`` never resolved during a run here.)

Issue 10 targets: 200 HAM photos <= 15 s; 200 12 MP JPEGs <= 60 s; memory < 1 GB throughout.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import shutil
from pathlib import Path

from harness import DATA_DIR, Browser, LoggedServer, open_app, wait_for
from imagegen import lesion_like
from PIL import Image

from bench.common import page, workspace

TARGETS_S = {"ham": 15.0, "12mp": 60.0}
MEMORY_LIMIT = 1e9

WATCH_JS = """
window.__batch = {chosen: null, end: null};
addEventListener("change", (e) => {
  if (e.target && e.target.id === "file-input") {
    window.__batch.chosen = performance.now();
  }
}, true);
addEventListener("DOMContentLoaded", () => {
  const b = document.getElementById("batch");
  new MutationObserver(() => {
    if (b.dataset.state === "done" && window.__batch.chosen && !window.__batch.end)
      window.__batch.end = performance.now();
  }).observe(b, {attributes: true, attributeFilter: ["data-state"]});
});
"""


def ham_test_photos(n: int) -> list[Path] | str:
    meta, images = DATA_DIR / "metadata.csv", DATA_DIR / "images"
    if not meta.exists():
        return f"HAM10000 not found at {DATA_DIR} (set SKINLENS_DATA)"
    with meta.open() as f:
        ids = [r["image_id"] for r in csv.DictReader(f) if r["split"] == "test"]
    paths = [images / f"{i}.jpg" for i in ids if (images / f"{i}.jpg").exists()]
    return paths[:n] if len(paths) >= n else f"only {len(paths)} test images in {images}"


def twelve_mp(tmp: Path, n: int) -> list[Path]:
    out = []
    for k in range(8):
        src = tmp / f"src-{k}.jpg"
        lesion_like(800, 600, seed=k).resize((4000, 3000), Image.Resampling.BILINEAR).save(
            src, "JPEG", quality=90
        )
        out.append(src)
    files = []
    for i in range(n):
        dst = tmp / f"12mp-{i:04d}.jpg"
        shutil.copyfile(out[i % 8], dst)
        files.append(dst)
    return files


def _procs() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every readable process (Chromium rewrites its
    children's titles, so the command line is matched as one string)."""
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        out[int(proc.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
    return out


def renderer_rss(profile: str) -> int:
    """Resident bytes of this browser's renderer processes (the page, Pyodide's WebAssembly
    memory and the inference worker all live there): an upper bound of JS heap + wasm."""
    procs = _procs()
    ours = {pid for pid, (_, cmd) in procs.items() if profile.encode() in cmd}
    total = 0
    for pid, (ppid, cmd) in procs.items():
        parent = ppid
        while parent > 1 and parent not in ours:
            parent = procs.get(parent, (0, b""))[0]
        if parent in ours and b"--type=renderer" in cmd:
            with contextlib.suppress(OSError, StopIteration):
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                total += int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) * 1024
    return total


def run_batch(browser: Browser, server: LoggedServer, files: list[Path]) -> dict:
    d = browser.driver
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})
    open_app(browser, server, "backend=wasm")
    d.find_element("id", "file-input").send_keys("\n".join(str(p.resolve()) for p in files))
    samples: list[int] = []

    def finished() -> bool:
        samples.append(renderer_rss(browser.profile))
        return bool(d.execute_script("return window.__batch.end"))

    wait_for(finished, 600, "#batch[data-state=done]", poll=0.5)
    w = d.execute_script("return window.__batch")
    b = d.execute_script("const b=document.getElementById('batch').dataset; return {...b}")
    states = d.execute_script(
        "const o={}; for (const r of document.querySelectorAll('#batch-results [data-file]'))"
        " o[r.dataset.state + ':' + (r.dataset.reason || r.dataset.priority)] ="
        " (o[r.dataset.state + ':' + (r.dataset.reason || r.dataset.priority)] || 0) + 1;"
        " return o"
    )
    seconds = (w["end"] - w["chosen"]) / 1000
    return {
        "files": len(files),
        "rows": int(b["done"]),
        "seconds": round(seconds, 2),
        "page_data_ms": float(b["ms"]),
        "images_per_s": round(len(files) / seconds, 1),
        "batch_size_line": d.find_element("id", "batch-size").text,
        "memory_peak_mb": round(max(samples) / 1e6, 1),
        "memory_after_mb": round(samples[-1] / 1e6, 1),
        "memory_samples": len(samples),
        "outcomes": states,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--only", choices=("ham", "12mp"))
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    args = ap.parse_args()
    out: dict = {}
    with workspace("batch", args.dist) as (tmp, dist):
        for name in ("ham", "12mp") if args.only is None else (args.only,):
            files = ham_test_photos(args.n) if name == "ham" else twelve_mp(tmp, args.n)
            if isinstance(files, str):
                out[name] = {"skipped": files}
                continue
            with page(dist, tmp) as (browser, server):
                r = run_batch(browser, server, files)
            r["target_s"] = TARGETS_S[name]
            r["target_met"] = r["seconds"] <= TARGETS_S[name] and r["rows"] == len(files)
            r["memory_target_met"] = 0 < r["memory_peak_mb"] * 1e6 < MEMORY_LIMIT
            out[name] = r
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
