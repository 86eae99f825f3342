"""``?view=history``: my lesions, a lesion's timeline, compare, reminders, print, delete, and
re-scoring with the loaded model.

Loaded for this view only (``site/main.py`` imports it inside the function that opens the
view). The records, the lesion status and the change measures are :mod:`skinlens.history`
and :mod:`skinlens.change`; the markup is :mod:`skinlens.lesions_view` and
:mod:`skinlens.bodymap`; storage is :class:`skinlens.web.library.Library`; the backup panel
is :mod:`skinlens.web.history_backup`.

Automation contract (README): ``#history-view[data-state=loading|ready|error][data-ms]``
(``data-ms``: the module imported -> the list and the map on screen); ``#lesions
[data-lesion]`` with ``data-name``, ``data-region``, ``data-checks``, ``data-priority``,
``data-changed``; ``#lesion-detail[data-lesion][data-ms]``; ``#timeline [data-check]``
with ``data-date``, ``data-priority``, ``data-label``, ``data-probs``, ``data-model``;
``input.compare-pick`` x2 + ``button#compare`` -> ``#compare[data-state=done]
[data-changes][data-ms]``; ``button#delete-all`` -> ``button#delete-confirm`` ->
``#delete-status[data-state=done]``; ``#history-storage[data-usage][data-persisted]``;
``#history-view[data-rescored]`` (checks re-scored with the loaded model).
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import numpy as np

from skinlens import bodymap, change, history, lesions_view, triage
from skinlens.metadata import ModelInfo
from skinlens.web import browser
from skinlens.web.library import Library, ask_persistence, png_url
from skinlens.wording import Wording


class HistoryPage:
    """The view's controller; :meth:`run` once, :meth:`rescore` when the model is ready."""

    def __init__(self, info: ModelInfo, wording: Wording) -> None:
        self.info = info
        self.w = wording
        self.lib: Library | None = None
        self.current: str | None = None
        self.backup: Any = None
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Any) -> None:
        browser.spawn(coro, self.tasks)

    async def run(self, started_ms: float) -> None:
        """``started_ms``: when the view's code started loading (for ``data-ms``)."""
        view = browser.el("history-view")
        phases = {"imported": round(browser.now() - started_ms)}
        try:
            self.lib = await Library.load(self.info)
        except browser.StoreError as e:
            self.fail(e.code, f"lesions.error.{e.code}")
            return
        except history.RecordError as e:  # a record of a newer app, or a damaged one
            self.fail(e.code, f"history.error.{e.code}")
            return
        phases["loaded"] = round(browser.now() - started_ms)
        self.bind()
        self.render()
        ms = browser.now() - started_ms
        attrs = {"data-state": "ready", "data-ms": f"{ms:.1f}", "data-phases": json.dumps(phases)}
        browser.set_attrs(view, attrs)
        self.spawn(self.show_storage(ask=True))

    def fail(self, code: str, key: str) -> None:
        browser.set_attrs(browser.el("history-view"), {"data-state": "error", "data-reason": code})
        browser.el("history-storage").textContent = self.w.text(key)

    def bind(self) -> None:
        assert self.lib is not None
        on, el = browser.on, browser.el
        on(el("lesions"), "click", self.on_lesion_click)
        on(el("lesions"), "keydown", self.on_lesion_key)
        on(el("lesion-map"), "click", self.on_map_click)
        on(el("timeline"), "change", lambda ev: self.update_compare_button())
        on(el("timeline"), "click", self.on_timeline_click)
        on(self.compare_button(), "click", lambda ev: self.spawn(self.compare(self.picks())))
        on(el("reminder-ics"), "click", lambda ev: self.spawn(self.remind()))
        on(el("delete-lesion"), "click", self.on_delete_lesion)
        on(el("print-report"), "click", lambda ev: self.spawn(self.print_report()))
        on(el("delete-all"), "click", self.on_delete_all)
        on(el("delete-confirm"), "click", lambda ev: self.spawn(self.delete_all()))
        on(el("backup-export"), "click", lambda ev: self.spawn(self.backup_panel().export()))
        on(el("backup-file"), "change", lambda ev: self.backup_panel().on_file(ev))

    def backup_panel(self) -> Any:
        """The backup's code (and the file format's) loads on its first use."""
        if self.backup is None:
            from skinlens.web.history_backup import BackupPanel

            assert self.lib is not None
            self.backup = BackupPanel(self.lib, self.w, self.after_import)
        return self.backup

    @staticmethod
    def compare_button() -> Any:
        # the contract names both the button and the comparison "#compare" (index.html)
        return browser.el("lesion-detail").querySelector("button#compare")

    # ------------------------------------------------------------ lists
    def render(self) -> None:
        assert self.lib is not None
        rows = self.lib.rows()
        browser.el("lesions").innerHTML = lesions_view.lesions_html(rows, self.w)
        dots = [
            bodymap.Dot(r.lesion["id"], r.lesion["region"], r.priority, r.lesion["name"])
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
        dot = ev.target.closest("circle[data-lesion]")
        if dot is not None:
            self.spawn(self.show_lesion(str(dot.dataset.lesion)))

    async def show_lesion(self, lesion_id: str) -> None:
        assert self.lib is not None
        t0 = browser.now()
        self.current = lesion_id
        w = self.w
        lesion = self.lib.lesions[lesion_id]
        checks = self.lib.checks_of(lesion_id)
        for li in browser.el("lesions").querySelectorAll("li[data-lesion]"):
            li.setAttribute("aria-current", "true" if li.dataset.lesion == lesion_id else "false")
        st = self.lib.status(lesion_id)
        facts = [
            bodymap.region_text(lesion["region"], w),
            w.text("lesions.checks", n=len(checks)),
            w.text("lesions.priority-now", priority=w.priority(st.priority)),
        ]
        if lesion.get("next_due"):
            facts.append(w.text("lesions.next-due", date=lesion["next_due"]))
        browser.el("lesion-name").textContent = lesion["name"]
        browser.el("lesion-facts").textContent = " · ".join(facts)
        reasons = browser.el("lesion-reasons")
        reasons.textContent = " ".join(w.text(f"change.reason.{r}") for r in st.reasons)
        reasons.hidden = not st.reasons
        images = await self.lib.images(c["id"] for c in checks)
        thumbs = {k: png_url(v["crop"]) for k, v in images.items() if v.get("crop")}
        browser.el("timeline").innerHTML = lesions_view.timeline_html(
            checks, thumbs, w, self.info.model_id
        )
        mel = self.info.codes.index("mel")
        browser.el("timeline-plot").innerHTML = lesions_view.plot_svg(checks, mel, w)
        box = browser.el("compare")
        box.hidden = True
        browser.set_attrs(box, {"data-state": "idle", "data-changes": None})
        self.update_compare_button()
        detail = browser.el("lesion-detail")
        detail.hidden = False
        browser.set_attrs(
            detail, {"data-lesion": lesion_id, "data-ms": f"{browser.now() - t0:.1f}"}
        )

    def picks(self) -> list[str]:
        nodes = browser.el("timeline").querySelectorAll("input.compare-pick:checked")
        return [str(n.value) for n in nodes]

    def update_compare_button(self) -> None:
        self.compare_button().disabled = len(self.picks()) != 2

    # ------------------------------------------------------------ compare
    async def compare(self, ids: list[str]) -> None:
        assert self.lib is not None
        if len(ids) != 2:
            return
        t0 = browser.now()
        box = browser.el("compare")
        browser.set_attrs(box, {"data-state": "running"})
        from skinlens import report  # the measures in words, as on paper

        a, b = history.timeline(await self.lib.full_checks(ids))
        found = change.compare(history.check_data(a), history.check_data(b), self.info.change)
        changes = found.to_json()
        urls = png_url(a["crop"]), png_url(b["crop"])
        box.innerHTML = lesions_view.compare_html(
            a,
            b,
            urls,
            report.changes_html(found, self.w),
            changes["probs"],
            self.info.codes,
            self.w,
        )
        slider = browser.el("compare-opacity")

        def on_opacity(ev: Any) -> None:
            box.style.setProperty("--compare-opacity", str(int(slider.value) / 100))

        browser.on(slider, "input", on_opacity)
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
    def arm(self, button: Any) -> bool:
        """The first click asks ("Really delete?"), the second deletes: True then."""
        if button.getAttribute("data-armed") == "true":
            return True
        button.setAttribute("data-armed", "true")
        button.textContent = self.w.text("lesions.delete-sure-short")
        return False

    def on_timeline_click(self, ev: Any) -> None:
        button = ev.target.closest("button.delete-check")
        if button is not None and self.arm(button):
            self.spawn(self.delete_check(str(button.value)))

    async def delete_check(self, check_id: str) -> None:
        assert self.lib is not None
        await self.lib.store.delete_check(check_id)
        self.lib.checks.pop(check_id, None)
        self.render()
        await self.show_storage()

    def on_delete_lesion(self, ev: Any) -> None:
        button = ev.target
        if self.current is None or not self.arm(button):
            return
        button.removeAttribute("data-armed")
        button.textContent = self.w.text("lesions.delete-lesion")
        self.spawn(self.delete_lesion(self.current))

    async def delete_lesion(self, lesion_id: str) -> None:
        assert self.lib is not None
        await self.lib.store.delete_lesion(lesion_id)
        self.lib.lesions.pop(lesion_id, None)
        for cid in [k for k, c in self.lib.checks.items() if c["lesion_id"] == lesion_id]:
            del self.lib.checks[cid]
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
        browser.el("delete-confirm-box").hidden = True
        status.textContent = self.w.text("lesions.deleted-all")
        browser.set_attrs(status, {"data-state": "done", "data-reason": None})
        self.render()
        await self.show_storage()

    async def after_import(self) -> None:
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
        persisted = "true" if s["persisted"] else "false"
        browser.set_attrs(line, {"data-usage": str(int(s["usage"])), "data-persisted": persisted})

    # ------------------------------------------------------------ reminders
    async def remind(self) -> None:
        """ "Check again in N months": the due date on the lesion and an ``.ics`` file."""
        from skinlens import reminder  # on first use

        assert self.lib is not None
        if self.current is None:
            return
        months = int(browser.el("reminder-months").value)
        lesion = history.with_reminder(
            self.lib.lesions[self.current], months, datetime.date.fromisoformat(browser.today_iso())
        )
        await self.lib.store.put_many("lesions", [lesion])
        self.lib.lesions[lesion["id"]] = lesion
        due = datetime.date.fromisoformat(lesion["next_due"])
        now = datetime.datetime.now(datetime.UTC)
        text = reminder.ics(lesion["name"], due, f"{lesion['id']}@skinlens", now, self.w)
        name = reminder.file_name(lesion["name"], due)
        self.lib.store.download(text.encode("utf-8"), name, "text/calendar")
        await self.show_lesion(lesion["id"])

    # ------------------------------------------------------------ print
    async def print_report(self) -> None:
        """ "For the doctor": the chosen lesions (none chosen: all) in ``#print-area`` (only
        on paper: history.css), then the browser's print dialog ("Save as PDF" works)."""
        from skinlens import report  # on first use

        assert self.lib is not None
        nodes = browser.el("lesions").querySelectorAll("input.print-pick:checked")
        ids = [str(n.value) for n in nodes] or [r.lesion["id"] for r in self.lib.rows()]
        lesions = [self.lib.lesions[i] for i in ids]
        checks = {
            i: await self.lib.full_checks(c["id"] for c in self.lib.checks_of(i)) for i in ids
        }
        statuses = {i: self.lib.status(i) for i in ids}
        dots = [
            bodymap.Dot(i, les["region"], statuses[i].priority, les["name"])
            for i, les in zip(ids, lesions, strict=True)
        ]
        area = browser.el("print-area")
        area.innerHTML = report.summary_html(
            lesions,
            checks,
            {i: statuses[i].changes for i in ids},
            self.w,
            statuses=statuses,
            map_svg=bodymap.svg(self.w, svg_id="print-map", dots=dots),
            region_text=lambda code: bodymap.region_text(code, self.w),
            made=browser.today_iso(),
        )
        browser.set_attrs(area, {"data-lesions": str(len(ids))})
        browser.print_page()

    # ------------------------------------------------------------ re-scoring
    async def rescore(self, predict: browser.WorkerModel) -> int:
        """Checks scored by another model, re-scored from their stored crops by the loaded
        one (the old result kept in the check's ``history``); returns how many."""
        assert self.lib is not None
        todo = [c for c in self.lib.checks.values() if history.needs_rescore(c, self.info.model_id)]
        done = []
        for c in await self.lib.full_checks(c["id"] for c in todo):
            if not c.get("crop"):
                continue
            x = self.info.model_input(history.crop_pixels(c))
            a = triage.assess((await predict(x[np.newaxis])).row(0), self.info)
            if a.probs is None:
                continue
            done.append(history.rescored(c, a.probs, self.info, a.photo_type))
        records = [{k: v for k, v in c.items() if k not in ("crop", "photo")} for c in done]
        if records:
            await self.lib.store.put_many("checks", records)
            self.lib.checks.update({c["id"]: c for c in records})
            self.render()
        browser.set_attrs(browser.el("history-view"), {"data-rescored": str(len(records))})
        return len(records)
