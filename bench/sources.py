"""Every image of every data source through the page (wasm); prints one JSON object.

    python -m bench.sources [--per-source N] [--dist DIR]

Issue 8 asks that the model be judged through the page, on every source: Derm7pt
(external dermoscopy), PAD-UFES-20 `test` (phone close-ups), HAM10000 `test` and the
non-lesion photos. Per source: acceptance, rejection reasons, melanoma -> Urgent,
melanoma-vs-nevus AUC among accepted images (see ``tests/browser/sources_page.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from harness import Browser, LoggedServer, open_app
from sources_page import every, run, source_images, summary

import serve
from build import build


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=0, help="0 = every image")
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    args = ap.parse_args()
    found = source_images()
    if not found:
        print(json.dumps({"skipped": "no data sources under ../shared/data"}))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="skinlens-bench-sources-"))
    try:
        dist = Path(args.dist) if args.dist else build(dist=tmp / "dist", quiet=True).dist
        log = tmp / "requests.log"
        out: dict = {}
        with serve.running_server(dist, port=0, log=log) as srv:
            browser = Browser()
            try:
                open_app(browser, LoggedServer(srv, log), "backend=wasm")
                for source, images in found.items():
                    chosen = every(images, args.per_source) if args.per_source else images
                    t0 = time.monotonic()
                    out[source] = summary(run(browser, chosen))
                    out[source]["seconds"] = round(time.monotonic() - t0, 1)
            finally:
                browser.close()
        print(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
