"""Parsing ``when:``: every form a campaign file may write, validated into a :data:`~.values.When` value.

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
    ``end`` is inclusive; ``count`` is the number of posts (after the DST deduplication of
    :mod:`~campaign.schedule.zones`), counted from ``start`` including occurrences already past. Without
    ``end`` and ``count`` the recurrence is open-ended and is expanded only up to ``horizon`` (exclusive).
``"next free slot"`` / ``{slot: next}``
    The next posting slot of the account (:class:`~campaign.schedule.slots.SlotAllocator`).

RRULE (:func:`parse_rrule`): ``COUNT``/``UNTIL`` in the rule are read as ``count``/``end``; a
DTSTART/RDATE/EXDATE line is refused: the start is ``start:``, so there is one place for it and its zone.
``BYHOUR``, ``BYMINUTE``, ``BYSECOND``, ``BYMONTH``, ``BYMONTHDAY``, ``BYYEARDAY`` and ``BYWEEKNO`` values
outside RFC 5545's ranges are refused (dateutil reads ``BYMONTHDAY=0`` as no day filter at all), as are
a numbered ``BYDAY`` (``2MO``) outside ``FREQ=MONTHLY``/``YEARLY`` or beside ``BYWEEKNO`` (RFC 5545 3.3.10;
dateutil ignores the number there), ``FREQ=SECONDLY`` and daily or finer rules on month days no month of
the rule has (dateutil would grind on them for seconds).
Cron: :mod:`campaign.schedule.cron`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time

from dateutil.rrule import rrulestr

from campaign.errors import ScheduleError
from campaign.schedule.cron import parse_cron
from campaign.schedule.values import At, NextSlot, Offset, Point, Recurrence, When

_ABSOLUTE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE
)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_OFFSET = re.compile(r"([+-])\s*((?:\d+\s*[a-z]+\s*)+?)(?:\s+(\d{1,2}:\d{2}))?", re.IGNORECASE | re.ASCII)
_OFFSET_TERM = re.compile(r"(\d+)\s*([a-z]+)", re.IGNORECASE | re.ASCII)
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
            if suffix != "Z" and int(suffix[-2:]) > 59:  # fromisoformat reads +05:99 as +06:39
                raise ValueError(f"UTC offset minutes {suffix[-2:]} are not 0..59")
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
        if len(number) > 4000:  # int() refuses 4,300 digits; far fewer already leave the calendar
            raise ScheduleError(f"offset {text[:40]!r}... is outside the calendar ({len(number)} digits)")
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
    normalized, rule_count, rule_until = parse_rrule(rule)
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


# --------------------------------------------------------------------------------------------------- rrule

_RRULE_NAMES = {
    "FREQ", "INTERVAL", "WKST", "BYSETPOS", "BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYEASTER", "BYWEEKNO",
    "BYDAY", "BYWEEKDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "COUNT", "UNTIL",
}  # fmt: skip
_PROBE_START = datetime(2000, 1, 1)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: Feb 29 exists in leap years
# (low, high, whether -high..-1 count from the end). dateutil checks the clock parts only when it iterates an
# hourly or finer rule (an internal error), drops BYMONTHDAY=0 (a monthly rule became daily) and never fires
# on BYMONTH=13: each is refused here, as RFC 5545 (3.3.10) bounds them.
_PART_RANGES = {
    "BYHOUR": (0, 23, False), "BYMINUTE": (0, 59, False), "BYSECOND": (0, 59, False),
    "BYMONTH": (1, 12, False),
    "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True), "BYWEEKNO": (1, 53, True),
}  # fmt: skip


def _in_range(value: str, low: int, high: int, signed: bool) -> bool:
    """True for a whole number from ``low`` to ``high`` (or -``high`` to -1 when ``signed``), ASCII digits."""
    digits = value[1:] if signed and value[:1] in "+-" and len(value) > 1 else value
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 3):
        return False
    number = int(digits)
    return low <= number <= high if value[:1] != "-" else 1 <= number <= high


def _positive(value: str) -> bool:
    """True for a whole number from 1 to 999,999,999 written in ASCII digits."""
    return value.isascii() and value.isdigit() and len(value) <= 9 and int(value) >= 1


def _check_part(name: str, value: str, rule: str) -> None:
    bounds = _PART_RANGES.get(name)
    if bounds is not None and not all(_in_range(v, *bounds) for v in value.split(",")):
        low, high, signed = bounds
        also = f" or -{high} to -1" if signed else ""
        raise ScheduleError(f"invalid rrule {rule[:80]!r}: {name} values must be {low} to {high}{also}")


def _check_reachable(parts: dict[str, str], rule: str) -> None:
    """Refuse rules dateutil would spend seconds to minutes on: per-second ones, and daily or finer ones on
    month days no month of the rule has (``FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30``: dateutil searches to year
    9999, ~8 s, before it gives up)."""
    if parts["FREQ"] == "SECONDLY":
        raise ScheduleError(f"invalid rrule {rule!r}: FREQ=SECONDLY: posts go out at most once a minute")
    slow = parts["FREQ"] in ("DAILY", "HOURLY", "MINUTELY")  # YEARLY gives up in 0.2 s: a warning says it
    if slow and "BYMONTHDAY" in parts and "BYDAY" not in parts and "BYWEEKDAY" not in parts:
        months = [int(m) for m in parts.get("BYMONTH", "1,2,3,4,5,6,7,8,9,10,11,12").split(",")]
        days = [abs(int(d)) for d in parts["BYMONTHDAY"].split(",")]
        if not any(d <= _MONTH_DAYS[m - 1] for m in months for d in days):
            raise ScheduleError(f"invalid rrule {rule!r}: that day of the month never occurs in those months")


def _check_byday(parts: dict[str, str], rule: str) -> None:
    """RFC 5545 (3.3.10): a numbered BYDAY (``5MO``, ``-1FR``) only with FREQ=MONTHLY or YEARLY, and not
    with YEARLY and BYWEEKNO; dateutil silently drops the number elsewhere (``FREQ=WEEKLY;BYDAY=5MO`` went
    out every Monday)."""
    for name in ("BYDAY", "BYWEEKDAY"):
        numbered = [d for d in parts.get(name, "").split(",") if d and d[0] in "+-0123456789"]
        if not numbered:
            continue
        freq = parts["FREQ"]
        if freq not in ("MONTHLY", "YEARLY"):
            raise ScheduleError(
                f"invalid rrule {rule[:80]!r}: a numbered {name} ({numbered[0]}) needs FREQ=MONTHLY or "
                f"FREQ=YEARLY, not FREQ={freq}"
            )
        if "BYWEEKNO" in parts:
            raise ScheduleError(
                f"invalid rrule {rule[:80]!r}: a numbered {name} ({numbered[0]}) cannot go with BYWEEKNO"
            )


def parse_rrule(rule: str) -> tuple[str, int | None, At | None]:
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
        if name in ("COUNT", "INTERVAL") and not _positive(value):
            # INTERVAL=0 repeated one instant for ever (a hang); a negative one, a dateutil crash.
            raise ScheduleError(f"invalid rrule {rule[:80]!r}: {name} must be a whole number of at least 1")
        _check_part(name, value, rule)
        if name == "COUNT":
            count = int(value)
        elif name == "UNTIL":
            until = _parse_until(value, rule)
        else:
            kept.append(f"{name}={value.upper()}")
    if "FREQ" not in names:
        raise ScheduleError(f"invalid rrule {rule!r}: FREQ is required (e.g. FREQ=WEEKLY)")
    parts = dict(pair.split("=", 1) for pair in kept)
    _check_byday(parts, rule)
    _check_reachable(parts, rule)
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
