"""Generated test images (no dataset needed): lesion-like photos and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def lesion_like(width: int = 800, height: int = 600, seed: int = 0) -> Image.Image:
    """A dermoscopy-like picture: textured skin tone, an irregular brown lesion in the
    middle with a darker reticular centre, sharp and well exposed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width / 2 + rng.normal(0, width * 0.02), height / 2 + rng.normal(0, height * 0.02)
    r0 = min(width, height) * 0.24
    ang = np.arctan2(yy - cy, xx - cx)
    # irregular border: a few low-frequency harmonics
    border = r0 * (
        1
        + 0.12 * np.sin(3 * ang + rng.uniform(0, 6))
        + 0.07 * np.sin(5 * ang + rng.uniform(0, 6))
        + 0.04 * np.sin(9 * ang + rng.uniform(0, 6))
    )
    dist = np.hypot((xx - cx) * 1.15, yy - cy) / border
    inside = np.clip((1.08 - dist) / 0.16, 0, 1)  # soft edge
    skin = np.array([222, 172, 150], np.float32)
    lesion = np.array([120, 72, 48], np.float32)
    centre = np.array([70, 40, 30], np.float32)
    img = skin[None, None, :] * (1 - inside[..., None]) + lesion[None, None, :] * inside[..., None]
    core = np.clip((0.6 - dist) / 0.3, 0, 1)[..., None]
    img = img * (1 - 0.6 * core) + centre * (0.6 * core)
    # pigment network + skin texture
    net = np.sin(xx / 5.0 + rng.uniform(0, 6)) * np.sin(yy / 5.0 + rng.uniform(0, 6))
    img -= (18 * net * inside)[..., None]
    img += rng.normal(0, 6, img.shape)
    vignette = 1 - 0.18 * (np.hypot(xx - width / 2, yy - height / 2) / np.hypot(width, height)) ** 2
    img *= vignette[..., None]
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return out.filter(ImageFilter.GaussianBlur(0.6))


def write_lesion_jpeg(
    path: Path, width: int = 800, height: int = 600, seed: int = 0, quality: int = 90
) -> Path:
    lesion_like(width, height, seed).save(path, "JPEG", quality=quality)
    return path


def write_big_jpeg(path: Path, megapixels: float = 50.0, seed: int = 1) -> Path:
    """A ~``megapixels`` MP JPEG (4:3) made by upscaling a lesion picture (fast, small file)."""
    w = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = round(megapixels * 1e6 / w)
    small = lesion_like(800, 600, seed)
    small.resize((w, h), Image.Resampling.BILINEAR).save(path, "JPEG", quality=85)
    return path


def write_text_as_jpg(path: Path) -> Path:
    path.write_text("This is a plain text file pretending to be a photo.\n" * 20)
    return path


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def write_truncated_jpeg(path: Path) -> Path:
    src = Path(str(path) + ".full.jpg")
    write_lesion_jpeg(src, 640, 480, seed=3)
    data = src.read_bytes()
    src.unlink()
    path.write_bytes(data[: len(data) // 3])
    return path
