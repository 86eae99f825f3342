"""The wording catalogue: every code the app can emit has the words it needs."""

from __future__ import annotations

import re

import pytest
from skinlens import errors, quality, triage, wording
from skinlens.decode import NON_IMAGES, UNSUPPORTED_IMAGES
from skinlens.live import _CAMERA_ERRORS

W = wording.load()
PHOTO_REASONS = (
    *errors.DECODE_CODES,
    errors.READ_ERROR,
    errors.MODEL_ERROR,
    errors.INTERNAL_ERROR,
    *quality.GATE_ORDER,
    triage.NOT_LESION,
    triage.LOW_CONFIDENCE,
)
LIVE_STATES = (*quality.GATE_ORDER, triage.NOT_LESION, "ok", "stable", "warming-up", "camera-off")
CAMERA_CODES = (*set(_CAMERA_ERRORS.values()), "camera-error", "insecure-context")


@pytest.mark.parametrize("code", PHOTO_REASONS)
def test_every_photo_reason_has_a_title_and_a_message(code):
    assert W.title(code) and W.entries[code]["message"]


@pytest.mark.parametrize("code", LIVE_STATES)
def test_every_live_state_has_a_badge_and_an_instruction(code):
    assert W.badge(code) and W.instruction(code)


@pytest.mark.parametrize("code", CAMERA_CODES)
def test_every_camera_error_has_a_title_and_a_message(code):
    assert W.title(code) and W.entries[code]["message"]


def test_file_kinds_and_format_advice_are_covered():
    for kind in NON_IMAGES:
        assert W.text(f"file-kind.{kind}")
    for kind in (*UNSUPPORTED_IMAGES, "WEBP"):
        assert W.variant("unsupported-format", kind, "message") != W.get(
            "unsupported-format", "message"
        )


def test_priorities_read_as_words():
    assert [W.priority(p) for p in ("Urgent", "None")] == ["Urgent", "Cannot assess"]


def test_entries_use_only_known_fields_and_fill_cleanly():
    for code, entry in W.entries.items():
        assert set(entry) <= set(wording.FIELDS), code
        for text in entry.values():
            names = re.findall(r"\{(\w+)\}", text)
            assert text.format(**dict.fromkeys(names, "x")), code


def test_variant_falls_back_to_the_code():
    assert W.variant("image-too-large", None, "message", format="PNG", megapixels=60, limit_mp=50)
    assert W.variant("dark", "no-such-variant", "message") == W.get("dark", "message")
