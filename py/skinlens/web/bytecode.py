"""Python bytecode kept between visits (IndexedDB), so a reopened app does not recompile.

Pyodide's NumPy and Pillow wheels ship ``.py`` sources only, and ``[files]`` writes the
app's own modules fresh on every start: each start compiles every module it imports, in
WebAssembly, on the page's thread (measured here: ``import numpy`` alone 1.3-2.9 s of a
start, our modules about 0.2 s; 4x that on a phone-class CPU). So:

* :func:`restore` (before anything heavy is imported) mounts an IndexedDB-backed folder
  and makes it ``sys.pycache_prefix``: imports look for ``.pyc`` files there;
* :func:`save` (after the page is ready) compiles the modules imported so far into it, one
  module per task so that no task runs long, and writes it back to IndexedDB.

The ``.pyc`` files are hash-checked (``CHECKED_HASH``): each import compares the source's
hash with the one in the file, so an updated module is never run from stale bytecode (the
files' times cannot be used: they are new on every start). Only compiled public code is
stored, nothing about a photo. Where IndexedDB is unavailable (private modes), the app
starts as before.
"""

from __future__ import annotations

import asyncio
import importlib.util
import py_compile
import sys
from pathlib import Path

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
    sys.dont_write_bytecode = True  # written by save(), hash-checked
    _mounted.append(True)
    return True


def _fresh(source: Path, cached: Path) -> bool:
    """``cached`` is a hash-checked ``.pyc`` of ``source`` as it is now."""
    try:
        head = cached.read_bytes()[:16]
    except OSError:
        return False
    flags = int.from_bytes(head[4:8], "little")
    return (
        head[:4] == importlib.util.MAGIC_NUMBER
        and flags == 0b11  # hash-based, checked
        and head[8:16] == importlib.util.source_hash(source.read_bytes())
    )


def sources() -> list[Path]:
    """The source files of the modules imported so far that live in the file system (the
    standard library is in a zip archive, which imports never cache, or frozen)."""
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and Path(path).is_file():  # not frozen, not zipped
            found.append(Path(path))
    return found


async def save() -> int:
    """Compile what is not cached yet (one module per task), persist; returns how many."""
    if not _mounted:
        return 0
    n = 0
    for source in sources():
        cached = Path(importlib.util.cache_from_source(str(source)))
        if _fresh(source, cached):
            continue
        py_compile.compile(
            str(source),
            cfile=str(cached),
            doraise=False,
            quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        n += 1
        await asyncio.sleep(0)  # let the page breathe between modules
    if n:
        await _sync(populate=False)
    return n
