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
from training import negatives, sources
from training.augment import DeviceAugment, device_view, frame

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


def test_device_views_vary_but_keep_shape_and_range() -> None:
    yy, xx = np.mgrid[0:150, 0:200]
    image = Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8))
    aug = DeviceAugment()
    views = [device_view(image, 64, np.random.default_rng(i), aug) for i in range(6)]
    assert all(v.shape == (64, 64, 3) and v.dtype == np.uint8 for v in views)
    assert len({v.tobytes() for v in views}) == 6
    again = device_view(image, 64, np.random.default_rng(0), aug)
    np.testing.assert_array_equal(again, views[0])  # seeded: reproducible


def test_zoom_out_surrounds_the_photo_with_its_own_skin_colour() -> None:
    """Zooming out must not invent a black or mirrored border around the lesion."""
    skin = np.full((150, 200, 3), (200, 150, 130), np.uint8)
    skin[60:90, 85:115] = (60, 40, 30)  # the lesion
    aug = DeviceAugment(zoom=(1.8, 1.8), shift=0.0)
    view = frame(Image.fromarray(skin), 96, np.random.default_rng(0), aug)
    border = np.concatenate([view[:4].reshape(-1, 3), view[-4:].reshape(-1, 3)])
    assert np.abs(border.astype(int) - (200, 150, 130)).max() < 12
    assert (view.mean(axis=2) < 80).mean() < 0.1  # one small dark lesion, not several


def test_colour_cast_is_mostly_removed_by_the_page_preprocessing() -> None:
    """Shades of Gray (the page's colour constancy) undoes a device's white balance."""
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal((190, 140, 120), 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    cast = np.clip(rgb * np.array([0.8, 1.0, 1.25]), 0, 255).astype(np.uint8)
    a = preprocess.shades_of_gray(rgb).astype(float).mean((0, 1))
    b = preprocess.shades_of_gray(cast).astype(float).mean((0, 1))
    assert np.abs(a - b).max() < 6
    assert np.abs(rgb.mean((0, 1)) - cast.mean((0, 1))).max() > 25


def test_negative_views_have_the_view_shape() -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    for view in (
        negatives.synthetic_view(48, rng),
        negatives.photo_view(photo, 48, rng),
        negatives.skin_view(photo, 48, rng),
    ):
        assert view.shape == (48, 48, 3) and view.dtype == np.uint8


def _write_sources(root: Path) -> None:
    """A tiny copy of every source layout: HAM10000, PAD-UFES-20, Derm7pt, non-lesion."""
    for name in ("ham10000", "pad-ufes-20", "derm7pt", "nonlesion-imagenet"):
        (root / name / "images").mkdir(parents=True)
    img = Image.new("RGB", (40, 30), (180, 120, 100))
    with open(root / "ham10000" / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lesion_id", "image_id", "dx", "split"])
        for k, split in enumerate(("train", "val", "test")):
            w.writerow([f"L{k}", f"ISIC_{k}", "mel", split])
            img.save(root / "ham10000" / "images" / f"ISIC_{k}.jpg")
    with open(root / "pad-ufes-20" / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["img_id", "dx", "patient_id", "split"])
        for k, split in enumerate(("train", "val", "test")):
            w.writerow([f"P{k}.jpg", "bcc", f"PAT{k}", split])
            img.save(root / "pad-ufes-20" / "images" / f"P{k}.jpg")
    (root / "derm7pt" / "labels.csv").write_text("image,dx\nd0.jpg,nv\n")
    img.save(root / "derm7pt" / "images" / "d0.jpg")
    for k in range(20):
        img.save(root / "nonlesion-imagenet" / "images" / f"n{k:03d}_thing.jpg")


def test_sources_load_every_layout_and_never_fit_on_test_or_derm7pt(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    items = sources.load(tmp_path)
    assert {(i.source, i.split) for i in items} >= {
        ("ham10000", "test"),
        ("pad-ufes-20", "val"),
        ("derm7pt", "external"),
    }
    assert all(i.path.exists() for i in items)
    train = sources.training_items(items, "train")
    assert {i.source for i in train} == {"ham10000", "pad-ufes-20", "nonlesion-imagenet"}
    assert all(i.split == "train" for i in train)
    for split in ("test", "external"):
        with pytest.raises(ValueError, match="nothing is fitted"):
            sources.training_items(items, split)


def test_nonlesion_split_is_by_file_name_and_stable(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    first = {i.path.name: i.split for i in sources.nonlesion(tmp_path)}
    again = {i.path.name: i.split for i in sources.nonlesion(tmp_path)}
    assert first == again and set(first.values()) == {"train", "val"}


def test_each_epoch_draws_both_sources_every_class_and_negatives(tmp_path: Path) -> None:
    from training.train import TrainConfig, parse_mix, training_entries

    _write_sources(tmp_path)
    entries, weights = training_entries(sources.load(tmp_path), TrainConfig())
    assert weights.sum() == pytest.approx(1.0)
    share: dict[str, float] = {}
    for e, w in zip(entries, weights, strict=True):
        key = e.item.source if e.kind == "lesion" else e.kind
        share[key] = share.get(key, 0.0) + float(w)
    # The configured shares; a source absent here (Fitzpatrick17k) gives its share to the rest.
    mix = {k: v for k, v in parse_mix(TrainConfig().mix).items() if k in share}
    assert set(mix) == {"ham10000", "pad-ufes-20", "photo", "skin", "synthetic"}
    assert share == pytest.approx({k: v / sum(mix.values()) for k, v in mix.items()})
