"""Preprocessing: the crop, resize and normalisation that training and the page
share. Shapes, ranges, and ``prepare`` == the manual steps, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skinlens import preprocess
from skinlens.preprocess import (
    center_square_box,
    crop_resize,
    normalize,
    prepare,
    rgba_to_rgb,
)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8))


def test_center_square_box_landscape_and_portrait() -> None:
    assert center_square_box(200, 150) == (25.0, 0.0, 175.0, 150.0)
    assert center_square_box(150, 200) == (0.0, 25.0, 150.0, 175.0)
    assert center_square_box(100, 100, 0.5) == (25.0, 25.0, 75.0, 75.0)


@pytest.mark.parametrize(("w", "h", "fraction"), [(0, 10, 1.0), (10, -1, 1.0), (10, 10, 0.0)])
def test_center_square_box_rejects_bad_input(w: int, h: int, fraction: float) -> None:
    with pytest.raises(ValueError):
        center_square_box(w, h, fraction)


def test_center_square_box_rejects_fraction_above_one() -> None:
    with pytest.raises(ValueError):
        center_square_box(10, 10, 1.5)


def test_crop_resize_shape_and_dtype(photo: Image.Image) -> None:
    out = crop_resize(photo, 224)
    assert out.shape == (224, 224, 3)
    assert out.dtype == np.uint8


def test_crop_resize_uses_the_centre(photo: Image.Image) -> None:
    a = np.zeros((100, 300, 3), np.uint8)
    a[:, 100:200] = 255  # only the centre square is white
    out = crop_resize(Image.fromarray(a), 50)
    # Pillow's antialiasing filter reads a pixel beyond the box at the edges.
    assert out[:, 1:-1].min() == 255
    assert out[:, 0].min() > 128


def test_crop_resize_constant_colour_stays_constant() -> None:
    image = Image.new("RGB", (640, 480), (200, 120, 90))
    out = crop_resize(image, 224)
    assert np.all(out == np.array([200, 120, 90], np.uint8))


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_crop_resize_converts_modes(mode: str) -> None:
    image = Image.new("RGB", (64, 48), (10, 20, 30)).convert(mode)
    out = crop_resize(image, 32)
    assert out.shape == (32, 32, 3)


def test_crop_resize_with_explicit_box(photo: Image.Image) -> None:
    box = (10.0, 20.0, 110.0, 120.0)
    out = crop_resize(photo, 100, box)
    assert np.array_equal(out, np.asarray(photo)[20:120, 10:110])


def test_normalize_range_and_dtype() -> None:
    rgb = np.array([[[0, 128, 255]]], np.uint8)
    out = normalize(rgb, 1 / 127.5, -1.0)
    assert out.dtype == np.float32
    assert out[0, 0] == pytest.approx([-1.0, 128 / 127.5 - 1.0, 1.0], abs=1e-6)


def test_normalize_does_not_modify_input() -> None:
    rgb = np.full((4, 4, 3), 7, np.uint8)
    normalize(rgb, 0.5, 1.0)
    assert np.all(rgb == 7)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (4, 4, 1)])
def test_normalize_rejects_non_rgb(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        normalize(np.zeros(shape, np.uint8), 1.0, 0.0)


def test_rgba_to_rgb_is_a_view() -> None:
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    rgb = rgba_to_rgb(rgba)
    assert rgb.shape == (2, 3, 3)
    assert np.shares_memory(rgb, rgba)
    assert np.array_equal(rgb, rgba[..., :3])
    with pytest.raises(ValueError):
        rgba_to_rgb(np.zeros((2, 3, 3), np.uint8))


def test_prepare_equals_manual_steps(photo: Image.Image, info) -> None:
    size, scale, offset = info.input_size, info.norm_scale, info.norm_offset
    manual = normalize(crop_resize(photo, size), scale, offset)
    out = prepare(photo, size, scale, offset)
    assert out.shape == (size, size, 3)
    assert out.dtype == np.float32
    assert np.array_equal(out, manual)
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_prepare_with_box_equals_manual(photo: Image.Image, info) -> None:
    box = center_square_box(*photo.size, 0.7)
    manual = normalize(crop_resize(photo, 224, box), info.norm_scale, info.norm_offset)
    assert np.array_equal(prepare(photo, 224, info.norm_scale, info.norm_offset, box), manual)


def test_zoomed_out_view_shrinks_the_content_and_mirrors_the_border():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    rgb[80:144, 80:144] = (20, 10, 5)  # a dark 64 px "lesion" in the middle
    out = preprocess.zoomed_out(rgb, 1.5)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    dark = (out.sum(axis=2) < 60).sum()
    assert abs(dark - (64 / 1.5) ** 2) < 0.15 * (64 / 1.5) ** 2  # the side shrinks 1.5x
    before = (224 - round(224 / 1.5)) // 2
    assert np.array_equal(out[:before], out[2 * before : before : -1])  # mirrored border
    assert preprocess.views(rgb, (1.0,))[0] is rgb
    assert [v.shape for v in preprocess.views(rgb, (1.0, 1.35))] == [rgb.shape] * 2
