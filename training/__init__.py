"""skinlens training pipeline (TensorFlow/Keras, CPython only)."""
