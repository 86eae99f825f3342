"""The model as the pipelines see it: an injected async call, so that the pipelines stay pure.

In the page the call goes to the inference Web Worker (:class:`skinlens.web.browser.WorkerModel`);
in tests it is a stub. A call takes a batch ``(n, size, size, 3)`` of normalised float32
inputs and returns every named output the metadata lists (``logits``, ``lesion``,
``dermoscopic``, ``cam``), each with the batch as its first axis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Inference:
    """The named outputs of one batch, and how long the model took (ms, in the worker)."""

    outputs: dict[str, np.ndarray]
    ms: float

    @property
    def batch_size(self) -> int:
        """How many inputs the call had (the first axis of every output)."""
        return len(next(iter(self.outputs.values())))

    def row(self, i: int) -> dict[str, np.ndarray]:
        """The outputs of the ``i``-th input of the batch."""
        return {name: values[i] for name, values in self.outputs.items()}

    def views_mean(self, i: int, k: int, spatial: tuple[str, ...] = ("cam",)) -> dict:
        """The outputs of item ``i`` whose ``k`` views are rows ``i*k .. i*k+k-1``: each
        output averaged over the views (test-time augmentation), except ``spatial`` maps,
        which only the first view (the crop as is) lines up with, so that one is kept."""
        rows = slice(i * k, i * k + k)
        return {
            name: values[i * k] if name in spatial else values[rows].mean(axis=0)
            for name, values in self.outputs.items()
        }


Predict = Callable[[np.ndarray], Awaitable[Inference]]
