"""My lesions (issue 16) in headless Chromium: save, reload, offline, compare, backup, delete,
quota, schema migration.

One browser and one private server for the whole story (the server is stopped half-way to go
offline: the service worker serves the app from then on), so the steps run in order inside
two tests that share the module's browser:

1. ``test_history_story``: two checks of one lesion saved from two generated photos; reload
   and offline reload keep the same ``data-*``; compare; export; refused imports (tampered,
   truncated, not a backup, wrong passphrase) change nothing; delete everything (nothing left
   in IndexedDB); import with the right passphrase brings every check back with byte-identical
   crops; a full disk (IndexedDB's QuotaExceededError, raised in the page by the put of the
   third check's picture) refuses that check with ``quota`` and loses nothing; a reminder
   (``.ics``) and the printed summary on the way; a batch row's detail saves the same crop
   as the single photo did; one check, then one lesion with its checks, deleted.
2. ``test_previous_schema_opens_and_migrates``: records written by schema 1 with raw
   IndexedDB calls appear in the view and are stored migrated.

Run: ``python -m pytest tests/browser/test_page_history.py -m browser``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import (
    READY_TIMEOUT,
    RESULT_TIMEOUT,
    Browser,
    LoggedServer,
    click_event,
    console_errors,
    open_app,
    policy_errors,
    save_check,
    wait_for,
)
from imagegen import write_lesion_jpeg
from PIL import Image

import serve

pytestmark = pytest.mark.browser

SW_TIMEOUT = 300.0
"""The service worker's first precache on a loaded 2-core machine (polled)."""

DUMP_JS = """
const done = arguments[arguments.length - 1];
indexedDB.databases().then((dbs) => {
if (!dbs.some((x) => x.name === 'skinlens')) { done({}); return; }  // never create it here
const req = indexedDB.open('skinlens');
req.onsuccess = () => {
  const db = req.result;
  const names = [...db.objectStoreNames];
  if (!names.length) { db.close(); done({}); return; }
  const tx = db.transaction(names, 'readonly');
  const out = {};
  for (const n of names) {
    const r = tx.objectStore(n).getAll();
    r.onsuccess = () => (out[n] = r.result);
  }
  tx.oncomplete = () => { db.close(); done(out); };
};
req.onerror = () => done({error: String(req.error)});
});
"""

LESIONS_JS = """
return [...document.querySelectorAll('#lesions [data-lesion]')].map((li) => ({
  lesion: li.dataset.lesion, name: li.dataset.name, region: li.dataset.region,
  checks: li.dataset.checks, priority: li.dataset.priority, changed: li.dataset.changed}));
"""

TIMELINE_JS = """
return [...document.querySelectorAll('#timeline [data-check]')].map((li) => ({
  check: li.dataset.check, date: li.dataset.date, priority: li.dataset.priority,
  label: li.dataset.label, probs: li.dataset.probs, model: li.dataset.model,
  thumb: !!li.querySelector('img[src^="data:image/png"]')}));
"""


def dump(driver) -> dict[str, list[dict[str, Any]]]:
    """Every store of the history's IndexedDB database, read with raw IndexedDB calls."""
    return driver.execute_async_script(DUMP_JS)


def crops(driver) -> dict[str, str]:
    return {r["id"]: r["crop"] for r in dump(driver).get("images", [])}


def attr(driver, selector: str, name: str) -> str | None:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])",
        selector,
        name,
    )


def wait_attr(
    driver,
    selector: str,
    name: str,
    values: tuple[str, ...],
    what: str,
    timeout: float = RESULT_TIMEOUT,
) -> str:
    return wait_for(
        lambda: (v := attr(driver, selector, name)) in values and v,
        timeout,
        f"{what} ({selector}[{name}] in {values})",
    )


def classify(driver, path: Path, seq: int) -> dict[str, str]:
    driver.find_element("id", "file-input").send_keys(str(path))
    wait_for(
        lambda: driver.execute_script(
            "const r = document.getElementById('result');"
            "return r.dataset.seq === arguments[0]"
            " && ['done', 'rejected'].includes(r.dataset.state)",
            str(seq),
        ),
        RESULT_TIMEOUT,
        f"#result for {path.name}",
    )
    res = driver.execute_script(
        "return Object.assign({}, document.getElementById('result').dataset)"
    )
    assert res["state"] == "done", res
    return res


def open_history(browser: Browser, url: str) -> None:
    """``?view=history`` until its list is on screen (or fail with the page's words)."""
    d = browser.driver
    d.get(url + "?view=history")
    state = wait_for(
        lambda: d.execute_script(
            "const v = document.getElementById('history-view');"
            "const e = document.body.dataset.error;"
            "return e ? 'page error: ' + e : (v.dataset.state !== 'loading' && v.dataset.state)"
        ),
        READY_TIMEOUT,
        "the history view",
    )
    if state != "ready":
        tail = "\n".join(console_errors(browser)[-10:])
        raise AssertionError(f"history view: {state}\n{tail}")


def show_lesion(driver, lesion_id: str) -> list[dict[str, Any]]:
    click_event(driver, f'#lesions [data-lesion="{lesion_id}"]')
    wait_for(
        lambda: (
            attr(driver, "#lesion-detail", "data-lesion") == lesion_id
            and not driver.execute_script("return document.getElementById('lesion-detail').hidden")
        ),
        RESULT_TIMEOUT,
        "the lesion's timeline",
    )
    return driver.execute_script(TIMELINE_JS)


def view_state(browser: Browser, url: str, lesion_id: str) -> tuple[list[dict], list[dict]]:
    open_history(browser, url)
    d = browser.driver
    return d.execute_script(LESIONS_JS), show_lesion(d, lesion_id)


def backup_import(driver, path: Path, passphrase: str) -> dict[str, str | None]:
    box = driver.find_element("id", "backup-passphrase")
    box.clear()
    box.send_keys(passphrase)
    driver.execute_script("document.getElementById('backup-status').dataset.state = 'idle'")
    driver.find_element("id", "backup-file").send_keys(str(path))
    wait_attr(driver, "#backup-status", "data-state", ("done", "error"), f"import of {path.name}")
    return driver.execute_script(
        "const s = document.getElementById('backup-status');"
        "return {state: s.dataset.state, reason: s.dataset.reason || null,"
        " count: s.dataset.count || null, text: s.textContent}"
    )


@pytest.fixture(scope="module")
def story(dist_dir, model_files, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A private server (stoppable: offline) and browser for this module."""
    tmp = tmp_path_factory.mktemp("history")
    srv = serve.make_server(dist_dir, "127.0.0.1", 0, log=tmp / "requests.log").start()
    b = Browser()
    downloads = tmp / "downloads"
    downloads.mkdir()
    b.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    state = {"srv": srv, "browser": b, "tmp": tmp, "downloads": downloads, "stopped": False}
    try:
        yield state
    finally:
        b.close()
        if not state["stopped"]:
            srv.stop()


def test_history_story(story):
    b: Browser = story["browser"]
    d = b.driver
    srv, tmp = story["srv"], story["tmp"]
    url = srv.url
    open_app(b, LoggedServer(srv, tmp / "requests.log"))

    # 1. two checks of one lesion, from two different photos
    photos = [write_lesion_jpeg(tmp / f"mole-{i}.jpg", seed=i) for i in (1, 2)]
    classify(d, photos[0], 1)
    assert save_check(d, name="Mole <left> shoulder", region="back-left-upper-arm") == "saved"
    lesion_id = attr(d, "#history-save-status", "data-lesion")
    assert lesion_id
    classify(d, photos[1], 2)
    assert save_check(d, lesion=lesion_id) == "saved"

    # 2. the history view, after a reload
    lesions, timeline = view_state(b, url, lesion_id)
    assert len(lesions) == 1 and lesions[0]["name"] == "Mole <left> shoulder", lesions
    assert lesions[0]["region"] == "back-left-upper-arm" and lesions[0]["checks"] == "2"
    assert lesions[0]["priority"] in ("Urgent", "High", "Medium", "Low"), lesions
    assert len(timeline) == 2 and all(t["thumb"] for t in timeline), timeline
    for t in timeline:
        assert t["date"][:4].isdigit() and "T" in t["date"], t  # ISO
        assert len(json.loads(t["probs"])) == 7 and t["label"] and t["model"], t
    assert (
        d.execute_script("return document.querySelectorAll('#lesions-map circle.dot').length") == 1
    )

    # 3. offline: the service worker has the app; stop the server and reload
    wait_for(
        lambda: d.execute_script(
            "const s = document.getElementById('pwa-status');"
            "return !!navigator.serviceWorker.controller"
            " && !!s && s.dataset.state === 'offline-ready'"
        ),
        SW_TIMEOUT,
        "the service worker's precache (offline-ready)",
    )
    srv.stop()
    story["stopped"] = True
    assert view_state(b, url, lesion_id) == (lesions, timeline)

    # 4. compare the two checks
    for pick in d.find_elements("css selector", "#timeline input.compare-pick"):
        pick.click()
    d.find_element("css selector", "button#compare").click()
    wait_attr(d, "#compare", "data-state", ("done",), "the comparison")
    changes = json.loads(attr(d, "#compare", "data-changes"))
    assert set(changes["measures"]) == {"area_share", "asymmetry", "border_irregularity", "colours"}
    assert changes["measures"]["area_share"]["framing_dependent"] is True
    assert changes["measures"]["asymmetry"]["framing_dependent"] is False
    assert len(changes["probs"]) == 7 and isinstance(changes["escalate"], bool)
    moved = [m for m in changes["measures"].values() if m["delta"] not in (None, 0)]
    assert moved, changes  # two different photos: some measure changed
    assert len(d.find_elements("css selector", "#compare .compare-overlay img")) == 2

    # 5. export an encrypted backup
    before = dump(d)
    before_crops = crops(d)
    assert len(before_crops) == 2 and len(before["checks"]) == 2
    d.find_element("id", "backup-passphrase").send_keys("correct horse battery")
    d.find_element("id", "backup-export").click()
    wait_attr(d, "#backup-status", "data-state", ("exported", "error"), "the export")
    assert attr(d, "#backup-status", "data-state") == "exported"
    files = wait_for(
        lambda: [p for p in story["downloads"].glob("*.skinlens") if p.stat().st_size > 0],
        60,
        "the .skinlens download",
    )
    good = files[0]
    data = good.read_bytes()
    assert (
        b"skinlens" not in data[200:]
        and before_crops[next(iter(before_crops))][:40].encode() not in data
    )

    # 6. refused imports change nothing: a tampered byte, a truncated file, not a backup
    bad = {
        "tampered": bytearray(data),
        "truncated": data[: len(data) * 2 // 3],
        "not-a-backup": b"%PDF-1.7 this is not a backup\n" * 40,
    }
    bad["tampered"][len(data) // 2] ^= 0x01
    for reason, content in bad.items():
        path = tmp / f"{reason}.skinlens"
        path.write_bytes(bytes(content))
        got = backup_import(d, path, "correct horse battery")
        assert got["state"] == "error" and got["reason"] == reason, got
        assert got["text"], got
        assert dump(d) == before

    # 7. delete everything: nothing left in IndexedDB or the caches
    d.find_element("id", "delete-all").click()
    d.find_element("id", "delete-confirm").click()
    wait_attr(d, "#delete-status", "data-state", ("done",), "delete everything")
    assert d.execute_script(LESIONS_JS) == []
    left = dump(d)
    assert all(not v for v in left.values()), left
    keys = d.execute_async_script("arguments[arguments.length - 1](caches.keys())")
    assert all(k.startswith("skinlens:") for k in keys), keys  # only the app's own files

    # 8. a wrong passphrase: a clear error, nothing changed; then the right one
    got = backup_import(d, good, "wrong horse")
    assert got == {**got, "state": "error", "reason": "wrong-passphrase"} and got["text"], got
    assert all(not v for v in dump(d).values())
    got = backup_import(d, good, "correct horse battery")
    assert got["state"] == "done" and got["count"] == "2", got
    assert crops(d) == before_crops  # byte-identical crops
    after = dump(d)
    assert sorted(json.dumps(c, sort_keys=True) for c in after["checks"]) == sorted(
        json.dumps(c, sort_keys=True) for c in before["checks"]
    )
    assert view_state(b, url, lesion_id) == (lesions, timeline)

    # 9. a reminder: an .ics file made in the page and the next due date on the lesion;
    # the summary for the doctor (the print dialog itself stubbed: headless)
    d.execute_script("document.getElementById('reminder-months').value = '3'")
    d.find_element("id", "reminder-ics").click()
    ics = wait_for(
        lambda: [p for p in story["downloads"].glob("*.ics") if p.stat().st_size > 0],
        60,
        "the .ics download",
    )[0].read_text()
    assert ics.startswith("BEGIN:VCALENDAR") and "DTSTART;VALUE=DATE:" in ics
    due = wait_for(
        lambda: [x["next_due"] for x in dump(d)["lesions"] if x.get("next_due")], 30, "due date"
    )[0]
    assert due.replace("-", "") in ics
    assert due in d.find_element("id", "lesion-facts").text
    d.execute_script("window.print = () => { window.__printed = true; }")
    d.find_element("id", "print-report").click()
    wait_for(lambda: d.execute_script("return window.__printed === true"), 60, "print")
    assert attr(d, "#print-area", "data-lesions") == "1"
    assert d.execute_script("return document.querySelectorAll('#print-area img').length") >= 2
    assert "Mole <left> shoulder" in d.execute_script(
        "return document.getElementById('print-area').textContent"
    )

    # 10. a full disk: the third check is refused with "quota", the first two stay. The
    # browser's refusal is simulated where IndexedDB raises it: the put of the check's
    # picture (the last write of the save's transaction) throws QuotaExceededError, so the
    # lesion and check records put before it in the same transaction must roll back too.
    open_app(b, LoggedServer(srv, tmp / "requests.log"))
    classify(d, photos[1], 1)
    kept = dump(d)
    d.execute_script(QUOTA_JS)
    assert save_check(d, lesion=lesion_id) == "error"
    assert attr(d, "#history-save-status", "data-reason") == "quota"
    assert "full" in d.find_element("id", "history-save-status").text
    assert d.execute_script("return window.__quotaThrown") == 1
    assert dump(d) == kept and crops(d) == before_crops

    # 11. a batch row's detail saves too: the table keeps only thumbnails, so the crop is
    # made again from the file, and it is the very crop the single photo gave
    open_app(b, LoggedServer(srv, tmp / "requests.log"))
    d.find_element("id", "file-input").send_keys("\n".join(str(p) for p in photos))
    wait_attr(d, "#batch", "data-state", ("done",), "the batch")
    click_event(d, f'#batch-results [data-file="{photos[0].name}"]')
    assert save_check(d, name="from a batch", region="front-left-thigh") == "saved"
    new_id = attr(d, "#history-save-status", "data-lesion")
    stored = dump(d)
    (new_check,) = [c for c in stored["checks"] if c["lesion_id"] == new_id]
    # photos[0]'s crop: one of the two saved from single photos, byte for byte
    assert list(before_crops.values()).count(crops(d)[new_check["id"]]) == 1
    assert new_check["quality"]["source"] == "batch"

    # 12. delete one check (asked, then done), then a whole lesion with its checks
    view_state(b, url, lesion_id)
    for _ in range(2):
        d.find_element("css selector", "#timeline button.delete-check").click()
    wait_for(lambda: len(d.execute_script(TIMELINE_JS)) == 1, 60, "one check left")
    show_lesion(d, new_id)
    for _ in range(2):
        d.find_element("id", "delete-lesion").click()
    wait_for(lambda: len(d.execute_script(LESIONS_JS)) == 1, 60, "one lesion left")
    left = dump(d)
    assert [x["id"] for x in left["lesions"]] == [lesion_id]
    assert len(left["checks"]) == len(left["images"]) == 1
    assert policy_errors(b) == []  # all of it under the Content Security Policy


QUOTA_JS = """
window.__quotaThrown = 0;
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (value) {
  if (this.name === 'images') {
    window.__quotaThrown += 1;
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  }
  return put.apply(this, arguments);
};
"""


V1_JS = """
const [lesion, check, image] = arguments;
const done = arguments[arguments.length - 1];
const del = indexedDB.deleteDatabase('skinlens');
del.onsuccess = () => {
  const req = indexedDB.open('skinlens', 1);
  req.onupgradeneeded = () => {
    const db = req.result;
    db.createObjectStore('lesions', {keyPath: 'id'});
    db.createObjectStore('checks', {keyPath: 'id'}).createIndex('lesion', 'lesion');
    db.createObjectStore('images', {keyPath: 'id'});
    db.createObjectStore('meta', {keyPath: 'key'});
  };
  req.onsuccess = () => {
    const db = req.result;
    const tx = db.transaction(['lesions', 'checks', 'images'], 'readwrite');
    tx.objectStore('lesions').put(lesion);
    tx.objectStore('checks').put(check);
    tx.objectStore('images').put(image);
    tx.oncomplete = () => { db.close(); done(true); };
    tx.onerror = () => done(String(tx.error));
  };
};
"""


def test_previous_schema_opens_and_migrates(story, model_files):
    """Schema-1 records (a check's verdict at its top level, no model named; a lesion without
    a reminder), written with raw IndexedDB calls, open in the view, are stored again in the
    current schema, and the check is re-scored by the loaded model (its old result kept)."""
    from skinlens import history, metadata
    from synthetic import lesion_like

    b: Browser = story["browser"]
    d = b.driver
    url = story["srv"].url
    buf = io.BytesIO()
    Image.fromarray(lesion_like(224, seed=5)).save(buf, "PNG")
    crop = base64.b64encode(buf.getvalue()).decode("ascii")
    lesion = {
        "id": "v1-lesion",
        "name": "old mole",
        "region": "front-abdomen",
        "created": "2025-01-02T10:00:00Z",
    }
    check = {
        "id": "v1-check",
        "lesion_id": "v1-lesion",
        "date": "2025-01-02T10:00:00Z",
        "probs": [0.02, 0.03, 0.05, 0.01, 0.09, 0.78, 0.02],
        "priority": "Low",
        "label": "nv",
        "photo_type": "dermoscopic",
    }
    d.get(url + "manifest.webmanifest")  # this origin, nothing of the history open
    assert d.execute_async_script(V1_JS, lesion, check, {"id": "v1-check", "crop": crop}) is True
    lesions, timeline = view_state(b, url, "v1-lesion")
    assert [(x["name"], x["region"], x["checks"]) for x in lesions] == [
        ("old mole", "front-abdomen", "1")
    ]
    assert [t["check"] for t in timeline] == ["v1-check"]
    stored = dump(d)
    assert {r["schema"] for r in stored["lesions"] + stored["checks"]} == {2}
    assert stored["lesions"][0]["next_due"] is None
    assert stored["checks"][0]["measures"]["found"] in (True, False)
    # re-scored from the stored crop by the loaded model, the schema-1 result kept
    wait_attr(d, "#history-view", "data-rescored", ("1",), "re-scoring", READY_TIMEOUT)
    info = metadata.load(model_files / "metadata.json")
    rescored = dump(d)["checks"][0]
    assert rescored["result"]["model"] == info.model_id
    assert rescored["history"][0]["model"] == history.UNKNOWN_MODEL
    assert rescored["history"][0]["probs"] == check["probs"]
