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
from PIL import Image
from skinlens import metadata
from synthetic import lesion_like

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
