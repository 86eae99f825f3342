"""skinlens training pipeline (PyTorch to train, TensorFlow/Keras to export; CPython only).

The page's own Python package (``py/skinlens``) is not installed: it ships as
files to the browser. Training must run exactly that code (``preprocess``,
``quality``, ``triage``), so this package puts ``py/`` on the import path once,
here, for every ``python -m training.*`` command.
"""

import sys
from pathlib import Path

_PY = str(Path(__file__).resolve().parents[1] / "py")
if _PY not in sys.path:
    sys.path.insert(0, _PY)
