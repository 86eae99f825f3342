"""The heatmap through the page: each image's ``#result[data-cam]`` and ``data-cam-ms``, and
whether the map's peak lies on the darker lesion area.

Criterion (stated in notes/issue11.md): the crop the model saw is rebuilt under CPython
with the page's own code (``decode_image`` + ``crop_resize``: the same pixels); the map's
peak cell covers a (224/7)-pixel square of it; the peak is "on the lesion" when that
square's mean luminance is below the crop's median luminance (pigmented lesions are darker
than the skin around them, and a centred lesion rarely covers more than half the crop).
Shared by the data test (``test_page_heatmap.py``, a sample) and ``python -m bench.heatmap``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
from harness import Browser, classify
from skinlens import heatmap, preprocess
from skinlens.decode import decode_image, target_for

INPUT = 224


def page_cam(browser: Browser, path: Path) -> dict:
    """Classify one image; its state, label and (when done) map and the map's cost."""
    r = classify(browser, path)
    cam, ms = browser.driver.execute_script(
        "const r=document.getElementById('result');"
        "return [r.dataset.cam || null, r.dataset.camMs || null];"
    )
    return {
        "state": r["state"],
        "label": r["label"],
        "cam": None if cam is None else np.array(json.loads(cam), dtype=np.float32),
        "cam_ms": None if ms is None else float(ms),
    }


def peak_on_darker_area(path: Path, grid: np.ndarray) -> bool:
    """The criterion above, on the crop the page classified."""
    decoded = decode_image(path.read_bytes(), target=target_for(INPUT))
    crop = preprocess.crop_resize(decoded.image, INPUT).astype(np.float32)
    lum = crop @ np.array([0.299, 0.587, 0.114], np.float32)
    row, col = heatmap.peak(grid)
    cell = INPUT / grid.shape[0]
    square = lum[int(row * cell) : int((row + 1) * cell), int(col * cell) : int((col + 1) * cell)]
    return float(square.mean()) < float(np.median(lum))


def measure(browser: Browser, paths: list[Path]) -> dict:
    """Hit rate and the map's cost in the page over ``paths`` (the app must be ready)."""
    rows = [page_cam(browser, p) | {"path": p} for p in paths]
    mapped = [r for r in rows if r["cam"] is not None]
    hits = [peak_on_darker_area(r["path"], r["cam"]) for r in mapped]
    ms = sorted(r["cam_ms"] for r in mapped)
    return {
        "images": len(rows),
        "with_map": len(mapped),
        "peak_on_darker_area": sum(hits) / max(len(hits), 1),
        "cam_ms": {
            "median": statistics.median(ms) if ms else None,
            "p90": ms[int(0.9 * (len(ms) - 1))] if ms else None,
            "max": ms[-1] if ms else None,
        },
    }
