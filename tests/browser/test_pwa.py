"""Installable offline PWA: manifest, service worker, offline reload, sub-path, update flow,
cross-origin isolation from the service worker.

Each test builds/serves its own copy of the site (a private server it can stop, a private
browser profile) so the service worker of one test never leaks into another.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from harness import DATA_DIR

import build
import serve

pytestmark = pytest.mark.browser

ROOT = Path(build.__file__).resolve().parent
SW_TIMEOUT = float(os.environ.get("SKINLENS_SW_TIMEOUT", "300"))
"""Upper bound for every service-worker step: conditions are polled, so a fast machine passes
in seconds, while a loaded 2-core CI machine still gets the time a full precache needs."""


# ----------------------------------------------------------------------------- helpers
def wait_for(driver, script: str, timeout: float, what: str, *args):
    """Poll a JS expression (``return ...``) until it is truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = driver.execute_script(script, *args)
        except Exception as e:  # a navigation in progress
            last = f"error: {str(e)[:200]}"
            time.sleep(0.3)
            continue
        if last:
            return last
        time.sleep(0.25)
    try:
        status = driver.execute_script(
            "const s=document.getElementById('pwa-status');"
            "return s ? [s.dataset.state, s.textContent] : null"
        )
    except Exception:
        status = None
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {last!r}; {status}")


def sw_ready(driver, timeout: float = SW_TIMEOUT) -> str:
    """Wait until a service worker controls the page and its precache is complete."""
    return wait_for(
        driver,
        "const c = navigator.serviceWorker && navigator.serviceWorker.controller;"
        "const s = document.getElementById('pwa-status');"
        "return !!c && !!s && s.dataset.state === 'offline-ready' && s.dataset.build"
        "  ? s.dataset.build : null;",
        timeout,
        "the service worker to control the page (offline-ready)",
    )


def page_ready(driver, timeout: float) -> None:
    wait_for(
        driver,
        "return document.body && document.body.dataset.ready === 'true'",
        timeout,
        "body[data-ready=true]",
    )


def lesion_photos(tmp: Path) -> tuple[list[Path], bool]:
    """Real test-split dermoscopy photos when the dataset is here, else a drawn one.

    Returns the photos and whether they are real. A drawn blob is (rightly) not a
    lesion to the model's out-of-distribution gate, so with it a test can only
    check that the model ran, not that it gave a class verdict.
    """
    import csv

    from PIL import Image, ImageDraw, ImageFilter

    meta = DATA_DIR / "metadata.csv"
    if meta.exists():
        with open(meta, newline="") as f:
            ids = sorted(r["image_id"] for r in csv.DictReader(f) if r["split"] == "test")
        return [DATA_DIR / "images" / f"{i}.jpg" for i in ids[:4]], True
    img = Image.new("RGB", (640, 480), (214, 170, 140))
    d = ImageDraw.Draw(img)
    d.ellipse((250, 170, 400, 300), fill=(110, 62, 40))
    d.ellipse((290, 200, 350, 260), fill=(70, 40, 30))
    img = img.filter(ImageFilter.GaussianBlur(2))
    path = tmp / "lesion.jpg"
    img.save(path, quality=92)
    return [path], False


def classify_offline(driver, tmp: Path) -> dict:
    """Classify photos until one gets a class verdict (real photos) or the model has
    visibly run (drawn photo); return the #result attributes."""
    photos, real = lesion_photos(tmp)
    attrs: dict = {}
    for n, photo in enumerate(photos, start=1):
        driver.find_element("id", "file-input").send_keys(str(photo))
        wait_for(
            driver,
            "const r=document.getElementById('result');"
            f"return r && r.dataset.seq === '{n}' && ['done','rejected'].includes(r.dataset.state)",
            120,
            "#result done or rejected",
        )
        attrs = driver.execute_script(
            "return Object.assign({}, document.getElementById('result').dataset)"
        )
        if attrs["state"] == "done":
            return attrs
    if real:
        raise AssertionError(f"no test photo got a class verdict offline; last: {attrs}")
    assert attrs["reason"] == "not-lesion" and float(attrs["ood"]) > 0, attrs
    return attrs


class Site:
    """A private copy of the project (site/, py/, models/, pins) built into its own dist."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "proj"
        self.root.mkdir(parents=True)
        for name in ("site", "py", "models"):
            shutil.copytree(
                ROOT / name, self.root / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copy(ROOT / "assets.lock.json", self.root / "assets.lock.json")
        self.dist = tmp / "dist"
        self.log = tmp / "requests.log"
        self.build()

    def build(self) -> dict:
        res = build.build(self.root, self.dist, cache=ROOT / ".cache", quiet=True)
        return res.manifest

    def serve(self, **kw):
        return serve.make_server(self.dist, port=kw.pop("port", 0), log=self.log, **kw).start()

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def site(tmp_path) -> Site:
    s = Site(tmp_path)
    html = (s.dist / "index.html").read_text()
    if "pwa.js" not in html:
        pytest.fail('site/index.html does not load pwa.js (<script src="pwa.js" defer>)')
    return s


def has_model() -> bool:
    return any((ROOT / "models").glob("*/model.json"))


# ----------------------------------------------------------------------------- tests
def test_manifest_is_installable(site, make_chrome):
    srv = site.serve()
    try:
        b = make_chrome()
        d = b.driver
        d.get(srv.url)
        wait_for(d, "return document.readyState === 'complete'", 60, "page load")
        manifest = d.execute_cdp_cmd("Page.getAppManifest", {})
        assert not manifest.get("errors"), manifest.get("errors")
        assert manifest["url"].endswith("/manifest.webmanifest")
        # installability needs the manifest icons fetched; poll briefly
        deadline = time.monotonic() + SW_TIMEOUT
        while True:
            errors = d.execute_cdp_cmd("Page.getInstallabilityErrors", {})["installabilityErrors"]
            if not errors or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert errors == [], errors
    finally:
        srv.stop()


def test_offline_after_one_visit(site, make_chrome, tmp_path):
    """Visit once, stop the server, reload: the page still becomes ready and classifies."""
    if not has_model():
        pytest.skip("no models/*/model.json yet")
    srv = site.serve()
    url = srv.url
    b = make_chrome()
    d = b.driver
    try:
        d.get(url)
        page_ready(d, SW_TIMEOUT)
        build_id = sw_ready(d)
        assert build_id == json.loads((site.dist / "build-manifest.json").read_text())["build"]
        # second visit: only the service-worker update check reaches the server
        n = len(site.requests())
        d.get(url + "?second")
        page_ready(d, SW_TIMEOUT)
        second = site.requests()[n:]
        assert [r for r in second if not r.startswith("GET /sw.js ")] == [], second
    finally:
        srv.stop()
    n = len(site.requests())
    t0 = time.monotonic()
    d.get(url)
    page_ready(d, 60)
    ready_s = time.monotonic() - t0
    assert site.requests()[n:] == []
    status = d.execute_script("return document.getElementById('pwa-status').dataset.state")
    assert status in ("offline-ready", "offline")
    d.get(url + "?gates=off")
    page_ready(d, 60)
    classify_offline(d, tmp_path)
    print(f"offline reload to ready: {ready_s:.1f} s")


def test_subpath_without_headers_is_isolated_by_service_worker(site, make_chrome):
    """GitHub Pages-like: sub-path, no COOP/COEP from the server; the SW makes it isolated."""
    srv = site.serve(base="/user/skinlens/", isolation=False)
    try:
        b = make_chrome()
        d = b.driver
        d.get(srv.url)
        assert d.execute_script("return crossOriginIsolated") is False
        scope = wait_for(
            d,
            "return navigator.serviceWorker.getRegistration().then(r => r && r.scope)",
            SW_TIMEOUT,
            "service worker registration",
        )
        assert scope == srv.url
        sw_ready(d)
        # pwa.js reloads once by itself so the page is served with the SW's headers
        wait_for(d, "return crossOriginIsolated === true", 60, "crossOriginIsolated")
        iso = d.execute_script(
            "return document.getElementById('isolation-status').dataset.isolated"
        )
        assert iso == "true"
        if has_model():
            page_ready(d, SW_TIMEOUT)
        # every request went to our sub-path
        assert all(" /user/skinlens/" in r for r in site.requests()), site.requests()
        b.pump_logs()
        outside = [u for u in b.network if u.startswith("http") and not u.startswith(srv.url)]
        assert outside == [], outside
    finally:
        srv.stop()


def test_update_is_offered_then_runs(site, make_chrome):
    """A rebuild with a changed file: the page offers the update, then runs the new version."""
    srv = site.serve()
    try:
        b = make_chrome()
        d = b.driver
        d.get(srv.url)
        old = sw_ready(d)
        index = site.root / "site" / "index.html"
        html = index.read_text()
        assert "</body>" in html
        index.write_text(html.replace("</body>", "<!-- update-test v2 --></body>"))
        new = site.build()["build"]
        assert new != old
        d.get(srv.url)  # navigation: the browser checks sw.js and installs the new version
        wait_for(
            d,
            "const e=document.getElementById('update-banner'); return !!e && !e.hidden",
            SW_TIMEOUT,
            "the update banner",
        )
        # still the old version until the user accepts
        assert "update-test v2" not in d.page_source
        d.find_element("id", "update-reload").click()
        wait_for(
            d,
            "return document.documentElement.outerHTML.includes('update-test v2')",
            SW_TIMEOUT,
            "the new version after reload",
        )
        got = wait_for(
            d,
            "const s=document.getElementById('pwa-status');"
            "return s && s.dataset.build === arguments[0] ? s.dataset.build : null",
            SW_TIMEOUT,
            "the new build id",
            new,
        )
        assert got == new
        keys = d.execute_async_script(
            "const done = arguments[arguments.length - 1]; caches.keys().then(done)"
        )
        assert [k for k in keys if k.startswith("skinlens:")] == [f"skinlens:/:{new}"], keys
    finally:
        srv.stop()


def test_failed_update_download_keeps_the_working_version(site, make_chrome):
    """A new deployment whose files do not match its manifest (half-uploaded) is not
    installed: no update is offered and the installed version keeps working."""
    srv = site.serve()
    try:
        b = make_chrome()
        d = b.driver
        d.get(srv.url)
        old = sw_ready(d)
        index = site.root / "site" / "index.html"
        index.write_text(index.read_text().replace("</body>", "<!-- broken v2 --></body>"))
        site.build()
        # the changed file is served with other bytes than its manifest says (files that did
        # not change are copied from the old cache, so they are never downloaded again)
        victim = site.dist / "index.html"
        victim.write_bytes(victim.read_bytes()[:-200])
        d.get(srv.url)
        wait_for(
            d,
            "const s=document.getElementById('pwa-status'); return s && s.dataset.state==='error'",
            SW_TIMEOUT,
            "the failed background install to be reported",
        )
        assert d.execute_script("return document.getElementById('update-banner').hidden")
        d.get(srv.url)
        if has_model():
            page_ready(d, SW_TIMEOUT)
        assert "broken v2" not in d.page_source
        assert sw_ready(d) == old
    finally:
        srv.stop()
