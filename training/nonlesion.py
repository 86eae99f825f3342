"""Out-of-distribution evaluation images: everyday photos that are not skin lesions.

scikit-image ships a set of sample photographs (a cat, a coffee cup, an
astronaut, a rocket, text, textures...). They are never used to choose a
threshold (that is done on `val` lesions only); they measure how often the
out-of-distribution gate rejects non-lesion input. Several crops per photo
mimic a camera pointed at different parts of a scene.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SAMPLE_NAMES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)

CROPS = (
    (0.0, 0.0, 1.0),
    (0.5, 0.5, 0.6),
    (0.25, 0.25, 0.5),
    (0.75, 0.25, 0.5),
    (0.25, 0.75, 0.5),
    (0.75, 0.75, 0.5),
)


def sample_photos() -> list[tuple[str, Image.Image]]:
    """The scikit-image samples available offline, as RGB images."""
    try:
        import skimage.data as data
    except ImportError:
        return []
    out = []
    for name in SAMPLE_NAMES:
        try:
            arr = getattr(data, name)()
        except Exception:  # not bundled and no network (never use samples that need a download:
            continue  # under pytest, skimage answers a failed download with pytest.skip)
        arr = (
            np.asarray(arr).astype(np.float64) if np.asarray(arr).dtype == bool else np.asarray(arr)
        )
        if arr.dtype != np.uint8:
            arr = (255 * (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-9)).astype(
                np.uint8
            )
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, -1)
        out.append((name, Image.fromarray(arr[..., :3]).convert("RGB")))
    return out


def crops(image: Image.Image) -> list[tuple[float, float, float, float]]:
    """Square crop boxes: the centred full square and four/five smaller regions."""
    w, h = image.size
    boxes = []
    for cx, cy, frac in CROPS:
        side = min(w, h) * frac
        left = min(max(cx * w - side / 2, 0), w - side) if frac < 1 else (w - side) / 2
        top = min(max(cy * h - side / 2, 0), h - side) if frac < 1 else (h - side) / 2
        boxes.append((left, top, left + side, top + side))
    return boxes
