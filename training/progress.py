"""A dependency-free progress bar that also reads well in a log file."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, every: float = 5.0) -> None:
        self.total, self.label, self.every = total, label, every
        self.start = self.last = time.time()
        self.done = 0

    def update(self, n: int = 1, **info: float) -> None:
        self.done += n
        now = time.time()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / max(rate, 1e-9)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        extra = " ".join(f"{k}={v:.4g}" for k, v in info.items())
        print(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{rate:.1f}/s eta {eta:.0f}s {extra}",
            end="\n" if not sys.stderr.isatty() else "",
            file=sys.stderr,
            flush=True,
        )
