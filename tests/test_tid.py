"""TIDs (https://atproto.com/specs/tid) and the record keys derived from idempotency keys.

Vectors: the spec's example ``3jzfcijpj2z2a``, ``2222222222222`` for zero, and @atcute/tid's README
(``TID.create(1724171495793000, 512)`` -> ``3l25zusnsfck2``; ``3l25zusnsfctk`` -> clock id 816).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign.channels.tid import (
    DERIVED_BASE_US,
    DERIVED_SPAN_US,
    decode,
    encode,
    is_valid,
    tid_for_key,
    timestamp,
)


def test_known_vectors() -> None:
    assert encode(0, 0) == "2222222222222"
    assert encode(1724171495793000, 512) == "3l25zusnsfck2"
    assert decode("3l25zusnsfctk") == (1724171495793000, 816)
    assert timestamp("3jzfcijpj2z2a") == datetime(2023, 6, 30, 15, 3, 1, 887007, tzinfo=UTC)
    assert encode((1 << 53) - 1, 1023) == "bzzzzzzzzzzzz"


@pytest.mark.parametrize(
    "bad", ["", "3jzfcijpj2z2", "3jzfcijpj2z2aa", "kzzzzzzzzzzzz", "3jzfcijpj2z2A", "3jzfcijpj2z21"]
)
def test_invalid_syntax(bad: str) -> None:
    assert not is_valid(bad)
    with pytest.raises(ValueError):
        decode(bad)


def test_encode_range_checks() -> None:
    with pytest.raises(ValueError):
        encode(1 << 53, 0)
    with pytest.raises(ValueError):
        encode(0, 1024)


@given(st.integers(0, (1 << 53) - 1), st.integers(0, 1023))
def test_round_trip_and_order(micros: int, clock: int) -> None:
    tid = encode(micros, clock)
    assert is_valid(tid) and decode(tid) == (micros, clock)
    if micros:  # base32-sortable: string order is numeric order
        assert encode(micros - 1, clock) < tid


@given(st.text(min_size=1, max_size=64))
def test_derived_keys_are_valid_stable_and_in_the_past(key: str) -> None:
    tid = tid_for_key(key)
    assert is_valid(tid)
    assert tid == tid_for_key(key)
    micros, _ = decode(tid)
    assert DERIVED_BASE_US <= micros < DERIVED_BASE_US + DERIVED_SPAN_US
    assert timestamp(tid) < datetime(2024, 2, 13, tzinfo=UTC)


def test_derived_keys_differ_per_key() -> None:
    keys = {tid_for_key(f"{n:032x}") for n in range(5000)}
    assert len(keys) == 5000
    assert tid_for_key("0f" * 16) == "3jlaja67zy7uq"  # pinned: changing the derivation re-keys unsent posts
