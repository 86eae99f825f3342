"""Run configuration: one dataclass, saved next to every run's outputs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.data import DEFAULT_DATA, ROOT


@dataclass
class Config:
    data: str = str(DEFAULT_DATA)
    arch: str = "efficientnet_lite0"
    init: str = "imagenet"  # or "random" (tests; a machine without the weights package)
    size: int = 224
    # Fine-tune blocks >= start_block (+ head); earlier blocks are frozen and cached.
    start_block: int = 12
    views: int = 8  # augmented views cached per training image
    # Views of each image seen per epoch (drawn at random among the cached ones).
    views_per_epoch: int = 1
    epochs: int = 16
    batch: int = 64
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    dropout: float = 0.3
    label_smoothing: float = 0.05
    mixup: float = 0.2  # Beta(a, a) mixing of cached feature maps (manifold mixup); 0 = off
    class_weight_power: float = 0.5  # 0: none, 1: inverse frequency
    seed: int = 0
    run_dir: str = str(ROOT / "training" / "runs" / "lite0")
    cache_dir: str = str(ROOT / "training" / "cache")
    model_dir: str = str(ROOT / "models" / "skinlens-lite0")
    name: str = "skinlens-lite0"
    # Melanoma sensitivity the Urgent threshold must reach (95% lower bound on val).
    mel_sensitivity: float = 0.85
    # Lesions the OOD + quality gates may reject (95% upper bound on val).
    ood_val_reject: float = 0.05
    extras: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @property
    def norm_scale(self) -> float:
        return 2.0 / 255.0

    @property
    def norm_offset(self) -> float:
        return -1.0
