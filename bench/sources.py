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
import time

from harness import open_app
from sources_page import every, run, source_images, summary

from bench.common import page, workspace


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=0, help="0 = every image")
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    args = ap.parse_args()
    found = source_images()
    if not found:
        print(json.dumps({"skipped": "no data sources under ../shared/data"}))
        return 0
    out: dict = {}
    with workspace("sources", args.dist) as (tmp, dist), page(dist, tmp) as (browser, server):
        open_app(browser, server, "backend=wasm")
        for source, images in found.items():
            chosen = every(images, args.per_source) if args.per_source else images
            t0 = time.monotonic()
            out[source] = summary(run(browser, chosen))
            out[source]["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
