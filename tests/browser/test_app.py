"""The photo-screening page in headless Chromium: boot, backends, classification,
bad inputs, privacy (no outside requests), no tensor leaks.

Run: ``python -m pytest tests/browser/test_app.py -m browser``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from urllib.parse import urlsplit

import pytest
from harness import RESULT_TIMEOUT, classify, console_errors, open_app, result_attrs
from imagegen import (
    lesion_like,
    write_big_jpeg,
    write_empty,
    write_lesion_jpeg,
    write_text_as_jpg,
    write_truncated_jpeg,
)
from PIL import Image, ImageFilter

import serve

pytestmark = pytest.mark.browser

CODES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
PRIORITIES = {"Urgent", "High", "Medium", "Low", "None"}


def assert_valid_probs(probs):
    assert isinstance(probs, list) and len(probs) == 7, probs
    assert all(0.0 <= p <= 1.0 for p in probs), probs
    assert math.isclose(sum(probs), 1.0, abs_tol=1e-3), sum(probs)


def assert_classified(r):
    """Inference ran: either a verdict, or a post-inference out-of-distribution rejection."""
    assert r["state"] in ("done", "rejected"), r
    assert_valid_probs(r["probs"])
    assert float(r["ms"]) > 0
    if r["state"] == "done":
        assert r["label"] in CODES
        assert r["priority"] in PRIORITIES - {"None"}
        assert r["label"] == CODES[max(range(7), key=r["probs"].__getitem__)]
    else:
        assert r["priority"] == "None" and r["reason"], r


# ----------------------------------------------------------------------------- boot
def test_ready_with_default_backend(app):
    d = app.driver
    body = d.execute_script(
        "return {ready: document.body.dataset.ready, backend: document.body.dataset.backend,"
        " info: JSON.parse(JSON.stringify(skinlens.info)),"
        " note: document.getElementById('backend-note').innerText,"
        " pill: document.getElementById('backend-name').innerText,"
        " loadingShown: getComputedStyle(document.getElementById('loading')).display !== 'none'}"
    )
    assert body["ready"] == "true"
    # headless Chromium: no WebGPU adapter and WebGL only in software -> WASM by default
    assert body["backend"] == "wasm", body
    assert body["pill"] == "WASM"
    assert "WebGPU not available" in body["note"]
    assert body["info"]["crossOriginIsolated"] is True  # COOP/COEP -> WASM threads
    assert body["info"]["wasmThreads"] is True
    # inference runs in a worker whose thread pool has every core (tfjs would take half)
    assert body["info"]["worker"] is True
    assert body["info"]["threads"] == body["info"]["cores"], body["info"]
    assert not body["loadingShown"]
    assert d.find_element("id", "result").get_attribute("data-state") in (
        "idle",
        "done",
        "rejected",
    )


def test_page_has_disclaimer_privacy_and_credits(app):
    text = app.driver.find_element("tag name", "body").text
    assert "never diagnoses" in text
    assert "see a doctor" in text.lower()
    assert "stay on this device" in text.lower() or "nothing is uploaded" in text.lower()
    assert "HAM10000" in text and "CC BY-NC-SA 4.0" in text
    inp = app.driver.find_element("id", "file-input")
    assert inp.get_attribute("type") == "file"
    assert inp.get_attribute("multiple") is not None
    assert inp.get_attribute("accept") == "image/*,.dcm,application/dicom"  # photos, DICOM
    # markup hooks the live-camera feature builds on
    assert app.driver.find_elements("css selector", "#live-section #camera-start")
    assert app.driver.find_elements("css selector", "#live-section #live-mount")


@pytest.mark.parametrize("backend", ["wasm", "cpu", "webgl"])
def test_forced_backend(chrome, server, model_files, backend):
    state = open_app(chrome, server, f"backend={backend}")
    assert state["backend"] == backend, state
    assert not state["note"], state  # the forced backend worked: nothing to explain


def test_forced_webgpu_without_webgpu_falls_back_and_says_so(chrome, server, model_files):
    state = open_app(chrome, server, "backend=webgpu")
    assert state["backend"] == "wasm", state
    note = chrome.driver.find_element("id", "backend-note")
    assert note.is_displayed()
    assert "WebGPU not available in this browser" in note.text
    assert "using WASM" in note.text


# ----------------------------------------------------------------------------- photos
def test_generated_lesion_photo_is_classified(app, tmp_path):
    """Works without the dataset: a generated, sharp, well-lit lesion-like photo."""
    r = classify(app, write_lesion_jpeg(tmp_path / "generated-lesion.jpg"))
    assert r["file"] == "generated-lesion.jpg"
    assert r["state"] in ("done", "rejected"), r
    if r["state"] == "rejected":
        # A synthetic picture may be refused by a gate; that must still be a clean verdict.
        assert r["priority"] == "None" and r["reason"], r
        assert r["reason"] not in ("internal-error", "model-error", "corrupt-image"), r
    else:
        assert_classified(r)
        assert "What to do" in r["text"]
        assert float(r["prep-ms"]) > 0


def _test_split_photos(ham_images, n=3):
    """A few test-split images of different classes (first images of the folder without
    metadata.csv)."""
    meta = ham_images.parent / "metadata.csv"
    picks: dict[str, object] = {}
    if meta.exists():
        import csv

        with meta.open() as f:
            for row in csv.DictReader(f):
                p = ham_images / f"{row['image_id']}.jpg"
                if row.get("split") == "test" and row["dx"] not in picks and p.exists():
                    picks[row["dx"]] = p
    photos = list(picks.values())[:n]
    return photos or sorted(ham_images.glob("*.jpg"))[:n]


def test_dataset_photos_are_classified(app, ham_images):
    done = 0
    for photo in _test_split_photos(ham_images):
        r = classify(app, photo)
        assert r["file"] == photo.name
        if r["state"] == "rejected":  # a gate may refuse a real photo now and then (~1%)
            assert r["reason"] not in ("internal-error", "model-error", "corrupt-image"), r
            continue
        done += 1
        assert_classified(r)
        bars = app.driver.find_elements("css selector", "#result .bar-row")
        assert len(bars) == 7
        badge = app.driver.find_element("css selector", "#result .result-head .badge")
        assert badge.text  # priority as text, not colour alone
        assert badge.get_attribute("data-priority") == r["priority"]
    assert done >= 2, "most real dermoscopy photos must be assessed"


# ----------------------------------------------------------------------------- bad input
BAD = {
    "text-renamed.jpg": (write_text_as_jpg, "not-an-image", "not an image"),
    "empty.jpg": (write_empty, "empty-file", "empty"),
    "truncated.jpg": (write_truncated_jpeg, "corrupt-image", "damaged or incomplete"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_file_gives_its_message_and_page_keeps_working(app, tmp_path, name):
    make, code, words = BAD[name]
    r = classify(app, make(tmp_path / name))
    assert r["state"] == "rejected", r
    assert r["priority"] == "None"
    assert r["reason"] == code, r
    assert words in r["text"].lower(), r["text"]
    assert "Cannot assess" in r["text"]
    assert r["probs"] is None and r["label"] == ""
    # the page keeps working
    ok = classify(app, write_lesion_jpeg(tmp_path / "after.jpg", seed=2))
    assert ok["state"] in ("done", "rejected") and ok["file"] == "after.jpg"
    assert ok["reason"] != "internal-error"


def test_50_megapixel_photo_is_downscaled_safely(app, tmp_path):
    big = write_big_jpeg(tmp_path / "fifty-mp.jpg", 50.0)
    r = classify(app, big)
    assert r["state"] in ("done", "rejected"), r
    assert r["reason"] not in ("internal-error", "model-error", "read-error"), r
    # the person is told what happened to their photo
    assert "50 MP" in r["text"] and "reduced to" in r["text"], r["text"]
    assert float(r["prep-ms"]) < 5000
    ok = classify(app, write_lesion_jpeg(tmp_path / "after-big.jpg", seed=4))
    assert ok["file"] == "after-big.jpg" and ok["state"] in ("done", "rejected")


def test_no_tensor_leak(app, tmp_path):
    photo = write_lesion_jpeg(tmp_path / "leak.jpg", seed=5)
    classify(app, photo)
    tensors = (
        "const done = arguments[arguments.length - 1];"
        "skinlens.model.memory().then((m) => done(m.numTensors));"
    )
    n0 = app.driver.execute_async_script(tensors)
    for _ in range(3):
        classify(app, photo)
    n1 = app.driver.execute_async_script(tensors)
    assert n1 == n0, (n0, n1)


def test_no_console_errors(app):
    errors = [e for e in console_errors(app) if "favicon" not in e]
    assert not errors, errors


# ----------------------------------------------------------------------------- privacy
def test_nothing_is_requested_from_other_hosts(app, server, tmp_path):
    """Everything the page fetched came from our own server (resource timing + CDP network
    log of the page and its workers), and the server saw the app's own files."""
    classify(app, write_lesion_jpeg(tmp_path / "privacy.jpg", seed=6))
    d = app.driver
    own = urlsplit(server.url).netloc
    resources = d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(performance.getEntriesByType('navigation').map(e => e.name))"
    )
    assert resources
    foreign = [
        u
        for u in resources
        if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != own
    ]
    assert not foreign, foreign
    app.pump_logs()
    net = [u for u in app.network if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    assert net, "no network events captured"
    foreign = [u for u in net if urlsplit(u).netloc != own]
    assert not foreign, foreign
    log = server.requests()
    paths = " ".join(log)
    for must in ("/index.html", "/app.js", "/vendor/pyodide/pyodide.asm.wasm", "/models/"):
        assert must in paths or (must == "/index.html" and "GET / " in paths), must
    assert all(line.split()[1].startswith("/") for line in log)


def test_result_attributes_are_json(app, tmp_path):
    classify(app, write_lesion_jpeg(tmp_path / "json.jpg", seed=8))
    raw = app.driver.find_element("id", "result").get_attribute("data-probs")
    if raw is not None:
        assert len(json.loads(raw)) == 7
    r = result_attrs(app.driver)
    assert r["seq"] and int(r["seq"]) >= 1


# ----------------------------------------------------------------------------- gates, failures
def _variant(tmp_path, name, fn):
    path = tmp_path / name
    fn(lesion_like(800, 600, seed=9)).save(path, "JPEG", quality=92)
    return path


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [("dark.jpg", "dark", "too dark"), ("blurred.jpg", "blurry", "blurry")],
)
def test_quality_gates_reject_bad_photos(app, tmp_path, name, reason, words):
    edits = {
        "dark.jpg": lambda im: Image.eval(im, lambda v: v // 8),
        "blurred.jpg": lambda im: im.filter(ImageFilter.GaussianBlur(18)),
    }
    r = classify(app, _variant(tmp_path, name, edits[name]))
    assert r["state"] == "rejected", r
    assert r["reason"] == reason, r
    assert r["priority"] == "None"
    assert words in r["text"].lower(), r["text"]
    assert r["probs"] is None and r["ms"] is None  # rejected before inference


DROP_JS = """
fetch('models/skinlens-lite0/golden/lesion_like.png').then(r => r.blob()).then(b => {
  const dt = new DataTransfer();
  dt.items.add(new File([b], 'dropped.png', {type: 'image/png'}));
  const zone = document.getElementById('drop-zone');
  for (const type of ['dragenter', 'dragover', 'drop'])
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
});
"""


def test_drag_and_drop(app):
    d = app.driver
    before = int(d.execute_script("return +(document.getElementById('result').dataset.seq||0)"))
    d.execute_script(DROP_JS)
    deadline = time.monotonic() + RESULT_TIMEOUT
    r = result_attrs(d)
    while time.monotonic() < deadline:
        r = result_attrs(d)
        if int(r["seq"] or 0) > before and r["state"] in ("done", "rejected"):
            break
        time.sleep(0.1)
    assert r["file"] == "dropped.png", r
    assert r["state"] in ("done", "rejected") and r["reason"] != "internal-error", r
    assert "dragover" not in d.find_element("id", "drop-zone").get_attribute("class")


def test_model_failure_gives_a_message_and_page_recovers(app, tmp_path):
    d = app.driver
    d.execute_script(
        "window.__predict = skinlens.model.predict;"
        "skinlens.model.predict = () => Promise.reject(new Error('simulated GPU loss'));"
    )
    try:
        r = classify(app, write_lesion_jpeg(tmp_path / "fail.jpg", seed=10))
    finally:
        d.execute_script("skinlens.model.predict = window.__predict;")
    assert r["state"] == "rejected" and r["reason"] == "model-error", r
    assert "simulated GPU loss" in r["text"]
    assert r["priority"] == "None"
    ok = classify(app, write_lesion_jpeg(tmp_path / "recovered.jpg", seed=10))
    assert ok["file"] == "recovered.jpg" and ok["reason"] != "model-error", ok


def test_model_that_cannot_load_is_reported(make_chrome, dist_dir, model_files, tmp_path):
    """model.json missing (the inference worker gets a 404): the page says so instead of
    hanging (never data-ready)."""
    broken = tmp_path / "dist"
    shutil.copytree(dist_dir, broken, ignore=shutil.ignore_patterns("model.json", "sw.js"))
    b = make_chrome()
    d = b.driver
    with serve.running_server(broken, port=0) as srv:
        d.get(srv.url)
        err = wait_for_error(d, 120)
        _check_load_failure_is_shown(d, err)


def wait_for_error(d, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    err = None
    while time.monotonic() < deadline and not err:
        err = d.execute_script("return document.body && document.body.dataset.error")
        time.sleep(0.25)
    return err


def _check_load_failure_is_shown(d, err: str | None) -> None:
    assert err and "model could not be started" in err, err
    box = d.find_element("id", "app-error")
    assert box.is_displayed() and "Reload the page" in box.text
    assert d.execute_script("return document.body.dataset.ready") == "false"
    stage = d.find_element("css selector", "#progress-list li[data-stage=model]")
    assert stage.get_attribute("data-state") == "error"
