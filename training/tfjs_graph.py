"""Run a converted TF.js graph model under TensorFlow, weights as shipped.

The TF.js ``model.json`` holds a TensorFlow GraphDef (as protobuf JSON) whose
constants live in the weight shards, quantised for the float16/uint8
variants. Rebuilding that GraphDef with the *dequantised* shard values and
running it in TensorFlow measures exactly the shipped graph and weights on a
whole split, which the browser could only do slowly. (Kernel-level numerics of
each TF.js backend are checked separately by the golden parity tests.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format


def _read_weights(spec: dict, base: Path) -> dict[str, np.ndarray]:
    from training.tfjs_convert import import_tensorflowjs

    import_tensorflowjs()
    from tensorflowjs.read_weights import read_weights

    groups = read_weights(spec["weightsManifest"], str(base), flatten=True)
    return {w["name"]: np.asarray(w["data"]) for w in groups}


class TfjsGraph:
    """Callable: float32 NHWC batch -> dict of output arrays (signature names)."""

    def __init__(self, model_dir: Path) -> None:
        spec = json.loads((model_dir / "model.json").read_text())
        weights = _read_weights(spec, model_dir)
        topo = dict(spec["modelTopology"])
        topo.pop("weightsManifest", None)
        graph_def = tf.compat.v1.GraphDef()
        json_format.ParseDict(topo, graph_def, ignore_unknown_fields=True)
        for node in graph_def.node:
            if node.op == "Const" and node.name in weights:
                value = weights[node.name]
                dtype = tf.as_dtype(node.attr["dtype"].type) if "dtype" in node.attr else tf.float32
                node.attr["value"].tensor.CopyFrom(
                    tf.make_tensor_proto(value.astype(dtype.as_numpy_dtype), shape=value.shape)
                )
        sig = spec["signature"]
        self.input_name = next(iter(sig["inputs"].values()))["name"]
        self.outputs = {k: v["name"] for k, v in sig["outputs"].items()}
        names = list(self.outputs.values())

        def run(x):
            return tf.compat.v1.import_graph_def(
                graph_def, input_map={self.input_name: x}, return_elements=names, name=""
            )

        self._fn = tf.compat.v1.wrap_function(
            run, [tf.TensorSpec([None, None, None, 3], tf.float32)]
        )

    def __call__(self, x: np.ndarray, batch: int = 64) -> dict[str, np.ndarray]:
        parts: list[list[np.ndarray]] = []
        for i in range(0, len(x), batch):
            parts.append([t.numpy() for t in self._fn(tf.constant(x[i : i + batch], tf.float32))])
        keys = list(self.outputs)
        return {k: np.concatenate([p[j] for p in parts]) for j, k in enumerate(keys)}
