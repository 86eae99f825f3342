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


SKIN = (222, 172, 152)
LIGHT_BROWN = (150, 98, 70)
DARK_BROWN = (88, 52, 38)
BLUE_GREY = (96, 104, 124)


def drawn_lesion(**kwargs: object) -> np.ndarray:
    """The image of :func:`drawn_lesion_and_mask`."""
    return drawn_lesion_and_mask(**kwargs)[0]  # type: ignore[arg-type]


def drawn_lesion_and_mask(
    size: int = 224,
    radius: float = 40.0,
    angle: float = 0.0,
    patch: tuple[int, int, int] | None = None,
    lobe: float = 0.0,
    scallops: float = 0.0,
    centre: tuple[float, float] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A lesion with a known outline and colours, for the change measures: an irregular oval
    (``r(t) = radius * (1 + 0.22 cos 2t + 0.08 cos 3t + lobe * bump)``) turned by ``angle``
    degrees, light brown with a dark brown core, optionally a ``patch`` colour over one
    sector (a fifth of the lesion), on skin with fine noise; ``scallops`` adds a
    12-fold ripple of that relative depth to the border. Rotating ``angle`` turns the outline
    and its colours together. Returns the ``uint8`` image and the true outline (bool).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cx, cy = centre if centre is not None else ((size - 1) / 2.0, (size - 1) / 2.0)
    t = np.arctan2(yy - cy, xx - cx) - np.deg2rad(angle)
    r = np.hypot(yy - cy, xx - cx)
    bump = np.exp(-(((np.angle(np.exp(1j * (t - 1.0)))) / 0.45) ** 2))
    ripple = scallops * np.cos(12 * t)
    edge = radius * (1.0 + 0.22 * np.cos(2 * t) + 0.08 * np.cos(3 * t) + lobe * bump + ripple)
    inside = np.clip(edge - r + 0.5, 0.0, 1.0)[..., None]  # anti-aliased outline
    core = np.clip(0.55 * edge - r + 0.5, 0.0, 1.0)[..., None]
    body = np.array(LIGHT_BROWN, np.float64) * (1 - core) + np.array(DARK_BROWN) * core
    if patch is not None:
        sector = (np.cos(t + 2.0) > 0.7)[..., None] & (r < 0.9 * edge)[..., None]
        body = np.where(sector, np.array(patch, np.float64), body)
    img = np.array(SKIN, np.float64) * (1 - inside) + body * inside
    img += rng.normal(0.0, 3.0, (size, size, 1))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), inside[..., 0] >= 0.5
