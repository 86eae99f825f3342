"""Languages in the page: ``?lang=zh|ru`` words a full photo flow with no English sentence,
the contract's data attributes stay codes, and the page's picker is remembered.

"No English sentence" is checked two ways on the visible text (``innerText``): no fragment
of an English catalogue entry with two or more English words appears, and no run of three
Latin-letter words separated by single spaces appears (proper names in the citations are
separated by punctuation, so they do not count).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from harness import classify, open_app, wait_for
from skinlens import wording

pytestmark = pytest.mark.browser

CODES = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
LATIN_RUN = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")
PROPER_NAMES = ("Data in Brief",)
"""Titles cited as they are published (a journal's name is not translated)."""


def english_fragments() -> set[str]:
    """Pieces of the English catalogue's sentences between placeholders, with two or more
    English words (a translation must not contain any of them)."""
    out = set()
    for entry in wording.load("en").entries.values():
        for text in entry.values():
            for piece in re.split(r"\{\w+\}", text):
                piece = piece.strip(" .,:;()·—-")
                if len(re.findall(r"[A-Za-z]{3,}", piece)) >= 2:
                    out.add(piece)
    return out


def english_in(text: str) -> list[str]:
    for name in PROPER_NAMES:
        text = text.replace(name, "")
    found = [f for f in english_fragments() if f in text]
    return found + LATIN_RUN.findall(text)


def _photo(ham_test_photo: Path | None, tmp_path: Path) -> Path:
    if ham_test_photo is not None:
        return ham_test_photo
    from imagegen import write_lesion_jpeg

    return write_lesion_jpeg(tmp_path / "lesion.jpg")


@pytest.fixture(scope="module")
def ham_test_photo() -> Path | None:
    from harness import DATA_DIR

    meta = DATA_DIR / "metadata.csv"
    if not meta.exists():
        return None
    import csv

    with meta.open() as f:
        for row in csv.DictReader(f):
            p = DATA_DIR / "images" / f"{row['image_id']}.jpg"
            if row["split"] == "test" and row["dx"] == "nv" and p.exists():
                return p
    return None


@pytest.mark.parametrize("lang,locale", [("zh", "zh-Hans"), ("ru", "ru")])
def test_a_photo_flow_shows_no_english(
    make_chrome, server, model_files, tmp_path, lang, locale, ham_test_photo
):
    b = make_chrome()
    open_app(b, server, f"lang={lang}")
    d = b.driver
    assert d.execute_script("return document.documentElement.lang") == locale
    r = classify(b, _photo(ham_test_photo, tmp_path))
    assert r["state"] in ("done", "rejected"), r
    if r["state"] == "done":
        assert r["label"] in CODES and r["priority"] in {"Urgent", "High", "Medium", "Low"}
    json.loads(d.execute_script("return document.getElementById('result').dataset.probs"))
    bad = classify(b, _empty(tmp_path))
    assert bad["reason"] == "empty-file"
    text = d.execute_script("return document.body.innerText")
    found = english_in(text)
    assert not found, found
    title = d.execute_script("return document.title")
    assert not english_in(title), title


def _empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    return p


def test_the_picker_switches_and_is_remembered(make_chrome, server, model_files):
    b = make_chrome()
    open_app(b, server)
    d = b.driver
    assert d.execute_script("return document.documentElement.lang") == "en"
    d.execute_script(
        "const s=document.getElementById('lang-select'); s.value='ru';"
        "s.dispatchEvent(new Event('change'));"
    )
    wait_for(
        lambda: (
            d.execute_script("return document.documentElement.lang") == "ru"
            and d.execute_script("return document.body.dataset.ready") == "true"
        ),
        180,
        "the page to reload in Russian",
    )
    open_app(b, server)  # no ?lang: the choice is remembered
    assert d.execute_script("return document.documentElement.lang") == "ru"
    heading = d.execute_script("return document.getElementById('upload-title').innerText")
    assert heading == wording.load("ru").text("upload.title")
    open_app(b, server, "lang=en")  # ?lang= forces one
    assert d.execute_script("return document.documentElement.lang") == "en"
