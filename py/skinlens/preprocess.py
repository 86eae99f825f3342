"""Crop, resize and normalise an RGB image into the model's input tensor.

This module is the single preprocessing path: training (``training/data.py``)
imports it to build every training view, and the page runs it in Pyodide, so
the model sees identically prepared pixels in both places.

Resizing uses Pillow's antialiased bilinear filter (C code, fast in WASM too);
normalisation constants come from the model metadata, never from here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]


def center_square_box(width: int, height: int, fraction: float = 1.0) -> Box:
    """The centred square of side ``fraction * min(width, height)``.

    Dermoscopy frames centre the lesion; a square crop avoids stretching it
    when the frame is 4:3 (HAM10000) or 16:9 (phone cameras).
    """
    if width <= 0 or height <= 0:
        raise ValueError("image has no pixels")
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    side = min(width, height) * fraction
    left = (width - side) / 2.0
    top = (height - side) / 2.0
    return (left, top, left + side, top + side)


def crop_resize(image: Image.Image, size: int, box: Box | None = None) -> np.ndarray:
    """Crop ``box`` (default: centred square) and resize to ``size`` x ``size``.

    Returns ``uint8`` RGB of shape ``(size, size, 3)``.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    if box is None:
        box = center_square_box(*image.size)
    resized = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(resized, dtype=np.uint8)


def shades_of_gray(rgb: np.ndarray, power: float = 6.0) -> np.ndarray:
    """Shades-of-Gray colour constancy (Finlayson & Trezzi 2004) on ``uint8`` RGB.

    Each camera, dermatoscope and lamp tints a photo differently; dividing each
    channel by its Minkowski ``power``-mean (the illuminant estimate) takes most
    of that tint away, so the model sees the lesion's colours rather than the
    device's. ISIC challenge winners use it with ``power = 6``. The output keeps
    the image's overall brightness (the gains average to 1).
    """
    x = rgb.astype(np.float32)
    illuminant = np.power(np.mean(np.power(x, power), axis=(0, 1)), 1.0 / power)
    gains = illuminant.mean() / np.maximum(illuminant, 1e-3)
    x *= gains.astype(np.float32)
    np.clip(x, 0, 255, out=x)
    return (x + 0.5).astype(np.uint8)


def model_pixels(rgb: np.ndarray, color_constancy: str | None) -> np.ndarray:
    """The cropped ``uint8`` view as the model wants it: colour-corrected or as is.

    ``color_constancy`` comes from the model metadata (``input.color_constancy``)
    and is the same in training and in the page.
    """
    if color_constancy is None:
        return rgb
    if color_constancy == "shades_of_gray":
        return shades_of_gray(rgb)
    raise ValueError(f"unknown colour constancy {color_constancy!r}")


def normalize(rgb: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """``uint8`` RGB -> ``float32`` model input: ``x * scale + offset``."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 RGB, got shape {rgb.shape}")
    out = rgb.astype(np.float32)
    out *= np.float32(scale)
    out += np.float32(offset)
    return out


def rgba_to_rgb(rgba: np.ndarray) -> np.ndarray:
    """Drop the alpha channel of canvas ``ImageData`` (HxWx4 -> HxWx3 view)."""
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected HxWx4 RGBA, got shape {rgba.shape}")
    return rgba[:, :, :3]


def prepare(
    image: Image.Image, size: int, scale: float, offset: float, box: Box | None = None
) -> np.ndarray:
    """Full path from a decoded image to a ``float32`` (size, size, 3) tensor."""
    return normalize(crop_resize(image, size, box), scale, offset)


def zoomed_out(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The same square seen from ``factor`` times further away: the view shrunk, centred,
    and its border filled by mirroring the photo's own edge (skin goes on; training's
    zoom-out augmentation pads the same way). Other clinics frame lesions larger than
    HAM10000 does; a zoomed-out second view lets the model see them at a familiar scale."""
    size = rgb.shape[0]
    inner = max(1, round(size / factor))
    small = np.asarray(Image.fromarray(rgb).resize((inner, inner), Image.BILINEAR))
    before = (size - inner) // 2
    after = size - inner - before
    return np.pad(small, ((before, after), (before, after), (0, 0)), mode="reflect")


def views(rgb: np.ndarray, zooms: tuple[float, ...] = (1.0,)) -> list[np.ndarray]:
    """The views the model averages over (test-time augmentation): the crop as is for a
    zoom of 1, else :func:`zoomed_out` by that factor. The metadata's ``input.views``
    lists the zooms; the page and the evaluation make them here."""
    return [rgb if z == 1.0 else zoomed_out(rgb, z) for z in zooms]
