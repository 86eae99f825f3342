"""Synthetic test images shared by the unit tests (no dataset needed)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter


def lesion_like(size: int = 224, seed: int = 0, hairs: int = 6) -> np.ndarray:
    """A synthetic dermoscopy-like ROI: pink skin, a brown textured lesion, fine detail.

    Deterministic, sharp (pixel-scale texture like a pigment network and hair)
    and coloured like real skin, so every quality gate passes on it and each
    synthetic degradation trips exactly one gate.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = np.hypot((yy - c) / (0.30 * size), (xx - c) / (0.38 * size))
    lesion = np.clip(1.4 - r, 0.0, 1.0)[..., None]
    skin = np.array([222, 172, 152], dtype=np.float32)
    brown = np.array([118, 72, 52], dtype=np.float32)
    img = skin * (1 - lesion) + brown * lesion
    texture = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray(np.uint8(np.clip(128 + 40 * texture, 0, 255))).filter(
            ImageFilter.GaussianBlur(1.5)
        ),
        dtype=np.float32,
    )
    img += ((texture - 128.0) * 0.6)[..., None] * np.array([1.0, 0.8, 0.7], dtype=np.float32)
    for k in range(hairs):  # a few dark vertical hairs
        x0 = int(rng.integers(0, size))
        img[:, max(0, x0 - 1) : x0 + 1] *= 0.55 if k % 2 else 0.7
    return np.clip(img, 0, 255).astype(np.uint8)
