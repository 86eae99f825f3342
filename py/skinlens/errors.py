"""Typed, user-presentable errors with stable machine codes.

The page shows ``message`` to the person and puts ``code`` into
``#result[data-reason]``; tests and outside tools match on ``code``, so codes
are part of the automation contract and never change once released. Messages
may be reworded freely.
"""

from __future__ import annotations

from typing import Any

# Decode failures (``decode.decode_image``).
EMPTY_FILE = "empty-file"
NOT_AN_IMAGE = "not-an-image"
UNSUPPORTED_FORMAT = "unsupported-format"
CORRUPT_IMAGE = "corrupt-image"
IMAGE_TOO_LARGE = "image-too-large"
IMAGE_TOO_SMALL = "image-too-small"

DECODE_CODES: tuple[str, ...] = (
    EMPTY_FILE,
    NOT_AN_IMAGE,
    UNSUPPORTED_FORMAT,
    CORRUPT_IMAGE,
    IMAGE_TOO_LARGE,
    IMAGE_TOO_SMALL,
)


class SkinlensError(Exception):
    """Base error: a stable ``code`` for machines, a ``message`` for people.

    ``details`` carries measured facts (e.g. the pixel count that was refused)
    so the UI can show them without parsing the message.
    """

    code: str = "error"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the page (no exception objects cross to JS)."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}


class DecodeError(SkinlensError):
    """The uploaded bytes could not be turned into an RGB image.

    Always carries one of ``DECODE_CODES`` so the page can branch on it.
    """
