"""Benchmark of the Python core (decode, preprocess, quality gates); prints JSON.

Not a test (pytest does not collect it): timings are measured, not asserted.
Targets (issues 3 and 4): the whole Python path for a 12-megapixel photo
<= 150 ms in Pyodide; per live frame (ROI -> gates + normalised tensor)
<= 15 ms; all gates <= 5 ms under CPython.

    python -m bench.py_core                  # CPython
    # Pyodide: import this file and call main() after loading numpy + pillow.
"""

from __future__ import annotations

import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

from skinlens import quality  # noqa: E402
from skinlens.decode import decode_image, target_for  # noqa: E402
from skinlens.preprocess import crop_resize, normalize, prepare, rgba_to_rgb  # noqa: E402

SIZE = 224
SCALE = 1.0 / 127.5
OFFSET = -1.0


def phone_jpeg(width: int = 4000, height: int = 3000, quality_: int = 90) -> bytes:
    """A 12 MP JPEG with photo-like content and EXIF orientation 6 (portrait phone)."""
    rng = np.random.default_rng(0)
    small = rng.integers(40, 230, (height // 40, width // 40, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)
    noisy = np.asarray(image, dtype=np.int16) + rng.integers(-6, 7, (height, width, 1), np.int16)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality_, exif=exif)
    return buf.getvalue()


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median/min/max milliseconds of ``repeat`` calls after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "n": repeat,
    }


def main(repeat: int = 7) -> dict[str, Any]:
    """Run every measurement and return the JSON-ready result."""
    data = phone_jpeg()
    decoded = decode_image(data, target=target_for(SIZE))

    def whole_path() -> np.ndarray:
        return prepare(decode_image(data, target=target_for(SIZE)).image, SIZE, SCALE, OFFSET)

    roi = crop_resize(decoded.image, SIZE)
    rgba = np.dstack([roi, np.full(roi.shape[:2], 255, np.uint8)])

    def live_frame() -> tuple[Any, np.ndarray]:
        rgb = rgba_to_rgb(rgba)
        return quality.run_all(rgb), normalize(rgb, SCALE, OFFSET)

    return {
        "runtime": {
            "python": platform.python_version(),
            "platform": sys.platform,
            "numpy": np.__version__,
            "pillow": Image.__version__,
        },
        "photo_12mp": {
            "bytes": len(data),
            "decoded_size": list(decoded.info.decoded_size),
            "draft_scale": decoded.info.draft_scale,
            "decode": timed(lambda: decode_image(data, target=target_for(SIZE)), repeat),
            "preprocess": timed(lambda: prepare(decoded.image, SIZE, SCALE, OFFSET), repeat),
            "decode_plus_preprocess": timed(whole_path, repeat),
            "target_ms_pyodide": 150,
        },
        "gates_224": {**timed(lambda: quality.run_all(roi), repeat * 5), "target_ms": 5},
        "live_frame_224": {**timed(live_frame, repeat * 5), "target_ms": 15},
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
