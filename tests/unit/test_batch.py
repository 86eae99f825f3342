"""Batch screening (skinlens.batch), its export (skinlens.export) and the speed test's pure
parts (skinlens.speed) under CPython, with a stub model."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

import numpy as np
from PIL import Image
from skinlens import export, speed
from skinlens.batch import BatchRow, BatchRun, Progress, Source, choose_batch_size
from skinlens.errors import ModelError
from skinlens.model import Inference
from skinlens.photo import Photo
from synthetic import lesion_like

MEL = np.log([0.02, 0.02, 0.02, 0.02, 0.80, 0.10, 0.04]).astype(np.float32)
NV = np.log([0.02, 0.02, 0.02, 0.02, 0.02, 0.88, 0.02]).astype(np.float32)


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95)
    return buf.getvalue()


class BatchStub:
    """Melanoma for the second input it sees, naevus for the others."""

    def __init__(self, fail: bool = False) -> None:
        self.sizes: list[int] = []
        self.fail = fail
        self.seen = 0

    async def __call__(self, batch: np.ndarray) -> Inference:
        self.sizes.append(batch.shape[0])
        if self.fail:
            raise ModelError("simulated GPU loss")
        logits = np.stack([MEL if self.seen + i == 1 else NV for i in range(len(batch))])
        self.seen += len(batch)
        n = len(batch)
        outputs = {"logits": logits, "lesion": np.full((n, 1), 5.0)}
        return Inference(outputs | {"dermoscopic": np.full((n, 1), 2.0)}, 8.0)


def source(name: str, payload: bytes) -> Source:
    async def read() -> bytes:
        return payload

    return Source(name, read)


def run(info, sources, batch_size=2, model=None, cancel_after=None):
    model = model or BatchStub()
    rows: list[BatchRow] = []
    runner: BatchRun

    def on_row(row: BatchRow) -> None:
        rows.append(row)
        if cancel_after is not None and len(rows) >= cancel_after:
            runner.cancel()

    runner = BatchRun(Photo(info, model), lambda crop: f"thumb{crop.shape}", on_row, batch_size)
    asyncio.run(runner.run(sources))
    return rows, model, runner


def mixed():
    lesion = jpeg(lesion_like(300))
    dark = jpeg((lesion_like(300).astype(np.float32) * 0.1).astype(np.uint8))
    return [
        source("a.jpg", lesion),
        source("notes.jpg", b"hello, not an image" * 10),
        source("b.jpg", lesion),
        source("dark.jpg", dark),
        source("c.jpg", lesion),
    ]


def test_one_row_per_file_bad_files_included(info):
    rows, model, runner = run(info, mixed())
    assert sorted(r.name for r in rows) == ["a.jpg", "b.jpg", "c.jpg", "dark.jpg", "notes.jpg"]
    by = {r.name: r.result.assessment for r in rows}
    assert by["notes.jpg"].reason == "not-an-image" and by["dark.jpg"].reason == "dark"
    assert by["a.jpg"].state == "done" and runner.done == 5
    assert model.sizes == [2, 1]  # three good photos, batches of two
    assert all(r.result.crop is None for r in rows)  # memory: only the thumbnail stays
    assert {r.name: r.thumb for r in rows}["a.jpg"] == "thumb(224, 224, 3)"
    shared = sorted(r.result.infer_ms for r in rows if r.result.assessment.state == "done")
    assert shared == [4.0, 4.0, 8.0]  # a call's time is shared by its rows


def test_rows_sort_urgent_first_cannot_assess_last(info):
    rows, _, _ = run(info, mixed())
    ordered = sorted(rows, key=lambda r: r.sort_key)
    priorities = [r.result.assessment.priority for r in ordered]
    rank = ["Urgent", "High", "Medium", "Low", "None"]
    assert priorities == sorted(priorities, key=rank.index)
    assert priorities[-1] == "None"


def test_a_failing_model_call_rejects_its_rows_only(info):
    rows, _, _ = run(info, mixed(), model=BatchStub(fail=True))
    assert len(rows) == 5
    assert {r.result.assessment.reason for r in rows} == {"model-error", "not-an-image", "dark"}


def test_cancel_stops_reading_files(info):
    sources = [source(f"{i}.jpg", b"") for i in range(20)]
    rows, _, runner = run(info, sources, cancel_after=3)
    assert runner.cancelled and len(rows) == 3


def test_progress_rate_and_time_left():
    p = Progress(done=10, count=40, elapsed_ms=2000.0)
    assert p.per_second == 5.0 and p.seconds_left == 6.0 and p.fraction == 0.25
    assert Progress(0, 40, 10.0).seconds_left is None


def test_batch_size_from_the_speed_test():
    assert choose_batch_size(None) == 8 and choose_batch_size({}) == 8
    assert choose_batch_size({"1": 14.0, "8": 9.5, "16": 9.5, "32": 10.0}) == 8


def test_export_csv_and_json_match_and_neutralise_formulas(info):
    rows, _, _ = run(info, [*mixed(), source("=HYPERLINK(1).jpg", b"")])
    recs = export.records(rows, info, "2026-11-30T21:00:00+00:00")
    parsed = list(csv.DictReader(io.StringIO(export.to_csv(recs, info.codes))))
    assert len(parsed) == len(rows) == len(json.loads(export.to_json(recs)))
    by = {r["file"]: r for r in parsed}
    assert "'=HYPERLINK(1).jpg" in by and by["'=HYPERLINK(1).jpg"]["reason"] == "empty-file"
    good = by["a.jpg"]
    assert good["priority"] == "Low" and good["label"] == "nv" and good["reason"] == ""
    assert abs(sum(float(good[f"p_{c}"]) for c in info.codes) - 1) < 1e-4
    assert by["notes.jpg"]["p_mel"] == "" and by["notes.jpg"]["priority"] == "None"
    assert good["photo_type"] == "dermoscopic" and by["notes.jpg"]["photo_type"] == ""
    assert json.loads(export.to_json(recs))[0]["model"] == info.raw["name"]


def test_neutralise():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert export.neutralise(bad) == "'" + bad
    assert export.neutralise("mole 1.jpg") == "mole 1.jpg" and export.neutralise("") == ""


def test_speed_stops_a_backend_on_a_slow_call():
    calls = []

    async def slow(x: np.ndarray) -> float:
        calls.append(len(x))
        return 1000.0 * len(x)  # 1 s per image: batch 4 crosses the 3 s limit

    points = asyncio.run(speed.time_backend("cpu", slow, np.zeros((32, 2, 2, 3)), lambda p: None))
    assert [p.batch for p in points] == [1, 2]  # batch 4's warm-up took 4 s: stopped
    assert points[1].ms_per_image == 1000.0


def test_speed_plots_have_one_line_per_backend_labels_and_units():
    pts = [
        speed.Measurement(b, n, ms * n, ms)
        for b, ms in (("wasm", 12.0), ("webgl", 300.0))
        for n in speed.BATCH_SIZES
    ]
    svg = speed.plot_svg(pts, "ms_per_image", "Latency per image", "Time (ms)", "Batch size")
    assert len(re.findall(r'<path class="series" data-backend="(\w+)"', svg)) == 2
    assert "Time (ms)" in svg and "Batch size" in svg and ">32<" in svg
    assert speed.best_batches(pts)["wasm"]["8"] == 12.0


def test_python_steps_are_timed(info):
    steps = speed.python_steps(info)
    assert steps["python_prep_ms_per_image"] > 0 and steps["decode_12mp_ms"] > 0
