"""The one test clock: settable simulated time that the code under test reads (never the wall clock).

Call it for an aware UTC datetime (what the dispatcher and adapters take); pass :meth:`Clock.epoch` where
epoch seconds are wanted (the fake platform). Time only moves when a test moves it: :meth:`advance`,
:meth:`advance_to` (never backwards), or by setting :attr:`now` or :attr:`t`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: A Monday morning, a whole multiple of 60 s: 2027-01-18T09:00:00Z.
T0 = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)


class Clock:
    """Simulated time shared by the test, the code under test and the fake platform."""

    def __init__(self, start: datetime | float = T0) -> None:
        self.t = start.timestamp() if isinstance(start, datetime) else float(start)

    def __call__(self) -> datetime:
        return self.now

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    @now.setter
    def now(self, value: datetime) -> None:
        self.t = value.timestamp()

    def epoch(self) -> float:
        return self.t

    def dt(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.t += timedelta(**delta).total_seconds()
        return self.now

    def advance_to(self, when: datetime) -> None:
        """Move to ``when``, never backwards."""
        self.t = max(self.t, when.timestamp())
