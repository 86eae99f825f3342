"""Calibrate on `val`, measure on `test`, write metadata, metrics and the model card.

    python -m training.evaluate calibrate   # before export: temperature, thresholds, OOD stats
    python -m training.evaluate report      # after export: metrics of every TF.js variant

Everything the model card states is computed here, on the split it names:
temperature, escalation and OOD thresholds are chosen on `val` only; `test`
is only ever measured. Priorities are computed by the app's own
``skinlens.triage`` so the reported melanoma sensitivity is the app's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from training.config import Config
from training.data import ROOT, labels_of, load_samples, load_view
from training.metrics import (
    balanced_accuracy,
    binary_rates,
    bootstrap_rates,
    confusion,
    ece,
    fit_temperature,
    macro_auc,
    precisions,
    recalls,
    reliability,
    softmax,
    threshold_with_confidence,
)
from training.model import OOD_TAPS, OODStats, fit_mahalanobis, mahalanobis_np, tap_features

sys.path.insert(0, str(ROOT / "py"))
from skinlens import metadata as skmeta
from skinlens import preprocess, triage

BASE = Path(__file__).parent / "base_metadata.json"
# Sensitivity each escalating class must reach on val (melanoma from Config).
ESCALATION_SENSITIVITY = {"bcc": 0.80, "akiec": 0.75}


def load_outputs(run: Path) -> dict[str, np.ndarray]:
    return dict(np.load(run / "outputs.npz"))


def build_metadata(cfg: Config, temperature: float, thresholds: dict, extra: dict) -> dict:
    base = json.loads(BASE.read_text())
    meta = {
        "schema_version": base["schema_version"],
        "name": cfg.name,
        "status": "trained",
        "architecture": cfg.arch,
        "format": "tfjs_graph_model",
        "variant": extra.get("variant", "float16"),
        "model_file": "model.json",
        "input": {
            "name": "image",
            "size": cfg.size,
            "shape": [1, cfg.size, cfg.size, 3],
            "dtype": "float32",
            "layout": "NHWC",
            "color": "RGB",
            "crop": "centred square of the short side (camera: the guide-circle ROI)",
            "resize": f"Pillow BILINEAR (antialiased) to {cfg.size}x{cfg.size}",
            "normalization": {
                "scale": cfg.norm_scale,
                "offset": cfg.norm_offset,
                "formula": "x_uint8 * scale + offset, i.e. [0,255] -> [-1,1]",
            },
        },
        "outputs": {
            "logits": {
                "name": "logits",
                "shape": [1, 7],
                "meaning": "uncalibrated class logits; softmax(logits / temperature)",
            },
            "ood_score": {
                "name": "ood_score",
                "shape": [1, 1],
                "meaning": "max over depths (blocks 7, 10 and the final features) of the "
                "Mahalanobis distance of the pooled features to the nearest class mean "
                "(shared covariance, PCA whitening), each divided by its 95th percentile "
                "on val lesions; higher = less like the training lesions",
            },
        },
        "calibration": {
            "method": "temperature",
            "temperature": round(temperature, 6),
            "fitted_on": "val",
        },
        "thresholds": thresholds,
    }
    for key, value in base.items():
        meta.setdefault(key, value)
    meta.update(extra.get("meta", {}))
    skmeta.validate(meta)
    return meta


def ood_threshold(
    ood_val: np.ndarray, quality_val: np.ndarray, target: float, alpha: float = 0.05
) -> float:
    """Smallest OOD threshold whose combined val rejection (quality gates OR
    ``ood_score`` above it) stays at most ``target`` at the bootstrap upper
    ``1 - alpha`` bound: the app applies both gates, so they share the budget,
    and the bound leaves a margin for new data."""
    for t in np.sort(ood_val):
        rejected = quality_val | (ood_val > t)
        if np.quantile(bootstrap_rates(rejected), 1 - alpha) <= target:
            return float(t)
    return float(ood_val.max())


def choose_thresholds(
    cfg: Config,
    y_val: np.ndarray,
    p_val: np.ndarray,
    ood_val: np.ndarray,
    quality_val: np.ndarray,
    codes: list[str],
    current: dict,
) -> dict:
    """Escalation thresholds (sensitivity-first) and the OOD threshold, from val only."""
    targets = {"mel": cfg.mel_sensitivity, **ESCALATION_SENSITIVITY}
    escalation = {}
    for code, sens in targets.items():
        c = codes.index(code)
        escalation[code] = round(threshold_with_confidence(p_val[y_val == c, c], sens), 4)
    out = dict(current)
    out["escalation"] = escalation
    out["escalation_rule"] = (
        "largest threshold whose bootstrap 95% lower bound of val sensitivity meets the target"
    )
    out["escalation_target_sensitivity"] = targets
    out["ood_score"] = round(ood_threshold(ood_val, quality_val, cfg.ood_val_reject), 4)
    out["ood_rule"] = (
        "smallest threshold whose bootstrap 95% upper bound of val lesion rejection "
        "(ood or quality gates) stays within the target"
    )
    out["ood_target_lesion_rejection"] = cfg.ood_val_reject
    return out


def pooled_tap_features(run: Path, samples, cfg: Config, chunk: int = 256) -> list[np.ndarray]:
    """Pooled features at every OOD tap for the centred view of ``samples``."""
    import keras

    backbone = keras.saving.load_model(run / "backbone.keras", compile=False)
    model = tap_features(backbone, OOD_TAPS)
    parts: list[list[np.ndarray]] = []
    for i in range(0, len(samples), chunk):
        x = preprocess_split(samples[i : i + chunk], cfg.size, cfg.norm_scale, cfg.norm_offset)
        parts.append([np.asarray(f) for f in model.predict(x, batch_size=64, verbose=0)])
    return [np.concatenate([p[t] for p in parts]) for t in range(len(OOD_TAPS))]


def fit_ood(cfg: Config, run: Path, codes: list[str]) -> tuple[OODStats, dict[str, np.ndarray]]:
    """Fit per-tap class Gaussians on train (centred views), scale each tap's
    distance by its 95th percentile on val; return the stats and val/test scores."""
    samples = load_samples(cfg.data)
    by = {sp: [s for s in samples if s.split == sp] for sp in ("train", "val", "test")}
    feats = {sp: pooled_tap_features(run, v, cfg) for sp, v in by.items()}
    y_train = labels_of(by["train"], codes)
    whitening, means, scales = [], [], []
    for t in range(len(OOD_TAPS)):
        dims = min(128, feats["train"][t].shape[1])
        w, m = fit_mahalanobis(feats["train"][t], y_train, len(codes), dims=dims)
        whitening.append(w)
        means.append(m)
        scales.append(float(np.quantile(mahalanobis_np(feats["val"][t], w, m), 0.95)))
    stats = OODStats(OOD_TAPS, tuple(whitening), tuple(means), tuple(scales))
    scores = {sp: stats.score(feats[sp]) for sp in ("val", "test")}
    info = skmeta.ModelInfo(json.loads(BASE.read_text()))  # the quality gate thresholds
    x_val = preprocess_split(by["val"], cfg.size, cfg.norm_scale, cfg.norm_offset)
    scores["val_quality_rejected"] = quality_reject(x_val, cfg.norm_scale, cfg.norm_offset, info)
    return stats, scores


def calibrate(cfg: Config) -> dict:
    run, model_dir = Path(cfg.run_dir), Path(cfg.model_dir)
    o = load_outputs(run)
    codes = [c["code"] for c in json.loads(BASE.read_text())["classes"]]
    temperature = fit_temperature(o["val_y"], o["val_logits"].astype(np.float64))
    stats, scores = fit_ood(cfg, run, codes)
    stats.save(run / "ood.npz")
    np.savez(run / "ood_scores.npz", **scores)
    meta_path = model_dir / "metadata.json"
    previous = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    current = {"min_confidence": previous.get("thresholds", {}).get("min_confidence", 0.0)}
    thresholds = choose_thresholds(
        cfg,
        o["val_y"],
        softmax(o["val_logits"], temperature),
        scores["val"],
        scores["val_quality_rejected"],
        codes,
        current,
    )
    base = json.loads(BASE.read_text())
    keep = {k: previous[k] for k in ("quality",) if k in previous and k not in base}
    meta = build_metadata(cfg, temperature, thresholds, {"meta": keep})
    model_dir.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"temperature {temperature:.4f}; thresholds {json.dumps(thresholds)}")
    return meta


def priority_of(info: skmeta.ModelInfo, logits: np.ndarray, ood: np.ndarray) -> list[str]:
    """The app's own priority for each sample (``skinlens.triage``)."""
    return [triage.assess(lg, float(s), info).priority for lg, s in zip(logits, ood, strict=True)]


def split_report(
    info: skmeta.ModelInfo, y: np.ndarray, logits: np.ndarray, ood: np.ndarray
) -> dict:
    codes = info.codes
    n = len(codes)
    t = info.temperature
    p_raw, p = softmax(logits, 1.0), softmax(logits, t)
    pred = p.argmax(1)
    cm = confusion(y, pred, n)
    auc, per_auc = macro_auc(y, p)
    mel = codes.index("mel")
    thr = info.thresholds["escalation"]["mel"]
    pri = np.array(priority_of(info, logits, np.zeros(len(y))))  # classification only: no OOD gate
    is_mel = y == mel
    urgent = pri == "Urgent"
    ood_thr = info.thresholds["ood_score"]
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": balanced_accuracy(y, pred, n),
        "macro_auc": auc,
        "per_class": {
            c: {
                "precision": float(precisions(cm)[i]),
                "recall": float(recalls(cm)[i]),
                "auc": per_auc[i],
                "support": int(cm[i].sum()),
            }
            for i, c in enumerate(codes)
        },
        "melanoma_threshold": thr,
        "melanoma_sensitivity": float(urgent[is_mel].mean()),
        "melanoma_specificity": float((~urgent[~is_mel]).mean()),
        "melanoma_prob_rates": dict(
            zip(
                ("sensitivity", "specificity"),
                binary_rates(p[is_mel, mel], p[~is_mel, mel], thr),
                strict=True,
            )
        ),
        "ece_before": ece(y, p_raw),
        "ece_after": ece(y, p),
        "ood_rejected_fraction": float((ood > ood_thr).mean()),
        "confusion": cm.tolist(),
        "reliability_before": reliability(y, p_raw),
        "reliability_after": reliability(y, p),
    }


def plot_confusion(cm: np.ndarray, codes: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.2), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(codes)):
        for j in range(len(codes)):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def preprocess_split(samples, size: int, scale: float, offset: float) -> np.ndarray:
    return np.stack([load_view(s.path, size).astype(np.float32) * scale + offset for s in samples])


def nonlesion_inputs(size: int, scale: float, offset: float) -> tuple[np.ndarray, list[str]]:
    from training.nonlesion import crops, sample_photos

    xs, names = [], []
    for name, im in sample_photos():
        for k, box in enumerate(crops(im)):
            xs.append(preprocess.prepare(im, size, scale, offset, box))
            names.append(f"{name}#{k}")
    return np.stack(xs) if xs else np.zeros((0, size, size, 3), np.float32), names


def quality_reject(
    x: np.ndarray, scale: float, offset: float, info: skmeta.ModelInfo
) -> np.ndarray:
    """Whether the app's quality/colour gates reject each (normalised) input."""
    from skinlens import quality

    rgb = np.clip((x - offset) / scale + 0.5, 0, 255).astype(np.uint8)
    return np.array([not quality.run_all(r, info).ok for r in rgb], dtype=bool)


def report(cfg: Config) -> dict:
    from training.tfjs_graph import TfjsGraph

    run, model_dir = Path(cfg.run_dir), Path(cfg.model_dir)
    info = skmeta.load(model_dir / "metadata.json")
    o = load_outputs(run)
    ood = np.load(run / "ood_scores.npz")
    result: dict = {
        "generated": time.strftime("%Y-%m-%d"),
        "config": json.loads((run / "config.json").read_text()),
    }
    for split in ("val", "test"):
        result[f"keras_{split}"] = split_report(
            info, o[f"{split}_y"], o[f"{split}_logits"], ood[split]
        )

    samples = load_samples(cfg.data)
    test = [s for s in samples if s.split == "test"]
    y_test = labels_of(test, info.codes)
    x_test = preprocess_split(test, cfg.size, cfg.norm_scale, cfg.norm_offset)
    x_non, non_names = nonlesion_inputs(cfg.size, cfg.norm_scale, cfg.norm_offset)
    q_test = quality_reject(x_test, cfg.norm_scale, cfg.norm_offset, info)
    q_non = quality_reject(x_non, cfg.norm_scale, cfg.norm_offset, info)
    result["variants"] = {}
    for variant in ("float32", "float16", "uint8"):
        vdir = run / "tfjs" / variant
        if not vdir.exists():
            continue
        graph = TfjsGraph(vdir)
        out = graph(x_test)
        rep = split_report(info, y_test, out["logits"], out["ood_score"][:, 0])
        rep["size_mb"] = round(sum(f.stat().st_size for f in vdir.iterdir()) / 1e6, 2)
        non = graph(x_non) if len(x_non) else {"ood_score": np.zeros((0, 1))}
        rej_model = non["ood_score"][:, 0] > info.thresholds["ood_score"]
        rej_model_test = out["ood_score"][:, 0] > info.thresholds["ood_score"]
        rep["ood"] = {
            "nonlesion_images": len(x_non),
            "nonlesion_rejected_by_model": float(rej_model.mean()) if len(x_non) else None,
            "nonlesion_rejected_by_model_or_quality": float((rej_model | q_non).mean())
            if len(x_non)
            else None,
            "test_lesions_rejected_by_model": float(rej_model_test.mean()),
            "test_lesions_rejected_by_model_or_quality": float((rej_model_test | q_test).mean()),
            "nonlesion_missed": [
                n for n, r, q in zip(non_names, rej_model, q_non, strict=True) if not (r or q)
            ],
        }
        result["variants"][variant] = rep
        print(
            f"{variant}: test bal acc {rep['balanced_accuracy']:.4f} auc {rep['macro_auc']:.4f} "
            f"mel sens {rep['melanoma_sensitivity']:.3f} ece {rep['ece_after']:.4f} "
            f"ood non-lesion {rep['ood']['nonlesion_rejected_by_model_or_quality']} "
            f"lesions {rep['ood']['test_lesions_rejected_by_model_or_quality']:.3f}",
            flush=True,
        )
    shipped = result["variants"].get(info.raw.get("variant", "float16"), result["keras_test"])
    plot_confusion(
        np.array(shipped["confusion"]),
        info.codes,
        model_dir / "confusion_test.png",
        f"test split, shipped {info.raw.get('variant')} model (n={shipped['n']})",
    )
    plot_reliability(
        shipped["reliability_before"],
        shipped["reliability_after"],
        model_dir / "reliability_test.png",
        "test split: reliability diagram",
    )
    (model_dir / "metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    from training.model_card import write_model_card

    write_model_card(model_dir, info, result)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("stage", choices=("calibrate", "report"))
    p.add_argument("--run-dir", default=Config.run_dir)
    p.add_argument("--model-dir", default=Config.model_dir)
    p.add_argument("--data", default=Config.data)
    p.add_argument(
        "--mel-sensitivity",
        type=float,
        default=Config.mel_sensitivity,
        help="melanoma sensitivity the Urgent threshold must reach (95%% lower bound)",
    )
    p.add_argument(
        "--ood-reject",
        type=float,
        default=Config.ood_val_reject,
        help="lesion rejection budget of the OOD + quality gates (95%% upper bound)",
    )
    a = p.parse_args(argv)
    saved = json.loads((Path(a.run_dir) / "config.json").read_text())
    saved.update(run_dir=a.run_dir, model_dir=a.model_dir, data=a.data)
    # Decision targets are product requirements, not training settings: take them
    # from the command line (defaults: Config), never from an older run's config.
    saved.update(mel_sensitivity=a.mel_sensitivity, ood_val_reject=a.ood_reject)
    cfg = Config(**saved)
    (calibrate if a.stage == "calibrate" else report)(cfg)


if __name__ == "__main__":
    main()
