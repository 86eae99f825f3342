"""The browser side of skinlens: the only code that touches ``js`` and ``pyodide.ffi``.

``browser`` is the boundary (DOM, worker, storage calls); the other modules are the page
controllers, one per view. Imports point down only: ``skinlens.web.*`` may import the pure
core (``skinlens.*``), never the other way round, so the core runs under CPython and pytest.
"""
