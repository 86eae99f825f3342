"""Augmentation that imitates other devices and framings (training only).

A photo reaches the model through decode -> crop -> resize -> colour constancy
-> normalise (``skinlens.preprocess``). What differs between cameras and clinics
is imitated *before* colour constancy, on the cropped view, so that the page's
own correction has to cope with it exactly as it will with a new device:

* framing: zoom from the lesion filling most of the frame to a small spot in a
  wide view (zoom-out pads with mirrored skin), any rotation, flips, off-centre;
* light and colour: white balance, exposure, gamma, contrast, saturation;
* optics and encoding: defocus blur, sensor noise, JPEG artefacts;
* dermatoscope look: dark vignette, black circular border; hairs across it.

Every random draw comes from the ``numpy.random.Generator`` passed in, so a
worker seeded per sample reproduces its views.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from skinlens import preprocess


@dataclass(frozen=True)
class DeviceAugment:
    """Ranges and probabilities; the defaults are the ones the shipped model used."""

    zoom: tuple[float, float] = (0.55, 1.8)  # crop side / short side (>1: zoom out)
    shift: float = 0.12  # centre offset, fraction of the short side
    white_balance: float = 0.18  # per-channel gain 1 +- this
    exposure: float = 0.35  # gain 1 +- this
    gamma: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    p_blur: float = 0.25
    p_noise: float = 0.25
    p_jpeg: float = 0.3
    p_vignette: float = 0.15
    p_circle: float = 0.15
    p_hair: float = 0.15


def frame(image: Image.Image, size: int, rng: np.random.Generator, aug: DeviceAugment):
    """A randomly zoomed, shifted and rotated ``size`` x ``size`` uint8 view (zoom-out
    surrounds the photo with :func:`_extend_skin`)."""
    w, h = image.size
    short = min(w, h)
    side = short * rng.uniform(*aug.zoom)
    cx = w / 2 + rng.uniform(-aug.shift, aug.shift) * short
    cy = h / 2 + rng.uniform(-aug.shift, aug.shift) * short
    # Room for any rotation of the crop: its half-diagonal, mirrored outside the photo.
    reach = side * 0.71
    pad = int(np.ceil(max(reach - cx, reach - cy, cx + reach - w, cy + reach - h, 0))) + 1
    if pad:
        image, cx, cy = _extend_skin(image, pad), cx + pad, cy + pad
    angle = rng.uniform(0, 360)
    big = int(np.ceil(reach * 2))
    box = (cx - big / 2, cy - big / 2, cx + big / 2, cy + big / 2)
    patch = image.resize((big, big), Image.Resampling.BILINEAR, box=box)
    patch = patch.rotate(angle, Image.Resampling.BILINEAR)
    inner = (big - side) / 2
    rgb = preprocess.crop_resize(patch, size, (inner, inner, inner + side, inner + side))
    return rgb[:, ::-1] if rng.random() < 0.5 else rgb


def _extend_skin(image: Image.Image, pad: int) -> Image.Image:
    """The photo on a wider canvas of smooth, skin-coloured surroundings.

    The border pixels are stretched outwards and blurred (mirroring would copy
    the lesion itself into the margin), then the photo is pasted back unchanged.
    """
    arr = np.pad(np.asarray(image), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    canvas = Image.fromarray(arr).filter(ImageFilter.BoxBlur(max(2, pad // 3)))
    canvas.paste(image, (pad, pad))
    return canvas


def photometric(rgb: np.ndarray, rng: np.random.Generator, aug: DeviceAugment) -> np.ndarray:
    """White balance, exposure, gamma, contrast and saturation of a uint8 view."""
    x = rgb.astype(np.float32) / 255.0
    x *= rng.uniform(1 - aug.white_balance, 1 + aug.white_balance, 3).astype(np.float32)
    x *= rng.uniform(1 - aug.exposure, 1 + aug.exposure)
    x = np.clip(x, 0, 1) ** rng.uniform(1 - aug.gamma, 1 + aug.gamma)
    mean = x.mean()
    x = (x - mean) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * rng.uniform(1 - aug.saturation, 1 + aug.saturation) + grey
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def optics(rgb: np.ndarray, rng: np.random.Generator, aug: DeviceAugment) -> np.ndarray:
    """Defocus blur, sensor noise and JPEG re-encoding, each with its probability."""
    if rng.random() < aug.p_blur:
        img = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
        rgb = np.asarray(img)
    if rng.random() < aug.p_noise:
        noise = rng.normal(0, rng.uniform(2, 10), rgb.shape)
        rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    if rng.random() < aug.p_jpeg:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=int(rng.integers(25, 90)))
        rgb = np.asarray(Image.open(buf).convert("RGB"))
    return rgb


def _radius(size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    c = (size - 1) / 2
    return np.hypot(xx - c, yy - c) / (size / 2)


def dermatoscope(rgb: np.ndarray, rng: np.random.Generator, aug: DeviceAugment) -> np.ndarray:
    """A dark vignette and/or the black circular border of a contact dermatoscope."""
    size = rgb.shape[0]
    out = rgb
    if rng.random() < aug.p_vignette:
        fall = np.clip(1 - rng.uniform(0.3, 0.8) * _radius(size) ** 2, 0, 1)
        out = (out * fall[:, :, None]).astype(np.uint8)
    if rng.random() < aug.p_circle:
        inside = _radius(size) < rng.uniform(0.85, 1.25)
        out = np.where(inside[:, :, None], out, rng.integers(0, 25)).astype(np.uint8)
    return out


def hairs(rgb: np.ndarray, rng: np.random.Generator, aug: DeviceAugment) -> np.ndarray:
    """Thin dark curves across the view (hair is the commonest dermoscopy occluder)."""
    if rng.random() >= aug.p_hair:
        return rgb
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    size = rgb.shape[0]
    for _ in range(int(rng.integers(2, 14))):
        start = rng.uniform(0, size, 2)
        heading = rng.uniform(0, 2 * np.pi)
        bend = rng.uniform(-0.05, 0.05)
        points = [tuple(start)]
        for _ in range(12):
            heading += bend
            start = start + rng.uniform(4, 12) * np.array([np.cos(heading), np.sin(heading)])
            points.append(tuple(start))
        shade = int(rng.integers(10, 70))
        draw.line(points, fill=(shade, shade * 3 // 4, shade // 2), width=int(rng.integers(1, 3)))
    return np.asarray(img)


def device_view(
    image: Image.Image, size: int, rng: np.random.Generator, aug: DeviceAugment
) -> np.ndarray:
    """The full chain: one augmented uint8 view, before colour constancy."""
    rgb = frame(image, size, rng, aug)
    rgb = photometric(rgb, rng, aug)
    rgb = optics(rgb, rng, aug)
    return hairs(dermatoscope(rgb, rng, aug), rng, aug)
