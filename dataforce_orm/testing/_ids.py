"""Ids, keys and timestamps as the platform makes them."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone

_lock = threading.Lock()
_last = (0, 0)  # (unix ms, 12-bit sequence) of the previous id


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit ms timestamp, version, 12-bit sequence, variant, 62 random bits.

    Monotonic within one process: ids made in the same millisecond count upwards.
    """
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_seq = _last
        if ms <= last_ms:
            ms, seq = last_ms, last_seq + 1
            if seq > 0xFFF:
                ms, seq = ms + 1, secrets.randbits(10)
        else:
            seq = secrets.randbits(10)
        _last = (ms, seq)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | secrets.randbits(62)
    return uuid.UUID(int=value)


def new_id() -> str:
    """A fresh hyphenated UUIDv7 string."""
    return str(uuid7())


def new_api_key() -> str:
    """A user API key: ``dfs_`` + 43 url-safe base64 characters."""
    return "dfs_" + secrets.token_urlsafe(32)


def now_iso() -> str:
    """The current UTC time, ISO-8601 with microseconds and ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_BLOCK_STARTS = (0, 9, 14, 19, 24)
_HEX = frozenset("0123456789abcdefABCDEF")
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_error(text: str) -> str:
    """The message the Rust ``uuid`` crate gives for an unparsable string (as pydantic shows)."""
    raw = text.encode()
    if raw.startswith(b"{") and raw.endswith(b"}") and len(raw) > 1:
        body, offset, simple = text[1:-1], 1, False
    elif raw.startswith(b"urn:uuid:"):
        body, offset, simple = text[9:], 9, False
    else:
        body, offset, simple = text, 0, True
    hyphens: list[int] = []
    byte_index = 0
    for ch in body:
        if ch == "-":
            hyphens.append(byte_index)
        elif ch not in _HEX:
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{ch}` at {byte_index + offset + 1}"
            )
        byte_index += len(ch.encode())
    if not hyphens and simple:
        return f"invalid length: expected length 32 for simple format, found {len(raw)}"
    if len(hyphens) != 4:
        return f"invalid group count: expected 5, found {len(hyphens) + 1}"
    expected = (8, 4, 4, 4, 12)
    for i in range(4):
        if hyphens[i] != _BLOCK_STARTS[i + 1] - 1:
            found = hyphens[i] - _BLOCK_STARTS[i]
            return f"invalid group length in group {i}: expected {expected[i]}, found {found}"
    found = len(raw) - _BLOCK_STARTS[4]
    return f"invalid group length in group 4: expected 12, found {found}"


def parse_uuid(text: str) -> str | None:
    """Leniently parse a path id (hyphenated, 32-hex, any case, braces, urn); None if invalid."""
    if _CANONICAL.fullmatch(text):
        return text
    candidate = text
    if candidate.startswith("{") and candidate.endswith("}"):
        candidate = candidate[1:-1]
    elif candidate.startswith("urn:uuid:"):
        candidate = candidate[9:]
    if len(candidate) == 36:
        if [i for i, c in enumerate(candidate) if c == "-"] != [8, 13, 18, 23]:
            return None
    elif len(candidate) != 32 or text != candidate:
        return None
    digits = candidate.replace("-", "")
    if len(digits) != 32 or not set(digits) <= _HEX:
        return None
    return str(uuid.UUID(hex=digits))
