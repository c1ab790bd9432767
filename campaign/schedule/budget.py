"""Bounded expansion: a recurrence's expansion stops within a time budget.

Campaign files arrive in pull requests and CI previews them, so a schedule must never hold CI for minutes.
Two kinds of rule are slow: a large expansion (a rule slow per occurrence, up to the 100,000 cap),
and a sparse rule dateutil has to search for (``FREQ=HOURLY;BYYEARDAY=200;BYMONTH=1`` never occurs, and
dateutil walks every day to year 9999 before it says so, without yielding once).

Budget per schedule (:class:`ExpandBudget`; the operator's, never the campaign file's: environment variable
``CAMPAIGN_EXPAND_SECONDS``, default 2, as ``CAMPAIGN_RENDER_SECONDS`` bounds a render):

* **Between occurrences** the expansion loop reads the budget's clock once every :data:`CHECK_EVERY`
  occurrences (reading it at each one would cost ~5% of a 1,000,000-post expansion; this costs nothing
  measurable). The clock is injectable, so tests run on a fake one.
* **Inside dateutil**, where no occurrence comes back for seconds, a ``SIGALRM`` interval timer in the main
  thread stops the search, when no other timer or handler is installed (the render budget's rule).
  Elsewhere (another thread) only the checks between occurrences apply.

A schedule over budget raises :class:`ExpandBudgetError`, a :class:`~campaign.errors.ScheduleError` whose
one line says what to do: narrow the rule, give it an end or a count, or raise the setting. The compile
puts the file, line and post in front of it.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from campaign.errors import ScheduleError

DEFAULT_SECONDS = 2.0
ENV_SECONDS = "CAMPAIGN_EXPAND_SECONDS"
#: Occurrences between two reads of the clock (a power of two: the loop tests ``steps & (CHECK_EVERY - 1)``).
CHECK_EVERY = 4096


class ExpandBudgetError(ScheduleError):
    """A schedule took longer to expand than its :class:`ExpandBudget` allows."""


@dataclass(frozen=True)
class ExpandBudget:
    """How long one schedule may take to expand; ``clock`` (seconds, monotonic) is injectable for tests."""

    seconds: float = DEFAULT_SECONDS
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    #: Use a SIGALRM interval timer in the main thread as well as the checks (see the module docstring).
    use_alarm: bool = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ExpandBudget:
        """The operator's budget: the default overridden by ``CAMPAIGN_EXPAND_SECONDS``.

        Raises :class:`~campaign.errors.ScheduleError` naming the variable for a value that is not a positive
        finite number.
        """
        env = os.environ if environ is None else environ
        if not env.get(ENV_SECONDS):
            return cls()
        try:
            seconds = float(env[ENV_SECONDS])
        except ValueError:
            seconds = 0.0
        if not (math.isfinite(seconds) and seconds > 0):
            raise ScheduleError(f"{ENV_SECONDS} must be a positive number of seconds")
        return cls(seconds=seconds)


def over_budget(what: str, budget: ExpandBudget) -> ExpandBudgetError:
    """The one-line error for schedule ``what`` (``rrule '...'``) over ``budget``."""
    return ExpandBudgetError(
        f"{what} took longer than its {budget.seconds:g} s budget to expand: narrow the rule, give it an end"
        f" or a count, or raise {ENV_SECONDS}"
    )


@contextmanager
def bounded(what: str, budget: ExpandBudget) -> Iterator[Callable[[], None]]:
    """Run an expansion of ``what`` within ``budget``: yields ``check()``, which raises
    :class:`ExpandBudgetError` once the budget's clock passes the deadline (call it every
    :data:`CHECK_EVERY` occurrences); arms the main thread's timer for the time spent inside dateutil."""
    clock = budget.clock
    deadline = clock() + budget.seconds

    def check() -> None:
        if clock() > deadline:
            raise over_budget(what, budget)

    armed = budget.use_alarm and _arm(budget.seconds, lambda: over_budget(what, budget))
    try:
        yield check
    finally:
        if armed:
            _disarm()


def _arm(seconds: float, error: Callable[[], ExpandBudgetError]) -> bool:
    """Start a SIGALRM timer raising ``error()``: only in the main thread, and only if nobody else uses
    SIGALRM (a render's timer, a test runner's). Returns whether it was started."""
    if not (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    ):
        return False

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        raise error()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


__all__ = [
    "CHECK_EVERY",
    "DEFAULT_SECONDS",
    "ENV_SECONDS",
    "ExpandBudget",
    "ExpandBudgetError",
    "bounded",
    "over_budget",
]
