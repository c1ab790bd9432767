"""Schedules a hostile or careless campaign file writes, second audit: the expansion's time budget, send_late
on a recurrence that started long ago, the bounds of ``late_window`` and numbered BYDAY parts. Each is one
error line naming the file and line (or one plan line), never a hang, a flood or a silent misreading."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campaign.errors import ConfigError, ScheduleError
from campaign.plan.compile import compile_campaign
from campaign.schedule.budget import CHECK_EVERY, ENV_SECONDS, ExpandBudget, ExpandBudgetError
from campaign.schedule.timespec import expand, parse_when
from campaign.source.config import load_campaign
from tests.conftest import MINI_CAMPAIGN

HK = ZoneInfo("Asia/Hong_Kong")
START = datetime(2030, 3, 2, 9, tzinfo=HK)
HORIZON = datetime(2032, 1, 1, tzinfo=UTC)
BEFORE = datetime(2029, 1, 1, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that moves ``step`` seconds at every reading (and counts them)."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.reads = 1000.0, step, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def _budget(step: float, seconds: float = 1.0) -> tuple[ExpandBudget, FakeClock]:
    clock = FakeClock(step)
    return ExpandBudget(seconds=seconds, clock=clock, use_alarm=False), clock


# ---------------------------------------------------------------------------------------------- budget


def test_an_expansion_over_its_budget_is_one_error_saying_what_to_do() -> None:
    budget, clock = _budget(step=0.6)  # over 1 s at the second check
    with pytest.raises(ExpandBudgetError) as info:
        expand(parse_when({"cron": "* * * * *", "count": 100_000}), zone=HK, start=START, now=BEFORE,
               horizon=HORIZON, budget=budget)
    assert str(info.value) == (
        "cron '* * * * *' took longer than its 1 s budget to expand: narrow the rule, give it an end or a "
        f"count, or raise {ENV_SECONDS}"
    )
    assert clock.reads == 3  # the start, then once every CHECK_EVERY occurrences: never per occurrence


def test_the_budget_clock_is_read_once_per_check_every_occurrences() -> None:
    budget, clock = _budget(step=0.0)
    n = 5 * CHECK_EVERY + 7
    got = expand(parse_when({"cron": "* * * * *", "count": n}), zone=HK, start=START, now=BEFORE,
                 horizon=HORIZON, budget=budget)
    assert len(got.occurrences) == n
    assert clock.reads == 1 + 5


@pytest.mark.skipif(
    not hasattr(signal, "setitimer") or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None),
    reason="the timer needs SIGALRM free",
)
@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY;BYYEARDAY=200;BYMONTH=1",  # day 200 is in July: dateutil walks every day to 9999
        "FREQ=MINUTELY;BYYEARDAY=-1;BYMONTH=6",
    ],
)
def test_a_sparse_rule_dateutil_searches_without_yielding_is_stopped_by_the_timer(rule: str) -> None:
    # No occurrence comes back for seconds, so only the timer can stop it (each takes several seconds
    # unbounded; the budget here is a twentieth of a second).
    with pytest.raises(ExpandBudgetError, match="budget to expand"):
        expand(parse_when({"rrule": rule, "count": 2}), zone=HK, start=START, now=BEFORE, horizon=HORIZON,
               budget=ExpandBudget(seconds=0.05))
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # disarmed
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_the_budget_setting_must_be_a_positive_number(value: str) -> None:
    with pytest.raises(ScheduleError, match=f"{ENV_SECONDS} must be a positive number of seconds"):
        ExpandBudget.from_environ({ENV_SECONDS: value})


def test_the_budget_setting_defaults_to_two_seconds() -> None:
    assert ExpandBudget.from_environ({}).seconds == 2.0
    assert ExpandBudget.from_environ({ENV_SECONDS: "30"}).seconds == 30.0


def _minutely(mini: Callable[..., Path]) -> Path:
    return mini(MINI_CAMPAIGN.replace('"+0d 09:00"', '{cron: "* * * * *", count: 900000}'))


def test_a_schedule_over_budget_names_its_file_and_line_once(mini: Callable[..., Path]) -> None:
    # 'launch' goes to two accounts that share its expansion: one error, not two runs of the budget.
    path = _minutely(mini)
    budget, _ = _budget(step=0.6)
    compiled = compile_campaign(str(path), now=BEFORE, expand_budget=budget)
    assert [str(e) for e in compiled.errors] == [
        f"{path}:20: post 'launch' on main_x: cron '* * * * *' took longer than its 1 s budget to expand:"
        f" narrow the rule, give it an end or a count, or raise {ENV_SECONDS}"
    ]


def _check(path: Path) -> int:
    from campaign.cli import main

    try:
        return main(["check", str(path), "--now", "2029-01-01T00:00:00Z"])
    except SystemExit as exc:
        return int(exc.code or 0)


def test_check_refuses_a_schedule_over_the_operators_budget(
    mini: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _minutely(mini)
    monkeypatch.setenv(ENV_SECONDS, "0.001")  # 900,000 posts take seconds
    assert _check(path) == 1
    err = capsys.readouterr().err
    assert f"{path}:20: post 'launch' on main_x: cron '* * * * *' took longer than its 0.001 s budget" in err
    assert "Traceback" not in err
    monkeypatch.setenv(ENV_SECONDS, "0")
    assert _check(path) != 0
    err = capsys.readouterr().err
    assert f"{ENV_SECONDS} must be a positive number of seconds" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------- send_late


def test_send_late_on_an_old_recurrence_sends_only_the_latest_past_occurrence() -> None:
    now = datetime(2030, 3, 22, 4, tzinfo=UTC)  # 12:00 HKT, three weeks after the first 09:00
    spec = parse_when({"cron": "0 9 * * *", "count": 25})
    got = expand(spec, zone=HK, start=START, now=now, horizon=HORIZON, send_late=True)
    assert [o.key for o in got.skipped] == [f"2030-03-{d:02d}T09:00" for d in range(2, 22)]
    first, *rest = got.occurrences
    assert (first.key, first.at, first.moved_to_now) == ("2030-03-22T09:00", now, True)
    assert [o.key for o in rest] == [f"2030-03-{d:02d}T09:00" for d in range(23, 27)]


_LATE = MINI_CAMPAIGN.replace(
    '    when: "+0d 09:00"\n', '    when: {cron: "0 9 * * *", count: 25}\n    send_late: true\n'
).replace('"+1d 10:30"', '"+30d 10:30"')


def test_plan_says_how_many_past_occurrences_each_post_skips(
    mini: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from campaign.cli import main

    db, now = str(tmp_path / "q.db"), "2030-03-22T04:00:00Z"
    assert main(["plan", str(mini(_LATE)), "--db", db, "--now", now]) == 0
    out = capsys.readouterr().out
    skip = "  . skip    post 'launch': 20 past occurrences (send_late: only the latest goes out, due now)"
    assert skip in out
    assert out.count(". skip") == 1  # one line per post, not per account
    assert "11 to add" in out  # 2 accounts x (the latest past one + 4 to come), and the quote
    assert main(["plan", str(mini(_LATE)), "--db", db, "--now", now, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["past_skipped"] == [{"post_key": "launch", "count": 20, "send_late": True}]


def test_plan_counts_the_past_occurrences_of_a_post_without_send_late(
    mini: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from campaign.cli import main

    plain = _LATE.replace("    send_late: true\n", "")
    db = str(tmp_path / "q.db")
    assert main(["plan", str(mini(plain)), "--db", db, "--now", "2030-03-22T04:00:00Z"]) == 0
    assert "  . skip    post 'launch': 21 past occurrences (past; not sent)" in capsys.readouterr().out


def test_apply_again_after_downtime_cancels_the_missed_occurrences_saying_why(
    mini: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Applied before the start, the daemon down for a week: a second apply keeps the latest past occurrence
    due and cancels the earlier waiting ones as past occurrences (not "removed from the campaign file")."""
    import sqlite3

    from campaign.cli import main

    path, db = str(mini(_LATE)), str(tmp_path / "q.db")
    assert main(["apply", path, "--db", db, "--now", "2030-03-01T00:00:00Z"]) == 0
    capsys.readouterr()
    assert main(["apply", path, "--db", db, "--now", "2030-03-09T04:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "removed from the campaign file" not in out
    with sqlite3.connect(db) as conn:
        reasons = conn.execute(
            "SELECT e.reason, count(*) FROM post_events e JOIN posts p ON p.id = e.post_id "
            "WHERE e.to_status = 'cancelled' GROUP BY e.reason"
        ).fetchall()
        due_now = conn.execute(
            "SELECT occurrence FROM posts WHERE post_key = 'launch' AND status = 'scheduled' "
            "AND next_attempt_at < '2030-03-09 04:00' ORDER BY occurrence"
        ).fetchall()
    # 2 accounts x the 7 occurrences of 2-8 March; the 9 March one (09:00 HKT, past) stays due: sent late.
    assert reasons == [("a past occurrence, not sent in time (send_late sends only the latest)", 14)]
    assert due_now == [("2030-03-09T09:00",)] * 2


# ----------------------------------------------------------------------------------------- late_window


def _with_late_window(mini: Callable[..., Path], value: str) -> Path:
    start = 'start: "2030-03-02 09:00"\n'
    return mini(MINI_CAMPAIGN.replace(start, f"{start}late_window: {value}\n"))


@pytest.mark.parametrize("value", ["0s", "0", "1s", "59s", "59", "366d", "60w"])
def test_a_late_window_outside_1m_to_365d_is_refused_at_its_line(
    mini: Callable[..., Path], value: str
) -> None:
    path = _with_late_window(mini, value)
    with pytest.raises(ConfigError) as info:
        load_campaign(str(path))
    assert str(info.value).startswith(f"{path}:6: late_window '{value}' must be from 1m to 365d")


@pytest.mark.parametrize(("value", "window"), [("1m", timedelta(minutes=1)), ("60", timedelta(minutes=1)),
                                               ("365d", timedelta(days=365)), ("12h", timedelta(hours=12))])
def test_a_late_window_inside_the_bounds_loads(
    mini: Callable[..., Path], value: str, window: timedelta
) -> None:
    assert load_campaign(str(_with_late_window(mini, value))).late_window == window


# ---------------------------------------------------------------------------------------- numbered BYDAY


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=5MO",  # dateutil dropped the 5: every Monday
        "FREQ=WEEKLY;BYDAY=MO,-1FR",
        "FREQ=DAILY;BYDAY=+2TU",
        "FREQ=HOURLY;BYDAY=1SU",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=1MO",  # RFC 5545: not with YEARLY and BYWEEKNO
    ],
)
def test_a_numbered_byday_outside_monthly_or_yearly_is_refused(rule: str) -> None:
    with pytest.raises(ScheduleError, match=r"invalid rrule .*a numbered BYDAY"):
        parse_when({"rrule": rule})


@pytest.mark.parametrize(
    "rule", ["FREQ=MONTHLY;BYDAY=5MO", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYDAY=20MO",
             "FREQ=WEEKLY;BYDAY=MO,TU", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"],
)
def test_byday_where_rfc5545_allows_it_still_parses(rule: str) -> None:
    parse_when({"rrule": rule})


def test_a_numbered_weekly_byday_names_the_file_and_line(mini: Callable[..., Path]) -> None:
    path = mini(MINI_CAMPAIGN.replace('"+0d 09:00"', '{rrule: "FREQ=WEEKLY;BYDAY=5MO", count: 3}'))
    compiled = compile_campaign(str(path), now=BEFORE)
    assert [str(e) for e in compiled.errors][:1] == [
        f"{path}:20: post 'launch' on main_x: invalid rrule 'FREQ=WEEKLY;BYDAY=5MO': a numbered BYDAY (5MO)"
        " needs FREQ=MONTHLY or FREQ=YEARLY, not FREQ=WEEKLY"
    ]
