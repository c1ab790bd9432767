"""Zones and wall times: IANA zone lookup, and local wall times or campaign offsets resolved to instants.

DST rules (:func:`resolve_wall`, :func:`localize`)
--------------------------------------------------
* A local time skipped by a spring-forward gap runs at the moment of the change (2026-03-08 02:30
  America/Los_Angeles -> 10:00 UTC, 03:00 PDT); the occurrence keeps its nominal key and carries a note.
* An ambiguous fall-back time runs once, at the FIRST occurrence (``fold=0``).
* Gaps and folds are detected explicitly: the two PEP 495 readings (``fold=0``/``fold=1``,
  https://peps.python.org/pep-0495/) are compared and the wall time is round-tripped through UTC; the moment
  of a change is found by bisecting UTC seconds, never by assuming a one-hour shift (Lord Howe moves 30
  minutes, Samoa skipped a whole day in 2011).
* A recurrence never yields the same UTC instant twice: an hourly rule through a gap maps 02:00 and 03:00 to
  the same instant; the real 03:00 is kept and the moved 02:00 dropped. A daily rule never loses a day.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from campaign.errors import ScheduleError
from campaign.schedule.values import At, Point


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA zone names this machine knows, without ``localtime``: that file is the machine's own zone (a
    CI runner's UTC, the daemon host's whatever), so a campaign naming it would run at another time on each.
    ``posixrules``, ``right/...`` (leap seconds: 27 s off) and ``posix/...`` are not listed either."""
    return frozenset(available_timezones()) - {"localtime"}


#: Files ZoneInfo opens that are no zone a campaign may name (:func:`iana_zones` says why).
_NOT_ZONES = frozenset({"localtime", "posixrules"})
_NOT_ZONE_TREES = ("right/", "posix/")


def is_iana_zone(name: str) -> bool:
    """False for the names ZoneInfo opens that :func:`iana_zones` leaves out; whether any other name is a
    zone is ZoneInfo's to say. (A set lookup: listing the zones walks the tz database, about 40 ms, too much
    for every ``check``.)"""
    return name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_TREES)


def resolve_zone(name: object) -> ZoneInfo:
    """The IANA zone ``name`` (:func:`is_iana_zone`); else ScheduleError ``unknown time zone 'X'``
    (suggesting a close name)."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'")
    if is_iana_zone(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    known = sorted(iana_zones())
    lowered = {k.lower(): k for k in known}
    guess = lowered.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, known, n=1, cutoff=0.8)), None
    )
    hint = f" (did you mean {guess!r}?)" if guess else ""
    raise ScheduleError(f"unknown time zone {name!r}{hint}")


def abbrev(local: datetime) -> str:
    """The zone abbreviation in force at ``local`` (``PDT``), else its offset (``+0545``)."""
    return local.tzname() or local.strftime("%z")


def transition_after(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first UTC instant in (lo, hi] whose offset in ``zone`` differs from lo's.

    Bisection on whole POSIX seconds (tz transitions fall on whole seconds), so a gap of any size is exact.
    """
    before = lo.astimezone(zone).utcoffset()
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def resolve_wall(naive: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, str | None]:
    """(aware local, aware UTC, note) for a local wall time, applying the gap and fold rules above."""
    first = naive.replace(tzinfo=zone, fold=0)
    off0 = first.utcoffset()
    off1 = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert off0 is not None and off1 is not None  # ZoneInfo always has an offset
    if off0 == off1:  # the common case: the wall time exists exactly once
        return first, (naive - off0).replace(tzinfo=UTC), None
    utc0 = (naive - off0).replace(tzinfo=UTC)
    back = utc0.astimezone(zone)
    if back.replace(tzinfo=None) == naive:
        # Fold: the wall time happens twice; fold=0 is the earlier instant (PEP 495).
        note = (
            f"{naive:%H:%M} occurs twice on {naive:%Y-%m-%d} in {zone.key} (clocks go back): "
            f"using the first, {naive:%H:%M} {abbrev(back)}"
        )
        return back, utc0, note
    # Gap: the wall time never shows on the clock. Pre-change offset gives the latest candidate instant,
    # post-change offset the earliest; the change lies between them.
    utc1 = (naive - off1).replace(tzinfo=UTC)
    lo, hi = min(utc0, utc1), max(utc0, utc1)
    moment = transition_after(lo, hi, zone)
    local = moment.astimezone(zone)
    moved_to = f"{local:%H:%M}" if local.date() == naive.date() else f"{local:%Y-%m-%d %H:%M}"
    note = f"{naive:%H:%M} does not exist on {naive:%Y-%m-%d} in {zone.key} (DST gap): moved to {moved_to}"
    return local, moment, note


def localize(naive: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """Attach ``zone`` to a local wall time: an aware datetime (fold=0) and a note when DST moved it.

    A wall time in a gap becomes the moment of the change; an ambiguous one its first occurrence.
    """
    if naive.tzinfo is not None:
        raise ValueError("localize() takes a naive wall time")
    local, _, note = resolve_wall(naive, zone)
    return local, note


def aware(value: datetime, name: str) -> datetime:
    """``value`` itself when it is aware; else ValueError naming the parameter (a programming error)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


def parse_instant(raw: str, zone: str) -> datetime:
    """An ISO 8601 time (``embargo:``); without an offset it is local time in ``zone``. Raises ValueError
    (not a time) or OverflowError (an offset that takes year 1 or 9999 past the calendar's end)."""
    text = raw.strip().replace("Z", "+00:00")
    minutes = re.search(r"[+-]\d\d:?(\d\d)$", text)
    if minutes and int(minutes[1]) > 59:  # fromisoformat reads +05:99 as +06:39
        raise ValueError(f"UTC offset minutes {minutes[1]} are not 0..59")
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(zone))


def fmt_utc(value: datetime) -> str:
    """``2027-01-18 08:00 UTC``: an instant as messages show it."""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


#: No campaign time may lie at or after this: later ones leave no room for horizons and retries.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _no_start(text: str) -> ScheduleError:
    return ScheduleError(
        f"{text!r} is relative to the campaign start, but there is none: "
        "add 'start:' to the campaign or pass --start"
    )


def resolve_point(
    point: Point, zone: ZoneInfo, start: datetime | None
) -> tuple[datetime, datetime, str | None]:
    """(aware local, aware UTC, note) for an absolute time or an offset from ``start``.

    Offsets follow :mod:`campaign.schedule.when` (calendar days, then elapsed hours and minutes); an offset
    without a ``start`` is a ScheduleError.
    """
    try:
        local, utc, note = _resolve_point(point, zone, start)
    except (OverflowError, ValueError):
        # Offsets like '+99999999d' parse, but land outside the calendar datetime can represent.
        raise ScheduleError(f"{point.text!r} lies outside the calendar (years 1 to 9999)") from None
    if utc >= LATEST:
        # Leaves room for horizons and retries: arithmetic on later times would overflow datetime.
        raise ScheduleError(f"{point.text!r} lies too far in the future (after {LATEST.year - 1})")
    return local, utc, note


def _resolve_point(
    point: Point, zone: ZoneInfo, start: datetime | None
) -> tuple[datetime, datetime, str | None]:
    if isinstance(point, At):
        if point.value.tzinfo is not None:
            utc = point.value.astimezone(UTC)
            return utc.astimezone(zone), utc, None
        return resolve_wall(point.value, zone)
    if start is None:
        raise _no_start(point.text)
    base = start.astimezone(zone)
    local, utc, note = base, base.astimezone(UTC), None
    if point.time_of_day is not None:
        # The campaign's day N is counted in the start's own zone (the campaign's), not the post's.
        wall = datetime.combine(start.date() + timedelta(days=point.days), point.time_of_day)
        local, utc, note = resolve_wall(wall, zone)
    elif point.days:
        local, utc, note = resolve_wall(base.replace(tzinfo=None) + timedelta(days=point.days), zone)
    if point.hours or point.minutes:  # elapsed time, not wall-clock time
        utc = utc + timedelta(hours=point.hours, minutes=point.minutes)
        local, note = utc.astimezone(zone), None
    return local, utc, note
