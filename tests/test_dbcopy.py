"""`campaign db copy`: SQLite to PostgreSQL and back, keeping ids, statuses, history and shared state."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from campaign.channels.base import Receipt
from campaign.cli import db as cli_db
from campaign.errors import DatabaseLockedError, StoreError
from campaign.queue.copy import copy_queue
from campaign.queue.lock import LOCK_SUFFIX, DaemonLock
from campaign.queue.store import SCHEMA_HEAD, Store
from tests.helpers.queue import T0, damage_table, drop_table, many, planned

EARLY = T0 - timedelta(days=1)


def fill(url: str) -> None:
    """A queue with every kind of state worth keeping."""
    with Store.open(url) as s:
        s.apply_changes(
            add=[*many(6), planned("thread", text=("one", "two", "three")), planned("x", account="other")],
            now=EARLY,
        )
        s.apply_changes(add=[planned("late", campaign="second")], now=EARLY)
        claimed = {c.post_key: c for c in s.claim_due(T0 + timedelta(hours=1), "daemon:h:1", 60, 9)}
        sent, failed, unknown, thread = claimed["p0"], claimed["p1"], claimed["p2"], claimed["thread"]
        for post in (sent, failed, unknown, thread):
            s.mark_sending(post.id, owner="daemon:h:1", now=T0)
        s.mark_sent(sent.id, Receipt("111", "https://m.example/@a/111"), owner="daemon:h:1", now=T0)
        s.mark_failed(failed.id, "HTTP 422: too long", owner="daemon:h:1", now=T0)
        s.mark_unknown(unknown.id, "read timeout", owner="daemon:h:1", now=T0)
        s.record_part(thread.id, 0, Receipt("t0", "https://m.example/t0", {"cid": "c0"}), now=T0)
        # p3 stays claimed and the thread stays sending: a daemon died holding them.
        back = [claimed[k].id for k in ("p4", "p5", "x", "late")]
        assert s.release(back, owner="daemon:h:1", now=T0) == sorted(back)
        s.cancel([claimed["p5"].id], now=T0)
        s.block_account("main", T0 + timedelta(hours=2), now=T0, reason="rate limited")
        s.pause(account="other", now=T0)
        s.pause(campaign="second", now=T0)


def snapshot(url: str) -> dict[str, Any]:
    with Store.open(url) as s:
        posts = [p.to_json() for c in ("launch", "second") for p in s.campaign_posts(c)]
        return {
            "posts": posts,
            "history": {p["id"]: [e.to_json() for e in s.history(p["id"])] for p in posts},
            "accounts": [s.account_state(a) for a in ("main", "other")],
            "paused": s.paused_scope("second"),
            "counts": s.row_counts(),
            "revision": s.queue_revision(),
        }


def check_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["posts"] == b["posts"]
    assert a["history"] == b["history"]
    assert a["accounts"] == b["accounts"] and a["paused"] == b["paused"]
    assert a["counts"] == b["counts"]
    assert b["revision"] == a["revision"] + 1  # the copy itself is announced as a change


def test_sqlite_to_sqlite_keeps_everything(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    fill(src)
    before = snapshot(src)
    report = copy_queue(src, dst)
    assert report.rows["posts"] == 9 and report.rows["post_events"] == before["counts"]["post_events"]
    check_same(before, snapshot(dst))
    assert snapshot(src) == before  # the source is untouched


@pytest.mark.postgres
def test_sqlite_to_postgres_and_back(tmp_path: Path, pg_url: str) -> None:
    src, back = str(tmp_path / "a.db"), str(tmp_path / "back.db")
    fill(src)
    before = snapshot(src)
    copy_queue(src, pg_url)
    on_pg = snapshot(pg_url)
    check_same(before, on_pg)
    statuses = {p["post_key"]: p["status"] for p in on_pg["posts"]}
    assert statuses["p0"] == "sent" and statuses["p2"] == "unknown" and statuses["thread"] == "sending"
    with Store.open(pg_url) as s:
        # New rows continue after the copied ids (the sequences were moved on).
        added = s.apply_changes(add=[planned("new", at=T0 + timedelta(days=2))], now=T0)
        assert added.added == (10,)
        # The dead daemon's leases are recovered on PostgreSQL like anywhere else.
        done = s.recover_expired(T0 + timedelta(hours=2), actor="daemon:pg:1")
        assert len(done.requeued) == 1 and len(done.unknown) == 1
    copy_queue(pg_url, back)
    again = snapshot(back)
    assert again["counts"]["posts"] == 10
    assert {p["id"]: p["status"] for p in again["posts"]} == {
        p["id"]: p["status"] for p in snapshot(pg_url)["posts"]
    }


def test_a_target_with_a_queue_is_refused_unless_forced(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    fill(src)
    with Store.open(dst) as s:
        s.apply_changes(add=[planned("mine")], now=EARLY)
    with pytest.raises(StoreError, match=r"already holds a queue \(1 posts.*--force"):
        copy_queue(src, dst)
    assert snapshot(dst)["counts"]["posts"] == 1
    copy_queue(src, dst, force=True)
    check_same(snapshot(src), snapshot(dst))
    with pytest.raises(StoreError, match="same database"):
        copy_queue(src, str(tmp_path / "." / "a.db"))


def another_name(src: Path, how: str) -> str:
    """A second name of the file ``src``: a symlink, a path through ``sub/..``, or a hard link."""
    if how == "symlink":
        (src.parent / "link.db").symlink_to(src.name)
        return str(src.parent / "link.db")
    if how == "hard link":
        os.link(src, src.parent / "hard.db")
        return str(src.parent / "hard.db")
    (src.parent / "sub").mkdir()
    return str(src.parent / "sub" / ".." / src.name)


@pytest.mark.parametrize("how", ["symlink", "dotdot", "hard link"])
def test_the_same_file_under_another_name_is_the_same_database(tmp_path: Path, how: str) -> None:
    """Before, only the URLs' text was compared: ``--to`` a symlink or a hard link "copied" the queue over
    itself (with --force it was replaced by what it held), and ``a/../a.db`` met its own lock and blamed
    "another campaign daemon"."""
    src = tmp_path / "a.db"
    fill(str(src))
    before = snapshot(str(src))
    with pytest.raises(StoreError, match="source and target are the same database"):
        copy_queue(str(src), another_name(src, how), force=True)
    assert snapshot(str(src))["posts"] == before["posts"]
    assert snapshot(str(src))["revision"] == before["revision"]  # nothing replaced


def test_the_cli_says_same_database_for_a_path_through_dotdot(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    fill(str(src))
    result = CliRunner().invoke(cli_db.db, ["copy", "--from", str(src), "--to", another_name(src, "dotdot"),
                                            "--force"])
    assert isinstance(result.exception, StoreError)
    assert "same database" in str(result.exception) and "another campaign daemon" not in str(result.exception)


@pytest.mark.parametrize("end", ["source", "target"])
def test_a_running_daemon_on_a_sqlite_end_is_refused(tmp_path: Path, end: str) -> None:
    src, dst = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    fill(src)
    held = DaemonLock(Path((src if end == "source" else dst) + LOCK_SUFFIX))
    with held, pytest.raises(DatabaseLockedError, match="already running"):
        copy_queue(src, dst)
    with Store.open(dst) as s:
        assert not s.holds_queue_data()
    copy_queue(src, dst)  # the daemon stopped: fine now


def test_cli(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    fill(src)
    runner = CliRunner()
    result = runner.invoke(cli_db.db, ["copy", "--from", src, "--to", dst])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Copied 9 posts, ") and dst in result.output
    refused = runner.invoke(cli_db.db, ["copy", "--from", src, "--to", dst])
    assert isinstance(refused.exception, StoreError)
    assert runner.invoke(cli_db.db, ["copy", "--from", src, "--to", dst, "--force"]).exit_code == 0
    fresh = tmp_path / "sub" / "c.db"
    upgraded = runner.invoke(cli_db.db, ["upgrade", "--db", str(fresh)])
    assert upgraded.exit_code == 0 and fresh.is_file() and "revision" in upgraded.output


def test_a_missing_source_is_refused_and_the_target_kept(tmp_path: Path) -> None:
    """`db copy --from <typo> --to real.db --force` once replaced a 4-post queue with an empty one."""
    real = str(tmp_path / "real.db")
    with Store.open(real) as s:
        s.apply_changes(add=many(4), now=EARLY)
    typo = tmp_path / "typo.db"
    with pytest.raises(StoreError, match=r"typo\.db: no queue database here"):
        copy_queue(str(typo), real, force=True)
    assert not typo.exists()
    assert snapshot(real)["counts"]["posts"] == 4
    empty = tmp_path / "empty.db"
    empty.touch()  # an existing file that holds no queue is no source either
    with pytest.raises(StoreError, match="holds no campaign queue"):
        copy_queue(str(empty), real, force=True)
    assert empty.stat().st_size == 0
    assert snapshot(real)["counts"]["posts"] == 4


@pytest.mark.postgres
def test_a_copy_into_postgresql_refreshes_the_planner_statistics(tmp_path: Path, pg_url: str) -> None:
    """A copy is a bulk load: the target's statistics of ``posts`` are refreshed at once, so the daemons'
    first claims are planned for the queue as it is (campaign/queue/core.py, refresh_statistics)."""
    src = str(tmp_path / "a.db")
    with Store.open(src) as s:
        s.apply_changes(add=[planned(f"p{i}") for i in range(120)], now=T0)
    copy_queue(src, pg_url)
    with Store.open(pg_url) as target, target.engine.connect() as conn:
        believed = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'posts'::regclass")
        assert believed.scalar() == 120


@pytest.mark.parametrize("table", ["post_events", "posts"])
def test_a_source_missing_a_table_is_named_and_no_target_is_made(tmp_path: Path, table: str) -> None:
    """`db copy --from dropped.db --to new.db` once blamed the target: "new.db: database error (no such
    table: post_events)"."""
    source, target = tmp_path / "dropped.db", tmp_path / "new.db"
    fill(str(source))
    drop_table(source, table)
    with pytest.raises(StoreError) as failed:
        copy_queue(str(source), str(target))
    assert str(failed.value) == (
        f"{source}: the queue database is damaged, file left as it is (missing at schema revision "
        f"{SCHEMA_HEAD}: table {table}); restore it from a backup"
    )
    assert not target.exists()


def test_a_source_that_fails_while_it_is_read_is_named_not_the_target(tmp_path: Path) -> None:
    """Rows are read from the source inside the target's write transaction: an error reading them is the
    source's, and the target is left as it was."""
    source, target = tmp_path / "damaged.db", tmp_path / "target.db"
    fill(str(source))
    damage_table(source, "post_events")
    with Store.open(str(target)):
        pass
    with pytest.raises(StoreError, match=rf"^{re.escape(str(source))}: not a usable queue database"):
        copy_queue(str(source), str(target))
    with Store.open(str(target)) as s:
        assert not s.holds_queue_data()
