"""AT Protocol timestamp identifiers (TIDs), and the deterministic ones we use as Bluesky record keys.

A TID is a 64-bit integer written as 13 characters of base32-sortable (``234567abcdefghijklmnopqrstuvwxyz``,
most significant first): the top bit is 0, the next 53 bits are microseconds since the UNIX epoch, the
last 10 bits a "clock identifier". https://atproto.com/specs/tid and
https://atproto.com/specs/record-key#record-key-type-tid (``app.bsky.feed.post`` records use ``tid`` keys).

:func:`tid_for_key` derives a valid TID from an idempotency key, so every retry of a part writes the same
record key and a second ``createRecord`` cannot create a second post. SHA-256 of the key gives 55 bits:
10 become the clock identifier and 45 an offset of up to 2^45 µs (about 407 days) from 2023-01-01 UTC.
The timestamp therefore always lies between 2023-01-01 and 2024-02-12: in the past (never in the
future) and within the years Bluesky has existed, which is what a reader of a TID can expect. It is not
the post's time (``createdAt`` in the record is); listing order by record key is arbitrary, which nothing
in the protocol relies on. Two different keys collide only if 55 hash bits agree (birthday bound: about
1.4 in 10^9 among 10,000 posts of one account).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
#: The syntax rule of the spec: 13 characters, the first of which keeps the top bit 0.
TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: 2023-01-01T00:00:00Z in microseconds: the earliest timestamp tid_for_key produces.
DERIVED_BASE_US = 1_672_531_200_000_000
#: Width of the derived timestamp range (2^45 µs ≈ 407 days).
DERIVED_SPAN_US = 1 << 45
_DOMAIN = b"campaign/bluesky-rkey/v1\x1f"  # separates this use of the key from any other hash of it


def encode(timestamp_us: int, clock_id: int) -> str:
    """The TID for a microsecond timestamp (0 <= t < 2^53) and a clock identifier (0 <= c < 1024)."""
    if not 0 <= timestamp_us < (1 << 53):
        raise ValueError(f"TID timestamp out of range: {timestamp_us}")
    if not 0 <= clock_id < 1024:
        raise ValueError(f"TID clock identifier out of range: {clock_id}")
    value = (timestamp_us << 10) | clock_id
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def decode(tid: str) -> tuple[int, int]:
    """``(timestamp_us, clock_id)`` of a valid TID; ValueError otherwise."""
    if not is_valid(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for char in tid:
        value = (value << 5) | _VALUE[char]
    return value >> 10, value & 0x3FF


def is_valid(tid: str) -> bool:
    """True when ``tid`` has the syntax of a TID."""
    return bool(TID_RE.match(tid))


def timestamp(tid: str) -> datetime:
    """The aware UTC time a TID encodes."""
    micros, _ = decode(tid)
    return _EPOCH + timedelta(microseconds=micros)


def tid_for_key(key: str) -> str:
    """The record key for an idempotency key: a valid TID, always the same for the same key."""
    digest = hashlib.sha256(_DOMAIN + key.encode("utf-8")).digest()
    bits = int.from_bytes(digest[:8], "big")
    clock_id = bits & 0x3FF
    offset = (bits >> 10) & (DERIVED_SPAN_US - 1)
    return encode(DERIVED_BASE_US + offset, clock_id)
