import numpy as np
import pytest
from skinlens.smoothing import Smoother, SmoothingConfig


def onehotish(k: int, conf: float = 0.8, n: int = 7) -> np.ndarray:
    p = np.full(n, (1.0 - conf) / (n - 1))
    p[k] = conf
    return p


@pytest.mark.parametrize("method", ["ema", "window"])
def test_becomes_stable_after_n_consistent_frames(method):
    s = Smoother(SmoothingConfig(method=method, min_stable_frames=4, min_confidence=0.5))
    for i in range(3):
        v = s.update(onehotish(5))
        assert not v.stable, i
    v = s.update(onehotish(5))
    assert v.stable and v.top == 5 and v.consistent == 4
    assert v.probs.sum() == pytest.approx(1.0)


def test_disagreeing_frame_restarts_count():
    s = Smoother(SmoothingConfig(min_stable_frames=3))
    s.update(onehotish(5))
    s.update(onehotish(5))
    v = s.update(onehotish(4, 0.9))  # smoothed still says 5: this frame disagrees
    assert v.top == 5 and v.consistent == 0 and not v.stable
    for _ in range(3):
        v = s.update(onehotish(5))
    assert v.stable


def test_flicker_between_classes_never_stable():
    s = Smoother(SmoothingConfig(min_stable_frames=3, alpha=0.5))
    for i in range(20):
        v = s.update(onehotish(4 if i % 2 else 5, 0.6))
        assert not v.stable


def test_low_confidence_not_stable():
    s = Smoother(SmoothingConfig(min_stable_frames=3, min_confidence=0.6))
    for _ in range(10):
        v = s.update(onehotish(2, 0.4))
    assert v.top == 2 and v.consistent == 10 and not v.stable


def test_short_rejection_streak_keeps_verdict_long_one_resets():
    s = Smoother(SmoothingConfig(min_stable_frames=2, reset_after_rejects=3))
    for _ in range(3):
        s.update(onehotish(1))
    assert s.verdict().stable
    v = s.reject()
    v = s.reject()
    assert v.stable and v.top == 1 and v.rejected_streak == 2
    v = s.update(onehotish(1))
    assert v.stable and v.rejected_streak == 0
    for _ in range(3):
        v = s.reject()
    assert not v.stable and v.probs is None and v.accepted == 0
    assert s.best() is None


def test_ema_follows_new_class_and_window_mean():
    s = Smoother(SmoothingConfig(method="ema", alpha=0.5))
    s.update(onehotish(0, 1.0))
    v = s.update(onehotish(1, 1.0))
    np.testing.assert_allclose(v.probs[:2], [0.5, 0.5])
    w = Smoother(SmoothingConfig(method="window", window=2))
    w.update(onehotish(0, 1.0))
    w.update(onehotish(1, 1.0))
    v = w.update(onehotish(1, 1.0))
    np.testing.assert_allclose(v.probs[:2], [0.0, 1.0])


def test_best_frame_is_sharpest_recent():
    s = Smoother(SmoothingConfig(best_window=3))
    imgs = [np.full((4, 4, 3), i, np.uint8) for i in range(5)]
    for i, sharp in enumerate([50.0, 10.0, 30.0, 20.0, 5.0]):
        s.update(onehotish(5), sharpness=sharp, image=imgs[i], result={"i": i})
    best = s.best()
    # the 50-sharpness frame fell out of the 3-frame window
    assert best.sharpness == 30.0 and best.result == {"i": 2}
    assert int(best.image[0, 0, 0]) == 2
    imgs[2][:] = 99  # the stored image is a copy
    assert int(s.best().image[0, 0, 0]) == 2
    s.attach_result({"final": True})
    assert s._best[-1].result == {"final": True}


def test_input_validation():
    s = Smoother()
    with pytest.raises(ValueError):
        s.update([np.nan] * 7)
    with pytest.raises(ValueError):
        s.update([0.0] * 7)
    s.update(onehotish(0))
    with pytest.raises(ValueError):
        s.update([0.5, 0.5])
    with pytest.raises(ValueError):
        SmoothingConfig(method="median")
    with pytest.raises(ValueError):
        SmoothingConfig(alpha=0)


def test_config_from_mapping_ignores_unknown():
    c = SmoothingConfig.from_mapping({"alpha": 0.2, "bogus": 1}, min_stable_frames=7)
    assert c.alpha == 0.2 and c.min_stable_frames == 7
    assert SmoothingConfig.from_mapping(None) == SmoothingConfig()


def test_unnormalised_probs_are_normalised():
    s = Smoother()
    v = s.update([2.0, 2.0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(v.probs[:2], [0.5, 0.5])
