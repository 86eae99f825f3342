"""Classifier and exported graph: backbone -> pooled features -> logits, plus an
in-graph out-of-distribution score.

The exported model has one input ``image`` (N, 224, 224, 3) in [-1, 1] and two
outputs: ``logits`` (N, 7), calibrated later in Python by a temperature, and
``ood_score`` (N, 1): at several depths (``OOD_TAPS``) the Mahalanobis
distance of the average-pooled features to the nearest class mean under a
shared covariance (Lee et al., NeurIPS 2018), each divided by its 95th
percentile on `val` lesions, and the largest of them. Early, ImageNet-frozen
layers see texture and colour statistics (fur, paper, a retina photo); the
last layer sees semantics. A score well above 1 means unlike any training lesion.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops


def classifier_head(features: keras.KerasTensor, n_classes: int, dropout: float):
    """Final feature map -> class logits (global average pool, dropout, dense)."""
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    x = layers.Dropout(dropout, name="dropout")(pooled)
    return layers.Dense(n_classes, name="classifier")(x)


@keras.saving.register_keras_serializable(package="skinlens")
class MahalanobisScore(layers.Layer):
    """min_c || (f - mu_c) W ||^2 with W a (PCA-truncated) whitening matrix.

    Computed as ||z||^2 - 2 z.m_c + ||m_c||^2 with z = f W and m_c = mu_c W, so
    the graph is two small matmuls (fast on every TF.js backend).
    """

    def __init__(
        self, whitening: np.ndarray, means: np.ndarray, scale: float = 1.0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.whitening_init = np.asarray(whitening, np.float32)
        self.means_init = np.asarray(means, np.float32)
        self.scale = float(scale)

    def build(self, input_shape) -> None:
        self.w = self.add_weight(
            shape=self.whitening_init.shape, initializer="zeros", trainable=False, name="whitening"
        )
        proj = self.means_init @ self.whitening_init  # (C, k)
        self.m_t = self.add_weight(
            shape=proj.T.shape, initializer="zeros", trainable=False, name="means"
        )
        self.m_sq = self.add_weight(
            shape=(proj.shape[0],), initializer="zeros", trainable=False, name="means_sq"
        )
        self.w.assign(self.whitening_init)
        self.m_t.assign(proj.T)
        self.m_sq.assign((proj**2).sum(axis=1))

    def call(self, features):
        z = ops.matmul(features, self.w)
        d = ops.sum(z * z, axis=-1, keepdims=True) - 2.0 * ops.matmul(z, self.m_t) + self.m_sq
        return ops.min(d, axis=-1, keepdims=True) * (1.0 / self.scale)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg.update(
            whitening=self.whitening_init.tolist(),
            means=self.means_init.tolist(),
            scale=self.scale,
        )
        return cfg


def fit_mahalanobis(
    features: np.ndarray, labels: np.ndarray, n_classes: int, dims: int = 128, shrink: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Class means and a shared-covariance whitening matrix truncated to ``dims``.

    Truncation to the top principal directions keeps the matrix small in the
    shipped model and ignores near-degenerate directions.
    """
    f = features.astype(np.float64)
    means = np.stack([f[labels == c].mean(0) for c in range(n_classes)])
    centred = f - means[labels]
    cov = centred.T @ centred / len(f)
    cov += (shrink * np.trace(cov) / len(cov) + 1e-6) * np.eye(len(cov))
    evals, evecs = np.linalg.eigh(cov)
    evals = np.maximum(evals, 1e-6)  # rank-deficient covariance (few samples, dead units)
    order = np.argsort(evals)[::-1][:dims]
    whitening = evecs[:, order] / np.sqrt(evals[order])
    return whitening.astype(np.float32), means.astype(np.float32)


def mahalanobis_np(features: np.ndarray, whitening: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Reference implementation of :class:`MahalanobisScore` in numpy."""
    z = features @ whitening
    m = means @ whitening
    d = ((z[:, None, :] - m[None]) ** 2).sum(-1)
    return d.min(1)


# Blocks whose pooled outputs feed the OOD score, plus the final feature map (None).
OOD_TAPS: tuple[int | None, ...] = (7, 10, None)


@dataclass(frozen=True)
class OODStats:
    """Per-tap Gaussian statistics and the val-quantile scale of each tap's distance."""

    taps: tuple[int | None, ...]
    whitening: tuple[np.ndarray, ...]
    means: tuple[np.ndarray, ...]
    scales: tuple[float, ...]

    def save(self, path) -> None:
        arrays = {
            "taps": np.array([-1 if t is None else t for t in self.taps]),
            "scales": np.array(self.scales),
        }
        for i, (w, m) in enumerate(zip(self.whitening, self.means, strict=True)):
            arrays[f"whitening_{i}"], arrays[f"means_{i}"] = w, m
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> OODStats:
        z = np.load(path)
        taps = tuple(None if t < 0 else int(t) for t in z["taps"])
        return cls(
            taps,
            tuple(z[f"whitening_{i}"] for i in range(len(taps))),
            tuple(z[f"means_{i}"] for i in range(len(taps))),
            tuple(float(s) for s in z["scales"]),
        )

    def score(self, features: list[np.ndarray]) -> np.ndarray:
        """Numpy reference of the in-graph ``ood_score`` from per-tap pooled features."""
        d = [
            mahalanobis_np(f, w, m) / s
            for f, w, m, s in zip(features, self.whitening, self.means, self.scales, strict=True)
        ]
        return np.max(d, axis=0)


def tap_features(backbone: keras.Model, taps: tuple[int | None, ...]) -> keras.Model:
    """image -> [pooled output of each tap] (None = the final feature map)."""
    from training.architectures import block_output_name

    outs = [
        layers.GlobalAveragePooling2D(name=f"ood_pool_{t if t is not None else 'head'}")(
            backbone.output if t is None else backbone.get_layer(block_output_name(t)).output
        )
        for t in taps
    ]
    return keras.Model(backbone.input, outs, name="tap_features")


def export_model(backbone: keras.Model, classifier: layers.Dense, ood: OODStats) -> keras.Model:
    """The shipped graph: ``image`` -> {``logits``, ``ood_score``} (inference only)."""
    from training.architectures import block_output_name

    image = backbone.input
    pooled = layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    dense = layers.Dense(classifier.units, name="logits")
    logits = dense(pooled)
    dense.set_weights(classifier.get_weights())
    scores = []
    for i, tap in enumerate(ood.taps):
        feats = (
            pooled
            if tap is None
            else layers.GlobalAveragePooling2D(name=f"ood_pool_{tap}")(
                backbone.get_layer(block_output_name(tap)).output
            )
        )
        scores.append(
            MahalanobisScore(ood.whitening[i], ood.means[i], ood.scales[i], name=f"ood_{i}")(feats)
        )
    ood_score = layers.Maximum(name="ood_score")(scores) if len(scores) > 1 else scores[0]
    return keras.Model(image, {"logits": logits, "ood_score": ood_score}, name="skinlens")
