"""Run ``tensorflowjs_converter`` without its heavy optional dependencies.

tensorflowjs 4.22 imports TensorFlow Decision Forests, TF-Hub and JAX at start-up even
for a plain SavedModel conversion; installing them pulls TensorFlow down to
another version (see DESIGN.md). We install the converter with ``--no-deps``
(training/requirements-export.txt) and stub those two imports here.

    python -m training.tfjs_convert --input_format=tf_saved_model ... IN OUT
"""

from __future__ import annotations

import subprocess
import sys
import types


def _stub(name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules.setdefault(name, module)


def install_stubs() -> None:
    _stub("tensorflow_decision_forests")
    _stub("tensorflow_hub")  # only used for TF-Hub modules; needs pkg_resources
    _stub("jax")
    _stub("jax.experimental", jax2tf=types.ModuleType("jax2tf"))
    _stub("jax.experimental.jax2tf")


def convert(args: list[str]) -> None:
    """Run the converter in a child process (it parses sys.argv and may exit)."""
    cmd = [sys.executable, "-m", "training.tfjs_convert", *args]
    subprocess.run(cmd, check=True)


def import_tensorflowjs():
    """Import ``tensorflowjs`` with the stubs in place; returns the module."""
    # Keras probes for a real JAX at import time; let it do so before the stub exists.
    import keras.src.callbacks  # noqa: F401
    import tensorflow  # noqa: F401

    install_stubs()
    import tensorflowjs

    return tensorflowjs


def main() -> None:
    import_tensorflowjs()
    from tensorflowjs.converters.converter import pip_main

    pip_main()


if __name__ == "__main__":
    main()
