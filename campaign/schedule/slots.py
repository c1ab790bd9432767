"""Posting slots: an account's ``slots:`` (days and times in a zone), and handing them out in order.

``when: next free slot`` takes the account's earliest slot not used by another post (:class:`SlotAllocator`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campaign.errors import ScheduleError
from campaign.schedule.values import Occurrence
from campaign.schedule.when import parse_clock
from campaign.schedule.zones import aware, fmt_utc, resolve_wall, resolve_zone

#: How far ahead :class:`SlotAllocator` looks for a free slot before giving up.
SLOT_SEARCH_DAYS = 3 * 366

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Slots:
    """An account's posting slots: on ``days`` (Monday = 0) at each of ``times`` (sorted), in ``zone``."""

    days: frozenset[int]
    times: tuple[time, ...]
    zone: ZoneInfo


def _weekday(token: str) -> int:
    word = token.strip().lower()
    if word in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(word)
    if word in _FULL_WEEKDAYS:
        return _FULL_WEEKDAYS.index(word)
    raise ScheduleError(f"invalid slot day {token!r}: expected mon, tue, wed, thu, fri, sat or sun")


def _slot_days(spec: object) -> frozenset[int]:
    tokens: list[str]
    if isinstance(spec, str):
        tokens = [t for t in spec.split(",") if t.strip()]
    elif isinstance(spec, list | tuple):
        tokens = [t if isinstance(t, str) else repr(t) for t in spec]
    else:
        raise ScheduleError(f"invalid slot days {spec!r}: expected a list such as [mon, tue, wed, thu, fri]")
    days: set[int] = set()
    for token in tokens:
        if "-" in token:  # a range such as mon-fri (may wrap: fri-mon)
            a, _, b = token.partition("-")
            first, last = _weekday(a), _weekday(b)
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            days.add(_weekday(token))
    if not days:
        raise ScheduleError("slot days are empty: name at least one day")
    return frozenset(days)


def parse_slots(spec: object, *, default_zone: ZoneInfo) -> Slots:
    """Validate an account's ``slots:`` (``days`` default to every day, ``zone`` to ``default_zone``)."""
    if not isinstance(spec, Mapping):
        raise ScheduleError(f"invalid slots {spec!r}: expected a mapping with 'times' (and 'days', 'zone')")
    unknown = sorted(str(k) for k in set(spec) - {"days", "times", "zone"})
    if unknown:
        raise ScheduleError(f"unknown key {unknown[0]!r} in slots (expected days, times, zone)")
    raw_times = spec.get("times")
    if not isinstance(raw_times, list | tuple) or not raw_times:
        raise ScheduleError("slots need 'times', a list such as ['09:00', '12:30', '17:30']")
    times = tuple(sorted({parse_clock(t, what="slot time") for t in raw_times}))
    days = _slot_days(spec["days"]) if spec.get("days") is not None else frozenset(range(7))
    zone = resolve_zone(spec["zone"]) if spec.get("zone") is not None else default_zone
    return Slots(days, times, zone)


@dataclass
class SlotAllocator:
    """Hands out posting slots in request order: never two posts of one account in one slot.

    ``occupied`` holds (account, aware UTC instant) pairs other posts already use; the allocator keeps its own
    copy and adds every slot it hands out. Add explicit post times with :meth:`occupy` before allocating so
    slots skip them. Accounts are independent.
    """

    slots: Mapping[str, Slots]
    occupied: set[tuple[str, datetime]] = field(default_factory=set)
    # account -> (not_before of the last search, slot it found): every slot in between was taken then and
    # stays taken (the set only grows), so a later search from a later not_before may resume there.
    _cursor: dict[str, tuple[datetime, datetime]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.occupied = {(account, at.astimezone(UTC)) for account, at in self.occupied}

    def occupy(self, account: str, at: datetime) -> None:
        """Mark ``at`` (aware) as used by ``account``."""
        self.occupied.add((account, aware(at, "at").astimezone(UTC)))

    def _candidates(self, slots: Slots, after: datetime) -> Iterator[tuple[datetime, datetime, str | None]]:
        day = after.astimezone(slots.zone).date() - timedelta(days=1)  # a fold can pull a slot before `after`
        for offset in range(SLOT_SEARCH_DAYS + 2):
            current = day + timedelta(days=offset)
            if current.weekday() not in slots.days:
                continue
            for slot_time in slots.times:
                yield resolve_wall(datetime.combine(current, slot_time), slots.zone)

    def next(self, account: str, not_before: datetime) -> Occurrence:
        """Take the earliest free slot of ``account`` at or after ``not_before`` (aware)."""
        slots = self.slots.get(account)
        if slots is None:
            raise ScheduleError(
                f"account {account!r} has no posting slots: add 'slots:' to use 'next free slot'"
            )
        not_before = aware(not_before, "not_before").astimezone(UTC)
        after = not_before
        cursor = self._cursor.get(account)
        if cursor is not None and cursor[0] <= not_before:
            after = max(not_before, cursor[1])
        for local, at, note in self._candidates(slots, after):
            if at < after or (account, at) in self.occupied:
                continue
            self.occupied.add((account, at))
            self._cursor[account] = (not_before, at)
            return Occurrence("", at, local, slots.zone.key, note)
        raise ScheduleError(
            f"account {account!r} has no free posting slot within {SLOT_SEARCH_DAYS} days "
            f"after {fmt_utc(after)}"
        )
