"""`campaign report` on a real SQLite queue: sent posts with samples read back, every format, clear errors;
and the HTML report in a real headless browser (no console errors, charts drawn, nothing fetched)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign.channels.base import LinkCard, Receipt
from campaign.cli import main
from campaign.plan.posts import PlannedPost
from campaign.queue.metrics import MetricResult
from campaign.queue.store import Store
from tests.helpers.queue import T0
from tests.test_html_browser import browser  # noqa: F401  (the shared headless Chromium fixture)

OWNER = "daemon:r:1"


def planned(key: str, channel: str, text: str) -> PlannedPost:
    return PlannedPost(
        campaign="tour",
        post_key=key,
        occurrence="",
        channel=channel,
        account=f"{channel}_main",
        scheduled_at=T0,
        zone="Asia/Hong_Kong",
        parts=(text,),
        link=LinkCard(url="https://www.hkstp.org/?utm_source=x&utm_content=" + key, title="t"),
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A queue with four sent posts (one on a channel without a read API) and two readings each."""
    path = str(tmp_path / "q.db")
    with Store.open(path) as store:
        store.apply_changes(
            add=[
                planned("launch", "mastodon", "We are live https://www.hkstp.org/?utm_content=launch-text"),
                planned("launch", "bluesky", "We are live"),
                planned("quote", "mastodon", "A quote"),
                planned("figures", "slack", "250 start-ups"),
            ],
            now=T0 - timedelta(hours=1),
        )
        for claimed in store.claim_due(T0, OWNER, 90, 10):
            store.mark_sending(claimed.id, owner=OWNER, now=T0)
            store.mark_sent(
                claimed.id,
                Receipt(remote_id=f"r{claimed.id}", url=f"https://s/{claimed.id}"),
                owner=OWNER,
                now=T0,
            )
        store.schedule_sent(T0, lambda c: (3600, 86400))
        for hours, scale in ((1, 1), (24, 3)):
            now = T0 + timedelta(hours=hours)
            tasks = [t for t in store.claim_metrics(now) if t.channel != "slack"]
            store.record_metrics(
                [
                    MetricResult(t.post_id, values={"likes": t.post_id * scale, "reposts": scale})
                    for t in tasks
                ],
                now=now,
            )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_report_in_the_campaigns_zone(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tour", "--db", db)
    assert code == 0
    assert "4 posts sent, 3 with metrics" in out
    assert "no read API on slack" in out
    assert "HKT" in out  # times in the campaign's zone


def test_json_and_csv_carry_every_post_and_its_utm_content(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "tour", "--db", db, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["posts"]) == 4
    launch = next(p for p in doc["posts"] if p["channel"] == "mastodon" and p["post"] == "launch")
    assert launch["values"] == {"likes": 3, "reposts": 3}  # the latest reading, not the sum of readings
    assert launch["utm_content"] == ["launch", "launch-text"]
    code, out, _ = run(capsys, "tour", "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["channel"] for r in rows} == {"mastodon", "bluesky", "slack"}


def test_html_to_a_file(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, "tour", "--db", db, "--format", "html", "-o", str(target))
    assert code == 0 and "wrote" in out
    assert target.read_text(encoding="utf-8").count("<svg") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing-here"], "has no sent posts"),
        (["tour", "-o", "/no/such/dir/r.html"], "does not exist"),
        # /dev/full answers every write with ENOSPC: a full disk, which used to be an internal error
        (["tour", "-o", "/dev/full"], "-o /dev/full: cannot write (No space left on device)"),
    ],
)
def test_errors_are_one_line(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args[:1], "--db", db, *args[1:])
    assert code != 0
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- the HTML report in a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_the_html_report_renders_its_charts_without_errors(
    db: str, tmp_path: Path, browser: Any, capsys: pytest.CaptureFixture[str]  # noqa: F811 (the fixture)
) -> None:
    from selenium.webdriver.common.by import By

    target = tmp_path / "report.html"
    assert run(capsys, "tour", "--db", db, "--format", "html", "-o", str(target))[0] == 0
    browser.get_log("browser")
    browser.get(target.as_uri())
    assert browser.title == "Campaign report: tour"
    charts = browser.find_elements(By.CSS_SELECTOR, "figure svg")
    assert len(charts) == 2 and all(c.size["width"] > 200 and c.size["height"] > 100 for c in charts)
    lines = browser.find_elements(By.CSS_SELECTOR, "figure svg polyline")
    assert len(lines) >= 2  # one per channel with readings, drawn across the chart
    tables = browser.find_elements(By.CSS_SELECTOR, "table")
    assert len(tables) >= 4
    problems = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    # Nothing was fetched: the only resource the page loaded is itself.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert loaded == 0


@pytest.mark.parametrize("args", [["report", "tour"], ["metrics", "collect"]])
def test_a_mistyped_queue_path_is_one_line_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Both commands read a queue; they used to create one (and its folder) at a mistyped ``--db``."""
    from campaign.cli import main

    missing = tmp_path / "typo" / "q.db"
    code = main([*args, "--db", str(missing)])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not missing.parent.exists()
