"""The retry policy: exponential backoff with full jitter and a cap, for a bounded number of attempts.

``delay(attempt)`` is drawn uniformly from ``[0, min(cap, base * 2 ** (attempt - 1))]`` ("Full Jitter",
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): spreading retries over the
whole window keeps many posts that failed together (a platform outage) from retrying together. The draw is
raised to ``floor`` (1 s): a retry is never due in the same instant it failed, so one dispatch pass never
hammers a failing platform with a post's whole attempt budget.

Why not a retry library (tenacity, backoff, stamina)? They wrap a *live call* and keep the attempt count
and the sleep in the calling process. Here a retry is a row in the queue: the dispatcher records the
attempt count and ``next_attempt_at`` in the database, releases the post, and whichever daemon (possibly
after a restart, days later) claims it next continues the count. All that is needed is the arithmetic,
which is this small, pure, tested function of (attempt, random number).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart transient failures are retried. Durations are seconds.

    ``max_attempts`` counts every attempt, the first included: with 5, a post fails after its fifth
    transient failure. Deferrals (rate limits, quotas, shutdown) are not attempts.
    """

    base: float = 30.0
    cap: float = 3600.0
    max_attempts: int = 5
    floor: float = 1.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("retry policy needs 0 < base <= cap")
        if not 0 <= self.floor <= self.base:
            raise ValueError("retry policy needs 0 <= floor <= base")
        if self.max_attempts < 1:
            raise ValueError("retry policy needs max_attempts >= 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt ``attempt`` (1-based): ``min(cap, base * 2**(n-1))``."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        # Cap the exponent first so huge attempt numbers cannot overflow a float.
        return min(self.cap, self.base * 2.0 ** min(attempt - 1, 64))

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt``: uniform in ``[0, ceiling]``, at least ``floor``.

        ``rng`` returns a float in [0, 1) (injectable for tests and simulations).
        """
        return max(self.floor, rng() * self.ceiling(attempt))

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` attempts have been made and no more are allowed."""
        return attempts >= self.max_attempts

    def next_attempt_at(
        self, now: datetime, attempt: int, rng: Callable[[], float] = random.random
    ) -> datetime:
        """``now`` plus :meth:`delay` (keeps ``now``'s time zone)."""
        return now + timedelta(seconds=self.delay(attempt, rng))
