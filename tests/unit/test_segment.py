"""The lesion segmentation: Otsu, run-length labelling against a flood fill, hole filling,
and outlines of synthetic lesions with known truth (hairs, a dark corner, plain skin)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from skinlens import segment
from synthetic import drawn_lesion_and_mask, lesion_like


def flood_labels(mask: np.ndarray, diagonal: bool) -> np.ndarray:
    """Reference labelling: breadth-first flood fill, pixel by pixel."""
    h, w = mask.shape
    labels = np.full((h, w), -1)
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if diagonal:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    n = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if labels[y, x] >= 0:
            continue
        labels[y, x] = n
        queue = deque([(y, x)])
        while queue:
            cy, cx = queue.popleft()
            for dy, dx in steps:
                ny, nx = cy + dy, cx + dx
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and labels[ny, nx] < 0:
                    labels[ny, nx] = n
                    queue.append((ny, nx))
        n += 1
    return labels


def run_labels(mask: np.ndarray, diagonal: bool) -> np.ndarray:
    rows, starts, ends, labels = segment.components(mask, diagonal)
    out = np.full(mask.shape, -1)
    for y, s, e, lab in zip(rows, starts, ends, labels, strict=True):
        out[y, s:e] = lab
    return out


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    return len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs})


def test_otsu_splits_two_modes_and_handles_constant_input():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(40, 5, 3000), rng.normal(160, 8, 1000)])
    t = segment.otsu_threshold(values)
    upper = values > t
    assert upper[3000:].all() and upper[:3000].mean() < 0.01
    # The brute-force definition: the cut with the largest between-class variance.
    cuts = np.linspace(values.min(), values.max(), 400)[1:-1]
    between = [
        (v > c).mean() * (v <= c).mean() * (v[v > c].mean() - v[v <= c].mean()) ** 2
        for c in cuts
        for v in [values]
    ]
    best = cuts[int(np.argmax(between))]
    assert abs(t - best) < 2.0
    assert segment.otsu_threshold(np.full(10, 7.0)) == 7.0
    with pytest.raises(ValueError):
        segment.otsu_threshold(np.array([]))


@pytest.mark.parametrize("diagonal", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_run_labelling_matches_a_flood_fill(seed, diagonal):
    mask = np.random.default_rng(seed).random((37, 41)) < 0.45
    assert same_partition(run_labels(mask, diagonal), flood_labels(mask, diagonal))


def test_diagonal_touch_joins_only_with_8_connectivity():
    mask = np.eye(5, dtype=bool)
    assert segment.components(mask, True)[3].max() == 0
    assert segment.components(mask, False)[3].max() == 4


def test_fill_holes_fills_enclosed_background_only():
    yy, xx = np.mgrid[0:40, 0:40]
    r = np.hypot(yy - 20, xx - 20)
    ring = (r < 12) & (r > 6)
    assert np.array_equal(segment.fill_holes(ring), r < 12)
    notch = np.ones((10, 10), dtype=bool)
    notch[0:5, 4:6] = False  # reaches the edge: not a hole
    assert np.array_equal(segment.fill_holes(notch), notch)


def test_erode_and_dilate_are_square_and_keep_the_frame_edge():
    m = np.zeros((9, 9), dtype=bool)
    m[4, 4] = True
    assert segment.dilate(m, 2).sum() == 25
    assert np.array_equal(segment.erode(segment.dilate(m, 2), 2), m)
    full = np.ones((5, 5), dtype=bool)
    assert segment.erode(full, 1).all()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"angle": 37.0}, {"radius": 20.0}, {"radius": 80.0}, {"scallops": 0.12}],
)
def test_outline_of_a_drawn_lesion_matches_its_truth(kwargs):
    img, truth = drawn_lesion_and_mask(**kwargs)
    mask = segment.lesion_mask(img)
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.95, iou


def test_hairs_are_not_part_of_the_lesion():
    mask = segment.lesion_mask(lesion_like(hairs=8))
    assert mask.any()
    assert not mask[:10].any() and not mask[-10:].any()  # hairs run top to bottom


def test_plain_skin_has_no_lesion():
    rng = np.random.default_rng(1)
    skin = np.clip(np.array([222, 172, 152]) + rng.normal(0, 4, (224, 224, 3)), 0, 255)
    assert not segment.lesion_mask(skin.astype(np.uint8)).any()


def test_the_component_nearest_the_centre_wins_over_a_dark_corner():
    img, truth = drawn_lesion_and_mask(radius=30.0)
    yy, xx = np.mgrid[0:224, 0:224]
    corner = np.hypot(yy, xx) < 60  # a dermatoscope's dark vignette, larger than the lesion
    img[corner] = (20, 18, 18)
    mask = segment.lesion_mask(img)
    assert not (mask & corner).any()
    assert (mask & truth).sum() / (mask | truth).sum() > 0.9


def test_lesion_box_frames_the_lesion_at_the_share():
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:40, 50:60] = True  # 20 tall, 10 wide
    left, top, right, bottom = segment.lesion_box(mask, 0.5)
    assert (right - left, bottom - top) == (40.0, 40.0)
    assert ((left + right) / 2, (top + bottom) / 2) == (55.0, 30.0)
    assert segment.lesion_box(np.zeros((5, 5), dtype=bool), 0.5) is None
    with pytest.raises(ValueError):
        segment.lesion_box(mask, 0.0)


def test_rejects_a_non_rgb_array():
    with pytest.raises(ValueError):
        segment.lesion_mask(np.zeros((8, 8), dtype=np.uint8))
