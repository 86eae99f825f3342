"""PyScript entry point: the bytecode cache first, then the page (:mod:`skinlens.web.app`).

Each boot step is marked (``skinlens.mark``, read by ``bench.startup``): ``main.py`` (this
file starts), ``bytecode cache`` (IndexedDB read, :mod:`skinlens.web.bytecode`), ``import
skinlens`` (the page's modules, NumPy and Pillow imported), then the page's own steps up to
``ready`` and ``ready painted``. After that the modules compiled during this start are
stored for the next one.
"""

import asyncio

import js

js.skinlens.mark("main.py")

from skinlens.web import bytecode  # noqa: E402  (the standard library and js only)


async def start() -> None:
    await bytecode.restore()
    js.skinlens.mark("bytecode cache")
    from skinlens.web import app

    js.skinlens.mark("import skinlens")
    await app.main()
    js.skinlens.info.bytecodeSaved = await bytecode.save()  # modules compiled and stored
    js.skinlens.mark("bytecode saved")


RUNNING = [asyncio.ensure_future(start())]  # a reference keeps the task alive
