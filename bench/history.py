"""My lesions at scale in headless Chromium: 500 checks of 50 lesions; prints one JSON object.

    python -m bench.history [--lesions 50] [--checks 10] [--dist DIR]

The checks are made here (CPython, the page's own record functions of
:mod:`skinlens.history`; crops are distinct synthetic 224x224 lesions stored as PNG, as the
page stores them, with their change measures) and written into the
page's IndexedDB through ``site/history-db.js`` (``importAll``, 50 checks per call). Then:

* ``view_ready_ms``: ``#history-view[data-ms]``, the history view's start (the history module
  imported, the records read and migrated) to the lesion list and the body map on screen;
  ``lesion_ms``: one lesion's timeline (10 thumbnails, the plot);
* ``compare_ms``: ``#compare[data-ms]``, two checks' crops read, measures, changes, drawn;
* ``export_s`` / ``import_s``: the backup of everything (PBKDF2-SHA-256 at the header's
  iteration count, AES-GCM) and its import after "delete everything" (the page's own
  ``#backup-status[data-ms]``);
* ``storage_used_mb``: ``navigator.storage.estimate()``'s usage with the 500 checks stored;
  ``backup_mb``: the backup file's size.

Issue 16 targets: view ready <= 300 ms, compare <= 150 ms, export and import <= 10 s each.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
from harness import Browser, LoggedServer, open_app, wait_for
from skinlens import backup, bodymap, history, metadata, triage
from synthetic import lesion_like

from bench.common import page, workspace

TARGETS = {"view_ready_ms": 300.0, "compare_ms": 150.0, "export_s": 10.0, "import_s": 10.0}
CHUNK = 50
PASSPHRASE = "bench passphrase"
ROOT = Path(__file__).resolve().parents[1]


def make_records(n_lesions: int, per_lesion: int) -> list[dict[str, list]]:
    """Chunks of ``{lesions, checks, images}`` for ``importAll``, stored as the page stores
    them (a check's pictures in ``images``)."""
    info = metadata.load(ROOT / "models" / "skinlens-lite0" / "metadata.json")
    rng = np.random.default_rng(0)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    chunks: list[dict[str, list]] = [{"lesions": [], "checks": [], "images": []}]
    regions = [r.code for r in bodymap.REGIONS]
    for i in range(n_lesions):
        lesion = history.make_lesion(
            f"lesion {i:02d}", regions[i % len(regions)], history.now_iso(start)
        )
        chunks[-1]["lesions"].append(lesion)
        for k in range(per_lesion):
            crop = lesion_like(224, seed=i * 1000 + k)
            probs = rng.dirichlet(np.ones(len(info.codes)))
            date = history.now_iso(start + datetime.timedelta(days=60 * k, hours=i))
            result = history.result_of(triage.decide(probs, info), info)
            check = history.make_check(lesion["id"], date, crop, result, {"source": "bench"})
            if len(chunks[-1]["checks"]) >= CHUNK:
                chunks.append({"lesions": [], "checks": [], "images": []})
            record = {k: v for k, v in check.items() if k not in ("crop", "photo")}
            chunks[-1]["checks"].append(record)
            chunks[-1]["images"].append({"id": check["id"], "crop": check["crop"], "photo": None})
    return chunks


def attr(d, selector: str, name: str) -> str | None:
    return d.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])",
        selector,
        name,
    )


def wait_state(d, selector: str, states: tuple[str, ...], timeout: float = 120) -> str:
    return wait_for(
        lambda: (v := attr(d, selector, "data-state")) in states and v,
        timeout,
        f"{selector}[data-state] in {states}",
    )


def run(browser: Browser, server: LoggedServer, tmp: Path, chunks: list[dict]) -> dict:
    d = browser.driver
    open_app(browser, server, "view=history")
    wait_state(d, "#history-view", ("ready",))
    for chunk in chunks:
        d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "skinlens.history.importAll(arguments[0])"
            ".then(() => done(true), (e) => done(e.message))",
            json.dumps(chunk),
        )
    out: dict = {"checks": sum(len(c["checks"]) for c in chunks)}
    open_app(browser, server, "view=history")
    wait_state(d, "#history-view", ("ready",))
    out["view_ready_ms"] = float(attr(d, "#history-view", "data-ms"))
    out["view_phases_ms"] = json.loads(attr(d, "#history-view", "data-phases"))
    out["lesions_listed"] = d.execute_script(
        "return document.querySelectorAll('#lesions [data-lesion]').length"
    )
    out["storage_used_mb"] = round(int(attr(d, "#history-storage", "data-usage")) / 1e6, 1)
    d.execute_script("document.querySelector('#lesions [data-lesion]').click()")
    wait_for(lambda: attr(d, "#lesion-detail", "data-ms"), 60, "a lesion's timeline")
    out["lesion_ms"] = float(attr(d, "#lesion-detail", "data-ms"))
    picks = d.find_elements("css selector", "#timeline input.compare-pick")
    picks[0].click()
    picks[-1].click()
    d.find_element("css selector", "button#compare").click()
    wait_state(d, "#compare", ("done",))
    out["compare_ms"] = float(attr(d, "#compare", "data-ms"))

    downloads = tmp / "downloads"
    downloads.mkdir(exist_ok=True)
    d.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    d.find_element("id", "backup-passphrase").send_keys(PASSPHRASE)
    d.find_element("id", "backup-export").click()
    wait_state(d, "#backup-status", ("exported", "error"), 300)
    out["export_s"] = float(attr(d, "#backup-status", "data-ms")) / 1000
    out["backup_mb"] = round(int(attr(d, "#backup-status", "data-bytes")) / 1e6, 1)
    out["export_phases_ms"] = json.loads(attr(d, "#backup-status", "data-phases"))
    files = wait_for(
        lambda: [p for p in downloads.glob("*.skinlens") if p.stat().st_size > 0],
        120,
        "the backup download",
    )
    d.find_element("id", "delete-all").click()
    d.find_element("id", "delete-confirm").click()
    wait_state(d, "#delete-status", ("done",))
    d.find_element("id", "backup-file").send_keys(str(files[0]))
    wait_state(d, "#backup-status", ("done", "error"), 300)
    out["import_status"] = attr(d, "#backup-status", "data-reason") or "done"
    out["import_s"] = float(attr(d, "#backup-status", "data-ms")) / 1000
    out["imported_checks"] = int(attr(d, "#backup-status", "data-count") or 0)
    out["import_phases_ms"] = json.loads(attr(d, "#backup-status", "data-phases") or "{}")
    out["pbkdf2_iterations"] = backup.ITERATIONS
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lesions", type=int, default=50)
    ap.add_argument("--checks", type=int, default=10, help="checks per lesion")
    ap.add_argument("--dist", help="a built dist/ (default: build one into a temp dir)")
    args = ap.parse_args()
    chunks = make_records(args.lesions, args.checks)
    with workspace("history", args.dist) as (tmp, dist), page(dist, tmp) as (browser, server):
        out = run(browser, server, tmp, chunks)
    out["targets"] = TARGETS
    out["targets_met"] = {k: out[k] <= v for k, v in TARGETS.items()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
