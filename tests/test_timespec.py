"""Tests for campaign.schedule.timespec: every `when` form, DST gaps and folds, past times, slots, and
properties."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.errors import ScheduleError
from campaign.schedule.timespec import (
    At,
    Expansion,
    NextSlot,
    Offset,
    Recurrence,
    SlotAllocator,
    expand,
    localize,
    parse_cron,
    parse_slots,
    parse_when,
    resolve_start,
    resolve_zone,
)

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # before every schedule below unless a test says otherwise
HORIZON = datetime(2028, 1, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def run(
    spec: object,
    zone: ZoneInfo = LA,
    start: datetime | None = None,
    now: datetime = NOW,
    horizon: datetime = HORIZON,
    send_late: bool = False,
) -> Expansion:
    return expand(parse_when(spec), zone=zone, start=start, now=now, horizon=horizon, send_late=send_late)


def times(
    spec: object, zone: ZoneInfo = LA, start: datetime | None = None, now: datetime = NOW
) -> list[datetime]:
    return [o.at for o in run(spec, zone=zone, start=start, now=now).occurrences]


# ------------------------------------------------------------------------------------------------ zones


def test_resolve_zone_known() -> None:
    assert resolve_zone("Europe/Berlin") == BERLIN
    assert resolve_zone("UTC").key == "UTC"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("Europe/Berln", "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)"),
        ("europe/berlin", "(did you mean 'Europe/Berlin'?)"),
        ("../etc/passwd", "unknown time zone '../etc/passwd'"),
        ("", "unknown time zone ''"),
        (42, "unknown time zone 42"),
    ],
)
def test_resolve_zone_unknown(name: object, message: str) -> None:
    with pytest.raises(ScheduleError, match=r"^unknown time zone") as info:
        resolve_zone(name)
    assert message in str(info.value)


# ------------------------------------------------------------------------------------------------ localize


@pytest.mark.parametrize(
    ("zone", "wall", "expected_utc", "expected_local", "note"),
    [
        # America/Los_Angeles spring forward 2026-03-08 02:00 PST -> 03:00 PDT (10:00 UTC)
        (LA, datetime(2026, 3, 8, 1, 59), utc(2026, 3, 8, 9, 59), time(1, 59), None),
        (LA, datetime(2026, 3, 8, 2, 0), utc(2026, 3, 8, 10, 0), time(3, 0), "DST gap"),
        (LA, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 10, 0), time(3, 0), "DST gap"),
        (LA, datetime(2026, 3, 8, 3, 0), utc(2026, 3, 8, 10, 0), time(3, 0), None),
        # fall back 2026-11-01 02:00 PDT -> 01:00 PST: 01:xx happens twice; the first is PDT
        (LA, datetime(2026, 11, 1, 0, 59), utc(2026, 11, 1, 7, 59), time(0, 59), None),
        (LA, datetime(2026, 11, 1, 1, 0), utc(2026, 11, 1, 8, 0), time(1, 0), "occurs twice"),
        (LA, datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 8, 30), time(1, 30), "occurs twice"),
        (LA, datetime(2026, 11, 1, 2, 0), utc(2026, 11, 1, 10, 0), time(2, 0), None),
        # Europe/London 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT
        (LONDON, datetime(2026, 3, 29, 0, 59), utc(2026, 3, 29, 0, 59), time(0, 59), None),
        (LONDON, datetime(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 0), time(2, 0), "DST gap"),
        (LONDON, datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1, 0), time(2, 0), None),
        (LONDON, datetime(2026, 10, 25, 1, 30), utc(2026, 10, 25, 0, 30), time(1, 30), "occurs twice"),
        (LONDON, datetime(2026, 10, 25, 2, 0), utc(2026, 10, 25, 2, 0), time(2, 0), None),
        # Europe/Berlin 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET
        (BERLIN, datetime(2026, 3, 29, 1, 59), utc(2026, 3, 29, 0, 59), time(1, 59), None),
        (BERLIN, datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0), time(3, 0), "DST gap"),
        (BERLIN, datetime(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1, 0), time(3, 0), None),
        (BERLIN, datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30), time(2, 30), "occurs twice"),
        (BERLIN, datetime(2026, 10, 25, 3, 0), utc(2026, 10, 25, 2, 0), time(3, 0), None),
    ],
)
def test_localize_gap_and_fold(
    zone: ZoneInfo, wall: datetime, expected_utc: datetime, expected_local: time, note: str | None
) -> None:
    local, got_note = localize(wall, zone)
    assert local.astimezone(UTC) == expected_utc
    assert local.time() == expected_local and local.tzinfo is zone and local.fold == 0
    if note is None:
        assert got_note is None
    else:
        assert got_note is not None and note in got_note


def test_localize_notes_read_well() -> None:
    assert localize(datetime(2026, 3, 8, 2, 30), LA)[1] == (
        "02:30 does not exist on 2026-03-08 in America/Los_Angeles (DST gap): moved to 03:00"
    )
    assert localize(datetime(2026, 11, 1, 1, 30), LA)[1] == (
        "01:30 occurs twice on 2026-11-01 in America/Los_Angeles (clocks go back): using the first, 01:30 PDT"
    )


def test_localize_gap_of_unusual_size() -> None:
    # Lord Howe moves clocks 30 minutes; Samoa skipped 2011-12-30 entirely.
    local, note = localize(datetime(2026, 10, 4, 2, 15), ZoneInfo("Australia/Lord_Howe"))
    assert local.time() == time(2, 30) and note is not None
    local, note = localize(datetime(2011, 12, 30, 9, 0), ZoneInfo("Pacific/Apia"))
    assert local.replace(tzinfo=None) == datetime(2011, 12, 31, 0, 0)
    assert local.astimezone(UTC) == utc(2011, 12, 30, 10, 0)
    assert note is not None and "moved to 2011-12-31 00:00" in note


def test_localize_rejects_aware() -> None:
    with pytest.raises(ValueError):
        localize(datetime(2026, 1, 1, tzinfo=UTC), LA)


# ------------------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2027-01-18 09:00", At("2027-01-18 09:00", datetime(2027, 1, 18, 9, 0))),
        ("2027-01-18T09:00", At("2027-01-18T09:00", datetime(2027, 1, 18, 9, 0))),
        ("2027-01-18 09:00:30", At("2027-01-18 09:00:30", datetime(2027, 1, 18, 9, 0, 30))),
        ("2027-01-18T09:00Z", At("2027-01-18T09:00Z", utc(2027, 1, 18, 9, 0))),
        ("+2d 09:00", Offset("+2d 09:00", days=2, time_of_day=time(9, 0))),
        ("+3h", Offset("+3h", hours=3)),
        ("+90m", Offset("+90m", minutes=90)),
        ("+1d", Offset("+1d", days=1)),
        ("+1w 17:30", Offset("+1w 17:30", days=7, time_of_day=time(17, 30))),
        ("+0d 12:00", Offset("+0d 12:00", days=0, time_of_day=time(12, 0))),
        ("+1d 2h", Offset("+1d 2h", days=1, hours=2)),
        ("-1d 08:00", Offset("-1d 08:00", days=-1, time_of_day=time(8, 0))),
        ("next free slot", NextSlot()),
        ({"slot": "next"}, NextSlot()),
    ],
)
def test_parse_when_forms(spec: object, expected: object) -> None:
    assert parse_when(spec) == expected


def test_parse_when_yaml_values() -> None:
    doc = yaml.safe_load("a: 2027-01-18 09:00:00\nb: 2027-01-18 09:00:00+01:00\nc: '2027-01-18 09:00'")
    assert parse_when(doc["a"]) == At("2027-01-18 09:00:00", datetime(2027, 1, 18, 9, 0))
    b = parse_when(doc["b"])
    assert isinstance(b, At) and b.value == utc(2027, 1, 18, 8, 0)
    assert run(doc["b"]).occurrences[0].at == utc(2027, 1, 18, 8, 0)


def test_parse_when_recurrences() -> None:
    cron = parse_when({"cron": "0 9 * * MON-FRI", "start": "+1d", "end": "2027-03-01 00:00", "count": 5})
    assert isinstance(cron, Recurrence) and cron.kind == "cron" and cron.count == 5
    assert cron.start == Offset("+1d", days=1) and isinstance(cron.end, At)
    rule = parse_when({"rrule": "RRULE:FREQ=WEEKLY; BYDAY=TU,TH;BYHOUR=9;BYMINUTE=0;COUNT=4"})
    assert isinstance(rule, Recurrence) and rule.rule == "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9;BYMINUTE=0"
    assert rule.count == 4 and rule.end is None
    until = parse_when({"rrule": "FREQ=DAILY;UNTIL=20270301T000000Z"})
    assert isinstance(until, Recurrence) and until.end == At("20270301T000000Z", utc(2027, 3, 1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2027-02-30 09:00", "invalid time '2027-02-30 09:00': day is out of range for month"),
        ("2027-01-18 25:00", "invalid time '2027-01-18 25:00': hour must be in 0..23"),
        ("2027-01-18 09:61", "invalid time '2027-01-18 09:61': minute must be in 0..59"),
        ("2027-01-18", "invalid time '2027-01-18': no time of day; write '2027-01-18 09:00'"),
        (date(2027, 1, 18), "invalid time '2027-01-18': no time of day"),
        ("tomorrow", "invalid time 'tomorrow': expected a local time like '2027-01-18 09:00'"),
        (1050, "YAML reads an unquoted 17:30 as the number 1050: quote it, '17:30'"),
        (None, "invalid time None"),
        ("+2x", "invalid offset '+2x': unknown unit 'x' (use w, d, h or m)"),
        ("+1d 1d", "invalid offset '+1d 1d': unit 'd' given twice"),
        ("+3h 09:00", "a time of day goes only with days or weeks"),
        ("+1d 24:00", "hour must be in 0..23"),
        ({"cron": "0 9 * * *", "rrule": "FREQ=DAILY"}, "exactly one of 'cron' or 'rrule'"),
        ({"start": "+1d"}, "exactly one of 'cron' or 'rrule'"),
        ({"cron": "0 9 * * *", "ends": "+1w"}, "unknown key 'ends' in when"),
        ({"cron": "0 9 * * *", "count": 0}, "invalid count 0: expected a whole number of at least 1"),
        ({"cron": "0 9 * * *", "count": True}, "invalid count True"),
        ({"cron": "0 9 * * *", "start": "soon"}, "invalid start 'soon'"),
        ({"cron": 5}, "invalid cron 5: expected a string"),
        ({"cron": "0 9 * *"}, "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ({"cron": "61 9 * * *"}, "invalid cron '61 9 * * *': minute 61 is out of range 0-59"),
        ({"cron": "0 9 * * MOM"}, "'MOM' is not a valid day-of-week number or name"),
        ({"cron": "0 9 * * FRI-MON"}, "range 'FRI-MON' in day-of-week goes backwards"),
        ({"cron": "*/0 9 * * *"}, "bad step '0' in minute"),
        ({"cron": "0 9 30 2 *"}, "that day of the month never occurs in those months"),
        ({"cron": "@reboot"}, "unknown macro"),
        ({"rrule": "BYDAY=MO"}, "FREQ is required"),
        ({"rrule": "FREQ=DAILY;BYDAY=XX"}, "invalid rrule 'FREQ=DAILY;BYDAY=XX': invalid 'BYDAY': XX"),
        ({"rrule": "FREQ=DAILY;FOO=1"}, "unknown part 'FOO'"),
        ({"rrule": "FREQ=DAILY;BYHOUR"}, "'BYHOUR' is not NAME=VALUE"),
        ({"rrule": "DTSTART:20270101T090000\nRRULE:FREQ=DAILY"}, "the start goes in 'start:'"),
        ({"rrule": "FREQ=DAILY;COUNT=3", "count": 3}, "COUNT in the rule and 'count:' both given"),
        ({"rrule": "FREQ=DAILY;UNTIL=20270101", "end": "+1w"}, "UNTIL in the rule and 'end:' both given"),
        ({"rrule": "FREQ=DAILY;UNTIL=2027"}, "UNTIL '2027' is not YYYYMMDD[THHMMSS[Z]]"),
        ({"slot": "later"}, "write 'slot: next'"),
    ],
)
def test_parse_when_errors(spec: object, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_when(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------ cron fields


def test_cron_fields() -> None:
    spec = parse_cron("*/15 8-10,17 1,15 JAN-MAR,dec 0,7")
    assert spec.minutes == (0, 15, 30, 45) and spec.hours == (8, 9, 10, 17)
    assert spec.days == (1, 15) and spec.months == (1, 2, 3, 12)
    assert spec.weekdays == (6,)  # 0 and 7 are both Sunday (dateutil: Monday = 0)
    assert spec.days_restricted and spec.weekdays_restricted
    assert parse_cron("5/20 * * * *").minutes == (5, 25, 45)
    assert parse_cron("@daily") == parse_cron("0 0 * * *")
    assert not parse_cron("0 9 */2 * *").days_restricted


def test_cron_weekdays_skip_weekends() -> None:
    start = datetime(2027, 1, 15, 0, 0, tzinfo=BERLIN)  # a Friday
    occ = run({"cron": "0 9 * * MON-FRI", "count": 3}, zone=BERLIN, start=start).occurrences
    assert [o.key for o in occ] == ["2027-01-15T09:00", "2027-01-18T09:00", "2027-01-19T09:00"]
    assert occ[0].at == utc(2027, 1, 15, 8, 0)


def test_cron_day_of_month_or_day_of_week() -> None:
    # crontab(5): both day fields restricted -> either matches ("the 1st, and every Monday").
    start = datetime(2027, 2, 1, 0, 0, tzinfo=BERLIN)
    keys = [
        o.key[:10] for o in run({"cron": "0 9 1 * MON", "count": 6}, zone=BERLIN, start=start).occurrences
    ]
    assert keys == ["2027-02-01", "2027-02-08", "2027-02-15", "2027-02-22", "2027-03-01", "2027-03-08"]
    # A star-prefixed day field is unrestricted, so the fields AND: Sundays among days 1-7 only.
    keys = [
        o.key[:10] for o in run({"cron": "0 9 1-7 * */7", "count": 2}, zone=BERLIN, start=start).occurrences
    ]
    assert keys == ["2027-02-07", "2027-03-07"]


def test_cron_numeric_sunday_and_leap_day() -> None:
    start = datetime(2027, 1, 1, tzinfo=BERLIN)  # a Friday
    assert run({"cron": "0 9 * * 0", "count": 1}, zone=BERLIN, start=start).occurrences[0].key == (
        "2027-01-03T09:00"
    )
    leap = run({"cron": "0 9 29 2 *", "count": 2}, zone=BERLIN, start=start, horizon=utc(2100, 1, 1))
    assert [o.key for o in leap.occurrences] == ["2028-02-29T09:00", "2032-02-29T09:00"]


# ------------------------------------------------------------------------------------------------ offsets


def test_offsets_across_dst() -> None:
    start = datetime(2026, 3, 7, 9, 0, tzinfo=LA)  # the day before spring forward, 17:00 UTC
    assert times("+1d 09:00", start=start) == [utc(2026, 3, 8, 16, 0)]  # 09:00 PDT
    assert times("+1d", start=start) == [utc(2026, 3, 8, 16, 0)]  # calendar day: same wall time
    assert times("+24h", start=start) == [utc(2026, 3, 8, 17, 0)]  # elapsed: 10:00 PDT
    assert times("+3h", start=start) == [utc(2026, 3, 7, 20, 0)]
    assert times("+90m", start=start) == [utc(2026, 3, 7, 18, 30)]
    assert times("+0d 12:00", start=start) == [utc(2026, 3, 7, 20, 0)]
    assert times("-1d 08:00", start=start) == [utc(2026, 3, 6, 16, 0)]
    assert times("+1w 17:30", start=start) == [utc(2026, 3, 15, 0, 30)]  # 2026-03-14 17:30 PDT
    assert times("+1d 2h", start=start) == [utc(2026, 3, 8, 18, 0)]
    fall = datetime(2026, 10, 31, 9, 0, tzinfo=LA)
    assert times("+1d 09:00", start=fall) == [utc(2026, 11, 1, 17, 0)]  # 09:00 PST
    berlin = datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)
    assert times("+1d 09:00", zone=BERLIN, start=berlin) == [utc(2026, 3, 29, 7, 0)]
    london = datetime(2026, 10, 24, 9, 0, tzinfo=LONDON)
    assert times("+1d", zone=LONDON, start=london) == [utc(2026, 10, 25, 9, 0)]


def test_offset_into_gap_and_other_zone() -> None:
    start = datetime(2026, 3, 7, 2, 30, tzinfo=LA)
    occ = run("+1d", start=start).occurrences[0]
    assert occ.at == utc(2026, 3, 8, 10, 0) and occ.note is not None and "DST gap" in occ.note
    # The start is read in the zone in force: 09:00 Berlin is 00:00 in LA; "+1d 09:00" is next day 09:00 LA.
    berlin_start = datetime(2027, 1, 18, 9, 0, tzinfo=BERLIN)
    assert times("+1d 09:00", zone=LA, start=berlin_start) == [utc(2027, 1, 19, 17, 0)]


def test_offset_without_start() -> None:
    with pytest.raises(ScheduleError, match="relative to the campaign start, but there is none"):
        run("+1d 09:00", start=None)


def test_absolute_times() -> None:
    assert times("2027-01-18 09:00", zone=BERLIN) == [utc(2027, 1, 18, 8, 0)]
    occ = run("2026-03-08 02:30").occurrences[0]
    assert occ.key == "" and occ.at == utc(2026, 3, 8, 10, 0) and occ.zone == "America/Los_Angeles"
    assert occ.local.time() == time(3, 0)
    assert times("2026-11-01 01:30") == [utc(2026, 11, 1, 8, 30)]
    # An explicit offset pins the instant; local is that instant in the zone in force.
    occ = run("2027-01-18T09:00+01:00").occurrences[0]
    assert occ.at == utc(2027, 1, 18, 8, 0) and occ.local.hour == 0


# ------------------------------------------------------------------------------------------------ recurrences


@pytest.mark.parametrize(
    ("zone", "first_day", "spec"),
    [
        (LA, datetime(2026, 3, 1), {"cron": "0 9 * * *"}),
        (LA, datetime(2026, 3, 1), {"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"}),
        (LA, datetime(2026, 10, 25), {"cron": "0 9 * * *"}),
        (LA, datetime(2026, 10, 25), {"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"}),
        (LONDON, datetime(2026, 3, 25), {"cron": "0 9 * * *"}),
        (LONDON, datetime(2026, 10, 21), {"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"}),
        (BERLIN, datetime(2026, 3, 25), {"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"}),
        (BERLIN, datetime(2026, 10, 21), {"cron": "0 9 * * *"}),
    ],
)
def test_daily_stays_local_across_dst(zone: ZoneInfo, first_day: datetime, spec: dict[str, object]) -> None:
    start = first_day.replace(tzinfo=zone)
    occ = run({**spec, "count": 14}, zone=zone, start=start).occurrences
    assert [o.local.date() for o in occ] == [first_day.date() + timedelta(days=i) for i in range(14)]
    assert all(o.local.time() == time(9, 0) and o.note is None for o in occ)
    offsets = {o.local.utcoffset() for o in occ}
    assert len(offsets) == 2  # the window really spans a change
    assert [o.at for o in occ] == [o.local.astimezone(UTC) for o in occ]


@pytest.mark.parametrize("spec", [{"cron": "30 2 * * *"}, {"rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"}])
def test_daily_in_gap_never_skips_a_day(spec: dict[str, object]) -> None:
    occ = run({**spec, "count": 3}, start=datetime(2026, 3, 7, tzinfo=LA)).occurrences
    assert [o.key for o in occ] == ["2026-03-07T02:30", "2026-03-08T02:30", "2026-03-09T02:30"]
    assert occ[1].at == utc(2026, 3, 8, 10, 0) and occ[1].local.time() == time(3, 0)
    assert occ[1].note is not None and "moved to 03:00" in occ[1].note


@pytest.mark.parametrize(
    ("zone", "day", "spec", "expected"),
    [
        (LA, datetime(2026, 3, 8), {"cron": "0 * * * *"}, 23),
        (LA, datetime(2026, 3, 8), {"rrule": "FREQ=HOURLY;BYMINUTE=0"}, 23),
        (LA, datetime(2026, 11, 1), {"cron": "0 * * * *"}, 24),
        (LA, datetime(2026, 11, 1), {"rrule": "FREQ=HOURLY;BYMINUTE=0"}, 24),
        (BERLIN, datetime(2026, 3, 29), {"cron": "0 * * * *"}, 23),
        (LONDON, datetime(2026, 10, 25), {"rrule": "FREQ=HOURLY"}, 24),
        (LA, datetime(2026, 3, 8), {"cron": "*/30 * * * *"}, 46),
    ],
)
def test_hourly_through_gap_and_fold_has_no_duplicates(
    zone: ZoneInfo, day: datetime, spec: dict[str, object], expected: int
) -> None:
    start = day.replace(tzinfo=zone)
    end = (day + timedelta(days=1)).replace(tzinfo=zone) - timedelta(minutes=1)
    occ = run(
        {**spec, "end": end.replace(tzinfo=None).isoformat(sep=" ")}, zone=zone, start=start
    ).occurrences
    instants = [o.at for o in occ]
    assert len(instants) == expected
    assert all(a < b for a, b in pairwise(instants))
    assert len({o.key for o in occ}) == len(occ)


def test_hourly_gap_keeps_the_real_hour() -> None:
    occ = run({"cron": "0 1-4 * * *", "count": 3}, start=datetime(2026, 3, 8, tzinfo=LA)).occurrences
    assert [(o.key, o.at, o.note) for o in occ] == [
        ("2026-03-08T01:00", utc(2026, 3, 8, 9, 0), None),
        ("2026-03-08T03:00", utc(2026, 3, 8, 10, 0), None),  # 02:00 would be 10:00 UTC too: dropped
        ("2026-03-08T04:00", utc(2026, 3, 8, 11, 0), None),
    ]


def test_rrule_weekly() -> None:
    start = datetime(2027, 1, 18, 0, 0, tzinfo=BERLIN)  # a Monday
    occ = run({"rrule": "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9;BYMINUTE=0", "count": 4}, zone=BERLIN, start=start)
    assert [o.key for o in occ.occurrences] == [
        "2027-01-19T09:00",
        "2027-01-21T09:00",
        "2027-01-26T09:00",
        "2027-01-28T09:00",
    ]
    # Parts the rule leaves open (here hour and minute) come from the start, as RFC 5545 says.
    occ = run({"rrule": "FREQ=DAILY", "start": "2027-01-18 10:15", "count": 2}, zone=BERLIN)
    assert [o.key for o in occ.occurrences] == ["2027-01-18T10:15", "2027-01-19T10:15"]


def test_count_end_and_horizon() -> None:
    start = datetime(2027, 1, 1, tzinfo=BERLIN)
    daily = {"cron": "0 9 * * *"}
    assert len(run({**daily, "count": 5}, zone=BERLIN, start=start).occurrences) == 5
    ended = run({**daily, "end": "2027-01-10 09:00"}, zone=BERLIN, start=start)  # end is inclusive
    assert ended.occurrences[-1].key == "2027-01-10T09:00" and len(ended.occurrences) == 10
    both = run({**daily, "end": "2027-01-10 09:00", "count": 3}, zone=BERLIN, start=start)
    assert len(both.occurrences) == 3
    until = run({"rrule": "FREQ=DAILY;BYHOUR=9;UNTIL=20270103"}, zone=BERLIN, start=start)
    assert [o.key for o in until.occurrences] == ["2027-01-01T09:00", "2027-01-02T09:00", "2027-01-03T09:00"]
    # open-ended: up to (not including) the horizon, and said so
    horizon = datetime(2027, 1, 4, 9, 0, tzinfo=BERLIN)
    open_ended = run(daily, zone=BERLIN, start=start, horizon=horizon)
    assert len(open_ended.occurrences) == 3 and open_ended.truncated
    # a bounded recurrence ignores the horizon
    bounded = run({**daily, "count": 5}, zone=BERLIN, start=start, horizon=horizon)
    assert len(bounded.occurrences) == 5 and not bounded.truncated
    # start and end may be offsets from the campaign start
    window = run({**daily, "start": "+2d", "end": "+4d 23:59"}, zone=BERLIN, start=start)
    assert [o.key[:10] for o in window.occurrences] == ["2027-01-03", "2027-01-04", "2027-01-05"]


def test_recurrence_errors() -> None:
    start = datetime(2027, 1, 10, tzinfo=BERLIN)
    with pytest.raises(ScheduleError, match=r"end \(2027-01-01 08:00 UTC\) is before start"):
        run({"cron": "0 9 * * *", "end": "2027-01-01 09:00"}, zone=BERLIN, start=start)
    with pytest.raises(ScheduleError, match="needs a start: give 'start:' here or a campaign start"):
        run({"cron": "0 9 * * *", "count": 2}, zone=BERLIN, start=None)
    with pytest.raises(ScheduleError, match="has no occurrences"):
        run({"cron": "0 9 * * *", "end": "2027-01-10 08:00"}, zone=BERLIN, start=start)
    with pytest.raises(
        ScheduleError, match="expands to more than 10 occurrences; narrow it with end or count"
    ):
        expand(
            parse_when({"cron": "* * * * *", "count": 11}),
            zone=BERLIN,
            start=start,
            now=NOW,
            horizon=HORIZON,
            limit=10,
        )


# ------------------------------------------------------------------------------------------------ past times


def test_one_off_in_the_past() -> None:
    now = utc(2027, 1, 18, 12, 0)
    with pytest.raises(ScheduleError) as info:
        run("2027-01-18 09:00", zone=BERLIN, now=now)
    assert str(info.value) == (
        "'2027-01-18 09:00' is in the past (2027-01-18 08:00 UTC; now 2027-01-18 12:00 UTC); "
        "set send_late: true to send it at once"
    )
    late = run("2027-01-18 09:00", zone=BERLIN, now=now, send_late=True).occurrences[0]
    assert late.at == now and late.local == now.astimezone(BERLIN)
    assert late.note is not None and "due 2027-01-18 09:00 CET (2027-01-18 08:00 UTC)" in late.note
    # exactly now is not the past
    assert times("2027-01-18 13:00", zone=BERLIN, now=now) == [now]


def test_recurrence_past_occurrences_skipped_or_sent_late() -> None:
    start = datetime(2027, 1, 1, tzinfo=BERLIN)
    now = utc(2027, 1, 3, 12, 0)
    spec = {"cron": "0 9 * * *", "count": 5}
    result = run(spec, zone=BERLIN, start=start, now=now)
    assert [o.key[:10] for o in result.skipped] == ["2027-01-01", "2027-01-02", "2027-01-03"]
    assert [o.key[:10] for o in result.occurrences] == ["2027-01-04", "2027-01-05"]  # count spans both
    late = run(spec, zone=BERLIN, start=start, now=now, send_late=True)
    # Only the latest past occurrence goes out late (coalesced); the earlier ones stay skipped.
    assert late.skipped == result.skipped[:-1] and [o.at for o in late.occurrences][:2] != [now] * 2
    assert late.occurrences[0].at == now and late.occurrences[0].key == result.skipped[-1].key
    assert [o.key for o in late.occurrences] == [o.key for o in result.skipped[-1:] + result.occurrences]


# ------------------------------------------------------------------------------------------------ start


def test_resolve_start_and_shift() -> None:
    file_start = resolve_start("2027-01-18 09:00", zone=BERLIN)
    assert file_start == datetime(2027, 1, 18, 9, 0, tzinfo=BERLIN)
    shifted = resolve_start("+1w", zone=BERLIN, file_start=file_start)
    assert shifted == datetime(2027, 1, 25, 9, 0, tzinfo=BERLIN)
    assert resolve_start("2027-02-01 10:00", zone=BERLIN, file_start=file_start).day == 1
    with pytest.raises(ScheduleError, match="relative to the campaign start"):
        resolve_start("+1w", zone=BERLIN)
    with pytest.raises(ScheduleError, match="invalid campaign start"):
        resolve_start({"cron": "0 9 * * *"}, zone=BERLIN)
    # shifting the start moves offsets and start-less recurrences, never absolute times
    for when, moved in [
        ("+2d 09:00", True),
        ({"cron": "0 9 * * *", "count": 1}, True),
        ("2027-03-01 09:00", False),
    ]:
        before = times(when, zone=BERLIN, start=file_start)
        after = times(when, zone=BERLIN, start=shifted)
        assert (after != before) is moved
        if moved:
            assert after[0] - before[0] == timedelta(weeks=1)


# ------------------------------------------------------------------------------------------------ slots


def weekday_slots(zone: ZoneInfo = BERLIN) -> SlotAllocator:
    spec = {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "12:30", "17:30"]}
    slots = parse_slots(spec, default_zone=zone)
    return SlotAllocator({"masto": slots, "bsky": slots})


def test_parse_slots() -> None:
    slots = parse_slots({"days": "mon-wed, fri", "times": ["17:30", "09:00", "09:00"]}, default_zone=LA)
    assert slots.days == frozenset({0, 1, 2, 4}) and slots.times == (time(9, 0), time(17, 30))
    assert slots.zone is LA
    wrap = parse_slots({"days": ["fri-mon"], "times": ["09:00"], "zone": "Europe/Berlin"}, default_zone=LA)
    assert wrap.days == frozenset({4, 5, 6, 0}) and wrap.zone == BERLIN
    assert parse_slots({"times": ["09:00"]}, default_zone=LA).days == frozenset(range(7))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"days": ["mon"]}, "slots need 'times'"),
        ({"times": ["09:00"], "days": ["funday"]}, "invalid slot day 'funday'"),
        ({"times": [1050]}, "quote it, '17:30'"),
        ({"times": ["9am"]}, "invalid slot time '9am': expected 'HH:MM'"),
        ({"times": ["09:00"], "zone": "Nowhere/City"}, "unknown time zone 'Nowhere/City'"),
        ({"times": ["09:00"], "every": "day"}, "unknown key 'every' in slots"),
        ("mon 09:00", "expected a mapping"),
    ],
)
def test_parse_slots_errors(spec: object, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_slots(spec, default_zone=LA)
    assert message in str(info.value)


def test_slot_allocation() -> None:
    alloc = weekday_slots()
    alloc.occupy("masto", datetime(2027, 1, 15, 12, 30, tzinfo=BERLIN))  # a post with an explicit time
    friday = datetime(2027, 1, 15, 10, 0, tzinfo=BERLIN)
    taken = [alloc.next("masto", friday).local.replace(tzinfo=None) for _ in range(4)]
    assert taken == [
        datetime(2027, 1, 15, 17, 30),  # 09:00 is before not_before, 12:30 occupied
        datetime(2027, 1, 18, 9, 0),  # the weekend is skipped
        datetime(2027, 1, 18, 12, 30),
        datetime(2027, 1, 18, 17, 30),
    ]
    # another account is independent
    other = alloc.next("bsky", friday)
    assert other.local.replace(tzinfo=None) == datetime(2027, 1, 15, 12, 30)
    assert other.at == utc(2027, 1, 15, 11, 30) and other.key == "" and other.zone == "Europe/Berlin"
    # an earlier not_before still never reuses a slot
    earlier = alloc.next("masto", datetime(2027, 1, 15, 0, 0, tzinfo=BERLIN))
    assert earlier.local.replace(tzinfo=None) == datetime(2027, 1, 15, 9, 0)
    again = alloc.next("masto", datetime(2027, 1, 15, 0, 0, tzinfo=BERLIN))
    assert again.local.replace(tzinfo=None) == datetime(2027, 1, 19, 9, 0)
    assert len({a for acct, a in alloc.occupied if acct == "masto"}) == 7


def test_slots_with_preoccupied_set_and_dst_gap() -> None:
    slots = parse_slots({"times": ["02:30", "03:00"]}, default_zone=LA)
    alloc = SlotAllocator({"a": slots}, {("a", datetime(2026, 3, 8, 1, 30, tzinfo=LA))})
    first = alloc.next("a", datetime(2026, 3, 8, 0, 0, tzinfo=LA))
    assert first.at == utc(2026, 3, 8, 10, 0) and first.note is not None  # 02:30 moved to 03:00
    second = alloc.next("a", datetime(2026, 3, 8, 0, 0, tzinfo=LA))
    assert second.local.replace(tzinfo=None) == datetime(2026, 3, 9, 2, 30)  # 03:00 is the same instant


def test_next_free_slot_through_expand() -> None:
    alloc = weekday_slots()
    start = datetime(2027, 1, 18, 0, 0, tzinfo=BERLIN)
    occ = expand(
        parse_when("next free slot"),
        zone=BERLIN,
        start=start,
        now=NOW,
        horizon=HORIZON,
        slots=alloc,
        account="masto",
    ).occurrences
    assert occ[0].local.replace(tzinfo=None) == datetime(2027, 1, 18, 9, 0)  # not before the campaign start
    with pytest.raises(ScheduleError, match="needs posting slots"):
        run("next free slot", zone=BERLIN, start=start)
    with pytest.raises(ScheduleError, match="account 'x' has no posting slots"):
        alloc.next("x", start)


# ------------------------------------------------------------------------------------------------ properties

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone_name=st.sampled_from(ZONES),
    wall=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2040, 12, 31)),
)
def test_localize_round_trips_or_lands_on_the_change(zone_name: str, wall: datetime) -> None:
    zone = ZoneInfo(zone_name)
    wall = wall.replace(microsecond=0)
    local, note = localize(wall, zone)
    back = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back == wall:
        # the wall time exists; if ambiguous it is the first (earliest) instant
        other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        assert local.astimezone(UTC) <= other
    else:
        # gap: the result is the transition moment, the first instant whose wall time is past `wall`
        moment = local.astimezone(UTC)
        just_before = (moment - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        assert just_before < wall < back
        assert note is not None and "DST gap" in note


@settings(max_examples=60, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    first=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 1, 1)),
    rule=st.sampled_from(
        [
            {"cron": "0 * * * *"},
            {"cron": "*/20 0-3 * * *"},
            {"cron": "30 1,2 * * *"},
            {"cron": "0 9 * * MON-FRI"},
            {"rrule": "FREQ=HOURLY;INTERVAL=1"},
            {"rrule": "FREQ=MINUTELY;INTERVAL=45"},
            {"rrule": "FREQ=DAILY;BYHOUR=0,1,2,3;BYMINUTE=0,30"},
        ]
    ),
)
def test_expansions_strictly_increase(zone_name: str, first: datetime, rule: dict[str, object]) -> None:
    zone = ZoneInfo(zone_name)
    start = first.replace(tzinfo=zone, microsecond=0)
    occ = expand(
        parse_when({**rule, "count": 200}), zone=zone, start=start, now=utc(1980, 1, 1), horizon=HORIZON
    ).occurrences
    assert len(occ) == 200
    assert all(a.at < b.at for a, b in pairwise(occ))
    assert all(o.local.astimezone(UTC) == o.at and o.at.tzinfo is UTC for o in occ)


# ------------------------------------------------------------------------------------------------ cost


@pytest.mark.parametrize("spec", [{"cron": "*/15 8-18 * * MON-FRI"}, {"rrule": "FREQ=HOURLY"}])
def test_expanding_100k_occurrences_is_cheap(
    spec: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    when = parse_when({**spec, "count": 100_000})
    began = clock.perf_counter()
    result = expand(
        when, zone=BERLIN, start=datetime(2027, 1, 1, tzinfo=BERLIN), now=NOW, horizon=HORIZON
    ).occurrences
    elapsed = clock.perf_counter() - began
    with capsys.disabled():
        print(f"\nexpand {spec} to 100,000 occurrences: {elapsed:.3f} s")
    assert len(result) == 100_000
    assert all(a.at < b.at for a, b in pairwise(result))
    # Not a timing target (~0.5 s here): a guard against an accidentally quadratic expansion.
    assert elapsed < 30


def test_the_timespec_facade_exports_every_value_and_entry_point() -> None:
    from campaign.schedule import slots, timespec, values

    assert timespec.__all__ == sorted(timespec.__all__, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(timespec, name) for name in timespec.__all__)
    defined = {
        name
        for module in (values, slots)
        for name, obj in vars(module).items()
        if isinstance(obj, type) and obj.__module__ == module.__name__ and not name.startswith("_")
    }
    assert defined <= set(timespec.__all__)
