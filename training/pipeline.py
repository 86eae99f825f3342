"""The whole path from data to shipped model:

    python -m training.pipeline [--data-root ../shared/data] [--device cuda] [train options]

train (PyTorch, resumable) -> export (Keras rebuild -> SavedModel -> TF.js
float16, float32, uint8 with parity checks) -> evaluate (every source through
the shipped graph; `val`-only temperature and thresholds; metadata, metrics,
model card, golden cases). ``python -m training.train --help`` lists the options.
"""

from __future__ import annotations

import sys

from training import evaluate, export, train


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = train.parse_args(argv)
    train.train(cfg)
    model_dir = "models/skinlens-lite0"
    export.main(["--run-dir", cfg.run_dir, "--model-dir", model_dir])
    evaluate.main(
        ["--run-dir", cfg.run_dir, "--model-dir", model_dir, "--data-root", cfg.data_root]
    )


if __name__ == "__main__":
    main()
