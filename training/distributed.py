"""Training on several processes: GPUs or nodes under ``torchrun`` (DistributedDataParallel).

    torchrun --nproc_per_node G -m training.train ...                      # one machine
    torchrun --nnodes N --nproc_per_node G --rdzv_backend c10d \\
        --rdzv_endpoint HOST:PORT -m training.train ...                     # several

Without torchrun's variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) the trainer is one
process, as before. Under torchrun every process trains on its share of each global batch
(``--batch`` stays the global batch) and the result is the one-process result at that batch,
up to the order of floating-point sums (``tests/unit/test_training_distributed.py``):

* the data: every rank makes the epoch's weighted draw from ``--seed`` (:class:`EpochDraw`)
  and takes its own slots of each global batch; a view's augmentation comes from (seed,
  epoch, slot), never from the rank or the loader worker that makes it;
* the gradient: DDP averages the ranks' gradients, and the loss divides each rank's sums by
  the global batch's counts (:meth:`World.sum`) times the number of ranks;
* batch normalisation: statistics of the global batch, not of each rank's share
  (:func:`sync_batchnorm`: PyTorch's ``SyncBatchNorm`` on GPUs, :class:`GlobalBatchNorm2d`
  on CPUs, where PyTorch's refuses to run);
* decisions: rank 0's time-budget decisions are everyone's (:meth:`World.agree`); validation
  is sharded and gathered, so every rank knows the same score; only rank 0 writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler, WeightedRandomSampler


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: a GPU when there is one. Each process of a machine gets its own GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0 alone writes the log, the history, checkpoints and weights."""
        return self.rank == 0

    def share(self, batch: int) -> int:
        """This rank's part of a global batch (every rank gets the same number)."""
        if batch % self.size:
            raise ValueError(f"--batch {batch} does not split over {self.size} processes")
        return batch // self.size

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over the ranks (counts and logging: no gradient flows through it)."""
        if self.size == 1:
            return t
        t = t.detach().clone()
        dist.all_reduce(t)
        return t

    def agree(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank, for decisions that must not differ (time budget)."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def part(self, n: int) -> range:
        """This rank's contiguous slice of ``n`` items (in rank order, they are ``range(n)``)."""
        return range(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def gather(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each key's arrays from every rank, concatenated in rank order (with :meth:`part`:
        the one-process order)."""
        if self.size == 1:
            return arrays
        parts: list[dict[str, np.ndarray]] = [{} for _ in range(self.size)]
        dist.all_gather_object(parts, arrays)
        return {k: np.concatenate([p[k] for p in parts]) for k in arrays}

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train: ``model`` itself, or, on several ranks, ``model`` with global
        batch norm (converted in place, so ``model`` is what to average and save) under DDP."""
        if self.size == 1:
            return model
        sync_batchnorm(model, self.device)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


ONE_PROCESS = World()


@contextmanager
def world(device: str) -> Iterator[World]:
    """Join torchrun's process group when started by torchrun (NCCL for GPUs, gloo for CPUs);
    on leaving, wait for every rank and leave the group."""
    if "WORLD_SIZE" not in os.environ:
        yield World(device=pick_device(device))
        return
    local = int(os.environ.get("LOCAL_RANK", 0))
    dev = pick_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    here = World(dist.get_rank(), dist.get_world_size(), local, dev)
    try:
        yield here
        dist.barrier()
    finally:
        dist.destroy_process_group()


class EpochDraw(Sampler[tuple[int, int, int, int]]):
    """This rank's share of one epoch's weighted draw of ``steps`` global batches.

    Every rank draws the same ``steps * batch`` entries (``WeightedRandomSampler`` seeded by
    ``seed + epoch``, as one process does); rank r takes slots ``[r*b, (r+1)*b)`` of each
    global batch (b = ``batch / size``), so step by step the ranks' batches together are the
    one-process batch. Each element is ``(entry index, seed, epoch, slot)``: the view's
    randomness is seeded by the last three, whichever rank or loader worker makes it.
    """

    def __init__(
        self, weights: np.ndarray, steps: int, batch: int, seed: int, epoch: int, world: World
    ) -> None:
        self.weights, self.steps, self.batch = weights, steps, batch
        self.seed, self.epoch, self.world = seed, epoch, world
        self.per_rank = world.share(batch)

    def __len__(self) -> int:
        return self.steps * self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = list(
            WeightedRandomSampler(self.weights, self.steps * self.batch, generator=generator)
        )
        first = self.world.rank * self.per_rank
        for step in range(self.steps):
            for slot in range(step * self.batch + first, step * self.batch + first + self.per_rank):
                yield drawn[slot], self.seed, self.epoch, slot


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) that gradients flow through: every rank's sum depends on every rank's
    input, so an input's gradient is the sum of the ranks' output gradients."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch, on any device.

    The per-channel sums are all-reduced with their gradient (:class:`_SumOverRanks`), so the
    gradient flows through the other ranks' statistics as in one process. Two passes (sum, then
    squared deviations from the global mean) rather than E[x^2] - E[x]^2, which loses digits.
    Evaluation uses the running statistics: no traffic.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        count = x.new_tensor(float(x.numel() // x.shape[1]))
        total = _SumOverRanks.apply(torch.cat([x.sum(dims), count[None]]))
        n = total[-1]
        mean = total[:-1] / n
        centred = x - mean[None, :, None, None]
        var = _SumOverRanks.apply((centred * centred).sum(dims)) / n
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every ``BatchNorm2d`` of ``module`` computes global-batch statistics, in place:
    PyTorch's ``SyncBatchNorm`` on GPUs, :class:`GlobalBatchNorm2d` elsewhere. The parameters
    and buffers are the same tensors, so the state dict (and the export) does not change."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = GlobalBatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            synced.weight, synced.bias = child.weight, child.bias
            synced.running_mean, synced.running_var = child.running_mean, child.running_var
            synced.num_batches_tracked = child.num_batches_tracked
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            sync_batchnorm(child, device)
    return module
