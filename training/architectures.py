"""EfficientNet-Lite0 in Keras, built from the table in ``training.lite0_spec``.

``lite0_backbone(size)`` maps a ``(size, size, 3)`` input in [-1, 1] to the final
feature map. It is the graph that is exported to TF.js; the weights come from
PyTorch training (``training.weights_lite0`` maps them by name).
"""

from __future__ import annotations

import keras
from keras import layers

from training.lite0_spec import (
    BN_EPSILON,
    BN_MOMENTUM,
    LITE0_HEAD,
    LITE0_STEM,
    BlockSpec,
    block_specs,
)


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _mbconv(x, spec: BlockSpec, index: int):
    prefix = f"block{index}_"
    stage, filters_in, stride = spec.stage, spec.filters_in, spec.stride
    inputs = x
    hidden = filters_in * stage.expand
    if stage.expand != 1:
        x = layers.Conv2D(hidden, 1, use_bias=False, name=prefix + "expand_conv")(x)
        x = _bn(prefix + "expand_bn")(x)
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    x = layers.DepthwiseConv2D(
        stage.kernel, strides=stride, padding="same", use_bias=False, name=prefix + "dwconv"
    )(x)
    x = _bn(prefix + "dw_bn")(x)
    x = layers.ReLU(6.0, name=prefix + "dw_relu")(x)
    x = layers.Conv2D(stage.filters_out, 1, use_bias=False, name=prefix + "project_conv")(x)
    x = _bn(prefix + "project_bn")(x)
    if spec.residual:
        x = layers.Add(name=prefix + "add")([x, inputs])
    return x


def lite0_block_count() -> int:
    return len(block_specs())


def _blocks_and_head(x, start_block: int):
    for index, spec in enumerate(block_specs()):
        if index >= start_block:
            x = _mbconv(x, spec, index)
    x = layers.Conv2D(LITE0_HEAD, 1, use_bias=False, name="head_conv")(x)
    x = _bn("head_bn")(x)
    return layers.ReLU(6.0, name="head_relu")(x)


def lite0_backbone(size: int = 224) -> keras.Model:
    """EfficientNet-Lite0 feature extractor: (size, size, 3) -> (size/32, size/32, 1280)."""
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Conv2D(LITE0_STEM, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(
        inputs
    )
    x = _bn("stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    return keras.Model(inputs, _blocks_and_head(x, 0), name="efficientnet_lite0")
