"""The encrypted backup file (``*.skinlens``): its framing and validation, and its payload.

The page encrypts with Web Crypto; Python never sees the passphrase or the key. What it does:
lay the file out (:func:`pack`), and read one back (:func:`unpack`), telling each way a file
can be unusable apart by a stable code, before any decryption is tried.

Layout (all lengths in bytes)::

    MAGIC (16)  "SKINLENS-BACKUP\\n"
    header      one line of printable-ASCII JSON, then "\\n"
    header hash SHA-256 of MAGIC + header line (32)
    ciphertext  AES-GCM output, its tag included (header["ciphertext_length"])
    trailer     SHA-256 of everything before it (32)

The header (:func:`make_header`) says: ``format`` (:data:`FORMAT_VERSION`), the app's record
``schema``, the ``kdf`` (PBKDF2 with SHA-256, :data:`ITERATIONS` iterations: OWASP's 2023
figure for PBKDF2-HMAC-SHA256; a 16-byte random salt), the ``cipher`` (AES-GCM, a 12-byte
random IV, 128-bit tag), ``ciphertext_length`` and ``key_check``.

``key_check``: the page derives 64 bytes from the passphrase with PBKDF2; the first 32 are
the AES-256-GCM key, the last 32 are stored here. PBKDF2 computes each 32-byte block
independently, so the stored half says nothing about the key beyond what trying a
passphrase against the file would; on import a different ``key_check`` means
``wrong-passphrase`` (compared in constant time), while a matching one followed by an
AES-GCM failure means the ciphertext was changed (``tampered``).

The header hash makes the codes exact: a header that is intact but declares more bytes than
the file has is ``truncated``; one whose hash fails was changed (``tampered``). Codes:
``not-a-backup`` (no magic), ``truncated`` (the file ends early), ``tampered`` (a hash
mismatch, bytes added or binary where the header should be), ``newer-version`` (a format or
schema this app does not know: update the app), ``corrupt`` (intact but malformed: a header
without its fields, a payload that is not the records). The page adds ``wrong-passphrase``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Any

from skinlens.errors import SkinlensError
from skinlens.history import SCHEMA_VERSION, Check, Lesion, RecordError, migrate, now_iso

MAGIC = b"SKINLENS-BACKUP\n"
FORMAT_VERSION = 1
ITERATIONS = 600_000
SALT_BYTES = 16
IV_BYTES = 12
KEY_CHECK_BYTES = 32
TAG_BITS = 128
HASH_BYTES = 32
MAX_HEADER = 4096
"""A header is about 300 bytes; a longer line is not a header."""

NOT_A_BACKUP = "not-a-backup"
TRUNCATED = "truncated"
TAMPERED = "tampered"
NEWER_VERSION = "newer-version"
CORRUPT = "corrupt"
WRONG_PASSPHRASE = "wrong-passphrase"
"""Decided by the page (the key check), listed here so every code has one home."""
CODES = (NOT_A_BACKUP, TRUNCATED, TAMPERED, NEWER_VERSION, CORRUPT, WRONG_PASSPHRASE)
FILE_SUFFIX = ".skinlens"


class BackupError(SkinlensError):
    """A backup that cannot be imported; ``code`` is one of :data:`CODES`
    (``#backup-status[data-reason]``, words under ``backup.error.<code>``)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, size: int, what: str) -> bytes:
    if not isinstance(text, str):
        raise BackupError(CORRUPT, field=what)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise BackupError(CORRUPT, field=what) from e
    if len(raw) != size:
        raise BackupError(CORRUPT, field=what)
    return raw


def make_header(
    salt: bytes,
    iv: bytes,
    key_check: bytes,
    iterations: int = ITERATIONS,
    created: str | None = None,
) -> dict[str, Any]:
    """The header for a backup encrypted with these parameters (``ciphertext_length`` is
    filled in by :func:`pack`)."""
    header = {
        "format": FORMAT_VERSION,
        "schema": SCHEMA_VERSION,
        "created": created or now_iso(),
        "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": iterations, "salt": _b64(salt)},
        "cipher": {"name": "AES-GCM", "iv": _b64(iv), "tag_length": TAG_BITS},
        "key_check": _b64(key_check),
    }
    check_header({**header, "ciphertext_length": 0})
    return header


def check_header(header: Any) -> None:
    """Raise :class:`BackupError` unless ``header`` is a complete header this app can use:
    ``newer-version`` for a newer format or schema (checked first: a newer format may lay
    its header out differently), ``corrupt`` for anything missing or malformed."""
    if not isinstance(header, dict):
        raise BackupError(CORRUPT, field="header")
    fmt, schema = header.get("format"), header.get("schema")
    if not isinstance(fmt, int) or not isinstance(schema, int) or fmt < 1 or schema < 1:
        raise BackupError(CORRUPT, field="format")
    if fmt > FORMAT_VERSION or schema > SCHEMA_VERSION:
        raise BackupError(NEWER_VERSION, format=fmt, schema=schema)
    kdf, cipher = header.get("kdf"), header.get("cipher")
    if not isinstance(kdf, dict) or not isinstance(cipher, dict):
        raise BackupError(CORRUPT, field="kdf")
    if (kdf.get("name"), kdf.get("hash"), cipher.get("name"), cipher.get("tag_length")) != (
        "PBKDF2",
        "SHA-256",
        "AES-GCM",
        TAG_BITS,
    ):
        raise BackupError(CORRUPT, field="algorithms")
    iterations = kdf.get("iterations")
    if not isinstance(iterations, int) or not 100_000 <= iterations <= 100_000_000:
        raise BackupError(CORRUPT, field="iterations")
    _unb64(kdf.get("salt"), SALT_BYTES, "salt")
    _unb64(cipher.get("iv"), IV_BYTES, "iv")
    _unb64(header.get("key_check"), KEY_CHECK_BYTES, "key_check")
    length = header.get("ciphertext_length")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise BackupError(CORRUPT, field="ciphertext_length")


def pack(header: dict[str, Any], ciphertext: bytes) -> bytes:
    """The backup file: magic, header (with ``ciphertext_length``), header hash, ciphertext,
    trailer."""
    full = {**header, "ciphertext_length": len(ciphertext)}
    check_header(full)
    line = json.dumps(full, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    head = MAGIC + line.encode("ascii") + b"\n"
    body = head + hashlib.sha256(head).digest() + bytes(ciphertext)
    return body + hashlib.sha256(body).digest()


def _printable(data: bytes) -> bool:
    return all(32 <= b < 127 for b in data)


def unpack(data: bytes) -> tuple[dict[str, Any], bytes]:
    """``(header, ciphertext)`` of a backup file, or :class:`BackupError` with the reason
    (module docstring): magic, then the header line and its hash, then the declared length,
    then the trailer."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        cut_magic = 0 < len(data) < len(MAGIC) and MAGIC.startswith(data)
        raise BackupError(TRUNCATED if cut_magic else NOT_A_BACKUP)
    start = len(MAGIC)
    end = data.find(b"\n", start, start + MAX_HEADER + 1)
    if end < 0:
        # The header is printable text: a file that ends inside it was cut short; binary
        # bytes there mean its end-of-line was changed.
        rest = data[start : start + MAX_HEADER + 1]
        cut = len(rest) <= MAX_HEADER and _printable(rest)
        raise BackupError(TRUNCATED if cut else TAMPERED)
    line = data[start:end]
    if not _printable(line):
        raise BackupError(TAMPERED, part="header")
    head_end = end + 1
    if len(data) < head_end + HASH_BYTES:
        raise BackupError(TRUNCATED, part="header hash")
    if hashlib.sha256(data[:head_end]).digest() != data[head_end : head_end + HASH_BYTES]:
        raise BackupError(TAMPERED, part="header")
    try:
        header = json.loads(line.decode("ascii"))
    except ValueError as e:
        raise BackupError(CORRUPT, field="header") from e
    check_header(header)
    body_start = head_end + HASH_BYTES
    expected = body_start + header["ciphertext_length"] + HASH_BYTES
    if len(data) < expected:
        raise BackupError(TRUNCATED, size=len(data), expected=expected)
    if len(data) > expected:
        raise BackupError(TAMPERED, part="appended bytes")
    if hashlib.sha256(data[:-HASH_BYTES]).digest() != data[-HASH_BYTES:]:
        raise BackupError(TAMPERED, part="ciphertext")
    return header, data[body_start:-HASH_BYTES]


def parameters(header: dict[str, Any]) -> dict[str, Any]:
    """What the page's Web Crypto needs from a checked header: salt, IV and key check as
    bytes, the iteration count."""
    return {
        "salt": base64.b64decode(header["kdf"]["salt"]),
        "iv": base64.b64decode(header["cipher"]["iv"]),
        "key_check": base64.b64decode(header["key_check"]),
        "iterations": header["kdf"]["iterations"],
    }


# ------------------------------------------------------------------ the payload
def payload(lesions: list[Lesion], checks: list[Check], now: dt.datetime | None = None) -> bytes:
    """The plaintext the page encrypts: every record as JSON (UTF-8)."""
    doc = {
        "schema": SCHEMA_VERSION,
        "exported": now_iso(now),
        "lesions": lesions,
        "checks": checks,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_payload(data: bytes) -> tuple[list[Lesion], list[Check]]:
    """The decrypted plaintext -> ``(lesions, checks)``, every record migrated to the current
    schema; all or nothing: any bad record refuses the whole backup (``corrupt``, or
    ``newer-version`` for records from a newer app), as does a check whose lesion is not in
    the backup."""
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BackupError(CORRUPT, part="payload") from e
    if not isinstance(doc, dict):
        raise BackupError(CORRUPT, part="payload")
    schema = doc.get("schema")
    if not isinstance(schema, int):
        raise BackupError(CORRUPT, part="payload")
    if schema > SCHEMA_VERSION:
        raise BackupError(NEWER_VERSION, schema=schema)
    raw_lesions, raw_checks = doc.get("lesions"), doc.get("checks")
    if not isinstance(raw_lesions, list) or not isinstance(raw_checks, list):
        raise BackupError(CORRUPT, part="payload")
    try:
        lesions: list[Lesion] = [migrate(r, "lesion") for r in raw_lesions]  # type: ignore[misc]
        checks: list[Check] = [migrate(r, "check") for r in raw_checks]  # type: ignore[misc]
    except RecordError as e:
        code = NEWER_VERSION if e.code == "newer-schema" else CORRUPT
        raise BackupError(code, **e.details) from e
    ids = {les["id"] for les in lesions}
    if len(ids) != len(lesions) or any(c["lesion_id"] not in ids for c in checks):
        raise BackupError(CORRUPT, part="lesion ids")
    return lesions, checks
