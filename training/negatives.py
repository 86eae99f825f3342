"""Views that are not skin lesions, for the model's "lesion or not" output.

Three kinds, each a ``uint8`` view before colour constancy, like a lesion view:

* ``photo``: an everyday photo (``nonlesion-imagenet``), randomly framed;
* ``skin``: a corner of a lesion photo, where there is skin but no lesion,
  zoomed to fill the frame (plain skin with no lesion must be refused);
* ``synthetic``: flat or graded colour, stripes, grids and text, standing in
  for walls, screens and pages.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from training.augment import DeviceAugment, device_view

PHOTO_AUGMENT = DeviceAugment(zoom=(0.3, 1.1))
SKIN_AUGMENT = DeviceAugment(zoom=(0.9, 1.0), shift=0.0)


def photo_view(image: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    return device_view(image, size, rng, PHOTO_AUGMENT)


def skin_view(image: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    """A square from one corner of a lesion photo, 22-32% of its short side."""
    w, h = image.size
    side = min(w, h) * rng.uniform(0.22, 0.32)
    inset = min(w, h) * 0.04  # stay off a dermatoscope's outermost rim
    left = inset if rng.random() < 0.5 else w - inset - side
    top = inset if rng.random() < 0.5 else h - inset - side
    corner = image.crop((int(left), int(top), int(left + side), int(top + side)))
    return device_view(corner, size, rng, SKIN_AUGMENT)


def synthetic_view(size: int, rng: np.random.Generator) -> np.ndarray:
    """A frame with no lesion: a colour field, a gradient, stripes, a grid or text."""
    base = rng.integers(0, 256, 3)
    kind = rng.integers(4)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    if kind == 0:  # gradient
        other = rng.integers(0, 256, 3)
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) % 1.0
        arr = base * (1 - t[..., None]) + other * t[..., None]
    elif kind == 1:  # stripes
        period = rng.uniform(0.02, 0.2)
        t = (np.sin((xx * np.cos(rng.uniform(0, 3)) + yy) / period) > 0)[..., None]
        arr = np.where(t, base, rng.integers(0, 256, 3))
    else:
        arr = np.broadcast_to(base, (size, size, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    if kind == 2:  # a screen-like grid of tiles
        step = int(rng.integers(12, 60))
        for x in range(0, size, step):
            for y in range(0, size, step):
                fill = tuple(int(v) for v in rng.integers(0, 256, 3))
                draw.rectangle((x + 2, y + 2, x + step - 2, y + step - 2), fill=fill)
    if kind == 3:  # a page of text
        ink = tuple(int(v) for v in rng.integers(0, 80, 3))
        for y in range(4, size, int(rng.integers(10, 24))):
            text = "".join(chr(int(c)) for c in rng.integers(97, 123, 40))
            draw.text((4, y), text, fill=ink)
    noise = rng.normal(0, rng.uniform(0, 8), (size, size, 3))
    return np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8)
