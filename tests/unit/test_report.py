"""The doctor's summary: escaped, no inline styles or scripts, well-formed, photos as data
URLs in date order, the body map, what changed and the disclaimer, in every language."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from skinlens import change, history, report, wording
from skinlens.triage import decide
from synthetic import BLUE_GREY, drawn_lesion

VOID = {"img", "br", "meta", "input"}


class Tags(HTMLParser):
    """Checks that every element closes in order; collects tags and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, tag

    def handle_data(self, data):
        self.text.append(data)


def parsed(markup: str) -> Tags:
    t = Tags()
    t.feed(markup)
    t.close()
    assert t.stack == []
    return t


@pytest.fixture(scope="module")
def story(info):
    lesion = history.make_lesion("<b>left</b> & shoulder", "back-upper", "2026-01-01T00:00:00Z")
    checks = []
    for date, crop in (
        ("2026-06-01T00:00:00Z", drawn_lesion(radius=48.0, patch=BLUE_GREY)),
        ("2026-01-01T00:00:00Z", drawn_lesion()),
    ):
        a = decide([0.01, 0.01, 0.01, 0.01, 0.02, 0.93, 0.01], info)
        result = history.result_of(a, info)
        result["photo_type"] = "dermoscopic"
        checks.append(history.make_check(lesion["id"], date, crop, result, {}))
    checks[0]["photo"] = "/9j/AAAA"  # a kept photo (JPEG, base64)
    status = history.lesion_status(checks, info)
    return lesion, checks, status


@pytest.mark.parametrize("lang", wording.LANGUAGES)
def test_summary_is_well_formed_escaped_and_complete(story, lang):
    lesion, checks, status = story
    w = wording.load(lang)
    markup = report.summary_html(
        [lesion],
        {lesion["id"]: checks},
        {lesion["id"]: status.changes},
        w,
        statuses={lesion["id"]: status},
        map_svg='<svg class="body-map"><rect data-region="back-upper"></rect></svg>',
        made="2026-12-06",
    )
    assert "style=" not in markup and "<script" not in markup
    assert "<b>left</b>" not in markup and "&lt;b&gt;left&lt;/b&gt; &amp; shoulder" in markup
    tags = parsed(markup)
    rows = [a["data-check"] for t, a in tags.seen if t == "tr" and "data-check" in a]
    assert rows == [checks[1]["id"], checks[0]["id"]]  # oldest first
    srcs = [a["src"] for t, a in tags.seen if t == "img"]
    assert srcs[0].startswith("data:image/png;base64,iVBOR")  # no photo kept: the crop
    assert srcs[1] == "data:image/jpeg;base64,/9j/AAAA"
    assert any(t == "rect" and a.get("data-region") == "back-upper" for t, a in tags.seen)
    measures = [a["data-measure"] for t, a in tags.seen if "data-measure" in a]
    assert measures == [*change.MEASURE_NAMES, "mel"]
    text = "".join(tags.text)
    assert w.text("disclaimer.see-doctor") in text and w.text("disclaimer.title") in text
    assert w.text("change.reason.grew") in text and w.text("change.reason.new-colour") in text
    assert status.priority == "Medium"  # Low, raised one level by the change
    badges = [a["data-priority"] for t, a in tags.seen if "data-priority" in a]
    assert badges == ["Medium", "Low", "Low"]
    assert all(c["result"]["model"] in text for c in checks)  # the model of every figure


def test_a_single_check_says_there_is_nothing_to_compare(story):
    lesion, checks, _ = story
    w = wording.load("en")
    markup = report.summary_html([lesion], {lesion["id"]: checks[:1]}, {}, w, made="x")
    assert w.text("report.single") in markup
    assert "report-measures" not in markup
    parsed(markup)


def test_region_words_come_from_the_caller(story):
    lesion, checks, _ = story
    w = wording.load("en")
    markup = report.summary_html(
        [lesion], {lesion["id"]: checks}, {}, w, region_text=lambda code: f"Upper back ({code})"
    )
    assert w.text("report.where", region="Upper back (back-upper)") in markup
