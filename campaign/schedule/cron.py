"""Cron expressions: the five-field grammar of crontab(5), translated to ``dateutil`` rules.

The five fields are parsed here (a small, fully specified grammar: crontab(5),
https://man7.org/linux/man-pages/man5/crontab.5.html) and translated to ``dateutil`` rules, so cron and
RRULE share one expansion and one DST path (:mod:`campaign.schedule.recurrence`). Not APScheduler 3's
``CronTrigger.from_crontab``: it reads day-of-week 0 as Monday, which 3.x cannot fix
(https://github.com/agronholm/apscheduler/issues/286, #1102), and its triggers work on aware times with known
DST edge bugs. Not ``croniter``: one more dependency whose maintenance changed hands in 2025
(https://github.com/pallets-eco/croniter/issues/153) for a parser this size. Like Vixie cron, when
day-of-month and day-of-week are both restricted (neither starts with ``*``) a day matching *either* runs
(https://blog.healthchecks.io/2022/09/schedule-cron-job-the-funky-way); ``0``/``7`` are Sunday; names
(``JAN``, ``MON``) and ``@daily``-style macros are accepted. The rule is expanded with ``FREQ=YEARLY`` so
dateutil builds each year's day set at once (dateutil alone: 100k occurrences in ~0.05 s; a minutely
frequency filtered by hour is ~50x slower).
"""

from __future__ import annotations

from datetime import datetime

from dateutil.rrule import YEARLY, rrule, rruleset

from campaign.errors import ScheduleError
from campaign.schedule.values import CronSpec

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
    if token.isascii() and token.isdigit():
        value = int(token) if len(token) <= 4 else high + 1  # out of range, however many digits
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
            ok = step_text.isascii() and step_text.isdigit()
            # A step past the range leaves one value, however many digits it has (int() refuses 4,300).
            step = (int(step_text) if len(step_text) <= 9 else high + 1) if ok else 0
            if step < 1:
                raise ScheduleError(f"invalid cron {rule!r}: bad step {step_text[:20]!r} in {name}")
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


def cron_rules(spec: CronSpec, dtstart: datetime) -> rrule | rruleset:
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
