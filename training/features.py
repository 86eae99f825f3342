"""Cache the frozen prefix's outputs for augmented views (resumable).

On a 2-core CPU a full fine-tune of EfficientNet at 224 costs ~15 min an
epoch; running the frozen early blocks once per augmented view and training
only the last blocks on the cache makes fine-tuning practical. Each
(split, view) is one ``.npy`` file written atomically, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np

from training.data import Augment, Sample, load_view
from training.progress import Progress


def _batch_inputs(
    samples: list[Sample], size: int, seed: int | None, aug: Augment, scale: float, offset: float
) -> np.ndarray:
    out = np.empty((len(samples), size, size, 3), np.float32)
    for i, s in enumerate(samples):
        rng = (
            None if seed is None else np.random.default_rng([seed, zlib.crc32(s.image_id.encode())])
        )
        rgb = load_view(s.path, size, rng, aug if rng is not None else None)
        out[i] = rgb.astype(np.float32) * scale + offset
    return out


def cache_view(
    prefix: keras.Model,
    samples: list[Sample],
    path: Path,
    size: int,
    scale: float,
    offset: float,
    seed: int | None,
    aug: Augment | None = None,
    batch: int = 32,
) -> np.ndarray:
    """Prefix outputs (float16) for one view of ``samples``; ``seed=None`` = centred view."""
    if path.exists():
        return np.load(path)
    aug = aug or Augment()
    chunks = [samples[i : i + batch] for i in range(0, len(samples), batch)]
    feats: list[np.ndarray] = []
    bar = Progress(len(samples), path.stem)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_batch_inputs, chunks[0], size, seed, aug, scale, offset)
        for i in range(len(chunks)):
            x = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(_batch_inputs, chunks[i + 1], size, seed, aug, scale, offset)
            feats.append(np.asarray(prefix.predict_on_batch(x)).astype(np.float16))
            bar.update(len(x))
    arr = np.concatenate(feats)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)
    return arr
