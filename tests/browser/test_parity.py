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
LESION_ATOL = 0.02  # the page reports sigmoid(lesion logit)


@pytest.fixture(scope="module")
def golden(model_files) -> tuple[Path, list[dict]]:
    path = model_files / "golden" / "golden.json"
    if not path.exists():
        pytest.skip("the model has no golden/golden.json")
    cases = json.loads(path.read_text())["cases"]
    assert cases, "golden.json lists no cases"
    return path.parent, cases


def check_cases(browser, backend: str, golden_dir: Path, cases: list[dict]) -> None:
    worst = 0.0
    lines = []
    failures = []
    for case in cases:
        name = case["file"]
        r = classify(browser, golden_dir / name, timeout=300)
        assert r["file"] == Path(name).name, r
        assert r["probs"] is not None, f"{backend} {name}: no probabilities ({r})"
        got = np.asarray(r["probs"], dtype=np.float64)
        ref = np.asarray(case["probs"], dtype=np.float64)
        diff = float(np.max(np.abs(got - ref)))
        worst = max(worst, diff)
        lesion_ref = 1.0 / (1.0 + np.exp(-case["lesion"]))
        lesion_got = float(r["lesion"])
        lines.append(
            f"  {backend:6s} {name:20s} max|dp|={diff:.2e} lesion {lesion_got:.4f} vs "
            f"{lesion_ref:.4f} infer {float(r['ms']):.0f} ms"
        )
        if diff > PROB_ATOL:
            failures.append(f"{name}: max|dp| {diff:.3g} > {PROB_ATOL}")
        top2 = np.sort(ref)[-2:]
        if top2[1] - top2[0] > 2 * PROB_ATOL and int(got.argmax()) != int(ref.argmax()):
            failures.append(f"{name}: argmax {int(got.argmax())} != {int(ref.argmax())}")
        if abs(lesion_got - lesion_ref) > LESION_ATOL:
            failures.append(f"{name}: lesion {lesion_got:.4f} vs {lesion_ref:.4f}")
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
