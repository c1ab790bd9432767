"""Schedules and time, as a hostile or careless campaign file writes them: each input is refused with one
ScheduleError (or check error) line, never an internal error, a hang or a silent misreading."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from campaign.errors import ScheduleError
from campaign.schedule.timespec import expand, parse_instant, parse_when, resolve_zone

HK = ZoneInfo("Asia/Hong_Kong")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2027, 1, 18, 9, tzinfo=HK)
HORIZON = datetime(2028, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;BYMINUTE=61",  # dateutil only fails when it iterates an hourly rule
        "FREQ=MINUTELY;BYSECOND=99",
        "FREQ=SECONDLY;BYHOUR=25",  # "Invalid combination ... resulting in empty rule" at iteration
        "FREQ=DAILY;BYHOUR=24",
    ],
)
def test_rrule_time_part_out_of_range_is_refused(rule: str) -> None:
    with pytest.raises(ScheduleError, match="invalid rrule"):
        when = parse_when({"rrule": rule, "count": 3})
        expand(when, zone=HK, start=START, now=NOW, horizon=HORIZON)


@pytest.mark.parametrize(
    "text", ["2027-01-20 09:00+05:99", "2027-01-20 09:00+0560", "2027-01-20 09:00-00:75"]
)
def test_utc_offset_minutes_past_59_are_refused(text: str) -> None:
    # fromisoformat reads +05:99 as +06:39: a post silently 39 minutes off.
    with pytest.raises(ScheduleError, match="invalid time"):
        parse_when(text)
    with pytest.raises(ValueError, match="offset minutes"):  # embargo: reads the same text
        parse_instant(text.replace(" ", "T"), "Asia/Hong_Kong")


@pytest.mark.parametrize("name", ["localtime", "posixrules", "right/UTC", "posix/Europe/London"])
def test_host_dependent_zone_files_are_not_zones(name: str) -> None:
    # 'localtime' is the machine's own zone (CI's UTC, the daemon's whatever); right/ counts leap seconds.
    with pytest.raises(ScheduleError, match="unknown time zone"):
        resolve_zone(name)


def test_check_refuses_host_dependent_zone() -> None:
    from campaign.source.checker import check_zone

    class Fail(Exception):
        pass

    class Check:
        def fail(self, message: str, line: int) -> Exception:
            return Fail(f"{line}: {message}")

    with pytest.raises(Fail, match="7: unknown time zone 'localtime'"):
        check_zone(Check(), "localtime", 7)  # type: ignore[arg-type]
    check_zone(Check(), "Australia/Lord_Howe", 7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rule", ["FREQ=YEARLY;BYEASTER=99999", "FREQ=YEARLY;BYEASTER=-99999", "FREQ=MONTHLY;BYDAY=+99MO"]
)
def test_rrule_dateutil_cannot_iterate_is_one_schedule_error(rule: str) -> None:
    # dateutil accepts these, then raises IndexError on the first iteration (an internal error).
    with pytest.raises(ScheduleError, match="invalid rrule"):
        when = parse_when({"rrule": rule})
        expand(when, zone=HK, start=START, now=NOW, horizon=HORIZON)


def test_plan_shows_which_of_two_folded_wall_times() -> None:
    # 01:30 happens twice on 2027-11-07 in New York: the plan line must say which (the first: EDT).
    from campaign.queue.planner import _when

    first = datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    second = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    assert _when(first, "America/New_York") == "2027-11-07 01:30 America/New_York (EDT)"
    assert _when(second, "America/New_York") == "2027-11-07 01:30 America/New_York (EST)"


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYMONTHDAY=0",  # dateutil dropped the 0: the monthly post went out every day
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=MONTHLY;BYMONTHDAY=-32",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=YEARLY;BYMONTH=0",
        "FREQ=YEARLY;BYYEARDAY=0",
        "FREQ=YEARLY;BYWEEKNO=54",
        "FREQ=DAILY;BYHOUR=-1",
    ],
)
def test_rrule_by_parts_outside_rfc5545_ranges_are_refused(rule: str) -> None:
    with pytest.raises(ScheduleError, match=r"invalid rrule .* values must be"):
        parse_when({"rrule": rule})


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;BYMONTHDAY=1,15,+31",
        "FREQ=YEARLY;BYYEARDAY=-366,366;BYMONTH=12",
        "FREQ=DAILY;BYHOUR=0,9,23;BYMINUTE=0,59;BYSECOND=0",
    ],
)
def test_rrule_by_parts_in_range_still_parse(rule: str) -> None:
    parse_when({"rrule": rule})


def test_next_free_slot_never_lands_past_the_latest_campaign_time() -> None:
    # A start just before 9000 is allowed; its next slot must not break the "no time at or after 9000" rule.
    from campaign.schedule.timespec import SlotAllocator, parse_slots

    ny = ZoneInfo("America/New_York")
    slots = SlotAllocator({"acc": parse_slots({"times": ["09:00"]}, default_zone=ny)})
    with pytest.raises(ScheduleError, match="too far in the future"):
        expand(
            parse_when("next free slot"),
            zone=ny,
            start=datetime(8999, 12, 31, 20, tzinfo=UTC),
            now=NOW,
            horizon=HORIZON,
            slots=slots,
            account="acc",
        )


@pytest.mark.parametrize(
    "spec",
    [
        {"rrule": "FREQ=YEARLY;INTERVAL=7000", "count": 2},  # 2027, then 9027
        {"cron": "0 9 29 2 *", "count": 2000},  # leap days, one every four years, past 9000
    ],
)
def test_recurrence_count_never_runs_past_the_latest_campaign_time(spec: dict[str, object]) -> None:
    with pytest.raises(ScheduleError, match="too far in the future"):
        expand(parse_when(spec), zone=HK, start=START, now=NOW, horizon=HORIZON)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY;BYSECOND=0",  # 900,000 of these took dateutil minutes, second by second
        "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",  # never fires: dateutil searched to 9999 (~9 s)
        "FREQ=MINUTELY;BYMONTH=4,6;BYMONTHDAY=-31",
    ],
)
def test_rrule_dateutil_would_grind_on_is_refused_at_once(rule: str) -> None:
    with pytest.raises(ScheduleError, match="invalid rrule"):
        parse_when({"rrule": rule})


def test_rrule_month_days_that_exist_somewhere_still_parse() -> None:
    parse_when({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"})
    parse_when({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"})  # fast to find empty: check warns instead
    parse_when({"rrule": "FREQ=MONTHLY;BYMONTHDAY=31"})
    parse_when({"rrule": "FREQ=MONTHLY;BYMONTHDAY=30;BYDAY=MO"})
