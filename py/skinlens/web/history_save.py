"""The save form after a result: ``button#history-save`` -> a check of a new or saved lesion.

Loaded on the first click of ``button#history-save`` (:mod:`skinlens.web.keep`). The form is
``select#history-lesion`` (saved lesions and ``value="new"``), ``input#history-name`` and the
body map ``#body-map [data-region]`` for a new lesion, ``input#history-photo`` (keep the
photo at a moderate size), ``button#history-confirm``; the outcome is
``#history-save-status[data-state=saved|error][data-reason]``. A check and its lesion are
stored in one IndexedDB transaction: a full disk (``quota``) stores neither and loses
nothing already saved.
"""

from __future__ import annotations

import asyncio
import datetime
import io
from typing import Any

from PIL import Image, ImageOps

from skinlens import bodymap, history
from skinlens.metadata import ModelInfo
from skinlens.view import esc
from skinlens.web import browser
from skinlens.web.keep import Pending
from skinlens.web.library import Library, ask_persistence
from skinlens.wording import Wording


def photo_base64(data: bytes) -> str | None:
    """The photo upright and shrunk (:func:`skinlens.history.photo_base64`); ``None`` for a
    file Pillow does not read (a DICOM file: the crop is kept all the same)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return history.photo_base64(ImageOps.exif_transpose(im))
    except Exception:
        return None


class SaveForm:
    """The form's markup, its choices and the save."""

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
        w = self.w
        assert self.lib is not None
        options = [f'<option value="new">{esc(w.text("lesions.new"))}</option>']
        for row in self.lib.rows():
            les = row.lesion
            region = bodymap.region_text(les["region"], w)
            options.append(
                f'<option value="{esc(les["id"])}">{esc(les["name"])} · {esc(region)}</option>'
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
            '<input id="history-name" type="text" maxlength="80" autocomplete="off"></label>'
            f'<p class="small">{esc(w.text("lesions.where"))}</p>'
            f'<div class="body-map-box">{bodymap.svg(w, svg_id="body-map")}</div></div>'
            f"{photo}"
            '<button id="history-confirm" class="button button-primary" type="button">'
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
        choice = str(browser.el("history-lesion").value)
        if choice == "new":
            name = str(browser.el("history-name").value).strip()
            if not name:
                self.say("error", "name-missing")
                return
            if self.region is None:
                self.say("error", "region-missing")
                return
            lesion = history.make_lesion(name, self.region, history.now_iso())
        else:
            lesion = self.lib.lesions[choice]
        button = browser.el("history-confirm")
        button.disabled = True
        try:
            await self.save(lesion, self.pending)
        except browser.StoreError as e:
            self.say("error", e.code)
            return
        finally:
            button.disabled = False
        browser.el("history-form").hidden = True
        self.say("saved", name=lesion["name"])
        browser.set_attrs(browser.el("history-save-status"), {"data-lesion": lesion["id"]})
        await ask_persistence(self.lib.store)

    async def save(self, lesion: dict[str, Any], pending: Pending) -> None:
        assert self.lib is not None
        crop = await pending.crop()
        if crop is None:
            raise browser.StoreError("no-crop")
        photo = None
        if pending.photo is not None and browser.el("history-photo").checked:
            photo = photo_base64(await pending.photo())
        date = history.now_iso()
        check = history.make_check(
            lesion["id"],
            date,
            crop,
            history.result_of(pending.assessment, self.info),
            pending.quality | {"source": pending.source},
            photo,
        )
        if lesion.get("reminder_months"):  # the next reminder counts from this check
            since = datetime.date.fromisoformat(date[:10])
            lesion = history.with_reminder(lesion, lesion["reminder_months"], since)
        await self.lib.add(lesion, check)
