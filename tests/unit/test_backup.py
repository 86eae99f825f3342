"""The backup file: a round trip, and each way a file can be unusable refused with its own
code (every single flipped byte, a cut at every length, a newer version, a malformed
header, a broken payload)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from skinlens import backup, history
from skinlens.backup import BackupError
from synthetic import drawn_lesion

SALT, IV, KEY_CHECK = bytes(range(16)), bytes(range(12)), bytes(range(32))


def header(**changes):
    return {**backup.make_header(SALT, IV, KEY_CHECK, created="2026-12-06T08:00:00Z"), **changes}


def code_of(data: bytes) -> str:
    with pytest.raises(BackupError) as e:
        backup.unpack(data)
    return e.value.code


def framed(line: bytes, ciphertext: bytes = b"") -> bytes:
    """A file with valid hashes around an arbitrary header line (what only a buggy or
    hostile writer makes)."""
    head = backup.MAGIC + line + b"\n"
    body = head + hashlib.sha256(head).digest() + ciphertext
    return body + hashlib.sha256(body).digest()


@pytest.fixture(scope="module")
def small() -> bytes:
    return backup.pack(header(), os.urandom(40))


def test_round_trip_keeps_header_and_ciphertext():
    ciphertext = os.urandom(1000)
    h, c = backup.unpack(backup.pack(header(), ciphertext))
    assert c == ciphertext
    assert h["ciphertext_length"] == 1000 and h["format"] == backup.FORMAT_VERSION
    assert h["schema"] == history.SCHEMA_VERSION
    assert h["kdf"]["iterations"] == backup.ITERATIONS == 600_000
    p = backup.parameters(h)
    assert (p["salt"], p["iv"], p["key_check"]) == (SALT, IV, KEY_CHECK)


def test_every_flipped_byte_is_refused(small):
    for i in range(len(small)):
        broken = bytearray(small)
        broken[i] ^= 0x01
        expected = backup.NOT_A_BACKUP if i < len(backup.MAGIC) else backup.TAMPERED
        assert code_of(bytes(broken)) == expected, i


def test_a_newline_flipped_away_or_into_the_header_is_tampering(small):
    end = small.index(b"\n", len(backup.MAGIC))
    for value in (0x0B, 0x41):
        broken = bytearray(small)
        broken[end] = value
        assert code_of(bytes(broken)) == backup.TAMPERED
    broken = bytearray(small)
    broken[len(backup.MAGIC) + 5] = 0x0A
    assert code_of(bytes(broken)) == backup.TAMPERED


def test_a_cut_at_any_length_is_truncated(small):
    for n in range(1, len(small)):
        assert code_of(small[:n]) == backup.TRUNCATED, n


def test_not_a_backup():
    assert code_of(b"") == backup.NOT_A_BACKUP
    assert code_of(b"\x89PNG\r\n\x1a\n" + bytes(100)) == backup.NOT_A_BACKUP
    assert code_of(b"SKINLENS-BACKUP-") == backup.NOT_A_BACKUP


def test_appended_bytes_are_tampering(small):
    assert code_of(small + b"x") == backup.TAMPERED


@pytest.mark.parametrize(
    "changes",
    [{"format": backup.FORMAT_VERSION + 1}, {"schema": history.SCHEMA_VERSION + 1}],
)
def test_a_newer_format_or_schema_is_refused(changes):
    h = header(**changes, ciphertext_length=4)
    line = json.dumps(h, separators=(",", ":")).encode()
    assert code_of(framed(line, b"abcd")) == backup.NEWER_VERSION
    with pytest.raises(BackupError) as e:
        backup.pack(header(**changes), b"abcd")
    assert e.value.code == backup.NEWER_VERSION


@pytest.mark.parametrize(
    "line",
    [
        b"{not json",
        b"[1,2]",
        json.dumps({**header(ciphertext_length=0), "key_check": "AAAA"}).encode(),
        json.dumps({**header(ciphertext_length=0), "cipher": {"name": "AES-CBC"}}).encode(),
        json.dumps({k: v for k, v in header().items()}).encode(),  # no ciphertext_length
        json.dumps({**header(ciphertext_length=0), "format": "1"}).encode(),
    ],
)
def test_an_intact_but_malformed_header_is_corrupt(line):
    assert code_of(framed(line)) == backup.CORRUPT


def test_make_header_refuses_wrong_sizes():
    with pytest.raises(BackupError):
        backup.make_header(SALT[:8], IV, KEY_CHECK)
    with pytest.raises(BackupError):
        backup.make_header(SALT, IV, KEY_CHECK, iterations=1000)


# ------------------------------------------------------------------ payload
def records(info):
    lesion = history.make_lesion("mole, “left”; 左肩", "back-upper", "2026-01-01T00:00:00Z", 3)
    result = {
        "probs": [0.1] * 7,
        "priority": "Low",
        "label": "nv",
        "photo_type": "dermoscopic",
        "model": info.model_id,
    }
    check = history.make_check(lesion["id"], "2026-01-01T00:00:00Z", drawn_lesion(), result, {})
    return [lesion], [check]


def test_payload_round_trip(info):
    lesions, checks = records(info)
    back = backup.parse_payload(backup.payload(lesions, checks))
    assert back == (lesions, checks)
    assert history.crop_pixels(back[1][0]).tobytes() == history.crop_pixels(checks[0]).tobytes()


def test_payload_migrates_old_records(info):
    lesions, checks = records(info)
    old = {k: v for k, v in checks[0].items() if k not in ("result", "schema")}
    old.update(probs=[0.1] * 7, priority="Low", label="nv")
    doc = {
        "schema": 1,
        "lesions": [{"id": lesions[0]["id"], "name": "a", "region": "r", "created": "x"}],
        "checks": [old],
    }
    got_lesions, got_checks = backup.parse_payload(json.dumps(doc).encode())
    assert got_checks[0]["result"]["model"] == history.UNKNOWN_MODEL
    assert got_lesions[0]["next_due"] is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xff\xfe", backup.CORRUPT),
        (b"[]", backup.CORRUPT),
        (json.dumps({"schema": 3, "lesions": [], "checks": []}).encode(), backup.NEWER_VERSION),
        (
            json.dumps({"schema": 2, "lesions": [{"id": "x", "schema": 3}], "checks": []}).encode(),
            backup.NEWER_VERSION,
        ),
        (
            json.dumps({"schema": 2, "lesions": [{"id": "x"}], "checks": []}).encode(),
            backup.CORRUPT,
        ),
        (json.dumps({"schema": 2, "lesions": {}, "checks": []}).encode(), backup.CORRUPT),
    ],
)
def test_a_bad_payload_is_refused_whole(data, code):
    with pytest.raises(BackupError) as e:
        backup.parse_payload(data)
    assert e.value.code == code


def test_a_check_of_a_missing_lesion_is_corrupt(info):
    _, checks = records(info)
    with pytest.raises(BackupError) as e:
        backup.parse_payload(backup.payload([], checks))
    assert e.value.code == backup.CORRUPT
