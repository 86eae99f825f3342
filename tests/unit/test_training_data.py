"""Training data: lesion-level splits never leak, both dataset layouts load,
and training views are produced by the app's own preprocessing."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skinlens import preprocess

from training import data as tdata

CODES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def _write_official(root: Path, n_lesions: int = 140, seed: int = 1) -> list[dict[str, str]]:
    """A fake full-size HAM10000 release: lesions with 1-3 images over two folders."""
    rng = random.Random(seed)
    rows = []
    for part in ("HAM10000_images_part_1", "HAM10000_images_part_2"):
        (root / part).mkdir(parents=True)
    k = 0
    for lesion in range(n_lesions):
        dx = CODES[lesion % len(CODES)]
        for _ in range(rng.randint(1, 3)):
            image_id = f"ISIC_{k:07d}"
            part = "HAM10000_images_part_1" if k % 2 else "HAM10000_images_part_2"
            Image.new("RGB", (60, 45), (150, 100, 90)).save(root / part / f"{image_id}.jpg")
            rows.append(
                {
                    "lesion_id": f"HAM_{lesion:07d}",
                    "image_id": image_id,
                    "dx": dx,
                    "dx_type": "histo",
                    "age": "50",
                    "sex": "male",
                    "localization": "back",
                    "dataset": "vidir_modern",
                }
            )
            k += 1
    with open(root / "HAM10000_metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_official_layout_gets_a_lesion_level_stratified_split(tmp_path: Path) -> None:
    rows = _write_official(tmp_path)
    samples = tdata.load_samples(tmp_path)
    assert len(samples) == len(rows)
    assert all(s.path.exists() for s in samples)
    tdata.check_no_leak(samples)
    splits = {s.split for s in samples}
    assert splits == {"train", "val", "test"}
    for code in CODES:  # every class appears in every split (stratified)
        assert {s.split for s in samples if s.dx == code} == splits


def test_split_is_deterministic_and_by_lesion(tmp_path: Path) -> None:
    rows = _write_official(tmp_path)
    a, b = tdata.lesion_split(rows, seed=3), tdata.lesion_split(rows, seed=3)
    assert a == b
    assert set(a) == {r["lesion_id"] for r in rows}


def test_check_no_leak_catches_a_crossing_lesion(tmp_path: Path) -> None:
    s = [
        tdata.Sample("a", "L1", "nv", "train", tmp_path),
        tdata.Sample("b", "L1", "nv", "test", tmp_path),
    ]
    with pytest.raises(ValueError, match="cross splits"):
        tdata.check_no_leak(s)


def test_missing_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no HAM10000 metadata"):
        tdata.load_samples(tmp_path)


@pytest.mark.data
def test_shared_dataset_has_no_lesion_leak() -> None:
    if not (tdata.DEFAULT_DATA / "metadata.csv").exists():
        pytest.skip(f"HAM10000 copy not found at {tdata.DEFAULT_DATA} (fresh clone)")
    samples = tdata.load_samples()
    tdata.check_no_leak(samples)
    counts = {sp: sum(s.split == sp for s in samples) for sp in tdata.SPLITS}
    assert counts == {"train": 7047, "val": 916, "test": 896}


def test_centred_view_is_exactly_the_app_preprocessing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "x.jpg"
    Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(path)
    view = tdata.load_view(path, 224)
    with Image.open(path) as im:
        app = preprocess.crop_resize(im.convert("RGB"), 224)
    np.testing.assert_array_equal(view, app)


def test_augmented_views_vary_but_keep_shape_and_range(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    yy, xx = np.mgrid[0:150, 0:200]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)).save(path)
    views = [tdata.load_view(path, 64, np.random.default_rng(i), tdata.Augment()) for i in range(4)]
    assert all(v.shape == (64, 64, 3) and v.dtype == np.uint8 for v in views)
    assert len({v.tobytes() for v in views}) == 4
