"""Python bytecode kept between visits (IndexedDB), so a reopened app does not recompile.

Pyodide's NumPy and Pillow wheels ship ``.py`` sources only, and ``[files]`` writes the
app's own modules fresh on every start: each start compiles every module it imports, in
WebAssembly, on the page's thread (measured here: ``import numpy`` alone 1.3-2.9 s of a
start, our modules about 0.2 s; 4x that on a phone-class CPU). So:

* :func:`restore` (before anything heavy is imported) mounts an IndexedDB-backed folder,
  makes it ``sys.pycache_prefix`` (imports look for ``.pyc`` files there) and has every
  module compiled from now on written there as it is compiled (no second compilation);
* :func:`save` (after the page is ready) writes the folder back to IndexedDB when this start
  compiled anything (a start that found everything cached does nothing).

The ``.pyc`` files are hash-checked (PEP 552, ``CHECKED_HASH``): each import compares the
source's hash with the one in the file, so an updated module is never run from stale
bytecode (the files' times cannot be used: they are new on every start). Only compiled
public code is stored, nothing about a photo. Where IndexedDB is unavailable (private
modes), the app starts as before.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

import js  # type: ignore[import-not-found]
import pyodide_js  # type: ignore[import-not-found]
from pyodide.ffi import create_once_callable  # type: ignore[import-not-found]

ROOT = "/skinlens-pycache"
"""The mount point; IndexedDB names its database after it."""

_mounted: list[bool] = []


async def _sync(populate: bool) -> None:
    """IndexedDB -> memory (``populate``) or memory -> IndexedDB."""
    done = asyncio.get_running_loop().create_future()

    def finished(err: object = None) -> None:
        if err:
            done.set_exception(RuntimeError(f"IDBFS sync: {err}"))
        else:
            done.set_result(None)

    pyodide_js.FS.syncfs(populate, create_once_callable(finished))
    await done


def _pyc(source: bytes, code: CodeType) -> bytes:
    """A hash-checked ``.pyc`` (PEP 552: magic, flags 0b11, the source's hash, the code)."""
    flags = (0b11).to_bytes(4, "little")
    return (
        importlib.util.MAGIC_NUMBER
        + flags
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


_written: list[str] = []
"""Modules compiled and written into the cache during this start."""


def _write_as_compiled() -> None:
    """Every module compiled from source from now on is also written, hash-checked, to its
    place under ``sys.pycache_prefix`` (``SourceFileLoader.source_to_code`` is the one
    step imports take only when no valid ``.pyc`` was found)."""
    loader = importlib.machinery.SourceFileLoader
    compile_source = loader.source_to_code

    def source_to_code(self: Any, data: bytes, path: str, *, _optimize: int = -1) -> CodeType:
        code = compile_source(self, data, path, _optimize=_optimize)
        try:
            cached = Path(importlib.util.cache_from_source(path))
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(_pyc(data, code))
            _written.append(path)
        except (OSError, ValueError):  # not cacheable (no prefix, odd path): just compile
            pass
        return code

    loader.source_to_code = source_to_code  # type: ignore[method-assign]


async def restore() -> bool:
    """Mount the cache and use it for imports from now on; False when it cannot be."""
    fs = pyodide_js.FS
    try:
        fs.mkdir(ROOT)
        fs.mount(fs.filesystems.IDBFS, js.Object.new(), ROOT)
        await _sync(populate=True)
    except Exception as e:  # no IndexedDB here: compile as before
        js.console.warn(f"skinlens: no bytecode cache ({e})")
        return False
    sys.pycache_prefix = ROOT
    sys.dont_write_bytecode = True  # timestamped .pyc files would never match: see above
    _write_as_compiled()
    _mounted.append(True)
    return True


async def save() -> int:
    """Write the cache back to IndexedDB if this start compiled anything; how many modules."""
    if not _mounted or not _written:
        return 0
    n = len(_written)
    _written.clear()
    await _sync(populate=False)
    return n
