"""The Python side of the lesion history at the issue's scale, under this Python; prints JSON.

500 checks of 50 lesions (10 each, synthetic crops that grow a little from check to check):
every lesion's status (the history view's Python work) with the change measures stored in
the checks and, for comparison, measured again from the crops; the backup payload's size
and the time to build it, parse it back (migrating every record) and frame it; the doctor's
summary of five lesions. The browser-side figures (IndexedDB, Web Crypto, rendering) are
``bench/history.py``'s.

    python -m bench.history_core
"""

from __future__ import annotations

import copy
import json
import os
import platform

from skinlens import backup, history, metadata, report, wording
from skinlens.triage import decide
from synthetic import BLUE_GREY, drawn_lesion

from bench import ROOT
from bench.py_core import timed

LESIONS, CHECKS_EACH = 50, 10
REPEAT = 5


def records(info: metadata.ModelInfo) -> tuple[list[history.Lesion], list[history.Check]]:
    """50 lesions with 10 checks each; ten distinct crops, measured once, shared."""
    probs = [0.01, 0.01, 0.01, 0.01, 0.02, 0.93, 0.01]
    result = history.result_of(decide(probs, info), info)
    result["photo_type"] = "dermoscopic"
    templates = [
        history.make_check(
            "", "", drawn_lesion(radius=36.0 + k, patch=BLUE_GREY if k > 7 else None), result, {}
        )
        for k in range(CHECKS_EACH)
    ]
    lesions, checks = [], []
    for n in range(LESIONS):
        lesion = history.make_lesion(f"lesion {n}", "front-chest", "2025-01-01T00:00:00Z", 3)
        lesions.append(lesion)
        for k, t in enumerate(templates):
            c = copy.deepcopy(t)
            c.update(id=history.new_id(), lesion_id=lesion["id"], date=f"2025-{k + 1:02d}-01")
            checks.append(c)
    return lesions, checks


def main() -> None:
    info = metadata.load(ROOT / "models" / "skinlens-lite0" / "metadata.json")
    lesions, checks = records(info)
    by_lesion: dict[str, list[history.Check]] = {}
    for c in checks:
        by_lesion.setdefault(c["lesion_id"], []).append(c)
    unmeasured = {
        k: [{key: v for key, v in c.items() if key != "measures"} for c in cs]
        for k, cs in by_lesion.items()
    }
    data = backup.payload(lesions, checks)
    header = backup.make_header(os.urandom(16), os.urandom(12), os.urandom(32))
    framed = backup.pack(header, data)  # the payload stands in for its ciphertext (same size)
    chosen = lesions[:5]
    statuses = {les["id"]: history.lesion_status(by_lesion[les["id"]], info) for les in chosen}
    out = {
        "python": platform.python_version(),
        "lesions": LESIONS,
        "checks": len(checks),
        "status_all_lesions_stored_measures": timed(
            lambda: [history.lesion_status(cs, info) for cs in by_lesion.values()], REPEAT
        ),
        "status_all_lesions_measured_again": timed(
            lambda: [history.lesion_status(cs, info) for cs in unmeasured.values()], 1
        ),
        "payload_mb": round(len(data) / 1e6, 2),
        "payload": timed(lambda: backup.payload(lesions, checks), REPEAT),
        "parse_payload": timed(lambda: backup.parse_payload(data), REPEAT),
        "pack": timed(lambda: backup.pack(header, data), REPEAT),
        "unpack": timed(lambda: backup.unpack(framed), REPEAT),
        "report_5_lesions": timed(
            lambda: report.summary_html(
                chosen,
                by_lesion,
                {k: s.changes for k, s in statuses.items()},
                wording.load("en"),
                statuses=statuses,
            ),
            REPEAT,
        ),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
