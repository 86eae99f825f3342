"""PyScript entry point: hand over to the page glue in ``py/skinlens/web_app.py``.

The ``skinlens`` package is copied into the interpreter's file system by the
``[files]`` table of ``pyscript.toml`` (from ``dist/py/skinlens/``).
"""

import asyncio

import js

js.skinlens.mark("main.py")

from skinlens import web_app  # noqa: E402

js.skinlens.mark("main.py imported")

main_task = asyncio.ensure_future(web_app.main())  # noqa: RUF006 (kept: module global)
