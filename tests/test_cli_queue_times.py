"""`status` and `show` print times in the post's own zone with the zone's abbreviation, and UTC beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.cli import main
from tests.conftest import MINI_CAMPAIGN

NOW = "2030-01-01T00:00:00Z"


@pytest.fixture
def queue(mini: Callable[..., Path]) -> str:
    path = mini()
    db = str(path.parent / "queue.db")
    assert main(["apply", str(path), "--now", NOW, "--db", db]) == 0
    return db


def test_status_lists_local_times_with_utc(queue: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["status", "--db", queue]) == 0
    out = capsys.readouterr().out
    assert "2030-03-02 09:00 HKT (01:00 UTC)" in out
    assert "2030-03-03 10:30 HKT (02:30 UTC)" in out


def test_show_gives_local_time_zone_and_utc(queue: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["show", "1", "--db", queue]) == 0
    out = capsys.readouterr().out
    assert "scheduled  2030-03-02 09:00 HKT (01:00 UTC), written in Asia/Hong_Kong" in out
    assert "2030-01-01 08:00 HKT (00:00 UTC)  (new) -> scheduled" in out


def test_a_utc_campaign_shows_utc_once(mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = mini(MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: UTC"))
    db = str(path.parent / "queue.db")
    assert main(["apply", str(path), "--now", NOW, "--db", db]) == 0
    capsys.readouterr()
    assert main(["status", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "2030-03-02 09:00:00 UTC" in out and "(" not in out.split("Next due:")[1].split("mastodon")[0]


def test_a_date_change_repeats_the_utc_date(
    mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = mini(MINI_CAMPAIGN.replace('when: "+0d 09:00"', 'when: "+0d 07:00"'))
    db = str(path.parent / "queue.db")
    assert main(["apply", str(path), "--now", NOW, "--db", db]) == 0
    capsys.readouterr()
    assert main(["status", "--db", db]) == 0
    assert "2030-03-02 07:00 HKT (2030-03-01 23:00 UTC)" in capsys.readouterr().out


def test_status_lists_campaign_files_the_daemon_would_skip(
    queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(queue).parent
    (folder / "broken.yaml").write_text("campaign: [oops\n", encoding="utf-8")
    (folder / "twin.yaml").write_text((folder / "mini.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    capsys.readouterr()
    assert main(["status", "--db", queue, "--campaigns", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Campaign file skipped by the daemon: {folder / 'broken.yaml'}:2: invalid YAML" in out
    clash = [line for line in out.splitlines() if "campaign name 'mini' is declared by" in line]
    assert len(clash) == 2 and all("mini.yaml" in line and "twin.yaml" in line for line in clash)
    assert "All campaigns: 3 posts" in out


def test_plan_reads_a_missing_queue_as_empty_and_creates_nothing(
    mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = mini()
    db = path.parent / "sub" / "queue.db"
    assert main(["plan", str(path), "--now", NOW, "--db", str(db)]) == 0
    assert "3 to add" in capsys.readouterr().out
    assert not db.parent.exists()
