"""Golden parity: the page's full Python path + TF.js on each backend reproduces the Keras
reference probabilities of ``models/skinlens-lite0/golden/golden.json``.

Each golden case is a uint8 224x224 RGB PNG, so decode -> centred square crop -> resize to
224 is the identity and the page's normalisation + TF.js graph are what is compared. The
quality gates are switched off (``?gates=off``): the cases are synthetic patterns.

Tolerance: the shipped model is float16-quantised, so probabilities may differ from the
float32 Keras reference by ~1e-3; the bound is ``SKINLENS_PARITY_ATOL`` (default 2e-2).
The measured maximum differences are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from harness import PARITY_REPORT, classify

pytestmark = pytest.mark.browser

PROB_ATOL = float(os.environ.get("SKINLENS_PARITY_ATOL", "2e-2"))
OOD_RTOL = 0.05


@pytest.fixture(scope="module")
def golden(model_files) -> tuple[Path, list[dict]]:
    path = model_files / "golden" / "golden.json"
    if not path.exists():
        pytest.skip("the model has no golden/golden.json")
    data = json.loads(path.read_text())
    cases = data["cases"] if isinstance(data, dict) else data
    assert cases, "golden.json lists no cases"
    return path.parent, cases


def check_cases(browser, backend: str, golden_dir: Path, cases: list[dict]) -> None:
    worst = 0.0
    lines = []
    failures = []
    for case in cases:
        name = case.get("file") or case.get("input") or case.get("png")
        r = classify(browser, golden_dir / name, timeout=300)
        assert r["file"] == Path(name).name, r
        assert r["probs"] is not None, f"{backend} {name}: no probabilities ({r})"
        got = np.asarray(r["probs"], dtype=np.float64)
        ref = np.asarray(case["probs"], dtype=np.float64)
        diff = float(np.max(np.abs(got - ref)))
        worst = max(worst, diff)
        ood_ref = case.get("ood_score")
        ood_got = float(r["ood"]) if r.get("ood") not in (None, "") else None
        ood_diff = abs(ood_got - ood_ref) if (ood_ref is not None and ood_got is not None) else None
        lines.append(
            f"  {backend:6s} {name:20s} max|dp|={diff:.2e}"
            + (f" ood {ood_got:.4g} vs {ood_ref:.4g}" if ood_diff is not None else "")
            + f" infer {float(r['ms']):.0f} ms"
        )
        if diff > PROB_ATOL:
            failures.append(f"{name}: max|dp| {diff:.3g} > {PROB_ATOL}")
        top2 = np.sort(ref)[-2:]
        if top2[1] - top2[0] > 2 * PROB_ATOL and int(got.argmax()) != int(ref.argmax()):
            failures.append(f"{name}: argmax {int(got.argmax())} != {int(ref.argmax())}")
        if ood_diff is not None and ood_diff > max(0.5, OOD_RTOL * abs(ood_ref)):
            failures.append(f"{name}: ood {ood_got} vs {ood_ref}")
    PARITY_REPORT.append(f"{backend}: max |prob diff| {worst:.2e} over {len(cases)} case(s)")
    PARITY_REPORT.extend(lines)
    assert not failures, f"{backend}: " + "; ".join(failures)


@pytest.mark.parametrize("backend_app", ["wasm", "webgl", "cpu"], indirect=True)
def test_golden_parity(backend_app, golden, request):
    browser, state = backend_app
    backend = request.node.callspec.params["backend_app"]
    assert state["backend"] == backend, state
    golden_dir, cases = golden
    check_cases(browser, backend, golden_dir, cases)


@pytest.mark.slow
@pytest.mark.parametrize("backend_app", ["webgpu"], indirect=True)
def test_golden_parity_webgpu_one_case(backend_app, golden):
    """WebGPU runs on SwiftShader here (slow): one case shows the backend computes the same."""
    browser, state = backend_app
    assert state["backend"] == "webgpu", state
    golden_dir, cases = golden
    check_cases(browser, "webgpu", golden_dir, cases[:1])
