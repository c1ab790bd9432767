"""`campaign simulate` follows the metrics schedule with invented engagement and ends with a sample report
(issue 15: the README's main job ends with one); `--no-metrics` leaves it out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign.cli import main
from campaign.dispatch.simulate import simulate

EXAMPLE = Path(__file__).resolve().parent.parent / "schedules" / "hkstp-innovation-mixer-us.yaml"
NOW = datetime(2027, 1, 10, 0, 0, tzinfo=UTC)


def test_a_rehearsal_ends_with_a_report_of_invented_engagement() -> None:
    report = simulate(EXAMPLE, start="2027-01-18 09:00", now=NOW)
    assert report.ok
    assert report.readings > report.count("sent")  # several readings per post with a read API
    assert "posts sent" in report.sample_report and "no read API on" in report.sample_report
    doc = report.to_json()["sample_report"]
    assert doc["totals"]["posts"] == report.count("sent")
    assert doc["totals"]["engagement"] > 0
    # The series grow: a later reading never shows less than an earlier one.
    for points in doc["series"]["channel"].values():
        values = [v for _, v in points]
        assert values == sorted(values)


def test_the_same_rehearsal_invents_the_same_numbers() -> None:
    first = simulate(EXAMPLE, start="2027-01-18 09:00", now=NOW).sample_report
    assert simulate(EXAMPLE, start="2027-01-18 09:00", now=NOW).sample_report == first


def test_no_metrics_leaves_the_report_out(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(EXAMPLE), "--no-metrics", "--json", "--now", NOW.isoformat(),
                 "--start", "2027-01-18 09:00"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["sample_report"] is None and doc["summary"]["metrics_readings"] == 0
