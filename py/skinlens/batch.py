"""Batch screening, pure (runs under CPython too): many files -> one row each, Urgent first.

Each file is read, decoded, cropped and gated by :meth:`skinlens.photo.Photo.load` (Python,
one at a time, yielding to the page between files); the model inputs that pass are stacked
and sent to the model ``batch_size`` at a time (batching pays on wasm with threads: one call
of 8 costs about 0.6x eight calls of 1). While the model works on one batch, the next one
is prepared, so Python and the inference worker run side by side.

Memory stays bounded whatever the number of files: a row keeps its verdict and a small
thumbnail made by the injected ``thumbnail`` function, never the decoded image (the crop is
dropped once the thumbnail exists), and at most two batches of model inputs exist at once.

One bad file never stops the batch: its failure is its row's reason (``Photo.load`` catches
every pipeline error); a failing model call rejects the rows of that call only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from skinlens import errors, triage
from skinlens.photo import Photo, PhotoResult

PRIORITY_RANK: dict[str, int] = {"Urgent": 0, "High": 1, "Medium": 2, "Low": 3, "None": 4}
"""Table order: Urgent first, "cannot assess" (``None``) last."""

DEFAULT_BATCH = 8
"""Batch size when the speed test has not run on this device (wasm, 2 cores: batch 8 costs
0.56x per image of batch 1; larger batches gain little more and delay the first rows)."""


@dataclass(frozen=True)
class Source:
    """One chosen file: its name and how to read its bytes (the browser's read)."""

    name: str
    read: Callable[[], Awaitable[bytes]]


@dataclass
class BatchRow:
    """One file's line in the results table."""

    index: int
    """Position in the chosen order (stable tie-break and the row's id)."""
    name: str
    result: PhotoResult
    """The verdict and timings; ``crop`` is ``None`` (memory: only the thumbnail stays)."""
    thumb: str | None

    @property
    def sort_key(self) -> tuple[int, float, int]:
        """Urgent > High > Medium > Low > cannot assess; the most probable first within."""
        a = self.result.assessment
        assert a is not None
        return (PRIORITY_RANK[a.priority], -(a.top_prob or 0.0), self.index)


@dataclass(frozen=True)
class Progress:
    """How far a batch is, for the progress bar and its line of text."""

    done: int
    count: int
    elapsed_ms: float

    @property
    def per_second(self) -> float:
        return 1000.0 * self.done / self.elapsed_ms if self.elapsed_ms > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """At the rate so far; ``None`` before the first row (no rate yet)."""
        if self.done == 0 or self.per_second <= 0:
            return None
        return (self.count - self.done) / self.per_second

    @property
    def fraction(self) -> float:
        return self.done / self.count if self.count else 1.0


def choose_batch_size(measured: dict[str, float] | None) -> int:
    """The batch size with the best per-image time the speed test measured on this device
    (``{"8": ms_per_image, ...}`` as kept in ``localStorage``), else :data:`DEFAULT_BATCH`;
    on a tie the smaller batch (its first rows appear sooner)."""
    if not measured:
        return DEFAULT_BATCH
    return min((ms, int(b)) for b, ms in measured.items())[1]


Thumbnail = Callable[[np.ndarray], str]


class BatchRun:
    """``await BatchRun(photo, thumbnail, on_row, batch_size).run(sources)``.

    ``on_row`` is called once per file as soon as its verdict is known (rejections before
    the model come first); ``cancel()`` stops reading more files: the batch in the model
    finishes and is shown, inputs prepared but not yet sent are dropped.
    """

    def __init__(
        self,
        photo: Photo,
        thumbnail: Thumbnail,
        on_row: Callable[[BatchRow], None],
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.photo = photo
        self.thumbnail = thumbnail
        self.on_row = on_row
        self.batch_size = max(1, batch_size)
        self.cancelled = False
        self.done = 0

    def cancel(self) -> None:
        self.cancelled = True

    async def run(self, sources: Sequence[Source]) -> None:
        pending: list[tuple[BatchRow, np.ndarray]] = []
        flight: asyncio.Task[None] | None = None
        for i, src in enumerate(sources):
            if self.cancelled:
                break
            result, x = await self._load(src)
            row = BatchRow(i, src.name, result, self._thumb(result))
            if x is None:
                self._emit(row)
            else:
                pending.append((row, x))
            if len(pending) >= self.batch_size:
                if flight is not None:
                    await flight
                flight = asyncio.ensure_future(self._infer(pending))
                pending = []
            await asyncio.sleep(0)  # let the page paint and take clicks between files
        if flight is not None:
            await flight
        if pending and not self.cancelled:
            await self._infer(pending)

    async def _load(self, src: Source) -> tuple[PhotoResult, np.ndarray | None]:
        try:
            return await self.photo.load(src.read(), src.name)
        except Exception as e:  # a bug, not a bad photo: this row says so, the batch goes on
            err = errors.SkinlensError(errors.INTERNAL_ERROR, cause=type(e).__name__)
            return PhotoResult(triage.rejected(errors.INTERNAL_ERROR, error=err)), None

    def _thumb(self, result: PhotoResult) -> str | None:
        if result.crop is None:
            return None
        thumb = self.thumbnail(result.crop)
        result.crop = None
        return thumb

    async def _infer(self, items: list[tuple[BatchRow, np.ndarray]]) -> None:
        """One model call for ``items``; a failing call rejects these rows only."""
        stack = np.concatenate([x for _, x in items])  # each item: its views
        try:
            inference = await self.photo.predict(stack)
        except errors.SkinlensError as e:
            for row, _ in items:
                row.result.assessment = triage.rejected(e.code, error=e)
                self._emit(row)
            return
        for i, (row, _) in enumerate(items):
            self.photo.conclude(row.result, inference, i)
            self._emit(row)

    def _emit(self, row: BatchRow) -> None:
        self.done += 1
        self.on_row(row)
