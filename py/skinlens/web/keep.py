"""The "Save to my lesions" offer after a result: light, so that it can be wired at start-up.

A result (the photo's ``#result``, a batch row's detail, a live capture) offers itself as a
:class:`Pending` check: :meth:`SaveOffer.offer` moves ``#history-save-box`` (with
``button#history-save``) next to that result. Only a click on the button loads the history
itself (:mod:`skinlens.web.history_save`, ``site/history-db.js``): people who never save pay
nothing for it at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skinlens.web import browser

if TYPE_CHECKING:
    import numpy as np

    from skinlens.metadata import ModelInfo
    from skinlens.photo import PhotoResult
    from skinlens.triage import Assessment
    from skinlens.wording import Wording


@dataclass
class Pending:
    """A result that can become a check."""

    source: str
    """``photo``, ``batch`` or ``live``."""
    assessment: Assessment
    crop: Callable[[], Awaitable[np.ndarray | None]]
    """The uint8 RGB crop the model saw (a batch row reads its file again: the table keeps
    only thumbnails)."""
    photo: Callable[[], Awaitable[bytes]] | None = None
    """The photo's file bytes, when there is a photo larger than the crop."""
    quality: dict[str, Any] = field(default_factory=dict)
    """Facts about the input: decoded size and format, lesion probability, sharpness."""


Offer = Callable[[Any, "Pending | None"], None]
"""``offer(anchor element, pending or None)``: what the result controllers call."""


class SaveOffer:
    """Owns ``#history-save-box``; hands a click to the history's save form."""

    def __init__(self, info: ModelInfo, wording: Wording) -> None:
        self.info = info
        self.wording = wording
        self.pending: Pending | None = None
        self.form: Any = None
        self.tasks: set[asyncio.Task] = set()

    def bind(self) -> None:
        browser.on(browser.el("history-save"), "click", lambda ev: self.open())

    def offer(self, anchor: Any, pending: Pending | None) -> None:
        """Show the offer right after ``anchor`` for ``pending`` (``None``: no offer, e.g.
        a rejected photo)."""
        box = browser.el("history-save-box")
        self.pending = pending
        if pending is None:
            box.hidden = True
            return
        anchor.after(box)
        browser.el("history-form").hidden = True
        status = browser.el("history-save-status")
        status.textContent = ""
        browser.set_attrs(status, {"data-state": None, "data-reason": None})
        box.hidden = False

    def open(self) -> None:
        if self.pending is not None:
            browser.spawn(self._open(self.pending), self.tasks)

    async def _open(self, pending: Pending) -> None:
        if self.form is None:
            await browser.load_feature("history")  # its modules, on the first save only
            from skinlens.web.history_save import SaveForm

            self.form = SaveForm(self.info, self.wording)
        await self.form.open(pending)


def photo_pending(
    source: str,
    result: PhotoResult,
    crop: Callable[[], Awaitable[np.ndarray | None]],
    read: Callable[[], Awaitable[bytes]] | None,
) -> Pending | None:
    """A photo's (or a batch row's) result as a check to offer; ``None`` when it was not
    assessed (a rejected photo is no check of a lesion)."""
    a = result.assessment
    if a is None or a.rejected:
        return None
    quality: dict[str, Any] = {}
    if result.decoded is not None:
        quality["format"] = result.decoded.format
        quality["size"] = list(result.decoded.original_size)
    if a.ood is not None:
        quality["lesion"] = round(float(a.ood.value), 4)
    return Pending(source, a, crop, None if result.dicom is not None else read, quality)
