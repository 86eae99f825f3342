"""My lesions, the browser side: the save form after a result and the ``?view=history`` page.

Loaded only when used (a click on ``button#history-save``, or the history view): nothing
here runs at start-up. Storage is ``site/history-db.js`` (IndexedDB, Web Crypto) through
:class:`skinlens.web.browser.HistoryStore`; the records, their schema migrations, the change
measures, the backup format, the reminder and the printed summary are the pure modules
(:mod:`skinlens.history`, :mod:`skinlens.change`, :mod:`skinlens.backup`,
:mod:`skinlens.reminder`, :mod:`skinlens.report`); what the page shows is
:mod:`skinlens.lesions_view` and :mod:`skinlens.bodymap`.

A check keeps the model-input crop as a PNG (lossless: re-scoring and comparing read exactly
what the model saw) and, when asked, the photo at a moderate size (:data:`PHOTO_SIDE`, JPEG).
Pictures are stored apart from the check records (history-db.js's ``images`` store), so the
view lists hundreds of checks without reading their pictures.

Automation contract (README): ``button#history-save`` -> ``select#history-lesion``,
``input#history-name``, ``#body-map [data-region]``, ``button#history-confirm``, then
``#history-save-status[data-state=saved|error][data-reason]``; ``?view=history``:
``#history-view[data-state=ready][data-ms]``, ``#lesions [data-lesion]``,
``#timeline [data-check]``, ``button#compare`` -> ``#compare[data-state=done][data-changes]``,
``#backup-status[data-state][data-reason][data-count]``, ``button#delete-all`` ->
``button#delete-confirm``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import io
import json
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from skinlens import backup, bodymap, change, history, lesions_view, reminder, report, triage
from skinlens.metadata import ModelInfo
from skinlens.web import browser
from skinlens.web.keep import Pending
from skinlens.wording import Wording

PHOTO_SIDE = 1024
"""The longer side of a kept photo: enough for a doctor to see the lesion, ~150 kB."""
BACKUP_MIME = "application/octet-stream"


# ---------------------------------------------------------------- pictures
def png_b64(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def rgb_of(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


def photo_b64(data: bytes) -> str | None:
    """The photo, upright, at most :data:`PHOTO_SIDE` on its longer side, as JPEG; ``None``
    when it is not something Pillow reads (a DICOM file: the crop is kept all the same)."""
    try:
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    except Exception:
        return None
    img.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def png_url(b64: str) -> str:
    return "data:image/png;base64," + b64


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- the stored history
class Library:
    """Every lesion and check (records migrated to :data:`history.SCHEMA_VERSION`), kept in
    memory while the page is open; writes go to the store first, then here."""

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
        """Read the store; records of an older schema are migrated and written back."""
        data = await self.store.all()
        for kind, store in (("lesion", "lesions"), ("check", "checks")):
            records, migrated = [], []
            for rec in data.get(store, []):
                new = history.migrate(rec, kind)
                records.append(new)
                if new != rec:
                    migrated.append(new)
            if migrated:
                await self.store.put_many(store, migrated)
            target = self.lesions if kind == "lesion" else self.checks
            target.clear()
            target.update({r["id"]: r for r in records})

    def checks_of(self, lesion_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return history.timeline([c for c in self.checks.values() if c["lesion"] == lesion_id])

    def status(self, lesion_id: str) -> history.LesionStatus:
        return history.lesion_status(self.lesions[lesion_id], self.checks_of(lesion_id))

    def rows(self) -> list[lesions_view.LesionRow]:
        by_lesion: dict[str, list[dict[str, Any]]] = {k: [] for k in self.lesions}
        for c in self.checks.values():
            by_lesion.setdefault(c["lesion"], []).append(c)
        out = []
        for lid, les in self.lesions.items():
            checks = history.timeline(by_lesion.get(lid, []))
            st = history.lesion_status(les, checks)
            label = (checks[-1].get("result") or {}).get("label") or "" if checks else ""
            out.append(lesions_view.LesionRow(les, len(checks), st.priority, st.changed, label))
        return sorted(out, key=lambda r: r.lesion.get("name", "").lower())

    async def add(self, lesion: dict[str, Any], check: dict[str, Any], image: dict) -> None:
        await self.store.save(lesion, check, image)
        self.lesions[lesion["id"]] = lesion
        self.checks[check["id"]] = check

    async def crops(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return await self.store.images(ids)


def measures_of(check: dict[str, Any], crop: np.ndarray | None, info: ModelInfo) -> Any:
    stored = check.get("measures")
    found = change.LesionMeasures.from_json(stored) if stored else None
    if found is None and crop is not None:
        found = change.measure(crop, info.change.colour_min_share)
    return found


def compare_checks(
    a: dict[str, Any], b: dict[str, Any], crop_a: np.ndarray, crop_b: np.ndarray, info: ModelInfo
) -> change.Changes:
    """``b`` against the earlier ``a`` (their current results, so like with like)."""
    ra, rb = a["result"], b["result"]
    return change.compare(
        change.CheckData(crop_a, ra["probs"], ra.get("photo_type"), measures_of(a, crop_a, info)),
        change.CheckData(crop_b, rb["probs"], rb.get("photo_type"), measures_of(b, crop_b, info)),
        info.change,
    )


# ---------------------------------------------------------------- the save form
class SaveForm:
    """``button#history-save`` -> the form -> a check stored in one transaction."""

    def __init__(self, info: ModelInfo, wording: Wording) -> None:
        self.info = info
        self.w = wording
        self.pending: Pending | None = None
        self.region: str | None = None
        self.lib: Library | None = None
        self.bound = False
        self.tasks: set[asyncio.Task] = set()

    async def open(self, pending: Pending) -> None:
        self.pending = pending
        self.region = None
        form = browser.el("history-form")
        try:
            self.lib = await Library.load(self.info)
        except browser.StoreError as e:
            self.say("error", e.code)
            return
        form.innerHTML = self.form_html(pending)
        form.hidden = False
        if not self.bound:
            browser.on(form, "click", self.on_click)
            browser.on(form, "keydown", self.on_key)
            browser.on(form, "change", self.on_change)
            self.bound = True
        self.on_change(None)
        browser.el("history-lesion").focus()

    def form_html(self, pending: Pending) -> str:
        from skinlens.view import esc

        w = self.w
        assert self.lib is not None
        options = [f'<option value="new">{esc(w.text("lesions.new"))}</option>']
        for row in self.lib.rows():
            les = row.lesion
            options.append(
                f'<option value="{esc(les["id"])}">{esc(les.get("name", ""))} · '
                f"{esc(bodymap.region_text(les.get('region', ''), w))}</option>"
            )
        photo = ""
        if pending.photo is not None:
            photo = (
                '<label><input id="history-photo" type="checkbox"> '
                f"{esc(w.text('lesions.keep-photo'))}</label>"
            )
        return (
            f"<label>{esc(w.text('lesions.which'))} "
            f'<select id="history-lesion">{"".join(options)}</select></label>'
            f'<div id="history-new"><label>{esc(w.text("lesions.name"))} '
            f'<input id="history-name" type="text" maxlength="80" autocomplete="off"></label>'
            f'<p class="small">{esc(w.text("lesions.where"))}</p>'
            f'<div class="body-map-box">{bodymap.svg(w, svg_id="body-map")}</div></div>'
            f"{photo}"
            f'<button id="history-confirm" class="button button-primary" type="button">'
            f"{esc(w.text('lesions.confirm'))}</button>"
        )

    def on_change(self, ev: Any) -> None:
        browser.el("history-new").hidden = browser.el("history-lesion").value != "new"

    def on_key(self, ev: Any) -> None:
        if ev.key in ("Enter", " ") and ev.target.closest("[data-region]") is not None:
            ev.preventDefault()
            self.on_click(ev)

    def on_click(self, ev: Any) -> None:
        region = ev.target.closest("[data-region]")
        if region is not None:
            self.region = str(region.dataset.region)
            for node in browser.el("body-map").querySelectorAll("[data-region]"):
                node.setAttribute("aria-pressed", "true" if node == region else "false")
            return
        if ev.target.closest("#history-confirm") is not None:
            browser.spawn(self.confirm(), self.tasks)

    def say(self, state: str, reason: str = "", **values: object) -> None:
        status = browser.el("history-save-status")
        key = "lesions.saved" if state == "saved" else f"lesions.error.{reason}"
        status.textContent = self.w.text(key, **values)
        browser.set_attrs(status, {"data-state": state, "data-reason": reason or None})

    async def confirm(self) -> None:
        assert self.pending is not None and self.lib is not None
        pending, lib = self.pending, self.lib
        choice = str(browser.el("history-lesion").value)
        if choice == "new":
            name = str(browser.el("history-name").value).strip()
            if not name:
                self.say("error", "name-missing")
                return
            if self.region is None:
                self.say("error", "region-missing")
                return
            lesion = history.new_lesion(name, self.region, now_iso())
        else:
            lesion = lib.lesions[choice]
        button = browser.el("history-confirm")
        button.disabled = True
        try:
            await self.store_check(lesion, pending)
        except browser.StoreError as e:
            self.say("error", e.code)
            return
        finally:
            button.disabled = False
        browser.el("history-form").hidden = True
        self.say("saved", name=lesion["name"])
        status = browser.el("history-save-status")
        browser.set_attrs(status, {"data-lesion": lesion["id"]})
        await ask_persistence(lib.store)

    async def store_check(self, lesion: dict[str, Any], pending: Pending) -> None:
        lib = self.lib
        assert lib is not None
        crop = await pending.crop()
        if crop is None:
            raise browser.StoreError("no-crop")
        photo = None
        if pending.photo is not None and browser.el("history-photo").checked:
            photo = photo_b64(await pending.photo())
        a = pending.assessment
        measures = change.measure(crop, self.info.change.colour_min_share)
        check = history.new_check(
            lesion["id"],
            now_iso(),
            history.result_record(a, self.info.model_id),
            quality=pending.quality | {"source": pending.source},
            measures=measures.to_json(),
        )
        previous = lib.checks_of(lesion["id"])
        if previous:
            last = previous[-1]
            crop_last = rgb_of((await lib.crops([last["id"]]))[last["id"]]["crop"])
            changes = compare_checks(last, check, crop_last, crop, self.info)
            check["change"] = {"from": last["id"], **changes.to_json()}
        image = {"id": check["id"], "crop": png_b64(crop), "photo": photo}
        await lib.add(lesion, check, image)


async def ask_persistence(store: browser.HistoryStore) -> None:
    """Ask once that the browser keep this site's data when space runs short."""
    try:
        if not (await store.storage()).get("persisted"):
            await store.persist()
    except browser.StoreError:
        pass  # not offered here: the storage line says the data may be cleared


# ---------------------------------------------------------------- the history view
class HistoryPage:
    """``?view=history``: the lesions, a lesion's timeline, compare, reminders, backup,
    print, delete."""

    def __init__(self, info: ModelInfo, wording: Wording) -> None:
        self.info = info
        self.w = wording
        self.lib: Library | None = None
        self.current: str | None = None
        self.tasks: set[asyncio.Task] = set()
        self.rescoring = False

    def spawn(self, coro: Any) -> None:
        browser.spawn(coro, self.tasks)

    async def run(self) -> None:
        t0 = browser.now()
        view = browser.el("history-view")
        try:
            self.lib = await Library.load(self.info)
        except browser.StoreError as e:
            browser.set_attrs(view, {"data-state": "error", "data-reason": e.code})
            browser.el("history-storage").textContent = self.w.text(f"lesions.error.{e.code}")
            return
        self.bind()
        self.render()
        browser.set_attrs(view, {"data-state": "ready", "data-ms": f"{browser.now() - t0:.1f}"})
        self.spawn(self.show_storage(ask=True))

    def bind(self) -> None:
        on, el = browser.on, browser.el
        on(el("lesions"), "click", self.on_lesion_click)
        on(el("lesions"), "keydown", self.on_lesion_key)
        on(el("lesion-map"), "click", self.on_map_click)
        on(el("timeline"), "change", lambda ev: self.update_compare_button())
        on(el("timeline"), "click", self.on_timeline_click)
        on(el("lesion-detail").querySelector("button#compare"), "click", self.on_compare)
        on(el("reminder-ics"), "click", lambda ev: self.spawn(self.remind()))
        on(el("delete-lesion"), "click", self.on_delete_lesion)
        on(el("backup-export"), "click", lambda ev: self.spawn(self.export()))
        on(el("backup-file"), "change", self.on_import_file)
        on(el("print-report"), "click", lambda ev: self.print_report())
        on(el("delete-all"), "click", self.on_delete_all)
        on(el("delete-confirm"), "click", lambda ev: self.spawn(self.delete_all()))

    # ------------------------------------------------------------ lists
    def render(self) -> None:
        assert self.lib is not None
        rows = self.lib.rows()
        browser.el("lesions").innerHTML = lesions_view.lesions_html(rows, self.w)
        dots = [
            bodymap.Dot(r.lesion["id"], r.lesion.get("region", ""), r.priority, r.lesion["name"])
            for r in rows
        ]
        browser.el("lesion-map").innerHTML = bodymap.svg(self.w, svg_id="lesions-map", dots=dots)
        if self.current is not None and self.current not in self.lib.lesions:
            self.current = None
        if self.current is None:
            browser.el("lesion-detail").hidden = True
        else:
            self.spawn(self.show_lesion(self.current))

    def on_lesion_key(self, ev: Any) -> None:
        if ev.key in ("Enter", " ") and ev.target.matches("li[data-lesion]"):
            ev.preventDefault()
            self.on_lesion_click(ev)

    def on_lesion_click(self, ev: Any) -> None:
        if ev.target.matches("input.print-pick"):
            return
        li = ev.target.closest("li[data-lesion]")
        if li is not None:
            self.spawn(self.show_lesion(str(li.dataset.lesion)))

    def on_map_click(self, ev: Any) -> None:
        dot = ev.target.closest("[data-lesion]")
        if dot is not None:
            self.spawn(self.show_lesion(str(dot.dataset.lesion)))

    async def show_lesion(self, lesion_id: str) -> None:
        assert self.lib is not None
        self.current = lesion_id
        t0 = browser.now()
        lesion = self.lib.lesions[lesion_id]
        checks = self.lib.checks_of(lesion_id)
        for li in browser.el("lesions").querySelectorAll("li[data-lesion]"):
            li.setAttribute("aria-current", "true" if li.dataset.lesion == lesion_id else "false")
        st = self.lib.status(lesion_id)
        w = self.w
        browser.el("lesion-name").textContent = lesion["name"]
        facts = [
            bodymap.region_text(lesion.get("region", ""), w),
            w.text("lesions.checks", n=len(checks)),
            w.text("lesions.priority-now", priority=w.priority(st.priority)),
        ]
        if lesion.get("next_due"):
            facts.append(w.text("lesions.next-due", date=lesion["next_due"]))
        browser.el("lesion-facts").textContent = " · ".join(facts)
        reasons = browser.el("lesion-reasons")
        reasons.textContent = " ".join(w.text(f"change.reason.{r}") for r in st.reasons)
        reasons.hidden = not st.reasons
        images = await self.lib.crops([c["id"] for c in checks])
        thumbs = {k: png_url(v["crop"]) for k, v in images.items() if v.get("crop")}
        timeline = browser.el("timeline")
        timeline.innerHTML = lesions_view.timeline_html(checks, thumbs, w, self.info.model_id)
        mel = self.info.codes.index("mel")
        browser.el("timeline-plot").innerHTML = lesions_view.plot_svg(checks, mel, w)
        compare = browser.el("compare")
        compare.hidden = True
        browser.set_attrs(compare, {"data-state": "idle", "data-changes": None})
        self.update_compare_button()
        detail = browser.el("lesion-detail")
        detail.hidden = False
        browser.set_attrs(
            detail, {"data-lesion": lesion_id, "data-ms": f"{browser.now() - t0:.1f}"}
        )

    def picks(self) -> list[str]:
        return [
            str(n.value)
            for n in browser.el("timeline").querySelectorAll("input.compare-pick:checked")
        ]

    def update_compare_button(self) -> None:
        browser.el("lesion-detail").querySelector("button#compare").disabled = (
            len(self.picks()) != 2
        )

    # ------------------------------------------------------------ compare
    def on_compare(self, ev: Any) -> None:
        self.spawn(self.compare(self.picks()))

    async def compare(self, ids: list[str]) -> None:
        assert self.lib is not None
        if len(ids) != 2:
            return
        t0 = browser.now()
        box = browser.el("compare")
        browser.set_attrs(box, {"data-state": "running"})
        a, b = history.timeline([self.lib.checks[i] for i in ids])
        images = await self.lib.crops([a["id"], b["id"]])
        crops = rgb_of(images[a["id"]]["crop"]), rgb_of(images[b["id"]]["crop"])
        changes = compare_checks(a, b, crops[0], crops[1], self.info).to_json()
        urls = png_url(images[a["id"]]["crop"]), png_url(images[b["id"]]["crop"])
        box.innerHTML = lesions_view.compare_html(a, b, urls, changes, self.info.codes, self.w)
        slider = browser.el("compare-opacity")
        browser.on(
            slider,
            "input",
            lambda ev: box.style.setProperty("--compare-opacity", str(int(slider.value) / 100)),
        )
        box.hidden = False
        browser.set_attrs(
            box,
            {
                "data-state": "done",
                "data-changes": json.dumps(changes),
                "data-ms": f"{browser.now() - t0:.1f}",
            },
        )

    # ------------------------------------------------------------ delete
    def on_timeline_click(self, ev: Any) -> None:
        button = ev.target.closest("button.delete-check")
        if button is None:
            return
        if button.dataset.armed != "true":  # the first click asks, the second deletes
            button.dataset.armed = "true"
            button.textContent = self.w.text("lesions.delete-sure-short")
            return
        self.spawn(self.delete_check(str(button.value)))

    async def delete_check(self, check_id: str) -> None:
        assert self.lib is not None
        await self.lib.store.delete_check(check_id)
        self.lib.checks.pop(check_id, None)
        self.render()

    def on_delete_lesion(self, ev: Any) -> None:
        button = ev.target
        if button.dataset.armed != "true":
            button.dataset.armed = "true"
            button.textContent = self.w.text("lesions.delete-sure-short")
            return
        button.dataset.armed = "false"
        button.textContent = self.w.text("lesions.delete-lesion")
        if self.current is not None:
            self.spawn(self.delete_lesion(self.current))

    async def delete_lesion(self, lesion_id: str) -> None:
        assert self.lib is not None
        await self.lib.store.delete_lesion(lesion_id)
        self.lib.lesions.pop(lesion_id, None)
        for cid in [k for k, c in self.lib.checks.items() if c["lesion"] == lesion_id]:
            del self.lib.checks[cid]
        self.current = None
        self.render()
        await self.show_storage()

    def on_delete_all(self, ev: Any) -> None:
        browser.el("delete-confirm-box").hidden = False
        browser.el("delete-confirm").focus()

    async def delete_all(self) -> None:
        assert self.lib is not None
        status = browser.el("delete-status")
        try:
            await self.lib.store.delete_all()
        except browser.StoreError as e:
            status.textContent = self.w.text(f"lesions.error.{e.code}")
            browser.set_attrs(status, {"data-state": "error", "data-reason": e.code})
            return
        self.lib.lesions.clear()
        self.lib.checks.clear()
        self.current = None
        browser.el("delete-confirm-box").hidden = True
        status.textContent = self.w.text("lesions.deleted-all")
        browser.set_attrs(status, {"data-state": "done", "data-reason": None})
        self.render()
        await self.show_storage()

    # ------------------------------------------------------------ storage
    async def show_storage(self, ask: bool = False) -> None:
        assert self.lib is not None
        if ask:
            await ask_persistence(self.lib.store)
        try:
            s = await self.lib.store.storage()
        except browser.StoreError:
            return
        w = self.w
        used = w.text("unit.mb", n=w.number(s["usage"] / 1e6, 1, False))
        quota = w.text("unit.mb", n=w.number(s["quota"] / 1e6, 0, False))
        kept = w.text("lesions.persisted" if s["persisted"] else "lesions.not-persisted")
        line = browser.el("history-storage")
        line.textContent = w.text("lesions.storage", used=used, quota=quota, kept=kept)
        browser.set_attrs(
            line,
            {
                "data-usage": str(int(s["usage"])),
                "data-persisted": str(bool(s["persisted"])).lower(),
            },
        )

    # ------------------------------------------------------------ reminders
    async def remind(self) -> None:
        assert self.lib is not None
        if self.current is None:
            return
        months = int(browser.el("reminder-months").value)
        lesion = dict(self.lib.lesions[self.current])
        due = history.next_due(browser.today_iso(), months)
        lesion["next_due"] = due
        await self.lib.store.put_many("lesions", [lesion])
        self.lib.lesions[lesion["id"]] = lesion
        text = reminder.ics(
            lesion_name=lesion["name"],
            due=due,
            uid=f"{lesion['id']}-{due}@skinlens",
            summary=self.w.text("lesions.reminder-title", name=lesion["name"]),
            description=self.w.text("lesions.reminder-text"),
            stamp=now_iso(),
        )
        self.lib.store.download(text.encode("utf-8"), f"skinlens-{due}.ics", "text/calendar")
        await self.show_lesion(lesion["id"])

    # ------------------------------------------------------------ backup
    def backup_status(self, state: str, reason: str = "", count: int | None = None) -> None:
        status = browser.el("backup-status")
        key = {
            "done": "lesions.imported",
            "exported": "lesions.exported",
            "working": "lesions.backup-working",
        }.get(state, f"backup.error.{reason}")
        status.textContent = self.w.text(key, n=count or 0)
        browser.set_attrs(
            status,
            {
                "data-state": state,
                "data-reason": reason or None,
                "data-count": None if count is None else str(count),
            },
        )

    def passphrase(self) -> str | None:
        value = str(browser.el("backup-passphrase").value)
        if not value:
            self.backup_status("error", "passphrase-missing")
            return None
        return value

    async def export(self) -> None:
        assert self.lib is not None
        passphrase = self.passphrase()
        if passphrase is None:
            return
        self.backup_status("working")
        t0 = browser.now()
        store = self.lib.store
        dump = json.loads(await store.dump())
        plain = backup.payload(dump, now_iso())
        salt, iv = store.random_bytes(backup.SALT_BYTES), store.random_bytes(backup.IV_BYTES)
        key_check = await store.key_check(passphrase, salt, backup.ITERATIONS)
        header = backup.header(salt, iv, backup.ITERATIONS, key_check)
        ciphertext, _ = await store.encrypt(passphrase, salt, iv, backup.ITERATIONS, plain, header)
        data = backup.pack(header, ciphertext)
        store.download(data, f"skinlens-{browser.today_iso()}.skinlens", BACKUP_MIME)
        self.backup_status("exported", count=len(dump.get("checks", [])))
        browser.set_attrs(
            browser.el("backup-status"),
            {"data-ms": f"{browser.now() - t0:.0f}", "data-bytes": str(len(data))},
        )

    def on_import_file(self, ev: Any) -> None:
        files = browser.files_of(ev.target.files)
        ev.target.value = ""
        if files:
            self.spawn(self.import_file(files[0]))

    async def import_file(self, file: Any) -> None:
        assert self.lib is not None
        passphrase = self.passphrase()
        if passphrase is None:
            return
        self.backup_status("working")
        t0 = browser.now()
        store = self.lib.store
        try:
            data = await browser.read_file(file)
            parsed = backup.unpack(data)
            plain = await store.decrypt(
                passphrase,
                parsed.salt,
                parsed.iv,
                parsed.iterations,
                parsed.key_check,
                parsed.ciphertext,
                parsed.header,
            )
            content = backup.parse_payload(plain)
            records = {
                "lesions": [history.migrate(r, "lesion") for r in content["lesions"]],
                "checks": [history.migrate(r, "check") for r in content["checks"]],
                "images": content.get("images", []),
            }
            await store.import_all(json.dumps(records))
        except backup.BackupError as e:
            self.backup_status("error", e.code)
            return
        except browser.StoreError as e:
            self.backup_status("error", e.code)
            return
        except Exception as e:  # a bug or an unreadable file: say so, change nothing
            browser.warn(f"skinlens import: {e!r}")
            self.backup_status("error", "corrupt")
            return
        await self.lib.refresh()
        self.render()
        self.backup_status("done", count=len(records["checks"]))
        browser.set_attrs(browser.el("backup-status"), {"data-ms": f"{browser.now() - t0:.0f}"})
        await self.show_storage()

    # ------------------------------------------------------------ print
    def print_report(self) -> None:
        assert self.lib is not None
        picked = [
            str(n.value) for n in browser.el("lesions").querySelectorAll("input.print-pick:checked")
        ]
        self.spawn(self._print(picked or list(self.lib.lesions)))

    async def _print(self, lesion_ids: list[str]) -> None:
        assert self.lib is not None
        lesions = [self.lib.lesions[i] for i in lesion_ids]
        checks = {i: self.lib.checks_of(i) for i in lesion_ids}
        ids = [c["id"] for cs in checks.values() for c in cs]
        images = await self.lib.crops(ids)
        area = browser.el("print-area")
        area.innerHTML = report.summary_html(
            lesions,
            checks,
            {k: png_url(v["crop"]) for k, v in images.items() if v.get("crop")},
            self.info,
            self.w,
            map_svg=bodymap.svg(
                self.w,
                svg_id="print-map",
                dots=[
                    bodymap.Dot(
                        les["id"],
                        les.get("region", ""),
                        self.lib.status(les["id"]).priority,
                        les["name"],
                    )
                    for les in lesions
                ],
            ),
        )
        browser.set_attrs(area, {"data-lesions": str(len(lesions))})
        browser.print_page()

    # ------------------------------------------------------------ re-scoring
    async def rescore(self, predict: browser.WorkerModel) -> int:
        """Checks scored by another model, re-scored from their stored crops by this one
        (the old result kept in the check); returns how many."""
        assert self.lib is not None
        todo = [c for c in self.lib.checks.values() if history.needs_rescore(c, self.info.model_id)]
        done = []
        for c in todo:
            images = await self.lib.crops([c["id"]])
            if c["id"] not in images:
                continue
            crop = rgb_of(images[c["id"]]["crop"])
            inference = await predict(self.info.model_input(crop)[np.newaxis])
            a = triage.assess(inference.row(0), self.info)
            done.append(history.rescored(c, history.result_record(a, self.info.model_id)))
        if done:
            await self.lib.store.put_many("checks", done)
            for c in done:
                self.lib.checks[c["id"]] = c
            self.render()
        browser.set_attrs(browser.el("history-view"), {"data-rescored": str(len(done))})
        return len(done)
