"""EfficientNet-Lite0 in PyTorch, for end-to-end training on any device.

Built from :mod:`training.lite0_spec` with the parameter names of the published
ImageNet state dict (``_conv_stem``, ``_blocks.N._depthwise_conv``, ...), so the
ImageNet weights load with ``load_state_dict`` and a trained state dict maps onto
the Keras rebuild with :func:`training.weights_lite0.load_lite0_state` (which is
what gets exported to TF.js). Convolutions pad like TensorFlow's ``"same"``
(extra row/column at the bottom/right for stride 2), so the two frameworks
compute the same function.

Heads on the pooled 1280 features: ``_fc`` (7 class logits), ``lesion`` (logit:
the photo shows a skin lesion) and ``dermoscopic`` (logit: dermoscopy rather
than an ordinary close-up).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's own convention)
from torch import nn

from training.lite0_spec import (
    BN_EPSILON,
    BN_MOMENTUM,
    LITE0_HEAD,
    LITE0_STEM,
    BlockSpec,
    block_specs,
)


class SameConv(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``"same"`` padding (asymmetric for stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            (x.shape[-1], x.shape[-2]), self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=1 - BN_MOMENTUM)


class MBConv(nn.Module):
    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        stage, hidden = spec.stage, spec.filters_in * spec.stage.expand
        self.spec = spec
        if stage.expand != 1:
            self._expand_conv = nn.Conv2d(spec.filters_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv(
            hidden, hidden, stage.kernel, spec.stride, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, stage.filters_out, 1, bias=False)
        self._bn2 = _bn(stage.filters_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.spec.stage.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.spec.residual else y


class Lite0(nn.Module):
    """Input NCHW in [-1, 1]; ``forward`` returns ``{"logits", "lesion", "dermoscopic"}``."""

    def __init__(self, n_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, LITE0_STEM, 3, 2, bias=False)
        self._bn0 = _bn(LITE0_STEM)
        self._blocks = nn.ModuleList(MBConv(spec) for spec in block_specs())
        self._conv_head = nn.Conv2d(block_specs()[-1].stage.filters_out, LITE0_HEAD, 1, bias=False)
        self._bn1 = _bn(LITE0_HEAD)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(LITE0_HEAD, n_classes)
        self.lesion = nn.Linear(LITE0_HEAD, 1)
        self.dermoscopic = nn.Linear(LITE0_HEAD, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.features(x).mean((2, 3)))
        return {
            "logits": self._fc(pooled),
            "lesion": self.lesion(pooled)[:, 0],
            "dermoscopic": self.dermoscopic(pooled)[:, 0],
        }


HEADS = ("lesion", "dermoscopic")


def load_imagenet(model: Lite0, state: dict[str, torch.Tensor]) -> None:
    """Load the ImageNet backbone; the 1000-class ``_fc`` is dropped (heads start fresh)."""
    backbone = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = model.load_state_dict(backbone, strict=False)
    fresh = {k for k in missing if k.startswith(("_fc.", *(h + "." for h in HEADS)))}
    if set(missing) - fresh or unexpected:
        raise ValueError(f"ImageNet weights do not fit: {sorted(set(missing) - fresh)[:5]}")
