"""skinlens: on-device skin-lesion screening.

The same package runs in the page (Pyodide) and under CPython (tests,
training). Pure functions live in the core modules; only the ``web_*`` modules
touch the browser (``js``/``pyodide``) and they are never imported by the core.
"""

__version__ = "0.1.0"
