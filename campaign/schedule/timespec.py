"""Scheduling arithmetic: what a campaign file says about *when* a post goes out, turned into exact UTC times.

Pure functions: no I/O and no wall clock. Every "now", campaign start and horizon is a parameter, and every
datetime handed in must be aware. Errors are :class:`~campaign.errors.ScheduleError` with one line that stands
alone (the caller prefixes the file, line and post).

Forms of ``when`` (:func:`parse_when`)
--------------------------------------
``"2027-01-18 09:00"``
    A local wall time in the zone in force (also ``T`` as separator, seconds, or an explicit UTC offset
    such as ``Z`` / ``+01:00``, which pins the instant). YAML timestamps (``datetime`` objects) too.
``"+2d 09:00"``, ``"+1w 17:30"``, ``"+3h"``, ``"+90m"``, ``"+1d 2h"``, ``"-1d 09:00"``
    An offset from the campaign start. Weeks and days are *calendar* units. With a time of day, the day is
    the campaign's day N (the start's date in the campaign's own zone, plus N days) at that wall time in the
    zone in force: ``+3d 09:00`` with ``zone: America/Los_Angeles`` is 09:00 in Los Angeles on the campaign's
    day 3, and ``+1d 09:00`` is 09:00 local even across a DST change. Without a time of day, the start's wall
    time in the zone in force plus N days. Hours and minutes are *elapsed* time (``+3h`` is three real hours
    after the start, whatever the clocks do). A time of day goes only with days/weeks.
``{cron: "0 9 * * MON-FRI", start, end, count}`` / ``{rrule: "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9", ...}``
    A recurrence. ``start``/``end`` are absolute times or offsets; ``start`` defaults to the campaign start;
    ``end`` is inclusive; ``count`` is the number of posts (after the DST deduplication below), counted from
    ``start`` including occurrences already past. Without ``end`` and ``count`` the recurrence is open-ended
    and is expanded only up to ``horizon`` (exclusive).
``"next free slot"`` / ``{slot: next}``
    The next posting slot of the account (:class:`SlotAllocator`).

Recurrences are expanded on LOCAL wall-clock times, then each local time is resolved to UTC by
:func:`localize`, so "daily 09:00" stays 09:00 local across DST.

DST rules (:func:`localize`)
----------------------------
* A local time skipped by a spring-forward gap runs at the moment of the change (2026-03-08 02:30
  America/Los_Angeles -> 10:00 UTC, 03:00 PDT); the occurrence keeps its nominal key and carries a note.
* An ambiguous fall-back time runs once, at the FIRST occurrence (``fold=0``).
* Gaps and folds are detected explicitly: the two PEP 495 readings (``fold=0``/``fold=1``,
  https://peps.python.org/pep-0495/) are compared and the wall time is round-tripped through UTC; the moment
  of a change is found by bisecting UTC seconds, never by assuming a one-hour shift (Lord Howe moves 30
  minutes, Samoa skipped a whole day in 2011).
* A recurrence never yields the same UTC instant twice: an hourly rule through a gap maps 02:00 and 03:00 to
  the same instant; the real 03:00 is kept and the moved 02:00 dropped. A daily rule never loses a day.

Past times
----------
A one-off time before ``now`` is an error unless ``send_late``; then it is due ``now`` (DECISIONS.md, "Past
times at apply"). For a recurrence, occurrences before ``now`` are returned in :attr:`Expansion.skipped` (the
plan shows them), unless ``send_late``, which makes each of them due ``now`` (the same setting the daemon's
lateness window honours). Occurrence keys never depend on ``now``.

Shifting a campaign (``--start WHEN``)
--------------------------------------
Offsets and recurrences without their own start resolve against the ``start`` argument of :func:`expand`, so
shifting a campaign is passing another start; :func:`resolve_start` reads ``--start`` (an absolute time, or an
offset such as ``+1w`` from the file's own start). Absolute times in posts are never shifted.

Why these libraries
-------------------
* RRULE: ``dateutil.rrule`` (DECISIONS.md). Note dateutil yields ``start`` only if it matches the rule, unlike
  RFC 5545 where DTSTART is always the first instance (https://dateutil.readthedocs.io/en/stable/rrule.html);
  that is what a post schedule wants and it matches cron. Parts the rule leaves open (BYHOUR, BYMINUTE,
  BYSECOND) come from the start, as RFC 5545 says. ``COUNT``/``UNTIL`` in the rule are read as
  ``count``/``end``; a DTSTART/RDATE/EXDATE line is refused: the start is ``start:``, so there is one place
  for it and its zone.
* cron: the five fields are parsed here (a small, fully specified grammar: crontab(5),
  https://man7.org/linux/man-pages/man5/crontab.5.html) and translated to ``dateutil`` rules, so cron and
  RRULE share one expansion and one DST path. Not APScheduler 3's ``CronTrigger.from_crontab``: it reads
  day-of-week 0 as Monday, which 3.x cannot fix (https://github.com/agronholm/apscheduler/issues/286, #1102),
  and its triggers work on aware times with known DST edge bugs. Not ``croniter``: one more dependency whose
  maintenance changed hands in 2025 (https://github.com/pallets-eco/croniter/issues/153) for a parser this
  size. Like Vixie cron, when day-of-month and day-of-week are both restricted (neither starts with ``*``) a
  day matching *either* runs (https://blog.healthchecks.io/2022/09/schedule-cron-job-the-funky-way);
  ``0``/``7`` are Sunday; names (``JAN``, ``MON``) and ``@daily``-style macros are accepted. The rule is
  expanded with ``FREQ=YEARLY`` so dateutil builds each year's day set at once (dateutil alone: 100k
  occurrences in ~0.05 s; a minutely frequency filtered by hour is ~50x slower). A whole :func:`expand` of
  100k occurrences, DST checks and :class:`Occurrence` objects included, takes ~0.4-0.6 s on the CI machine.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import YEARLY, rrule, rruleset, rrulestr

from campaign.errors import ScheduleError

#: Default ceiling on the occurrences one recurrence may expand to (a guard against ``* * * * *`` to 2099).
DEFAULT_LIMIT = 1_000_000
#: How far ahead :class:`SlotAllocator` looks for a free slot before giving up.
SLOT_SEARCH_DAYS = 3 * 366

_ONE_SECOND = timedelta(seconds=1)


# --------------------------------------------------------------------------------------------------- values


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


@dataclass(frozen=True, slots=True)
class Expansion:
    """What one ``when`` expands to."""

    #: What to queue, in order. ``at`` strictly increases, except that occurrences sent late share ``now``.
    occurrences: tuple[Occurrence, ...]
    #: Recurrence occurrences before ``now`` that are not sent (``send_late`` false), for the plan to show.
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


# --------------------------------------------------------------------------------------------------- zones


def resolve_zone(name: object) -> ZoneInfo:
    """The IANA zone ``name``; else ScheduleError ``unknown time zone 'X'`` (suggesting a close name)."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = sorted(available_timezones())
    lowered = {k.lower(): k for k in known}
    guess = lowered.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, known, n=1, cutoff=0.8)), None
    )
    hint = f" (did you mean {guess!r}?)" if guess else ""
    raise ScheduleError(f"unknown time zone {name!r}{hint}")


def _abbrev(local: datetime) -> str:
    return local.tzname() or local.strftime("%z")


def _transition_after(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
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


def _resolve_wall(naive: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, str | None]:
    """(aware local, aware UTC, note) for a local wall time, applying the gap and fold rules."""
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
            f"using the first, {naive:%H:%M} {_abbrev(back)}"
        )
        return back, utc0, note
    # Gap: the wall time never shows on the clock. Pre-change offset gives the latest candidate instant,
    # post-change offset the earliest; the change lies between them.
    utc1 = (naive - off1).replace(tzinfo=UTC)
    lo, hi = min(utc0, utc1), max(utc0, utc1)
    moment = _transition_after(lo, hi, zone)
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
    local, _, note = _resolve_wall(naive, zone)
    return local, note


# --------------------------------------------------------------------------------------------------- parsing

_ABSOLUTE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE
)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_OFFSET = re.compile(r"([+-])\s*((?:\d+\s*[a-z]+\s*)+?)(?:\s+(\d{1,2}:\d{2}))?", re.IGNORECASE)
_OFFSET_TERM = re.compile(r"(\d+)\s*([a-z]+)", re.IGNORECASE)
_UNITS = {
    "w": "w", "wk": "w", "week": "w", "weeks": "w",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
}  # fmt: skip
_SLOT_WORDS = {"next free slot", "next slot", "next"}
_FORMS = (
    "expected a local time like '2027-01-18 09:00', an offset like '+2d 09:00' or '+3h', "
    "'next free slot', or a mapping with 'cron' or 'rrule'"
)


def _sexagesimal_hint(value: int) -> str:
    # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050.
    hours, minutes = divmod(value, 60)
    if 0 <= hours < 24:
        clock = f"{hours}:{minutes:02d}"
        return (
            f" (YAML reads an unquoted {clock} as the number {value}: quote it, '{hours:02d}:{minutes:02d}')"
        )
    return ""


def parse_clock(text: object, *, what: str = "time of day") -> time:
    """``"HH:MM"`` as a :class:`datetime.time`; ScheduleError naming ``what`` otherwise."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ScheduleError(f"invalid {what} {text!r}: expected 'HH:MM'")
    if isinstance(text, int):
        raise ScheduleError(f"invalid {what} {text!r}: expected 'HH:MM'{_sexagesimal_hint(text)}")
    m = _CLOCK.fullmatch(text.strip())
    if not m:
        raise ScheduleError(f"invalid {what} {text!r}: expected 'HH:MM'")
    try:
        return time(int(m[1]), int(m[2]))
    except ValueError as exc:
        raise ScheduleError(f"invalid {what} {text!r}: {exc}") from None


def _parse_absolute(text: str) -> At | None:
    m = _ABSOLUTE.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m[6] or 0)
    try:
        value = datetime(year, month, day, hour, minute, second)
        if m[7]:
            suffix = m[7].upper()
            value = (
                value.replace(tzinfo=UTC)
                if suffix == "Z"
                else datetime.fromisoformat(f"{value.isoformat()}{suffix[:3]}:{suffix[-2:]}")
            )
    except ValueError as exc:
        raise ScheduleError(f"invalid time {text!r}: {exc}") from None
    return At(text, value)


def _parse_offset(text: str) -> Offset | None:
    m = _OFFSET.fullmatch(text)
    if not m:
        return None
    sign = -1 if m[1] == "-" else 1
    amounts: dict[str, int] = {}
    for number, unit_text in _OFFSET_TERM.findall(m[2]):
        unit = _UNITS.get(unit_text.lower())
        if unit is None:
            raise ScheduleError(f"invalid offset {text!r}: unknown unit {unit_text!r} (use w, d, h or m)")
        if unit in amounts:
            raise ScheduleError(f"invalid offset {text!r}: unit {unit_text!r} given twice")
        amounts[unit] = int(number)
    tod = None
    if m[3]:
        if "h" in amounts or "m" in amounts:
            raise ScheduleError(
                f"invalid offset {text!r}: a time of day goes only with days or weeks ('+2d 09:00'), "
                "not with hours or minutes"
            )
        hour, minute = (int(part) for part in m[3].split(":"))
        try:
            tod = time(hour, minute)
        except ValueError as exc:
            raise ScheduleError(f"invalid offset {text!r}: {exc}") from None
    return Offset(
        text,
        days=sign * (amounts.get("w", 0) * 7 + amounts.get("d", 0)),
        hours=sign * amounts.get("h", 0),
        minutes=sign * amounts.get("m", 0),
        time_of_day=tod,
    )


def _parse_point(spec: object, *, what: str = "time") -> Point:
    if isinstance(spec, datetime):  # a YAML timestamp
        return At(spec.isoformat(sep=" "), spec)
    if isinstance(spec, date):
        raise ScheduleError(
            f"invalid {what} '{spec.isoformat()}': no time of day; write '{spec.isoformat()} 09:00'"
        )
    if isinstance(spec, bool) or not isinstance(spec, str):
        hint = _sexagesimal_hint(spec) if isinstance(spec, int) and not isinstance(spec, bool) else ""
        raise ScheduleError(f"invalid {what} {spec!r}: {_FORMS}{hint}")
    text = spec.strip()
    point = _parse_absolute(text) or _parse_offset(text)
    if point is None:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            raise ScheduleError(f"invalid {what} {text!r}: no time of day; write '{text} 09:00'")
        raise ScheduleError(f"invalid {what} {text!r}: {_FORMS}")
    return point


def parse_when(spec: object) -> When:
    """Validate a post's ``when`` (a string, YAML timestamp or mapping) into a :data:`When` value."""
    if isinstance(spec, Mapping):
        return _parse_mapping(spec)
    if isinstance(spec, str) and spec.strip().lower() in _SLOT_WORDS:
        return NextSlot()
    return _parse_point(spec)


_RECURRENCE_KEYS = {"cron", "rrule", "start", "end", "count"}


def _parse_mapping(spec: Mapping[object, object]) -> When:
    keys = set(spec)
    if "slot" in keys:
        if keys != {"slot"} or str(spec["slot"]).strip().lower() not in {
            "next",
            "next free",
            "next free slot",
        }:
            raise ScheduleError(f"invalid when {dict(spec)!r}: write 'slot: next' (and nothing else)")
        return NextSlot()
    unknown = sorted(str(k) for k in keys - _RECURRENCE_KEYS)
    if unknown:
        raise ScheduleError(
            f"unknown key {unknown[0]!r} in when (expected cron or rrule, with start, end, count)"
        )
    if ("cron" in keys) == ("rrule" in keys):
        raise ScheduleError("a recurring when needs exactly one of 'cron' or 'rrule'")
    start = None if spec.get("start") is None else _parse_point(spec["start"], what="start")
    end = None if spec.get("end") is None else _parse_point(spec["end"], what="end")
    count = spec.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ScheduleError(f"invalid count {count!r}: expected a whole number of at least 1")
    if "cron" in keys:
        rule = spec["cron"]
        if not isinstance(rule, str):
            raise ScheduleError(f"invalid cron {rule!r}: expected a string like '0 9 * * MON-FRI'")
        return Recurrence(f"cron {rule.strip()!r}", "cron", rule.strip(), parse_cron(rule), start, end, count)
    rule = spec["rrule"]
    if not isinstance(rule, str):
        raise ScheduleError(
            f"invalid rrule {rule!r}: expected a string like 'FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9'"
        )
    normalized, rule_count, rule_until = _parse_rrule(rule)
    if rule_count is not None:
        if count is not None:
            raise ScheduleError(
                f"invalid rrule {rule!r}: COUNT in the rule and 'count:' both given; keep one"
            )
        count = rule_count
    if rule_until is not None:
        if end is not None:
            raise ScheduleError(f"invalid rrule {rule!r}: UNTIL in the rule and 'end:' both given; keep one")
        end = rule_until
    return Recurrence(f"rrule {rule.strip()!r}", "rrule", normalized, None, start, end, count)


# --------------------------------------------------------------------------------------------------- cron

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}  # fmt: skip
# (name, low, high, names whose index + low is the value)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _CRON_DAYS),
)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: Feb 29 exists in leap years


def _cron_value(token: str, name: str, low: int, high: int, names: tuple[str, ...], rule: str) -> int:
    if token.isdigit():
        value = int(token)
    elif token.lower() in names:
        value = names.index(token.lower()) + low
    else:
        kind = "number" if not names else "number or name"
        raise ScheduleError(f"invalid cron {rule!r}: {token!r} is not a valid {name} {kind}")
    if not low <= value <= high:
        raise ScheduleError(f"invalid cron {rule!r}: {name} {value} is out of range {low}-{high}")
    return value


def _cron_field(text: str, index: int, rule: str) -> set[int]:
    name, low, high, names = _CRON_FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"invalid cron {rule!r}: bad step {step_text!r} in {name}")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = _cron_value(a, name, low, high, names, rule)
            last = _cron_value(b, name, low, high, names, rule)
            if first > last:
                raise ScheduleError(f"invalid cron {rule!r}: range {base!r} in {name} goes backwards")
        else:
            first = _cron_value(base, name, low, high, names, rule)
            last = high if step_text else first  # "5/15" means 5-59/15, as in cronie
        values.update(range(first, last + 1, step))
    return values


def parse_cron(rule: str) -> CronSpec:
    """Parse a 5-field cron expression (or an ``@daily``-style macro) into a :class:`CronSpec`."""
    text = _MACROS.get(rule.strip().lower(), rule.strip())
    if text.startswith("@"):
        raise ScheduleError(
            f"invalid cron {rule!r}: unknown macro (use @yearly, @monthly, @weekly, @daily, @hourly)"
        )
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"invalid cron {rule!r}: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    sets = [_cron_field(f, i, rule) for i, f in enumerate(fields)]
    days_restricted = not fields[2].startswith("*")
    weekdays_restricted = not fields[4].startswith("*")
    # cron: 0 and 7 are Sunday; dateutil: Monday = 0 ... Sunday = 6.
    weekdays = {(d - 1) % 7 for d in sets[4]}
    spec = CronSpec(
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=tuple(sorted(sets[2])),
        months=tuple(sorted(sets[3])),
        weekdays=tuple(sorted(weekdays)),
        days_restricted=days_restricted,
        weekdays_restricted=weekdays_restricted,
    )
    or_days = days_restricted and weekdays_restricted
    if not or_days and not any(d <= _MONTH_DAYS[m - 1] for m in spec.months for d in spec.days):
        raise ScheduleError(f"invalid cron {rule!r}: that day of the month never occurs in those months")
    return spec


def _cron_rules(spec: CronSpec, dtstart: datetime) -> rrule | rruleset:
    def yearly(monthdays: tuple[int, ...] | None, weekdays: tuple[int, ...] | None) -> rrule:
        return rrule(
            YEARLY,
            dtstart=dtstart,
            bymonth=spec.months,
            bymonthday=monthdays,
            byweekday=weekdays,
            byhour=spec.hours,
            byminute=spec.minutes,
            bysecond=0,
            cache=False,
        )

    if spec.days_restricted and spec.weekdays_restricted:  # Vixie cron: either day field matching runs
        union = rruleset(cache=False)
        union.rrule(yearly(spec.days, None))
        union.rrule(yearly(None, spec.weekdays))
        return union
    all_days = len(spec.days) == 31
    # Always pass a day filter: with none, dateutil would take the day from dtstart (RFC 5545 defaults).
    return yearly(
        None if all_days else spec.days, spec.weekdays if all_days or len(spec.weekdays) < 7 else None
    )


# --------------------------------------------------------------------------------------------------- rrule

_RRULE_NAMES = {
    "FREQ", "INTERVAL", "WKST", "BYSETPOS", "BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYEASTER", "BYWEEKNO",
    "BYDAY", "BYWEEKDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "COUNT", "UNTIL",
}  # fmt: skip
_PROBE_START = datetime(2000, 1, 1)


def _parse_rrule(rule: str) -> tuple[str, int | None, At | None]:
    """Normalise an RRULE (COUNT and UNTIL taken out), validated by dateutil. Returns (rule, count, until)."""
    text = re.sub(r"\s+", "", rule)
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if re.search(r"(DTSTART|RDATE|EXDATE|EXRULE)", text, re.IGNORECASE) or ":" in text:
        raise ScheduleError(
            f"invalid rrule {rule!r}: give only the RRULE part; the start goes in 'start:', the end in 'end:'"
        )
    kept: list[str] = []
    count: int | None = None
    until: At | None = None
    names: set[str] = set()
    for pair in filter(None, text.split(";")):
        name, eq, value = pair.partition("=")
        name = name.upper()
        if not eq or not value:
            raise ScheduleError(f"invalid rrule {rule!r}: {pair!r} is not NAME=VALUE")
        if name not in _RRULE_NAMES:
            raise ScheduleError(f"invalid rrule {rule!r}: unknown part {name!r}")
        if name in names:
            raise ScheduleError(f"invalid rrule {rule!r}: {name} given twice")
        names.add(name)
        if name == "COUNT":
            if not value.isdigit() or int(value) < 1:
                raise ScheduleError(f"invalid rrule {rule!r}: COUNT must be a whole number of at least 1")
            count = int(value)
        elif name == "UNTIL":
            until = _parse_until(value, rule)
        else:
            kept.append(f"{name}={value.upper()}")
    if "FREQ" not in names:
        raise ScheduleError(f"invalid rrule {rule!r}: FREQ is required (e.g. FREQ=WEEKLY)")
    normalized = ";".join(kept)
    try:
        rrulestr(normalized, dtstart=_PROBE_START)
    except (ValueError, TypeError, KeyError) as exc:
        raise ScheduleError(f"invalid rrule {rule!r}: {exc}") from None
    return normalized, count, until


def _parse_until(value: str, rule: str) -> At:
    m = re.fullmatch(r"(\d{8})(?:T(\d{6}))?(Z?)", value, re.IGNORECASE)
    if not m:
        raise ScheduleError(f"invalid rrule {rule!r}: UNTIL {value!r} is not YYYYMMDD[THHMMSS[Z]]")
    try:
        parsed = datetime.strptime(m[1] + (m[2] or "235959"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ScheduleError(f"invalid rrule {rule!r}: UNTIL {value!r}: {exc}") from None
    return At(value, parsed.replace(tzinfo=UTC) if m[3] else parsed)


# ------------------------------------------------------------------------------------------------- expansion


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


def _fmt_utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _no_start(text: str) -> ScheduleError:
    return ScheduleError(
        f"{text!r} is relative to the campaign start, but there is none: "
        "add 'start:' to the campaign or pass --start"
    )


def _resolve_point(
    point: Point, zone: ZoneInfo, start: datetime | None
) -> tuple[datetime, datetime, str | None]:
    """(aware local, aware UTC, note) for an absolute time or an offset from ``start``."""
    if isinstance(point, At):
        if point.value.tzinfo is not None:
            utc = point.value.astimezone(UTC)
            return utc.astimezone(zone), utc, None
        return _resolve_wall(point.value, zone)
    if start is None:
        raise _no_start(point.text)
    base = start.astimezone(zone)
    local, utc, note = base, base.astimezone(UTC), None
    if point.time_of_day is not None:
        # The campaign's day N is counted in the start's own zone (the campaign's), not the post's.
        wall = datetime.combine(start.date() + timedelta(days=point.days), point.time_of_day)
        local, utc, note = _resolve_wall(wall, zone)
    elif point.days:
        local, utc, note = _resolve_wall(base.replace(tzinfo=None) + timedelta(days=point.days), zone)
    if point.hours or point.minutes:  # elapsed time, not wall-clock time
        utc = utc + timedelta(hours=point.hours, minutes=point.minutes)
        local, note = utc.astimezone(zone), None
    return local, utc, note


def _late(occurrence: Occurrence, now: datetime, zone: ZoneInfo) -> Occurrence:
    was = occurrence.local
    note = (
        f"due {was:%Y-%m-%d %H:%M} {_abbrev(was)} ({_fmt_utc(occurrence.at)}), already past: "
        "sent at once (send_late)"
    )
    return Occurrence(occurrence.key, now, now.astimezone(zone), occurrence.zone, note)


def expand(
    when: When,
    *,
    zone: ZoneInfo,
    start: datetime | None,
    now: datetime,
    horizon: datetime,
    send_late: bool = False,
    slots: SlotAllocator | None = None,
    account: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Expansion:
    """Resolve ``when`` in ``zone`` to UTC occurrences.

    ``start`` is the campaign start (aware; None when the campaign has none: offsets then fail); ``now`` and
    ``horizon`` are aware instants. One-off times before ``now`` raise ScheduleError unless ``send_late``.
    :class:`NextSlot` needs ``slots`` and ``account`` and takes the first free slot not before
    ``max(now, start)``. Raises ScheduleError for anything the user can fix.
    """
    now = _aware(now, "now").astimezone(UTC)
    horizon = _aware(horizon, "horizon").astimezone(UTC)
    if start is not None:
        start = _aware(start, "start")
    if isinstance(when, NextSlot):
        if slots is None or account is None:
            raise ScheduleError("'next free slot' needs posting slots: add 'slots:' to the account")
        not_before = now if start is None else max(now, start.astimezone(UTC))
        return Expansion((slots.next(account, not_before),))
    if isinstance(when, Recurrence):
        return _expand_recurrence(when, zone, start, now, horizon, send_late, limit)
    local, utc, note = _resolve_point(when, zone, start)
    occurrence = Occurrence("", utc, local, zone.key, note)
    if utc < now:
        if not send_late:
            raise ScheduleError(
                f"{when.text!r} is in the past ({_fmt_utc(utc)}; now {_fmt_utc(now)}); "
                "set send_late: true to send it at once"
            )
        occurrence = _late(occurrence, now, zone)
    return Expansion((occurrence,))


def _expand_recurrence(
    rec: Recurrence,
    zone: ZoneInfo,
    start: datetime | None,
    now: datetime,
    horizon: datetime,
    send_late: bool,
    limit: int,
) -> Expansion:
    if rec.start is not None:
        first_local, first_utc, _ = _resolve_point(rec.start, zone, start)
    elif start is not None:
        first_utc = start.astimezone(UTC)
        first_local = first_utc.astimezone(zone)
    else:
        raise ScheduleError(f"{rec.text} needs a start: give 'start:' here or a campaign start")
    end_utc = None if rec.end is None else _resolve_point(rec.end, zone, start)[1]
    if end_utc is not None and end_utc < first_utc:
        raise ScheduleError(f"{rec.text}: end ({_fmt_utc(end_utc)}) is before start ({_fmt_utc(first_utc)})")
    dtstart = first_local.replace(tzinfo=None)
    stream: Iterable[datetime] = (
        _cron_rules(rec.cron, dtstart) if rec.cron is not None else rrulestr(rec.rule, dtstart=dtstart)
    )
    open_ended = rec.open_ended
    count = rec.count
    zone_name = zone.key
    out: list[Occurrence] = []
    truncated = False
    last_at: datetime | None = None
    utcoffset = zone.utcoffset  # a tzinfo reads a naive datetime as wall time (and its fold)
    for naive in stream:
        # Fast path of _resolve_wall inlined: this loop runs once per occurrence (100k in the benchmark).
        off = utcoffset(naive)
        if off is not None and off == utcoffset(naive.replace(fold=1)):
            local = naive.replace(tzinfo=zone)
            at = local.astimezone(UTC)
            note = None
        else:
            local, at, note = _resolve_wall(naive, zone)
        if at < first_utc:  # a fold can put a wall time equal to dtstart before the start instant
            continue
        if end_utc is not None and at > end_utc:
            break
        if open_ended and at >= horizon:
            truncated = True
            break
        key = naive.isoformat(timespec="seconds" if naive.second else "minutes")
        if last_at is not None and at <= last_at:
            # Two wall times on one instant (one moved out of a gap, the real one after it): keep the real.
            if at == last_at and out[-1].note is not None and note is None:
                out[-1] = Occurrence(key, at, local, zone_name, None)
            continue
        if count is not None and len(out) >= count:
            break
        if len(out) >= limit:
            raise ScheduleError(
                f"{rec.text} expands to more than {limit:,} occurrences; narrow it with end or count"
            )
        out.append(Occurrence(key, at, local, zone_name, note))
        last_at = at
    if not out and not open_ended:
        raise ScheduleError(f"{rec.text} has no occurrences from its start ({_fmt_utc(first_utc)})")
    split = bisect.bisect_left(out, now, key=lambda o: o.at)
    past, future = out[:split], out[split:]
    if send_late and past:
        return Expansion(tuple(_late(o, now, zone) for o in past) + tuple(future), (), truncated)
    return Expansion(tuple(future), tuple(past), truncated)


def resolve_start(spec: object, *, zone: ZoneInfo, file_start: datetime | None = None) -> datetime:
    """The campaign start (aware, in ``zone``) from ``start:`` or ``--start``.

    An absolute time is taken as is (in ``zone`` unless it carries an offset); an offset (``+1w``) shifts
    ``file_start``, the campaign file's own start. Gap/fold rules apply as everywhere.
    """
    when = parse_when(spec)
    if not isinstance(when, At | Offset):
        raise ScheduleError(
            f"invalid campaign start {spec!r}: expected a time like '2027-01-18 09:00' or '+1w'"
        )
    return _resolve_point(when, zone, file_start)[0]


# --------------------------------------------------------------------------------------------------- slots

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
        self.occupied.add((account, _aware(at, "at").astimezone(UTC)))

    def _candidates(self, slots: Slots, after: datetime) -> Iterator[tuple[datetime, datetime, str | None]]:
        day = after.astimezone(slots.zone).date() - timedelta(days=1)  # a fold can pull a slot before `after`
        for offset in range(SLOT_SEARCH_DAYS + 2):
            current = day + timedelta(days=offset)
            if current.weekday() not in slots.days:
                continue
            for slot_time in slots.times:
                yield _resolve_wall(datetime.combine(current, slot_time), slots.zone)

    def next(self, account: str, not_before: datetime) -> Occurrence:
        """Take the earliest free slot of ``account`` at or after ``not_before`` (aware)."""
        slots = self.slots.get(account)
        if slots is None:
            raise ScheduleError(
                f"account {account!r} has no posting slots: add 'slots:' to use 'next free slot'"
            )
        not_before = _aware(not_before, "not_before").astimezone(UTC)
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
            f"after {_fmt_utc(after)}"
        )


__all__ = [
    "DEFAULT_LIMIT",
    "At",
    "CronSpec",
    "Expansion",
    "NextSlot",
    "Occurrence",
    "Offset",
    "Point",
    "Recurrence",
    "SlotAllocator",
    "Slots",
    "When",
    "expand",
    "localize",
    "parse_clock",
    "parse_cron",
    "parse_slots",
    "parse_when",
    "resolve_start",
    "resolve_zone",
]
