#!/usr/bin/env python3
"""Screenshot the working page (desktop and phone widths) into docs/screenshot.png.

    python tests/browser/screenshot.py [--dist DIR] [--out docs/screenshot.png] [IMAGE ...]

Classifies a few photos first (default: test-split HAM10000 images of different classes,
or generated lesion pictures without the dataset), then saves the desktop view and the
phone view side by side in one PNG.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from harness import DATA_DIR, Browser, LoggedServer, classify, open_app  # noqa: E402
from imagegen import write_lesion_jpeg  # noqa: E402
from PIL import Image  # noqa: E402

import build  # noqa: E402
import serve  # noqa: E402


def default_images(tmp: Path) -> list[Path]:
    meta = DATA_DIR / "metadata.csv"
    if meta.exists():
        picks: dict[str, Path] = {}
        with meta.open() as f:
            for row in csv.DictReader(f):
                p = DATA_DIR / "images" / f"{row['image_id']}.jpg"
                if row.get("split") == "test" and row["dx"] not in picks and p.exists():
                    picks[row["dx"]] = p
        ordered = [picks[k] for k in ("nv", "bkl", "mel") if k in picks]
        if ordered:
            return ordered
    return [write_lesion_jpeg(tmp / f"lesion-{i}.jpg", seed=i) for i in range(3)]


def shoot(server: LoggedServer, images: list[Path], out: Path, *, phone: bool) -> None:
    b = Browser(width=1280, height=1100)
    try:
        d = b.driver
        if phone:  # a 390x844 CSS-pixel phone at device pixel ratio 2
            d.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
            )
        open_app(b, server)
        classify(b, images)
        time.sleep(0.8)  # let the preview image paint
        # The committed screenshot must not carry a dataset image: the photo itself
        # is replaced by a neutral placeholder (the result is the photo's real one).
        d.execute_script(
            "const i = document.getElementById('preview-img');"
            "if (i) { const ph = document.createElement('div'); ph.style.cssText ="
            " 'width:170px;height:128px;background:repeating-linear-gradient(45deg,"
            "#e6ebee 0 10px,#d5dde2 10px 20px);border-radius:8px;margin:auto'; i.replaceWith(ph); }"
            "const c = document.getElementById('preview-caption');"
            "if (c) c.textContent = 'dataset photo (not shown)';"
        )
        if phone:  # show the verdict, as a person would scroll to it
            d.execute_script(
                "document.getElementById('result-section').scrollIntoView({block: 'start'});"
                "window.scrollBy(0, -8);"
            )
        else:
            d.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.4)
        d.save_screenshot(str(out))
    finally:
        b.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("images", nargs="*")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skinlens-shot-"))
    dist = Path(args.dist) if args.dist else tmp / "dist"
    if not args.dist:
        build.build(dist=dist, quiet=True)
    srv = serve.make_server(dist, "127.0.0.1", 0).start()
    server = LoggedServer(srv, tmp / "log")
    images = [Path(p) for p in args.images] or default_images(tmp)
    try:
        shoot(server, images, tmp / "desktop.png", phone=False)
        shoot(server, images, tmp / "phone.png", phone=True)
    finally:
        srv.stop()
    desk = Image.open(tmp / "desktop.png").convert("RGB")
    phone = Image.open(tmp / "phone.png").convert("RGB")
    # the phone view scaled to the desktop view's height, side by side on a grey backdrop
    pad = 36
    scale = (desk.height - 2 * pad) / phone.height
    phone = phone.resize((round(phone.width * scale), desk.height - 2 * pad), Image.LANCZOS)
    canvas = Image.new("RGB", (desk.width + phone.width + 2 * pad, desk.height), (214, 222, 228))
    canvas.paste(desk, (0, 0))
    canvas.paste(phone, (desk.width + pad, pad))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)
    print(out, canvas.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
