"""Benchmarks: each prints one JSON object; run from the repository root as
``python -m bench.<name>`` (``live``, ``photo``, ``engines``, ``startup``, ``download``,
``py_core``, ``sources``). Not collected by pytest: numbers are measured, not asserted.

The app's Python package is not installed anywhere, so this package puts ``py/`` and the
browser-test helpers (``tests/``, ``tests/browser/``) on ``sys.path`` once, here, the same
folders pytest's ``pythonpath`` setting adds for the tests.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _folder in ("py", "tests", "tests/browser", "."):
    if str(ROOT / _folder) not in sys.path:
        sys.path.insert(0, str(ROOT / _folder))
