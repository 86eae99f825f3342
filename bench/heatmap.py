"""The heatmap in the page on HAM10000 ``test`` images (wasm); prints one JSON object.

    python -m bench.heatmap [--n 200] [--dist DIR]

Per image: ``#result[data-cam-ms]``, the heatmap's whole cost in the page (the class's map
from the ``cam`` output, the overlay and drawing both canvases), and whether the map's peak
lies on the darker lesion area (criterion: ``tests/browser/heatmap_page.py``).
Issue 11 target: <= 10 ms per photo.
"""

from __future__ import annotations

import argparse
import json

from harness import open_app
from heatmap_page import measure
from sources_page import every, source_images

from bench.common import page, workspace


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="test-split images, spread evenly")
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    args = ap.parse_args()
    images = source_images().get("ham10000/test")
    if not images:
        print(json.dumps({"skipped": "no HAM10000 test split under ../shared/data"}))
        return 0
    with workspace("heatmap", args.dist) as (tmp, dist), page(dist, tmp) as (browser, server):
        open_app(browser, server, "backend=wasm")
        out = measure(browser, [im.path for im in every(images, args.n)])
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
