"""`campaign simulate` (the real dispatcher, dry, on a simulated clock) and the `plan`/`apply` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign.cli import cli
from campaign.dispatch.dispatcher import Outcome
from campaign.dispatch.simulate import default_start, simulate
from campaign.queue.store import Store

SMALL = """\
campaign: small
zone: America/New_York
start: "2030-03-09 09:00"
threads: [mastodon]
alerts: ops
accounts:
  hook:
    channel: webhook
    url: https://hooks.example/in
  social:
    channel: mastodon
    instance: https://m.example
    limit: 60
    credentials:
      token: SMALL_MASTODON_TOKEN
  ops:
    channel: webhook
    url: https://hooks.example/alerts
posts:
  - key: first
    text: "First post of the small campaign"
    when: "+0d 09:00"
    accounts: [hook, social]
  - key: long
    text: "A longer post that will not fit in sixty characters, so on Mastodon it becomes a thread of parts"
    when: "+1d 09:00"
    accounts: [social]
  - key: weekly
    text: "Weekly note"
    when: {rrule: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=10;BYMINUTE=0", count: 3}
    accounts: [hook]
"""

EXAMPLE = Path(__file__).resolve().parent.parent / "schedules" / "hkstp-innovation-mixer-us.yaml"
NOW = datetime(2030, 3, 1, tzinfo=UTC)
START = ["--start", "2030-03-09 09:00", "--now", "2030-03-01T00:00:00Z"]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_small_campaign_rehearses_every_post_in_order(small: Path) -> None:
    seen: list[Outcome] = []
    report = simulate(small, start="2030-03-09 09:00", now=NOW, on_dispatch=seen.append)
    assert report.posts == 6 and report.ok, report.dispatches
    assert [d.outcome for d in report.dispatches] == ["sent"] * 6
    times = [d.at for d in report.dispatches]
    assert times == sorted(times) and seen == report.dispatches
    assert report.sent_by_channel == {"mastodon": 2, "webhook": 4}
    # 2030-03-10 is the US spring change: the second day's 09:00 is EDT (13:00 UTC), the first EST (14:00).
    first = next(d for d in report.dispatches if d.post_key == "first")
    long = next(d for d in report.dispatches if d.post_key == "long")
    assert first.at == datetime(2030, 3, 9, 14, 0, tzinfo=UTC)
    assert long.at == datetime(2030, 3, 10, 13, 0, tzinfo=UTC)
    assert long.parts > 1  # a thread, sent part by part
    assert report.requests == sum(d.parts for d in report.dispatches)
    assert report.alerts == 0


def test_simulate_cli_json_and_text(small: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["simulate", str(small), "--json", *START])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary"]["sent"] == 6 and data["summary"]["missed"] == 0
    assert data["dispatches"][0]["local"] == "2030-03-09 09:00 EST"
    text = runner.invoke(cli, ["simulate", str(small), *START])
    assert text.exit_code == 0
    assert "2030-03-09 09:00 EST  mastodon/social" in text.output
    assert "6 of 6 posts sent" in text.output


def test_start_defaults_to_now_rounded_up_to_the_hour() -> None:
    assert default_start(datetime(2030, 3, 1, 12, 20, tzinfo=UTC), "Asia/Hong_Kong") == "2030-03-01 21:00"
    assert default_start(datetime(2030, 3, 1, 12, 0, tzinfo=UTC), "UTC") == "2030-03-01 12:00"


def test_start_shifted_keeps_the_file_starts_weekday_and_time() -> None:
    monday_9 = datetime(2027, 1, 18, 9, 0)  # local, a Monday
    # Wednesday 2030-03-06 12:20 UTC -> the next Monday 09:00 in Hong Kong.
    assert default_start(datetime(2030, 3, 6, 12, 20, tzinfo=UTC), "Asia/Hong_Kong", like=monday_9) == (
        "2030-03-11 09:00"
    )
    # Monday 00:30 UTC is 08:30 in Hong Kong: that same Monday's 09:00 is still ahead.
    assert default_start(datetime(2030, 3, 4, 0, 30, tzinfo=UTC), "Asia/Hong_Kong", like=monday_9) == (
        "2030-03-04 09:00"
    )


def test_a_start_still_ahead_rehearses_at_the_files_own_dates(small: Path) -> None:
    """The rehearsal matches the preview: same dates, nothing "in the past", the clock starts at the start."""
    report = simulate(small, now=NOW)  # the file starts 2030-03-09, after NOW
    assert report.start == datetime(2030, 3, 9, 9, 0, tzinfo=report.start.tzinfo)
    assert report.dispatches[0].at == datetime(2030, 3, 9, 14, 0, tzinfo=UTC)
    assert not [w for w in report.warnings if "past" in w], report.warnings


def test_a_past_start_is_shifted_whole_and_never_warns_about_itself(small: Path) -> None:
    """Issue 11: a rehearsal listed posts as sent and then warned they were "in the past" (9 times)."""
    later = datetime(2031, 6, 4, 20, 0, tzinfo=UTC)  # a Wednesday; the file's start (a Saturday) is past
    report = simulate(small, now=later)
    assert not [w for w in report.warnings if "past" in w], report.warnings
    assert report.count("sent") == 6 and report.count("missed") == 0
    first = min(d.at for d in report.dispatches)
    # Shifted to the next Saturday 09:00 New York time (EDT in June): 13:00 UTC, the start itself.
    assert first == datetime(2031, 6, 7, 13, 0, tzinfo=UTC)
    assert report.start.astimezone(UTC) == first


@pytest.mark.skipif(not EXAMPLE.exists(), reason="the example campaign is not written yet")
def test_the_example_campaign_rehearses_whatever_today_is() -> None:
    report = simulate(EXAMPLE)
    assert report.posts > 0 and report.ok
    assert not report.warnings, report.warnings  # the demo's first hour ended with 9 self-warnings
    assert report.count("missed") == 0 and report.count("failed") == 0
    assert len(report.sent_by_channel) >= 5


# ---------------------------------------------------------------------------------------------- plan/apply


def test_plan_then_apply_then_apply_again(small: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "q.db")
    now = ["--now", "2030-03-01T00:00:00Z", "--db", db]
    planned = runner.invoke(cli, ["plan", str(small), *now, "--json"])
    assert planned.exit_code == 0, planned.output
    assert len(json.loads(planned.output)["add"]) == 6
    with Store.open(db) as store:
        assert store.counts() == {}
    applied = runner.invoke(cli, ["apply", str(small), *now])
    assert applied.exit_code == 0 and "Applied: 6 added" in applied.output
    again = runner.invoke(cli, ["apply", str(small), *now])
    assert "No changes." in again.output
    with Store.open(db) as store:
        assert store.counts() == {"scheduled": 6}


def test_apply_with_past_times_changes_nothing(small: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "q.db")
    result = CliRunner().invoke(cli, ["apply", str(small), "--db", db, "--now", "2031-01-01T00:00:00Z"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("campaign: error:")]
    assert errors and all("past" in line for line in errors)
    assert not Path(db).exists() or Store.open(db).counts() == {}
