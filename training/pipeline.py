"""The whole path from data to shipped model, each stage resumable:

    python -m training.pipeline --data ../shared/data/ham10000 [train options]

train (cache -> fit -> predict) -> evaluate calibrate (val) -> export (TF.js
float32/float16/uint8 + golden cases) -> evaluate report (test, every variant,
model card). See ``python -m training.train --help`` for the options.
"""

from __future__ import annotations

import sys

from training import evaluate, export, train


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg, _ = train.parse_args(argv)
    train.main(argv)
    common = ["--run-dir", cfg.run_dir, "--model-dir", cfg.model_dir, "--data", cfg.data]
    evaluate.main(["calibrate", *common])
    export.main(["--run-dir", cfg.run_dir, "--model-dir", cfg.model_dir])
    evaluate.main(["report", *common])


if __name__ == "__main__":
    main()
