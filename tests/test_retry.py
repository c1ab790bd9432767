"""The retry policy: exponential ceilings, full jitter within them, a cap, a bounded number of attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign.dispatch.retry import RetryPolicy


def test_ceilings_double_up_to_the_cap() -> None:
    policy = RetryPolicy(base=30, cap=200, max_attempts=10)
    assert [policy.ceiling(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]
    assert policy.ceiling(10_000) == 200  # no overflow


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    policy = RetryPolicy(base=10, cap=1000)
    assert policy.delay(3, rng=lambda: 0.0) == 1.0  # the floor: never due in the instant it failed
    assert RetryPolicy(base=10, cap=1000, floor=0).delay(3, rng=lambda: 0.0) == 0.0
    assert policy.delay(3, rng=lambda: 0.5) == 20.0
    assert policy.delay(3, rng=lambda: 0.999999) == pytest.approx(40.0, abs=1e-3)


@given(attempt=st.integers(min_value=1, max_value=200), draw=st.floats(min_value=0, max_value=0.9999999))
def test_delay_is_always_within_bounds(attempt: int, draw: float) -> None:
    policy = RetryPolicy(base=5, cap=900)
    delay = policy.delay(attempt, rng=lambda: draw)
    assert 1 <= delay <= min(900, 5 * 2 ** (attempt - 1))


def test_next_attempt_time_and_exhaustion() -> None:
    policy = RetryPolicy(base=60, cap=3600, max_attempts=3)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert policy.next_attempt_at(now, 2, rng=lambda: 0.25) == now + timedelta(seconds=30)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)


def test_real_randomness_stays_in_bounds() -> None:
    policy = RetryPolicy(base=1, cap=8)
    delays = [policy.delay(4) for _ in range(500)]
    assert all(1 <= d <= 8 for d in delays)
    assert max(delays) - min(delays) > 4  # spread over the window, not a constant


@pytest.mark.parametrize(
    "kw", [{"base": 0}, {"base": 10, "cap": 5}, {"max_attempts": 0}, {"floor": -1}, {"base": 1, "floor": 2}]
)
def test_invalid_policies_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kw)  # type: ignore[arg-type]
