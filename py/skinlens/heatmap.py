"""Where the model looked: the class activation map of the class shown, and its overlay.

The model's ``cam`` output (N, g, g, C; g = 7 for a 224 input) is the final convolutional
features times each class's classifier weights: its grid mean plus the class bias is that
class's logit. So a cell says how much that part of the photo (32x32 input pixels) raised
the score of the class; it costs nothing extra (the model computes it with the logits) and
cannot change the probabilities. It does not say why, and a coarse warm area is not an
outline of the lesion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Colour ramp for the overlay: dark blue -> red -> yellow, see-through where the map is low
# (the photo stays visible), opaque at the peak; 256 RGBA entries indexed by value * 255.
_ANCHORS = np.array(
    [
        # value, R, G, B, alpha
        [0.00, 20, 30, 120, 0],
        [0.35, 60, 40, 180, 40],
        [0.65, 230, 40, 40, 150],
        [1.00, 255, 235, 60, 220],
    ]
)
_LUT = np.stack(
    [np.interp(np.linspace(0, 1, 256), _ANCHORS[:, 0], _ANCHORS[:, c]) for c in range(1, 5)],
    axis=-1,
).astype(np.uint8)


def class_map(cam: np.ndarray, index: int) -> np.ndarray:
    """One input's ``cam`` (g, g, C) -> the (g, g) map of class ``index`` scaled to 0..1
    (min to max; a flat map is all 0: nowhere stands out)."""
    m = np.asarray(cam, dtype=np.float32)[..., index]
    lo, hi = float(m.min()), float(m.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def peak(grid: np.ndarray) -> tuple[int, int]:
    """``(row, column)`` of the map's highest cell."""
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return int(row), int(col)


def overlay(grid: np.ndarray, size: int) -> np.ndarray:
    """The (g, g) map -> an RGBA (size, size, 4) uint8 layer for the model-input crop:
    bilinear upsampling (cell centres on the input's 32-pixel cells), then the colour ramp."""
    up = Image.fromarray(np.asarray(grid, dtype=np.float32), mode="F").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    index = np.clip(np.asarray(up) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _LUT[index]


def grid_json(grid: np.ndarray) -> list[list[float]]:
    """Rows of the map rounded to 3 decimals (``#result[data-cam]``)."""
    return [[round(float(v), 3) for v in row] for row in grid]
