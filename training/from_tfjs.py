"""Recover a PyTorch state dict from a shipped TF.js graph model, to fine-tune it.

The trained PyTorch weights of a shipped model live only on the machine that trained it
(``training/runs/`` is not committed); the TF.js graph in ``models/`` is. The converter
folded every batch norm into its convolution (``merged_input`` kernels and a ``sub``
bias; depthwise convolutions keep a separate ``mul`` scale), so the inverse puts the
folded kernel in the convolution and an identity batch norm beside it: weight = scale
(1, or the depthwise ``mul``), bias = the folded bias, running mean 0 and running
variance ``1 - eps`` (so ``sqrt(var + eps) = 1``). In eval mode the network computes the
shipped function; fine-tune it with frozen batch-norm statistics (``--freeze-bn``),
since batch statistics would no longer describe the folded activations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.lite0_spec import BN_EPSILON, block_specs

PREFIX = "StatefulPartitionedCall/skinlens_1/"


def tfjs_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The graph's constants by short name (``stem_conv_1/convolution/merged_input``),
    dequantised to float32."""
    from training.tfjs_graph import _read_weights

    spec = json.loads((model_dir / "model.json").read_text())
    return {
        k.removeprefix(PREFIX): np.asarray(v, np.float32)
        for k, v in _read_weights(spec, model_dir).items()
    }


def _identity_bn(out: dict, prefix: str, bias: np.ndarray, scale: np.ndarray | None) -> None:
    n = bias.shape[0]
    out[prefix + "weight"] = np.ones(n, np.float32) if scale is None else scale
    out[prefix + "bias"] = bias
    out[prefix + "running_mean"] = np.zeros(n, np.float32)
    out[prefix + "running_var"] = np.full(n, 1.0 - BN_EPSILON, np.float32)


def state_from_tfjs(model_dir: Path) -> dict[str, torch.Tensor]:
    """``training.torch_lite0.Lite0`` state dict equal (in eval mode) to the shipped graph.
    Raises if a graph constant is left unmapped, so a changed export cannot slip by."""
    w = tfjs_weights(model_dir)
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return w[name]

    def conv(layer: str, bn: str, dst_conv: str, dst_bn: str, out: dict) -> None:
        kernel = take(f"{layer}_1/convolution/merged_input")  # HWIO, batch norm folded in
        out[dst_conv + ".weight"] = np.transpose(kernel, (3, 2, 0, 1))
        _identity_bn(out, dst_bn + ".", take(f"{bn}_1/batchnorm/sub"), None)

    out: dict[str, np.ndarray] = {}
    conv("stem_conv", "stem_bn", "_conv_stem", "_bn0", out)
    for i, spec in enumerate(block_specs()):
        src, dst = f"block{i}_", f"_blocks.{i}."
        if spec.stage.expand != 1:
            conv(src + "expand_conv", src + "expand_bn", dst + "_expand_conv", dst + "_bn0", out)
        dw = take(f"{src}dwconv_1/depthwise/ReadVariableOp")  # (H, W, C, 1)
        out[dst + "_depthwise_conv.weight"] = np.transpose(dw, (2, 3, 0, 1))
        _identity_bn(
            out,
            dst + "_bn1.",
            take(f"{src}dw_bn_1/batchnorm/sub"),
            take(f"{src}dw_bn_1/batchnorm/mul"),
        )
        conv(src + "project_conv", src + "project_bn", dst + "_project_conv", dst + "_bn2", out)
    conv("head_conv", "head_bn", "_conv_head", "_bn1", out)
    out["_fc.weight"] = take("logits_1/Cast/ReadVariableOp").T
    out["_fc.bias"] = take("logits_1/BiasAdd/ReadVariableOp")
    for head in ("lesion", "dermoscopic"):
        out[head + ".weight"] = take(f"{head}_1/Cast/ReadVariableOp").T
        out[head + ".bias"] = take(f"{head}_1/Add/ReadVariableOp")
    # The cam kernel is the logits kernel again; the pooling axes are a graph constant.
    left = set(w) - used - {"cam_1/convolution/ReadVariableOp", "pool_1/Mean/reduction_indices"}
    if left:
        raise ValueError(f"unmapped TF.js constants: {sorted(left)[:5]}")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
