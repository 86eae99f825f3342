"""The stored history as the page holds it: every lesion and check, migrated, in memory.

Records are :mod:`skinlens.history`'s (schema :data:`skinlens.history.SCHEMA_VERSION`). In
IndexedDB (``site/history-db.js``) a check's pictures (``crop``, ``photo``) live in the
``images`` store, apart from the check record, so the view lists hundreds of checks without
reading their pictures; :meth:`Library.full_checks` puts them back together (the backup, a
comparison) and :func:`split` takes them apart (a save, an import).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from skinlens import change, history, lesions_view
from skinlens.metadata import ModelInfo
from skinlens.web import browser

PICTURES = ("crop", "photo")


def split(check: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A full check -> (the record without pictures, its ``images`` record)."""
    record = {k: v for k, v in check.items() if k not in PICTURES}
    return record, {"id": check["id"], "crop": check.get("crop"), "photo": check.get("photo")}


def png_url(b64: str) -> str:
    return "data:image/png;base64," + b64


def crop_bytes(image: dict[str, Any]) -> bytes:
    return base64.b64decode(image["crop"])


class Library:
    """Every lesion and check, kept in memory while the page is open; writes go to the
    store first, then here (a refused write changes neither)."""

    _loaded: Library | None = None

    def __init__(self, store: browser.HistoryStore, info: ModelInfo) -> None:
        self.store = store
        self.info = info
        self.lesions: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}

    @classmethod
    async def load(cls, info: ModelInfo) -> Library:
        """One per page (the save form and the view share it)."""
        if cls._loaded is None:
            lib = cls(await browser.HistoryStore.load(), info)
            await lib.refresh()
            cls._loaded = lib
        return cls._loaded

    async def refresh(self) -> None:
        """Read the store. Records of an older schema are migrated (a check with its
        pictures: :func:`skinlens.history.migrate` sees whole records), checks without
        current change measures measured from their crops, and both written back, once.
        Records of the current schema were written by this version and are taken as they
        are (no per-record work: hundreds of checks list in milliseconds)."""
        data = await self.store.all()
        current = history.SCHEMA_VERSION
        lesions, checks, changed_lesions = [], [], []
        for r in data.get("lesions", []):
            if r.get("schema") != current:
                r = history.migrate(r, "lesion")
                changed_lesions.append(r)
            lesions.append(r)
        old = [r for r in data.get("checks", []) if r.get("schema") != current]
        stale = old + [
            c for c in data.get("checks", []) if c.get("schema") == current and not self.measured(c)
        ]
        fixed: dict[str, dict[str, Any]] = {}
        if stale:
            for full in await self.full_checks_of(stale):
                if full.get("schema") != current:
                    full = history.migrate(full, "check")
                if not self.measured(full):
                    crop = history.crop_pixels(full)
                    share = self.info.change.colour_min_share
                    full["measures"] = change.measure(crop, share).to_json()
                fixed[full["id"]] = split(full)[0]
        checks = [fixed.get(r["id"], r) for r in data.get("checks", [])]
        if changed_lesions:
            await self.store.put_many("lesions", changed_lesions)
        if fixed:
            await self.store.put_many("checks", list(fixed.values()))
        self.lesions = {r["id"]: r for r in lesions}
        self.checks = {r["id"]: r for r in checks}

    async def full_checks_of(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored check records with their pictures put back."""
        images = await self.images(r["id"] for r in records)
        out = []
        for r in records:
            pictures = {k: v for k, v in images.get(r["id"], {}).items() if k in PICTURES}
            out.append({**r, **pictures})
        return out

    @staticmethod
    def measured(check: dict[str, Any]) -> bool:
        stored = check.get("measures")
        return bool(stored) and change.LesionMeasures.from_json(stored) is not None

    def checks_of(self, lesion_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return history.timeline(c for c in self.checks.values() if c["lesion_id"] == lesion_id)

    def status(self, lesion_id: str) -> history.LesionStatus:
        return history.lesion_status(self.checks_of(lesion_id), self.info)

    def rows(self) -> list[lesions_view.LesionRow]:
        """The lesions by name, with their current status."""
        by_lesion: dict[str, list[dict[str, Any]]] = {k: [] for k in self.lesions}
        for c in self.checks.values():
            by_lesion.setdefault(c["lesion_id"], []).append(c)
        out = []
        for lid, les in self.lesions.items():
            checks = history.timeline(by_lesion[lid])
            st = history.lesion_status(checks, self.info)
            out.append(lesions_view.LesionRow(les, len(checks), st.priority, st.changed))
        return sorted(out, key=lambda r: (r.lesion["name"].lower(), r.lesion["id"]))

    async def add(self, lesion: dict[str, Any], check: dict[str, Any]) -> None:
        """A lesion (new or updated) and its new full check, in one transaction."""
        record, image = split(check)
        await self.store.save(lesion, record, image)
        self.lesions[lesion["id"]] = lesion
        self.checks[record["id"]] = record

    async def merge(self, lesions: list[dict[str, Any]], checks: list[dict[str, Any]]) -> None:
        """Records just added to the store (an import) added here too; any without current
        change measures are measured by a :meth:`refresh`."""
        self.lesions.update({r["id"]: r for r in lesions})
        self.checks.update({r["id"]: r for r in checks})
        if not all(self.measured(c) for c in checks):
            await self.refresh()

    async def images(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{check id: {id, crop, photo}}``."""
        return await self.store.images(list(ids))

    async def full_checks(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """These checks with their pictures (a missing picture stays absent)."""
        return await self.full_checks_of([self.checks[i] for i in ids])


async def ask_persistence(store: browser.HistoryStore) -> None:
    """Ask that the browser keep this site's data when space runs short (Chromium grants it
    silently to a site in use or installed; others may ask the person once)."""
    try:
        if not (await store.storage()).get("persisted"):
            await store.persist()
    except browser.StoreError:
        pass  # not offered here: the storage line says the data may be cleared
