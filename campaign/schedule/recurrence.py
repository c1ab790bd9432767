"""Expanding a recurrence (cron or RRULE) into occurrences, up to its end, count or the horizon.

Recurrences are expanded on LOCAL wall-clock times, then each local time is resolved to UTC by
:func:`~campaign.schedule.zones.resolve_wall`, so "daily 09:00" stays 09:00 local across DST; a recurrence
never yields the same UTC instant twice (the zones module says which of two colliding times is kept).

RRULE: ``dateutil.rrule`` (DECISIONS.md). Note dateutil yields ``start`` only if it matches the rule, unlike
RFC 5545 where DTSTART is always the first instance (https://dateutil.readthedocs.io/en/stable/rrule.html);
that is what a post schedule wants and it matches cron. Parts the rule leaves open (BYHOUR, BYMINUTE,
BYSECOND) come from the start, as RFC 5545 says. A whole :func:`~campaign.schedule.expand.expand` of 100k
occurrences, DST checks and :class:`~.values.Occurrence` objects included, takes ~0.4-0.6 s on the CI machine.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from campaign.errors import ScheduleError
from campaign.schedule.budget import CHECK_EVERY, ExpandBudget, bounded
from campaign.schedule.cron import cron_rules
from campaign.schedule.values import Expansion, Occurrence, Recurrence
from campaign.schedule.zones import LATEST, abbrev, fmt_utc, resolve_point, resolve_wall

#: Default ceiling on the occurrences one recurrence may expand to (a guard against ``* * * * *`` to 2099),
#: and on the posts of one campaign file (``plan.compile.MAX_POSTS``). A planned post costs ~0.7 KB while a
#: file compiles: at 1,000,000 a pull request's campaign took ~720 MB and ~14 s of a CI preview; at 100,000,
#: ~70 MB and under 1.5 s. A bigger campaign is several files (bench_store plans and applies 100,000).
DEFAULT_LIMIT = 100_000


class OccurrenceLimitError(ScheduleError):
    """A recurrence expands to more occurrences than the ``limit`` it was expanded with."""


def sent_late(occurrence: Occurrence, now: datetime, zone: ZoneInfo) -> Occurrence:
    """``occurrence`` moved to ``now``: it is past and its post says ``send_late`` (key kept, note added)."""
    was = occurrence.local
    note = (
        f"due {was:%Y-%m-%d %H:%M} {abbrev(was)} ({fmt_utc(occurrence.at)}), already past: "
        "sent at once (send_late)"
    )
    return Occurrence(occurrence.key, now, now.astimezone(zone), occurrence.zone, note, moved_to_now=True)


@dataclass(frozen=True, slots=True)
class _Bounds:
    """Where a recurrence's occurrences may fall: from its first instant to its end, or to the horizon."""

    first_local: datetime  # aware, in the recurrence's zone
    first_utc: datetime
    end_utc: datetime | None  # inclusive
    horizon: datetime  # exclusive; only for an open-ended recurrence


def expand_recurrence(
    rec: Recurrence,
    zone: ZoneInfo,
    start: datetime | None,
    now: datetime,
    horizon: datetime,
    send_late: bool,
    limit: int,
    budget: ExpandBudget | None = None,
) -> Expansion:
    """Occurrences of ``rec`` in ``zone`` (aware ``start``, ``now``, ``horizon``; see the module docstring).

    Past occurrences are :attr:`Expansion.skipped`; with ``send_late`` the latest of them is due ``now``
    instead (the earlier ones are still skipped). Raises ScheduleError
    for a recurrence without a start, one that ends before it starts or never occurs, one longer than
    ``limit``, or one whose count runs past the latest campaign time (:data:`~.zones.LATEST`), and
    :class:`~.budget.ExpandBudgetError` for one that takes longer than ``budget`` (default: the operator's,
    :meth:`ExpandBudget.from_environ`) to expand.
    """
    bounds = _bounds(rec, zone, start, horizon)
    with bounded(rec.text, budget or ExpandBudget.from_environ()) as check:
        out, truncated = _walk(rec, zone, bounds, limit, check)
    if not out and not rec.open_ended:
        raise ScheduleError(f"{rec.text} has no occurrences from its start ({fmt_utc(bounds.first_utc)})")
    split = bisect.bisect_left(out, now, key=lambda o: o.at)
    past, future = out[:split], out[split:]
    if send_late and past:
        # Only the latest past occurrence goes out late (APScheduler's "coalesce"): a daily post applied
        # three weeks after its start sends one post now, not 21; the earlier ones are skipped.
        return Expansion((sent_late(past[-1], now, zone), *future), tuple(past[:-1]), truncated)
    return Expansion(tuple(future), tuple(past), truncated)


def _bounds(rec: Recurrence, zone: ZoneInfo, start: datetime | None, horizon: datetime) -> _Bounds:
    """The recurrence's own start (else the campaign ``start``) and end, resolved in ``zone``."""
    if rec.start is not None:
        first_local, first_utc, _ = resolve_point(rec.start, zone, start)
    elif start is not None:
        first_utc = start.astimezone(UTC)
        first_local = first_utc.astimezone(zone)
    else:
        raise ScheduleError(f"{rec.text} needs a start: give 'start:' here or a campaign start")
    end_utc = None if rec.end is None else resolve_point(rec.end, zone, start)[1]
    if end_utc is not None and end_utc < first_utc:
        raise ScheduleError(f"{rec.text}: end ({fmt_utc(end_utc)}) is before start ({fmt_utc(first_utc)})")
    return _Bounds(first_local, first_utc, end_utc, horizon)


def _guarded(rec: Recurrence, stream: Iterable[datetime]) -> Iterator[datetime]:
    """``stream``, with dateutil's own failures while iterating (``BYEASTER=99999``, ``BYDAY=+99MO``: an
    IndexError; a minute past 59 in an hourly rule: a ValueError) as one ScheduleError naming the rule."""
    try:
        yield from stream
    except (IndexError, ValueError, OverflowError) as exc:
        raise ScheduleError(f"invalid rrule {rec.rule!r}: dateutil cannot expand it ({exc})") from None


def _walk(
    rec: Recurrence, zone: ZoneInfo, bounds: _Bounds, limit: int, check: Callable[[], None]
) -> tuple[list[Occurrence], bool]:
    """(occurrences in time order, whether the horizon cut them): the rule's wall times resolved to UTC.
    ``check`` (the time budget) is called every :data:`~.budget.CHECK_EVERY` wall times."""
    dtstart = bounds.first_local.replace(tzinfo=None)
    stream: Iterable[datetime] = (
        cron_rules(rec.cron, dtstart)
        if rec.cron is not None
        else _guarded(rec, rrulestr(rec.rule, dtstart=dtstart))
    )
    first_utc, end_utc, horizon = bounds.first_utc, bounds.end_utc, bounds.horizon
    open_ended = rec.open_ended
    count = rec.count
    zone_name = zone.key
    out: list[Occurrence] = []
    last_at: datetime | None = None
    utcoffset = zone.utcoffset  # a tzinfo reads a naive datetime as wall time (and its fold)
    steps = 0
    every = CHECK_EVERY - 1
    for naive in stream:
        steps += 1
        if not steps & every:
            check()
        # Fast path of resolve_wall inlined: this loop runs once per occurrence (100k in the benchmark).
        off = utcoffset(naive)
        if off is not None and off == utcoffset(naive.replace(fold=1)):
            local = naive.replace(tzinfo=zone)
            at = local.astimezone(UTC)
            note = None
        else:
            local, at, note = resolve_wall(naive, zone)
        if at < first_utc:  # a fold can put a wall time equal to dtstart before the start instant
            continue
        if end_utc is not None and at > end_utc:
            break
        if at >= LATEST:  # a count can get here (an end is before LATEST): 'FREQ=YEARLY;INTERVAL=7000'
            raise ScheduleError(
                f"{rec.text} runs too far in the future (after {LATEST.year - 1}): give it an earlier end "
                "or a lower count"
            )
        if open_ended and at >= horizon:
            return out, True
        key = naive.isoformat(timespec="seconds" if naive.second else "minutes")
        if last_at is not None and at <= last_at:
            # Two wall times on one instant (one moved out of a gap, the real one after it): keep the real.
            if at == last_at and out[-1].note is not None and note is None:
                out[-1] = Occurrence(key, at, local, zone_name, None)
            continue
        if count is not None and len(out) >= count:
            break
        if len(out) >= limit:
            raise OccurrenceLimitError(
                f"{rec.text} expands to more than {limit:,} occurrences; narrow it with end or count"
            )
        out.append(Occurrence(key, at, local, zone_name, note))
        last_at = at
    return out, False
