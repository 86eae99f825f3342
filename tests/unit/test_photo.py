"""The photo pipeline (skinlens.photo) under CPython: bytes -> assessment, a stub model."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image
from skinlens import errors
from skinlens.errors import ModelError, ReadError
from skinlens.model import Inference
from skinlens.photo import Photo
from synthetic import lesion_like

NV = np.log([0.02, 0.02, 0.02, 0.02, 0.02, 0.88, 0.02]).astype(np.float32)


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95)
    return buf.getvalue()


async def data(b: bytes) -> bytes:
    return b


class StubModel:
    def __init__(self, lesion: float = 5.0, fail: bool = False) -> None:
        self.lesion, self.fail, self.calls = lesion, fail, 0

    async def __call__(self, batch: np.ndarray) -> Inference:
        self.calls += 1
        if self.fail:
            raise ModelError("simulated GPU loss")
        assert batch.shape[1:] == (224, 224, 3) and batch.dtype == np.float32
        n = batch.shape[0]
        outputs = {
            "logits": np.tile(NV, (n, 1)),
            "lesion": np.full((n, 1), self.lesion),
            "dermoscopic": np.full((n, 1), 2.0),
        }
        return Inference(outputs, 12.5)


def assess(photo: Photo, payload: bytes):
    return asyncio.run(photo.assess(data(payload)))


def test_a_lesion_photo_is_classified(info):
    model = StubModel()
    r = assess(Photo(info, model), jpeg(lesion_like(300)))
    a = r.assessment
    assert (a.state, a.label, a.priority) == ("done", "nv", "Low")
    assert r.infer_ms == 12.5 and r.prep_ms > 0
    assert r.decoded.format == "JPEG" and r.crop.shape == (224, 224, 3)
    assert model.calls == 1


def test_a_dark_photo_is_rejected_before_the_model(info):
    model = StubModel()
    dark = (lesion_like(300).astype(np.float32) * 0.1).astype(np.uint8)
    r = assess(Photo(info, model), jpeg(dark))
    assert r.assessment.reason == "dark" and model.calls == 0
    assert r.crop is not None and r.prep_ms is not None  # what was learned stays


def test_gates_off_sends_anything_to_the_model(info):
    model = StubModel()
    dark = (lesion_like(300).astype(np.float32) * 0.1).astype(np.uint8)
    r = assess(Photo(info, model, gates=False), jpeg(dark))
    assert r.assessment.state == "done" and model.calls == 1


def test_not_a_lesion_keeps_probabilities_for_diagnostics(info):
    r = assess(Photo(info, StubModel(lesion=-8.0)), jpeg(lesion_like(300)))
    a = r.assessment
    assert a.reason == "not-lesion" and a.probs is not None and a.label is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"", errors.EMPTY_FILE), (b"%PDF-1.7 not a picture" * 4, errors.NOT_AN_IMAGE)],
)
def test_decode_failures_become_rejections(info, payload, code):
    r = assess(Photo(info, StubModel()), payload)
    assert r.assessment.reason == code and r.assessment.error.code == code
    assert r.crop is None


def test_a_failing_model_is_a_model_error(info):
    r = assess(Photo(info, StubModel(fail=True)), jpeg(lesion_like(300)))
    assert r.assessment.reason == errors.MODEL_ERROR
    assert r.assessment.error.details["cause"] == "simulated GPU loss"


def test_an_unreadable_file_is_a_read_error(info):
    async def unreadable() -> bytes:
        raise ReadError("NotReadableError: the file changed")

    r = asyncio.run(Photo(info, StubModel()).assess(unreadable()))
    assert r.assessment.reason == errors.READ_ERROR


def test_the_model_gets_its_input_as_in_training(info):
    """Colour constancy (when the metadata asks for it) and normalisation, as training does."""
    import copy

    from skinlens import metadata, preprocess

    raw = copy.deepcopy(info.raw)
    raw["input"]["color_constancy"] = "shades_of_gray"
    sog = metadata.ModelInfo(raw)
    model = StubModel()
    seen = []

    async def spy(batch):
        seen.append(batch)
        return await model(batch)

    r = assess(Photo(sog, spy), jpeg(lesion_like(300)))
    expected = preprocess.normalize(
        preprocess.shades_of_gray(r.crop), info.norm_scale, info.norm_offset
    )
    assert np.array_equal(seen[0][0], expected)


class ViewModel:
    """Answers each view with its own logits: the first (the crop as is) says nevus, the
    second (zoomed out) melanoma, so the average shows whether both were used."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    async def __call__(self, batch: np.ndarray) -> Inference:
        self.batches.append(batch.shape[0])
        mel = np.log([0.02, 0.02, 0.02, 0.02, 0.88, 0.02, 0.02]).astype(np.float32)
        logits = np.stack([NV if i % 2 == 0 else mel for i in range(batch.shape[0])])
        n = batch.shape[0]
        cam = np.stack([np.full((7, 7, 7), i, np.float32) for i in range(n)])
        outputs = {"logits": logits, "lesion": np.full((n, 1), 5.0), "cam": cam}
        outputs["dermoscopic"] = np.full((n, 1), 2.0)
        return Inference(outputs, 20.0)


def test_views_of_the_metadata_are_averaged_in_one_call(info):
    """Two views (as is, zoomed out 1.35x) go to the model as one batch of 2; their logits
    are averaged; the heatmap comes from the first view only (the other is shrunk)."""
    raw = {**info.raw, "input": {**info.raw["input"], "views": [1.0, 1.35]}}
    tta = type(info)(raw)
    model = ViewModel()
    r = assess(Photo(tta, model), jpeg(lesion_like(300)))
    assert model.batches == [2]
    probs = np.array(r.assessment.probs)
    mel, nv = tta.codes.index("mel"), tta.codes.index("nv")
    assert probs[mel] == pytest.approx(probs[nv])  # log-average of 0.88/0.02 and 0.02/0.88
    assert r.infer_ms == 20.0  # the call's time is this photo's
    plain = ViewModel()
    assess(Photo(info, plain), jpeg(lesion_like(300)))
    assert plain.batches == [len(info.views)]
