"""The history view's backup panel: export everything to one encrypted ``*.skinlens`` file,
import one (all or nothing). Loaded on the panel's first use (:meth:`HistoryPage.backup_panel`).

The file's layout and checks are :mod:`skinlens.backup` (pure); the key derivation and
AES-GCM are Web Crypto in ``site/history-db.js`` (Python never holds the key). Every way an
import can fail ends in ``#backup-status[data-state=error][data-reason=<code>]`` with its
own words, and changes nothing stored: the file is read, checked and decrypted, and the
records parsed, before one IndexedDB transaction adds them all.

Automation contract: ``input#backup-passphrase``, ``button#backup-export`` (a download named
``skinlens-<date>.skinlens``; ``#backup-status[data-state=exported][data-count][data-ms]
[data-bytes]``), ``input#backup-file`` -> ``#backup-status[data-state=done|error]
[data-reason][data-count][data-ms]``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from skinlens import backup
from skinlens.web import browser
from skinlens.web.library import Library, split
from skinlens.wording import Wording

MIME = "application/octet-stream"
PASSPHRASE_MISSING = "passphrase-missing"


class BackupPanel:
    def __init__(
        self, lib: Library, wording: Wording, after_import: Callable[[], Awaitable[None]]
    ) -> None:
        self.lib = lib
        self.w = wording
        self.after_import = after_import
        self.tasks: set = set()

    def spawn(self, coro: Any) -> None:
        browser.spawn(coro, self.tasks)

    def status(self, state: str, reason: str = "", count: int | None = None, **more: str) -> None:
        key = {
            "done": "lesions.imported",
            "exported": "lesions.exported",
            "working": "lesions.backup-working",
        }.get(state, f"backup.error.{reason}")
        box = browser.el("backup-status")
        box.textContent = self.w.text(key, n=count or 0)
        attrs: dict[str, str | None] = {
            "data-state": state,
            "data-reason": reason or None,
            "data-count": None if count is None else str(count),
            "data-ms": None,
            "data-bytes": None,
            "data-phases": None,
        }
        browser.set_attrs(box, attrs | {f"data-{k}": v for k, v in more.items()})

    def passphrase(self) -> str | None:
        value = str(browser.el("backup-passphrase").value)
        if not value:
            self.status("error", PASSPHRASE_MISSING)
            return None
        return value

    async def export(self) -> None:
        passphrase = self.passphrase()
        if passphrase is None:
            return
        self.status("working")
        phases = Phases()
        store = self.lib.store
        lesions = list(self.lib.lesions.values())
        checks = await self.lib.full_checks(list(self.lib.checks))
        phases.mark("read")
        plain = backup.payload(lesions, checks)
        phases.mark("serialised")
        salt, iv = store.random_bytes(backup.SALT_BYTES), store.random_bytes(backup.IV_BYTES)
        ciphertext, key_check = await store.encrypt(passphrase, salt, iv, backup.ITERATIONS, plain)
        phases.mark("encrypted")
        data = backup.pack(backup.make_header(salt, iv, key_check), ciphertext)
        store.download(data, f"skinlens-{browser.today_iso()}{backup.FILE_SUFFIX}", MIME)
        phases.mark("downloaded")
        self.status(
            "exported",
            count=len(checks),
            ms=phases.total(),
            bytes=str(len(data)),
            phases=phases.json(),
        )

    def on_file(self, ev: Any) -> None:
        files = browser.files_of(ev.target.files)
        ev.target.value = ""  # the same file again still fires "change"
        if files:
            self.spawn(self.import_file(files[0]))

    async def import_file(self, file: Any) -> None:
        passphrase = self.passphrase()
        if passphrase is None:
            return
        self.status("working")
        phases = Phases()
        try:
            lesions, checks = await self.read(file, passphrase, phases)
        except (backup.BackupError, browser.StoreError) as e:
            self.status("error", e.code)
            return
        await self.lib.merge(lesions, checks)
        await self.after_import()
        phases.mark("shown")
        self.status("done", count=len(checks), ms=phases.total(), phases=phases.json())

    async def read(
        self, file: Any, passphrase: str, phases: Phases
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Check, decrypt, parse and store the backup: its lesions and check records."""
        try:
            data = await browser.read_file(file)
        except Exception as e:  # the browser could not read the file
            raise backup.BackupError(backup.CORRUPT) from e
        phases.mark("read")
        header, ciphertext = backup.unpack(data)
        p = backup.parameters(header)
        phases.mark("unpacked")
        plain = await self.lib.store.decrypt(
            passphrase, p["salt"], p["iv"], p["iterations"], p["key_check"], ciphertext
        )
        phases.mark("decrypted")
        lesions, checks = backup.parse_payload(plain)
        parts = [split(c) for c in checks]
        records = {
            "lesions": lesions,
            "checks": [record for record, _ in parts],
            "images": [image for _, image in parts],
        }
        phases.mark("parsed")
        await self.lib.store.import_all(json.dumps(records))
        phases.mark("stored")
        return lesions, records["checks"]


class Phases:
    """Milliseconds since the start at each named step (``#backup-status[data-phases]``:
    where an export's or an import's time goes)."""

    def __init__(self) -> None:
        self.t0 = browser.now()
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = round(browser.now() - self.t0)

    def total(self) -> str:
        return f"{browser.now() - self.t0:.0f}"

    def json(self) -> str:
        return json.dumps(self.marks)
