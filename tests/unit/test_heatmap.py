"""The heatmap (skinlens.heatmap): the map of the class shown, scaled, overlaid, in the contract."""

from __future__ import annotations

import asyncio
import json

import numpy as np
from skinlens import heatmap, view
from skinlens.model import Inference
from skinlens.photo import Photo
from synthetic import lesion_like
from test_photo import StubModel, data, jpeg


def test_class_map_scales_the_class_channel_to_0_1():
    cam = np.zeros((7, 7, 7), np.float32)
    cam[..., 5] = np.arange(49).reshape(7, 7)
    cam[2, 3, 4] = 100.0  # another class: ignored
    grid = heatmap.class_map(cam, 5)
    assert grid.shape == (7, 7) and grid.min() == 0.0 and grid.max() == 1.0
    assert heatmap.peak(grid) == (6, 6)
    assert not heatmap.class_map(np.ones((7, 7, 7)), 0).any()  # flat: nowhere stands out


def test_overlay_is_rgba_of_the_crop_size_and_see_through_where_cold():
    grid = np.zeros((7, 7), np.float32)
    grid[3, 3] = 1.0
    layer = heatmap.overlay(grid, 224)
    assert layer.shape == (224, 224, 4) and layer.dtype == np.uint8
    assert layer[0, 0, 3] == 0 and layer[112, 112, 3] > 200


class CamModel(StubModel):
    """The stub model with a ``cam`` output whose nv channel peaks top left."""

    async def __call__(self, batch: np.ndarray) -> Inference:
        out = await super().__call__(batch)
        cam = np.zeros((batch.shape[0], 7, 7, 7), np.float32)
        cam[:, 0, 0, 5] = 3.0
        cam[:, 6, 6, 0] = 9.0
        return Inference({**out.outputs, "cam": cam}, out.ms)


def test_the_photo_result_carries_the_map_of_the_class_shown(info):
    r = asyncio.run(Photo(info, CamModel()).assess(data(jpeg(lesion_like(300)))))
    assert r.assessment.label == "nv"
    assert heatmap.peak(r.cam) == (0, 0) and r.cam_ms is not None
    attrs = view.result_attrs(r, 1, "x.jpg", 10.0)
    grid = json.loads(attrs["data-cam"])
    assert len(grid) == 7 and all(len(row) == 7 for row in grid) and grid[0][0] == 1.0
    assert all(0.0 <= v <= 1.0 for row in grid for v in row)


def test_a_rejected_photo_has_no_map(info):
    r = asyncio.run(Photo(info, CamModel(lesion=-9.0)).assess(data(jpeg(lesion_like(300)))))
    assert r.assessment.rejected and r.cam is None
    assert view.result_attrs(r, 1, "x.jpg", 10.0)["data-cam"] is None


def test_the_map_does_not_change_the_probabilities(info):
    with_cam = asyncio.run(Photo(info, CamModel()).assess(data(jpeg(lesion_like(300)))))
    without = asyncio.run(Photo(info, StubModel()).assess(data(jpeg(lesion_like(300)))))
    assert with_cam.assessment.probs == without.assessment.probs
