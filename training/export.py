"""Export the trained classifier to TF.js and write the golden parity cases.

    python -m training.export [--run-dir training/runs/lite0] [--model-dir models/skinlens-lite0]

1. Rebuild the inference graph in Keras (``model.export_model``: ``image`` ->
   ``logits``, ``lesion``, ``dermoscopic``, ``cam``) from the run's trained
   PyTorch weights, and export it as a SavedModel (Keras 3 ``model.export``).
2. Convert it with ``tensorflowjs_converter`` to float32, float16 and uint8
   graph models (``training/runs/<run>/tfjs/<variant>/``); rewrite any rank-4
   fused-conv bias to rank 1 so the WASM backend accepts the graph.
3. Copy the default variant into ``models/<name>/``. ``training.evaluate``
   then measures it and writes the golden cases (:func:`write_golden`):
   deterministic synthetic RGB images (not dataset images) with the Keras
   float32 outputs, so the browser can be checked against Keras without
   TensorFlow installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from training.model import OUTPUTS, export_model
from training.tfjs_convert import convert
from training.weights import load_shards

VARIANTS = {
    "float32": [],
    "float16": ["--quantize_float16=*"],
    "uint8": ["--quantize_uint8=*"],
}


def load_inference_model(run: Path) -> keras.Model:
    """The shipped graph rebuilt from a run's trained weights (``run/weights``)."""
    size = int(json.loads((run / "config.json").read_text())["size"])
    state = {k: v.numpy() for k, v in load_shards(run / "weights").items()}
    return export_model(state, size)


def name_outputs(model_json: Path, saved: Path) -> int:
    """Give every output in the TF.js signature its SavedModel name.

    tensorflowjs 4.22 keeps the names of some outputs and leaves others keyed by
    their tensor (``Identity_1:0``) when two share a shape (``lesion`` and
    ``dermoscopic``). The SavedModel signature lists its tensors in the order
    of its sorted output names (``tf.nest.flatten``), which gives the mapping.
    """
    import tensorflow as tf

    fn = tf.saved_model.load(str(saved)).signatures["serving_default"]
    names = sorted(fn.structured_outputs)
    by_tensor = {t.name: n for n, t in zip(names, fn.outputs, strict=True)}
    spec = json.loads(model_json.read_text())
    outputs = spec["signature"]["outputs"]
    renamed = {by_tensor[v["name"]]: v for v in outputs.values()}
    if set(renamed) != set(names):
        raise RuntimeError(f"TF.js outputs {sorted(outputs)} do not match {names}")
    changed = sum(k not in outputs for k in renamed)
    spec["signature"]["outputs"] = renamed
    model_json.write_text(json.dumps(spec))
    return changed


def fix_bias_rank(model_json: Path) -> int:
    """Reshape rank-4 [1,1,1,C] bias weights of fused convs to [C] (WASM needs rank 1)."""
    spec = json.loads(model_json.read_text())
    nodes = spec["modelTopology"]["node"]
    fused_bias = set()
    for n in nodes:
        if n.get("op") in ("_FusedConv2D", "FusedDepthwiseConv2dNative") and len(n["input"]) > 2:
            fused_bias.update(i.split(":")[0] for i in n["input"][2:])
    changed = 0
    for group in spec["weightsManifest"]:
        for w in group["weights"]:
            if w["name"] in fused_bias and len(w["shape"]) == 4:
                w["shape"] = [int(np.prod(w["shape"]))]
                changed += 1
    if changed:
        model_json.write_text(json.dumps(spec))
    return changed


# Largest |logit| difference tolerated between Keras and a converted variant on
# the golden inputs, relative to the largest |logit|: float32 must match up to
# rounding; quantised weights drift (float16 ~1e-3 relative, uint8 ~5e-2).
# uint8 is not checked (only measured): its drift is reported, and it is never shipped
# unless its test metrics (evaluate.py) say it is as good.
PARITY_RTOL = {"float32": 1e-4, "float16": 2e-2}


def check_parity(model: keras.Model, tfjs_dir: Path, variant: str, size: int) -> float:
    """Run the converted graph on the golden inputs and compare every output with
    Keras; fail loudly. Returns the largest difference relative to each output's scale."""
    from training.tfjs_graph import TfjsGraph

    x = np.stack([rgb for _, rgb in golden_images(size)]).astype(np.float32) * (2 / 255) - 1
    want = model.predict(x, verbose=0)
    got = TfjsGraph(tfjs_dir)(x)
    worst = 0.0
    for name in OUTPUTS:
        w = np.asarray(want[name])
        diff = float(np.abs(got[name].reshape(w.shape) - w).max())
        rel = diff / max(float(np.abs(w).max()), 1.0)
        worst = max(worst, rel)
        if variant in PARITY_RTOL and not rel <= PARITY_RTOL[variant]:
            raise RuntimeError(f"{variant}: output {name} differs from Keras by {diff:.4g}")
    return worst


def to_tfjs(model: keras.Model, out: Path, variants: list[str]) -> dict[str, Path]:
    saved = out / "saved_model"
    if saved.exists():
        shutil.rmtree(saved)
    model.export(str(saved), verbose=False)
    paths = {}
    for variant in variants:
        flags = VARIANTS[variant]
        dst = out / "tfjs" / variant
        if dst.exists():
            shutil.rmtree(dst)
        convert(
            [
                "--input_format=tf_saved_model",
                "--output_format=tfjs_graph_model",
                "--signature_name=serving_default",
                "--saved_model_tags=serve",
                *flags,
                str(saved),
                str(dst),
            ]
        )
        n = fix_bias_rank(dst / "model.json")
        name_outputs(dst / "model.json", saved)
        diff = check_parity(model, dst, variant, int(model.input.shape[1]))
        size_mb = sum(f.stat().st_size for f in dst.iterdir()) / 1e6
        print(
            f"{variant}: {size_mb:.2f} MB, max relative difference to Keras {diff:.2e} "
            "on the golden inputs"
            f"{f', {n} bias tensors reshaped' if n else ''}"
        )
        paths[variant] = dst
    return paths


def golden_images(size: int = 224) -> list[tuple[str, np.ndarray]]:
    """Deterministic synthetic inputs: a lesion-like blob, gradients, stripes, noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    r = np.hypot(xx - 0.5, yy - 0.52)
    skin = np.stack([224 - 30 * yy, 178 - 20 * yy, 150 - 15 * xx], -1)
    blob = np.clip((0.28 - r) / 0.05, 0, 1)[..., None]
    lesion = skin * (1 - blob) + np.array([95, 60, 45], np.float32) * blob
    gradient = np.stack([255 * xx, 255 * yy, 128 + 127 * np.sin(6 * xx * yy)], -1)
    stripes = np.stack(
        [
            128 + 127 * np.sin(18 * xx),
            128 + 127 * np.cos(11 * yy),
            128 + 127 * np.sin(7 * (xx + yy)),
        ],
        -1,
    )
    noise = np.random.default_rng(20261122).integers(0, 256, (size, size, 3))
    return [
        (name, np.clip(a + 0.5, 0, 255).astype(np.uint8))
        for name, a in (
            ("lesion_like", lesion),
            ("gradient", gradient),
            ("stripes", stripes),
            ("noise", noise),
        )
    ]


def write_golden(model: keras.Model, model_dir: Path, meta: dict) -> None:
    """Golden cases: each synthetic PNG and the Keras float32 outputs for it, prepared
    exactly as the page prepares a photo (colour constancy, normalisation); the
    probabilities calibrated by the page's own code (``skinlens.triage.calibrate``: the
    temperature of the photo type the model sees)."""
    from skinlens import preprocess, triage
    from skinlens.metadata import ModelInfo

    info = ModelInfo(meta)

    gdir = model_dir / "golden"
    gdir.mkdir(parents=True, exist_ok=True)
    scale = meta["input"]["normalization"]["scale"]
    offset = meta["input"]["normalization"]["offset"]
    constancy = meta["input"]["color_constancy"]
    cases = []
    for name, rgb in golden_images(meta["input"]["size"]):
        Image.fromarray(rgb).save(gdir / f"{name}.png")
        x = preprocess.normalize(preprocess.model_pixels(rgb, constancy), scale, offset)[None]
        out = model.predict(x, verbose=0)
        logits = np.asarray(out["logits"], np.float64)
        named = {k: np.asarray(out[k], np.float64)[0] for k in ("logits", "lesion", "dermoscopic")}
        cases.append(
            {
                "file": f"{name}.png",
                "logits": logits[0].round(6).tolist(),
                "probs": triage.calibrate(named, info).probs.round(6).tolist(),
                "lesion": round(float(np.asarray(out["lesion"])[0, 0]), 4),
                "dermoscopic": round(float(np.asarray(out["dermoscopic"])[0, 0]), 4),
            }
        )
    (gdir / "golden.json").write_text(
        json.dumps(
            {
                "about": "Keras float32 reference outputs for synthetic inputs "
                "(not dataset images); the browser tests feed each PNG through the page "
                "and compare.",
                "temperature": meta["calibration"]["temperature"],
                "cases": cases,
            },
            indent=2,
        )
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run-dir", default="training/runs/lite0")
    p.add_argument("--model-dir", default="models/skinlens-lite0")
    p.add_argument("--variant", default="float16", choices=list(VARIANTS), help="shipped variant")
    p.add_argument(
        "--also",
        nargs="*",
        default=["float32", "uint8"],
        choices=list(VARIANTS),
        help="other variants to convert and evaluate",
    )
    a = p.parse_args(argv)
    run, model_dir = Path(a.run_dir), Path(a.model_dir)
    model = load_inference_model(run)
    paths = to_tfjs(model, run, [a.variant, *[v for v in a.also if v != a.variant]])
    model_dir.mkdir(parents=True, exist_ok=True)
    for f in model_dir.glob("group*-shard*"):
        f.unlink()
    for f in paths[a.variant].iterdir():
        shutil.copy2(f, model_dir / f.name)
    print(f"exported {a.variant} to {model_dir}")


if __name__ == "__main__":
    main()
