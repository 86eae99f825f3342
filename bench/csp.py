"""Which relaxations of the security policy the app really needs (issue 12): the policy of
``security.py``, then the same with one relaxation taken out at a time, each built into its
own ``dist/``, served WITHOUT security headers (so the pages' <meta> tag is the policy, as on
GitHub Pages' first visit) and opened on the wasm backend; a photo is classified when the page
gets ready. One JSON object per variant: ready or the page's error, the result, and the
console's policy errors.

    python -m bench.csp [--photo FILE] [--timeout 60]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness import DATA_DIR, Browser, policy_errors

import security
import serve
from build import build

VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "as shipped": {},
    "script-src without 'unsafe-eval' (with 'wasm-unsafe-eval')": {
        "script-src": ("'self'", "'wasm-unsafe-eval'", "blob:")
    },
    "script-src without blob:": {"script-src": ("'self'", "'unsafe-eval'")},
    "worker-src without blob:": {"worker-src": ("'self'",)},
    "img-src without blob: data:": {"img-src": ("'self'",)},
}


def attempt(dist: Path, photo: Path, timeout: float) -> dict:
    with serve.running_server(dist, port=0, security_headers=False) as srv:
        b = Browser()
        try:
            d = b.driver
            t0 = time.monotonic()
            d.get(srv.url + "?backend=wasm")
            state: list = []
            while time.monotonic() - t0 < timeout:
                state = d.execute_script(
                    "const b = document.body; return [b.dataset.ready, b.dataset.error || '']"
                )
                if state[0] == "true" or state[1]:
                    break
                time.sleep(0.25)
            out: dict = {"ready": state[0] == "true", "error": state[1][:300]}
            out["seconds"] = round(time.monotonic() - t0, 1)
            if out["ready"]:
                d.find_element("id", "file-input").send_keys(str(photo))
                while time.monotonic() - t0 < 2 * timeout:
                    r = d.execute_script(
                        "const r = document.getElementById('result');"
                        "return [r.dataset.state, r.dataset.label || r.dataset.reason]"
                    )
                    if r[0] in ("done", "rejected"):
                        out["result"] = r
                        break
                    time.sleep(0.1)
                out["threads"] = d.execute_script("return skinlens.info.threads")
            policy = policy_errors(b)
            out["policy_errors"] = len(policy)
            out["first_policy_error"] = policy[0][:400] if policy else ""
            return out
        finally:
            b.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", default=str(DATA_DIR / "images" / "ISIC_0024306.jpg"))
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    shipped = dict(security.CSP)
    with tempfile.TemporaryDirectory(prefix="skinlens-bench-csp-") as tmp:
        for name, change in VARIANTS.items():
            security.CSP = {**shipped, **change}  # build.py and serve.py read it from here
            try:
                policy = security.csp(meta=True)
                dist = build(dist=Path(tmp) / "dist", quiet=True).dist
                result = attempt(dist, Path(args.photo), args.timeout)
            finally:
                security.CSP = shipped
            print(json.dumps({"variant": name, "csp": policy, **result}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
