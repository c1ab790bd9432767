"""The values of scheduling: what a ``when`` parses to, and what it expands to (plain frozen dataclasses).

Parsed (:mod:`campaign.schedule.when`): :class:`At` and :class:`Offset` (together a :data:`Point`),
:class:`Recurrence` (with a :class:`CronSpec` for cron) and :class:`NextSlot`; together a :data:`When`.
Expanded (:mod:`campaign.schedule.expand`): :class:`Occurrence` values in an :class:`Expansion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal, TypeAlias


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One resolved time at which a post goes out."""

    #: "" for a one-off; for a recurrence the nominal local time, ``2027-01-18T09:00`` (seconds only when
    #: non-zero). Stable across re-expansion: it does not depend on ``now``, DST moves or ``send_late``.
    key: str
    #: Aware UTC instant the post is due.
    at: datetime
    #: ``at`` in ``zone`` (aware).
    local: datetime
    #: IANA name of the zone the time was written in.
    zone: str
    #: Why the time differs from what was written (DST gap or fold, sent late), else None.
    note: str | None = None
    #: Its written time had passed and its post says ``send_late``: ``at`` is the expansion's ``now``.
    moved_to_now: bool = False


@dataclass(frozen=True, slots=True)
class Expansion:
    """What one ``when`` expands to."""

    #: What to queue, in order. ``at`` strictly increases, except that occurrences sent late share ``now``.
    occurrences: tuple[Occurrence, ...]
    #: Recurrence occurrences before ``now`` that are not sent (with ``send_late``, all but the latest), for
    #: the plan to count.
    skipped: tuple[Occurrence, ...] = ()
    #: True when an open-ended recurrence was cut at the horizon (more occurrences exist beyond it).
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class At:
    """An absolute time: a naive local wall time (resolved in the zone in force) or an aware instant."""

    text: str
    value: datetime


@dataclass(frozen=True, slots=True)
class Offset:
    """An offset from the campaign start: calendar days (``weeks*7 + days``), then elapsed hours/minutes.

    All four counts carry the sign. ``time_of_day`` (only with days/weeks) replaces the start's wall time.
    """

    text: str
    days: int = 0
    hours: int = 0
    minutes: int = 0
    time_of_day: time | None = None


Point: TypeAlias = At | Offset


@dataclass(frozen=True, slots=True)
class CronSpec:
    """The five parsed fields of a cron expression. Weekdays use dateutil's numbering (Monday = 0)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    #: Vixie cron: a day field is "restricted" unless it starts with ``*``; both restricted means OR.
    days_restricted: bool
    weekdays_restricted: bool


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A cron or RRULE recurrence with optional start, end and count (see the module docstring)."""

    text: str
    kind: Literal["cron", "rrule"]
    #: The rule as given (cron) or normalised without COUNT/UNTIL (rrule).
    rule: str
    cron: CronSpec | None = None
    start: Point | None = None
    end: Point | None = None
    count: int | None = None

    @property
    def open_ended(self) -> bool:
        return self.end is None and self.count is None


@dataclass(frozen=True, slots=True)
class NextSlot:
    """The account's next free posting slot."""

    text: str = "next free slot"


When: TypeAlias = At | Offset | Recurrence | NextSlot
