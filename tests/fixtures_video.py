"""Synthetic camera clips for Chromium's fake camera (``.y4m``, numpy only).

``--use-file-for-fake-video-capture=clip.y4m`` makes Chromium's fake camera
play (and loop) a YUV4MPEG2 file. The writer here is self-contained: RGB is
converted to BT.601 limited-range YCbCr (what Chromium assumes for I420),
chroma is 4:2:0 subsampled by averaging 2x2 blocks, and planes are written as
``C420jpeg`` frames.

Clip generators (640x480 @ 15 fps by default):

* :func:`lesion_frames`: a dermoscopy image centred where the live view's guide
  circle is (the image's centred square fills the ROI exactly, as in
  training), on a blurred extension of itself, with a slight hand jitter;
* the same, blurred (:func:`blurred`) or darkened (:func:`darkened`);
* :func:`scene_frames`: a procedurally drawn outdoor scene (sky, clouds,
  roofs, fence, grass) - a sharp, well-exposed natural picture that is no skin
  lesion.

Run as a script to write the clips for a manual look:
``python tests/fixtures_video.py OUTDIR [image.jpg]``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT, FPS = 640, 480, 15
REPO = Path(__file__).resolve().parents[1]
ROI_FRACTION = json.loads((REPO / "models/skinlens-lite0/metadata.json").read_text())["live"][
    "roi_fraction"
]
"""The live view's guide-circle ROI (the model metadata is its single source)."""


# --------------------------------------------------------------------------
# Y4M writer
# --------------------------------------------------------------------------
def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 HxWx3 RGB (H, W even) -> limited-range BT.601 Y, Cb, Cr planes (4:2:0)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 RGB, got {rgb.shape}")
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError("4:2:0 needs even width and height")
    x = rgb.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128.0 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128.0 + 112.0 * r - 93.786 * g - 18.214 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def u8(c: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return u8(y), u8(sub(cb)), u8(sub(cr))


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_yuv420` (chroma upsampled by repetition); for tests."""
    uu = np.repeat(np.repeat(u.astype(np.float32), 2, 0), 2, 1) - 128.0
    vv = np.repeat(np.repeat(v.astype(np.float32), 2, 0), 2, 1) - 128.0
    yy = (y.astype(np.float32) - 16.0) * (255.0 / 219.0)
    r = yy + 1.596027 * vv
    g = yy - 0.391762 * uu - 0.812968 * vv
    b = yy + 2.017232 * uu
    return np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)


def write_y4m(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int = FPS) -> int:
    """Write uint8 RGB frames (all the same even size) to ``path``; returns the count."""
    n = 0
    with open(path, "wb") as f:
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if n == 0:
                h, w = frame.shape[:2]
                f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
            elif frame.shape[:2] != (h, w):
                raise ValueError("all frames must have the same size")
            y, u, v = rgb_to_yuv420(frame)
            f.write(b"FRAME\n")
            f.write(y.tobytes())
            f.write(u.tobytes())
            f.write(v.tobytes())
            n += 1
    if n == 0:
        raise ValueError("no frames")
    return n


def read_y4m(path: str | os.PathLike) -> tuple[dict[str, str], list[np.ndarray]]:
    """Minimal reader (header tags and RGB frames), used to test the writer."""
    data = Path(path).read_bytes()
    end = data.index(b"\n")
    tokens = data[:end].decode("ascii").split()
    if tokens[0] != "YUV4MPEG2":
        raise ValueError("not a YUV4MPEG2 file")
    tags = {t[0]: t[1:] for t in tokens[1:]}
    w, h = int(tags["W"]), int(tags["H"])
    ysz, csz = w * h, (w // 2) * (h // 2)
    frames, pos = [], end + 1
    while pos < len(data):
        hdr_end = data.index(b"\n", pos)
        if not data[pos:hdr_end].startswith(b"FRAME"):
            raise ValueError("bad frame header")
        pos = hdr_end + 1
        y = np.frombuffer(data, np.uint8, ysz, pos).reshape(h, w)
        u = np.frombuffer(data, np.uint8, csz, pos + ysz).reshape(h // 2, w // 2)
        v = np.frombuffer(data, np.uint8, csz, pos + ysz + csz).reshape(h // 2, w // 2)
        frames.append(yuv420_to_rgb(y, u, v))
        pos += ysz + 2 * csz
    return tags, frames


# --------------------------------------------------------------------------
# clip content
# --------------------------------------------------------------------------
def data_dir() -> Path:
    env = os.environ.get("SKINLENS_DATA")
    return Path(env) if env else (REPO / ".." / "shared" / "data" / "ham10000").resolve()


def lesion_images(n: int = 1, dx: str | None = "nv", split: str = "test") -> list[Path]:
    """Paths of ``n`` dataset images (``dx`` class, ``split``), or [] without data."""
    import csv

    root = data_dir()
    meta = root / "metadata.csv"
    if not meta.is_file():
        return []
    out = []
    with meta.open(newline="") as f:
        for row in csv.DictReader(f):
            if (dx is None or row["dx"] == dx) and row.get("split", split) == split:
                p = root / "images" / f"{row['image_id']}.jpg"
                if p.is_file():
                    out.append(p)
                    if len(out) >= n:
                        break
    return out


def _jitter(i: int, amplitude: float) -> tuple[int, int]:
    t = i / FPS
    return (
        round(amplitude * math.sin(2 * math.pi * 0.7 * t)),
        round(amplitude * math.sin(2 * math.pi * 0.45 * t + 1.0)),
    )


def moving(base: np.ndarray, n: int, jitter: float) -> Iterator[np.ndarray]:
    """Crop ``WIDTH x HEIGHT`` windows out of a padded ``base`` with a small jitter."""
    pad = (base.shape[0] - HEIGHT) // 2
    for i in range(n):
        dx, dy = _jitter(i, jitter) if jitter else (0, 0)
        yield base[pad + dy : pad + dy + HEIGHT, pad + dx : pad + dx + WIDTH]


def lesion_base(image: Image.Image | str | os.PathLike, pad: int = 8) -> np.ndarray:
    """A (HEIGHT+2pad)x(WIDTH+2pad) RGB frame: the image's centred square on the ROI."""
    if not isinstance(image, Image.Image):
        image = Image.open(image)
    image = image.convert("RGB")
    w, h = image.size
    roi = ROI_FRACTION * min(WIDTH, HEIGHT)
    scale = roi / min(w, h)
    fw, fh = WIDTH + 2 * pad, HEIGHT + 2 * pad
    # background: the same image scaled to cover the frame and blurred (skin-ish)
    cover = max(fw / w, fh / h)
    bg = image.resize((math.ceil(w * cover), math.ceil(h * cover)), Image.Resampling.BILINEAR)
    bg = bg.crop(
        ((bg.width - fw) // 2, (bg.height - fh) // 2, (bg.width + fw) // 2, (bg.height + fh) // 2)
    ).resize((fw, fh))
    bg = bg.filter(ImageFilter.GaussianBlur(12))
    fg = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    bg.paste(fg, ((fw - fg.width) // 2, (fh - fg.height) // 2))
    return np.asarray(bg, dtype=np.uint8)


def lesion_frames(image, n: int = 45, jitter: float = 3.0) -> Iterator[np.ndarray]:
    return moving(lesion_base(image), n, jitter)


def blurred(frames: Iterable[np.ndarray], radius: float = 7.0) -> Iterator[np.ndarray]:
    for f in frames:
        yield np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(radius)))


def darkened(frames: Iterable[np.ndarray], gain: float = 0.12) -> Iterator[np.ndarray]:
    for f in frames:
        yield np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def scene_base(pad: int = 8, seed: int = 0) -> np.ndarray:
    """A sharp, well-lit, procedurally drawn outdoor scene (no skin, no lesion)."""
    rng = np.random.default_rng(seed)
    fw, fh = WIDTH + 2 * pad, HEIGHT + 2 * pad
    yy = np.linspace(0.0, 1.0, fh, dtype=np.float32)[:, None, None]
    sky = (1 - yy) * np.array([70, 130, 220], np.float32) + yy * np.array(
        [170, 205, 245], np.float32
    )
    img = np.broadcast_to(sky, (fh, fw, 3)).copy()
    horizon = int(fh * 0.55)
    # grass: green with sharp blade-like noise
    g = rng.normal(0, 28, (fh - horizon, fw)).astype(np.float32)
    grass = np.stack([60 + 0.4 * g, 140 + g, 45 + 0.3 * g], -1)
    img[horizon:] = grass
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for cx, cy, r in ((120, 30, 22), (160, 24, 26), (200, 32, 20), (470, 36, 22), (510, 28, 26)):
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 245, 250))
    # houses with red roofs and windows
    for x0 in (60, 260, 450):
        d.rectangle((x0, horizon - 110, x0 + 130, horizon), fill=(196, 208, 222), outline=(0, 0, 0))
        d.polygon(
            [(x0 - 10, horizon - 110), (x0 + 65, horizon - 170), (x0 + 140, horizon - 110)],
            fill=(84, 92, 112),
            outline=(0, 0, 0),
        )
        for wx in (x0 + 15, x0 + 80):
            d.rectangle(
                (wx, horizon - 90, wx + 35, horizon - 55),
                fill=(60, 90, 140),
                outline=(90, 60, 40),
                width=3,
            )
    # painted picket fence across the middle (not white: no glare-like pixels)
    wood = (120, 160, 150)
    for x in range(0, fw, 18):
        d.rectangle((x, horizon - 30, x + 9, horizon + 25), fill=wood, outline=(60, 40, 20))
    d.rectangle((0, horizon - 18, fw, horizon - 12), fill=wood)
    d.rectangle((0, horizon + 8, fw, horizon + 14), fill=wood)
    return np.asarray(im, dtype=np.uint8)


def scene_frames(n: int = 45, jitter: float = 3.0) -> Iterator[np.ndarray]:
    return moving(scene_base(), n, jitter)


def roi_of(frame: np.ndarray, size: int = 224) -> np.ndarray:
    """What the live view classifies: the centred ROI square resized to ``size``."""
    h, w = frame.shape[:2]
    side = ROI_FRACTION * min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return np.asarray(
        Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR, box=box)
    )


def write_standard_clips(outdir: str | os.PathLike, image=None, n: int = 45) -> dict[str, Path]:
    """Write the lesion/blurred/dark clips (when an image is given) and the scene clip."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    clips: dict[str, Path] = {}
    if image is not None:
        base = lesion_base(image)
        for name, gen in (
            ("lesion", lambda: moving(base, n, 3.0)),
            ("blurred", lambda: blurred(moving(base, n, 3.0))),
            ("dark", lambda: darkened(moving(base, n, 3.0))),
        ):
            clips[name] = out / f"{name}.y4m"
            write_y4m(clips[name], gen())
    clips["scene"] = out / "scene.y4m"
    write_y4m(clips["scene"], scene_frames(n))
    return clips


if __name__ == "__main__":
    dest = sys.argv[1] if len(sys.argv) > 1 else "clips"
    img = sys.argv[2] if len(sys.argv) > 2 else (lesion_images(1) or [None])[0]
    for k, v in write_standard_clips(dest, img).items():
        print(k, v)
