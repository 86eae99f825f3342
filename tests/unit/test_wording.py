"""The wording catalogue: every code the app can emit has the words it needs."""

from __future__ import annotations

import re

import pytest
from skinlens import errors, quality, triage, wording
from skinlens.decode import NON_IMAGES, UNSUPPORTED_IMAGES
from skinlens.live import _CAMERA_ERRORS
from skinlens.metadata import PRIORITY_ORDER

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


# ------------------------------------------------------------------ languages
CATALOGUES = {lang: wording.load(lang) for lang in wording.LANGUAGES}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_a_catalogue_file_per_language_and_no_other():
    files = {p.name for p in wording.path("en").parent.glob("wording_*.json")}
    assert files == {f"wording_{lang}.json" for lang in wording.LANGUAGES}


@pytest.mark.parametrize("lang", [lang for lang in wording.LANGUAGES if lang != "en"])
def test_every_key_is_translated_with_the_same_placeholders(lang):
    en, other = CATALOGUES["en"].entries, CATALOGUES[lang].entries
    assert set(other) == set(en), set(other) ^ set(en)
    for code, entry in en.items():
        assert set(other[code]) == set(entry), (lang, code)
        for field, text in entry.items():
            got = other[code][field]
            assert got.strip(), (lang, code, field)
            assert sorted(PLACEHOLDER.findall(got)) == sorted(PLACEHOLDER.findall(text)), (
                lang,
                code,
                field,
            )
            if len(re.findall(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", text))) >= 2:
                assert got != text, f"{lang}: {code}.{field} is still English"


def test_english_class_names_and_advice_are_the_models(info):
    """The English catalogue repeats the metadata's class names and recommendations (the
    model's own words); they must not drift apart."""
    en = CATALOGUES["en"]
    for c in info.classes:
        assert en.class_name(c.code) == c.name
    for level, text in info.recommendations.items():
        assert en.recommendation(level) == text


@pytest.mark.parametrize("lang", wording.LANGUAGES)
def test_every_language_has_every_class_and_level(lang, info):
    w = CATALOGUES[lang]
    assert all(w.class_name(c.code) for c in info.classes)
    assert all(w.recommendation(advice) for advice in info.recommendations)
    assert all(w.priority(level) for level in (*PRIORITY_ORDER, "None"))
    assert all(w.recommendation(r["advice"]) for r in info.escalation_lower.values())


def test_every_static_page_key_exists():
    """Keys named by the page's markup (``data-i18n``, ``data-i18n-attr``) and by the JS."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "site"
    html = (root / "index.html").read_text()
    keys = set(re.findall(r'data-i18n="([\w.-]+)"', html))
    keys |= set(
        re.findall(r"=([\w-]+\.[\w.-]+)", " ".join(re.findall(r'data-i18n-attr="([^"]+)"', html)))
    )
    for js in ("app.js", "pwa.js", "model-worker.js"):
        keys |= set(
            re.findall(r'"((?:progress|pwa|engine|unit|page)\.[\w-]+)"', (root / js).read_text())
        )
    assert keys and keys <= set(CATALOGUES["en"].entries), keys - set(CATALOGUES["en"].entries)
