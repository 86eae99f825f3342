"""Export the trained classifier to TF.js and write the golden parity cases.

    python -m training.export [--run-dir training/runs/lite0] [--model-dir models/skinlens-lite0]

1. Rebuild the inference graph (``model.export_model``: ``image`` ->
   ``logits``, ``ood_score``) from the run's backbone, classifier and OOD
   statistics, and export it as a SavedModel (Keras 3 ``model.export``).
2. Convert it with ``tensorflowjs_converter`` to float32, float16 and uint8
   graph models (``training/runs/<run>/tfjs/<variant>/``); rewrite any rank-4
   fused-conv bias to rank 1 so the WASM backend accepts the graph.
3. Copy the default variant into ``models/<name>/`` and write golden cases:
   deterministic synthetic 224x224 RGB images (not dataset images) with the
   Keras float32 outputs, so the browser can be checked against Keras without
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

from training.model import MahalanobisScore, OODStats, export_model
from training.tfjs_convert import convert

VARIANTS = {
    "float32": [],
    "float16": ["--quantize_float16=*"],
    "uint8": ["--quantize_uint8=*"],
}


def load_inference_model(run: Path) -> keras.Model:
    """The shipped graph rebuilt from a run's backbone, classifier and OOD statistics."""
    keras.saving.get_custom_objects()["skinlens>MahalanobisScore"] = MahalanobisScore
    backbone = keras.saving.load_model(run / "backbone.keras", compile=False)
    cls = np.load(run / "classifier.npz")
    kernel, bias = cls["arr_0"], cls["arr_1"]
    ood = OODStats.load(run / "ood.npz")
    dense = keras.layers.Dense(kernel.shape[1], name="classifier")
    dense.build((None, kernel.shape[0]))
    dense.set_weights([kernel, bias])
    return export_model(backbone, dense, ood)


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
    """Run the converted graph on the golden inputs and compare with Keras; fail loudly."""
    from training.tfjs_graph import TfjsGraph

    x = np.stack([rgb for _, rgb in golden_images(size)]).astype(np.float32) * (2 / 255) - 1
    want = np.asarray(model.predict(x, verbose=0)["logits"])
    got = TfjsGraph(tfjs_dir)(x)["logits"]
    diff = float(np.abs(got - want).max())
    scale = max(float(np.abs(want).max()), 1.0)
    if variant in PARITY_RTOL and not diff <= PARITY_RTOL[variant] * scale:
        raise RuntimeError(
            f"{variant}: converted graph differs from Keras by {diff:.4g} logits "
            f"(largest |logit| {scale:.3g})"
        )
    return diff


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
        diff = check_parity(model, dst, variant, int(model.input.shape[1]))
        size_mb = sum(f.stat().st_size for f in dst.iterdir()) / 1e6
        print(
            f"{variant}: {size_mb:.2f} MB, max |logit - keras| {diff:.2e} on the golden inputs"
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
    from training.metrics import softmax

    gdir = model_dir / "golden"
    gdir.mkdir(parents=True, exist_ok=True)
    scale = meta["input"]["normalization"]["scale"]
    offset = meta["input"]["normalization"]["offset"]
    cases = []
    for name, rgb in golden_images(meta["input"]["size"]):
        Image.fromarray(rgb).save(gdir / f"{name}.png")
        x = rgb.astype(np.float32)[None] * np.float32(scale) + np.float32(offset)
        out = model.predict(x, verbose=0)
        logits = np.asarray(out["logits"], np.float64)
        cases.append(
            {
                "file": f"{name}.png",
                "logits": logits[0].round(6).tolist(),
                "probs": softmax(logits, meta["calibration"]["temperature"])[0].round(6).tolist(),
                "ood_score": round(float(np.asarray(out["ood_score"])[0, 0]), 4),
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
    for f in model_dir.glob("group*-shard*"):
        f.unlink()
    for f in paths[a.variant].iterdir():
        shutil.copy2(f, model_dir / f.name)
    meta = json.loads((model_dir / "metadata.json").read_text())
    write_golden(model, model_dir, meta)
    print(f"exported {a.variant} to {model_dir}")


if __name__ == "__main__":
    main()
