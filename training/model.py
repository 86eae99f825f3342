"""The shipped inference graph, rebuilt in Keras from trained PyTorch weights.

``image`` (N, S, S, 3) in [-1, 1] -> named outputs, read by the page through
``metadata.json``:

* ``logits`` (N, 7): class logits; the page applies ``softmax(logits / T)``;
* ``lesion`` (N, 1): logit that the photo shows a skin lesion at all;
* ``dermoscopic`` (N, 1): logit that it is a dermoscopy image (not a close-up);
* ``cam`` (N, S/32, S/32, 7): class activation maps, the final features times
  each class's classifier weights (Zhou et al. 2016). Averaging a map over its
  grid and adding the bias gives that class's logit exactly, so the heatmap
  explains the very number the page shows and adds no second model.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from training.architectures import lite0_backbone
from training.weights_lite0 import load_lite0_state

OUTPUTS = ("logits", "lesion", "dermoscopic", "cam")


def _dense(name: str, kernel: np.ndarray, bias: np.ndarray, x):
    dense = layers.Dense(kernel.shape[1], name=name)
    out = dense(x)
    dense.set_weights([kernel, bias])
    return out


def export_model(state: dict[str, np.ndarray], size: int) -> keras.Model:
    """The shipped graph from a trained state dict (``training.torch_lite0`` names)."""
    backbone = lite0_backbone(size)
    heads = load_lite0_state(backbone, state)
    features = backbone.output
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    outputs = {
        name: _dense(name, *heads[key], pooled)
        for name, key in (("logits", "_fc"), ("lesion", "lesion"), ("dermoscopic", "dermoscopic"))
    }
    kernel, _ = heads["_fc"]
    cam = layers.Conv2D(kernel.shape[1], 1, use_bias=False, name="cam")
    outputs["cam"] = cam(features)
    cam.set_weights([kernel[None, None]])
    return keras.Model(backbone.input, outputs, name="skinlens")
