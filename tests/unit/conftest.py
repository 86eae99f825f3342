"""Shared fixtures for the CPython unit tests of ``py/skinlens``.

Every image these tests need is generated here, in memory, so the suite runs
on a fresh clone. Tests that read the real HAM10000 copy use the ``data_dir``
fixture, which skips (with the reason) when the data is not present.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skinlens import metadata

REPO = Path(__file__).resolve().parents[2]
METADATA_PATH = REPO / "models" / "skinlens-lite0" / "metadata.json"
BASE_METADATA_PATH = REPO / "training" / "base_metadata.json"


def data_root() -> Path:
    """HAM10000 copy: ``$SKINLENS_DATA`` or ``../shared/data/ham10000`` next to the repo."""
    env = os.environ.get("SKINLENS_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "data" / "ham10000")


@pytest.fixture(scope="session")
def info() -> metadata.ModelInfo:
    """The shipped model metadata (draft or trained)."""
    return metadata.load(METADATA_PATH)


@pytest.fixture(scope="session")
def raw_metadata() -> dict[str, Any]:
    """A fresh-per-session parsed copy of the metadata JSON (tests deep-copy before editing)."""
    return metadata.load(METADATA_PATH).raw


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the HAM10000 copy, or skip when it is absent (fresh clone, CI)."""
    root = data_root()
    if not (root / "metadata.csv").is_file() or not (root / "images").is_dir():
        pytest.skip(
            f"HAM10000 data not found at {root} (set SKINLENS_DATA or place it at "
            "../shared/data/ham10000); real-image tests are skipped"
        )
    return root


def encode(image: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    """Encode a Pillow image to bytes in memory."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="session")
def encoder() -> Callable[..., bytes]:
    """``encoder(image, fmt, **save_kwargs) -> bytes``."""
    return encode


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


@pytest.fixture(scope="session")
def make_lesion() -> Callable[..., np.ndarray]:
    """``make_lesion(size=224, seed=0, hairs=6) -> uint8 RGB``: see :func:`lesion_like`."""
    return lesion_like


@pytest.fixture(scope="session")
def base_metadata() -> dict[str, Any]:
    """``training/base_metadata.json`` parsed (what the export copies through)."""
    return json.loads(BASE_METADATA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def lesion() -> np.ndarray:
    """A 224x224 synthetic lesion ROI that passes every gate."""
    return lesion_like()
