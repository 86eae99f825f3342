"""What every page benchmark does around its measurement: a scratch folder, a built
``dist/`` (``--dist`` or a fresh build), the dev server and a headless Chromium."""

from __future__ import annotations

import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import Browser, LoggedServer

import serve
from build import build


@contextmanager
def workspace(name: str, dist: str | None) -> Iterator[tuple[Path, Path]]:
    """``(scratch folder, dist folder)``; the scratch folder is removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=f"skinlens-bench-{name}-"))
    try:
        yield tmp, Path(dist) if dist else build(dist=tmp / "dist", quiet=True).dist
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def page(dist: Path, tmp: Path) -> Iterator[tuple[Browser, LoggedServer]]:
    """The dev server on a free port (requests logged) and a fresh headless Chromium."""
    log = tmp / "requests.log"
    with serve.running_server(dist, port=0, log=log) as srv:
        browser = Browser()
        try:
            yield browser, LoggedServer(srv, log)
        finally:
            browser.close()


def cpu_name() -> str:
    """The CPU the numbers were measured on (``/proc/cpuinfo``'s model name)."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
