"""The page's model inference against native TensorFlow on the same graph, side by side.

    python -m bench.engines [--rounds 5] [--reps 10] [--dist DIR] [--threads N]

Native: the shipped TF.js graph (``model.json`` + weight shards) imported into TensorFlow as a
``GraphDef`` (every op of this graph exists in TensorFlow; the weights fill the ``Const``
nodes), run with TensorFlow's default threading on this machine's cores.
Page: the same files through the page's inference worker (``skinlens.model.predict``) on
the wasm backend, timed in the page around the whole call (transfer in, compute, read-back,
transfer out). Rounds alternate native and page so both see the same machine state; the
medians over all rounds are compared, per image.

Issue 9 targets: page within 1.6x of native at batch 1 and 2.0x at batch 8 (per image).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from harness import open_app

from bench.common import page, workspace

PAGE_JS = """
const [n, reps] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
// Pages from before issue 9 ran TF.js on the main thread with no batch API: there, the same
// model is loaded once more into the page's own TF.js (same backend, same thread pool).
async function predictor() {
  if (skinlens.model) return (x, n) => skinlens.model.predict(x, n);
  window.__bench = window.__bench || (await tf.loadGraphModel("models/skinlens-lite0/model.json"));
  return async (x, n) => {
    const outs = tf.tidy(() => window.__bench.execute({ image: tf.tensor(x, [n, 224, 224, 3]) },
                                                       ["Identity", "Identity_1"]));
    const values = await Promise.all(outs.map((t) => t.data()));
    outs.forEach((t) => t.dispose());
    return { outputs: { logits: values[0] } };
  };
}
(async () => {
  const predict = await predictor();
  const out = [];
  let logits = null;
  for (let i = 0; i < reps; i++) {
    const x = new Float32Array(n * 224 * 224 * 3).fill(0.1);
    const t0 = performance.now();
    const r = await predict(x, n);
    out.push(performance.now() - t0);
    logits = Array.from(r.outputs.logits.slice(0, 7));
  }
  done({ ms: out, logits });
})().catch((e) => done(String(e)));
"""


def read_weights(model_dir: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """The weight arrays of a TF.js model (shards concatenated per group; float16-stored
    weights widened to float32, as TF.js does on load)."""
    out = {}
    for group in manifest:
        blob = b"".join((model_dir / path).read_bytes() for path in group["paths"])
        offset = 0
        for w in group["weights"]:
            stored = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
            count = int(np.prod(w["shape"], dtype=np.int64))
            raw = np.frombuffer(blob, stored, count, offset).reshape(w["shape"])
            out[w["name"]] = raw.astype(w["dtype"])
            offset += count * stored.itemsize
    return out


def native_model(model_dir: Path):
    """The TF.js graph model as a TensorFlow function ``image -> {name: tensor}``."""
    import tensorflow as tf
    from google.protobuf import json_format

    spec = json.loads((model_dir / "model.json").read_text())
    graph = json_format.ParseDict(
        spec["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True
    )
    weights = read_weights(model_dir, spec["weightsManifest"])
    for node in graph.node:
        if node.name in weights:
            value = np.asarray(weights[node.name])
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
    sig = spec["signature"]
    outputs = {k: v["name"] for k, v in sig["outputs"].items()}

    def imported(image):
        return tf.graph_util.import_graph_def(
            graph,
            input_map={sig["inputs"]["image"]["name"]: image},
            return_elements=list(outputs.values()),
        )

    fn = tf.compat.v1.wrap_function(imported, [tf.TensorSpec([None, 224, 224, 3], tf.float32)])
    return lambda x: dict(zip(outputs, fn(tf.constant(x)), strict=True))


def time_native(run, n: int, reps: int) -> list[float]:
    x = np.full((n, 224, 224, 3), 0.1, np.float32)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        {k: v.numpy() for k, v in run(x).items()}
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    ap.add_argument("--threads", type=int, help="the page's wasm pool size (?threads=)")
    args = ap.parse_args()
    times: dict[str, dict[int, list[float]]] = {"native": {1: [], 8: []}, "page": {1: [], 8: []}}
    query = "backend=wasm" + (f"&threads={args.threads}" if args.threads else "")
    with workspace("engines", args.dist) as (tmp, dist), page(dist, tmp) as (browser, server):
        run = native_model(dist / "models" / "skinlens-lite0")
        state = open_app(browser, server, query)
        for n in (1, 8):  # warm-up, not counted
            time_native(run, n, 2)
            first = browser.driver.execute_async_script(PAGE_JS, n, 2)
            assert isinstance(first, dict), first
        x = np.full((1, 224, 224, 3), 0.1, np.float32)
        diff = float(np.abs(run(x)["logits"].numpy()[0] - first["logits"]).max())
        for _ in range(args.rounds):
            for n in (1, 8):
                times["native"][n] += time_native(run, n, args.reps)
                result = browser.driver.execute_async_script(PAGE_JS, n, args.reps)
                times["page"][n] += result["ms"]
    per_image = {
        e: {f"batch{n}": round(statistics.median(t[n]) / n, 2) for n in (1, 8)}
        for e, t in times.items()
    }
    ratio = {
        b: round(per_image["page"][b] / per_image["native"][b], 2) for b in ("batch1", "batch8")
    }
    info = state["info"]
    out = {
        "ms_per_image_median": per_image,
        "page_over_native": ratio,
        "targets_met": {
            "batch1 <= 1.6": ratio["batch1"] <= 1.6,
            "batch8 <= 2.0": ratio["batch8"] <= 2.0,
        },
        "page": {k: info.get(k) for k in ("backend", "threads", "cores", "wasmSimd", "tfjs")},
        "native": {"tensorflow": __import__("tensorflow").__version__},
        "samples_per_cell": args.rounds * args.reps,
        "max_abs_logit_diff_page_vs_native": round(diff, 6),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
