"""Batch screening and the speed test in headless Chromium (issue 10).

Run: ``python -m pytest tests/browser/test_page_batch.py -m browser``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from harness import READY_TIMEOUT, RESULT_TIMEOUT, open_app, policy_errors, wait_for
from imagegen import write_empty, write_lesion_jpeg, write_text_as_jpg, write_truncated_jpeg

pytestmark = pytest.mark.browser

RANK = ["Urgent", "High", "Medium", "Low", "None"]
BATCH_JS = """
const b = document.getElementById('batch');
const rows = [...document.querySelectorAll('#batch-results [data-file]')].map((r) => ({
  file: r.dataset.file, state: r.dataset.state, label: r.dataset.label,
  priority: r.dataset.priority, probs: r.dataset.probs, reason: r.dataset.reason || ''}));
return {state: b.dataset.state, count: +b.dataset.count, done: +b.dataset.done,
        ms: +b.dataset.ms, rows};
"""


def download(driver, link_id: str, folder: Path) -> Path:
    """Click a download link and wait for the file (the page's security policy keeps
    ``fetch`` to its own origin, so the file is read as a person would get it)."""
    folder.mkdir(exist_ok=True)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    link = driver.find_element("id", link_id)
    name = link.get_attribute("download")
    assert link.get_attribute("href").startswith("blob:")
    link.click()
    path = folder / name
    wait_for(path.exists, 30, f"download {name}")
    return path


def batch_state(driver) -> dict:
    return driver.execute_script(BATCH_JS)


def choose(driver, paths: list[Path]) -> None:
    driver.find_element("id", "file-input").send_keys("\n".join(str(p.resolve()) for p in paths))


def wait_batch(driver, states: tuple[str, ...], timeout: float = RESULT_TIMEOUT) -> dict:
    return wait_for(
        lambda: (s := batch_state(driver))["state"] in states and s,
        timeout,
        f"#batch[data-state] in {states}",
    )


@pytest.fixture
def mixed(tmp_path) -> dict[str, str]:
    """File name -> the reason it must be rejected with ("" for a photo to assess)."""
    files = {write_lesion_jpeg(tmp_path / f"lesion-{i}.jpg", seed=i): "" for i in range(3)} | {
        write_text_as_jpg(tmp_path / "=notes.jpg"): "not-an-image",
        write_empty(tmp_path / "empty.jpg"): "empty-file",
        write_truncated_jpeg(tmp_path / "<b>cut<i>.jpg"): "corrupt-image",
    }
    return {str(p): reason for p, reason in files.items()}


def test_mixed_batch_one_row_each_sorted_and_exported(app, mixed, tmp_path):
    d = app.driver
    choose(d, [Path(p) for p in mixed])
    s = wait_batch(d, ("done",))
    assert s["count"] == s["done"] == len(mixed) == len(s["rows"]), s
    assert s["ms"] > 0
    rows = {r["file"]: r for r in s["rows"]}
    assert set(rows) == {Path(p).name for p in mixed}  # names as text, never as HTML
    for path, reason in mixed.items():
        r = rows[Path(path).name]
        if reason:
            assert (r["state"], r["reason"], r["priority"]) == ("rejected", reason, "None"), r
        else:  # a drawn lesion: assessed, or refused by the model's own OOD check
            bad = {v for v in mixed.values() if v}
            assert r["state"] in ("done", "rejected") and r["reason"] not in bad, r
            assert len(json.loads(r["probs"])) == 7
    order = [RANK.index(r["priority"]) for r in s["rows"]]
    assert order == sorted(order), "Urgent first, cannot assess last"
    assert d.find_element("css selector", "#batch-results tbody tr td:nth-child(2)").text

    csv_file = download(d, "batch-csv", tmp_path / "downloads")
    parsed = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert [r["file"] for r in parsed] == [
        "'" + r["file"] if r["file"].startswith("=") else r["file"] for r in s["rows"]
    ]
    assert [r["priority"] for r in parsed] == [r["priority"] for r in s["rows"]]
    js = json.loads(download(d, "batch-json", tmp_path / "downloads").read_text(encoding="utf-8"))
    assert [r["file"] for r in js] == [r["file"] for r in s["rows"]]
    for rec, row in zip(js, s["rows"], strict=True):
        assert (rec["priority"], rec["label"], rec["reason"]) == (
            row["priority"],
            row["label"],
            row["reason"],
        )
        if rec["probs"] is not None:
            assert list(rec["probs"].values()) == pytest.approx(json.loads(row["probs"]))

    d.find_element("css selector", "#batch-results tbody tr").click()
    wait_for(
        lambda: d.find_element("id", "batch-detail").is_displayed(), 10, "the row's detail view"
    )
    assert d.find_element("id", "batch-detail-name").text == s["rows"][0]["file"]
    d.find_element("css selector", "#batch-filter option[value='None']").click()
    shown = [
        tr.get_attribute("data-priority")
        for tr in d.find_elements("css selector", "#batch-rows tr")
        if tr.is_displayed()
    ]
    assert shown and set(shown) == {"None"}
    d.find_element("css selector", "#batch-filter option[value='all']").click()


def test_cancel_stops_the_queue(app, tmp_path):
    d = app.driver
    photo = write_lesion_jpeg(tmp_path / "p.jpg", seed=3)
    copies = []
    for i in range(60):
        copy = tmp_path / f"copy-{i:02d}.jpg"
        copy.write_bytes(photo.read_bytes())
        copies.append(copy)
    choose(d, copies)
    wait_for(lambda: batch_state(d)["done"] >= 1, RESULT_TIMEOUT, "the first batch row")
    d.find_element("id", "batch-cancel").click()
    s = wait_batch(d, ("cancelled",))
    assert s["done"] < s["count"] == 60 and len(s["rows"]) == s["done"], s
    after = batch_state(d)
    assert after["done"] == s["done"] and after["state"] == "cancelled"
    assert d.find_element("id", "batch-csv").is_displayed()


def test_speed_test_draws_both_plots_one_line_per_backend(make_chrome, server, model_files):
    b = make_chrome()
    open_app(b, server, "view=speed&backends=wasm,cpu")
    d = b.driver
    wait_for(
        lambda: d.execute_script("return document.getElementById('speed').dataset.state") == "done",
        READY_TIMEOUT,
        "#speed[data-state=done]",
    )
    results = json.loads(d.find_element("id", "speed").get_attribute("data-results"))
    backends = sorted({r["backend"] for r in results})
    assert backends == ["cpu", "wasm"], results
    wasm = [r["batch"] for r in results if r["backend"] == "wasm"]
    assert wasm == [1, 2, 4, 8, 16, 32]
    for r in results:
        assert r["ms_per_image"] == pytest.approx(r["ms_per_batch"] / r["batch"], rel=0.01)
    plots = d.find_elements("css selector", "#speed svg")
    assert len(plots) == 2
    for svg in plots:
        lines = svg.find_elements("css selector", "path.series")
        assert sorted(p.get_attribute("data-backend") for p in lines) == backends
        assert "ms" in svg.text and "Batch size" in svg.text
    assert not d.find_element("id", "live-section").is_displayed()
    assert d.find_element("id", "speed-json").is_displayed()
    assert float(d.find_element("id", "speed-decode_12mp_ms").text) > 0
    stored = d.execute_script("return JSON.parse(localStorage.getItem('skinlens.speed.best'))")
    assert set(stored) == {"cpu", "wasm"}
    assert not policy_errors(b)  # the plots keep to the security policy (issue 12)


FORMULA_NAMES = ('=HYPERLINK("http:evil.test","open").jpg', "+1.jpg", "-2.jpg", "@x.jpg")


def test_csv_of_formula_file_names_opens_as_plain_text(app, tmp_path):
    """Issue 12: a spreadsheet runs a cell that starts with = + - @ (or a tab, a CR) as a
    formula; in the exported CSV each such file name is text (a leading apostrophe)."""
    photos = [write_lesion_jpeg(tmp_path / n, seed=i) for i, n in enumerate(FORMULA_NAMES)]
    d = app.driver
    choose(d, photos)
    assert wait_batch(d, ("done",))["count"] == len(FORMULA_NAMES)
    text = download(d, "batch-csv", tmp_path / "downloads").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert sorted(r[0] for r in rows[1:]) == sorted("'" + n for n in FORMULA_NAMES)
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
