"""The queue store on real SQLite files: claims, leases, shared account state, faults, and the CLI."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from campaign.channels.base import LinkCard, Receipt
from campaign.cli import queue as cli_queue
from campaign.errors import DatabaseLockedError, PostNotFoundError, SchemaVersionError, StoreError
from campaign.plan.posts import PlannedPost
from campaign.queue.models import EVENTS
from campaign.queue.store import LeaseLostError, Store, resolve_url
from tests.helpers.queue import T0, many, planned

OWNER = "daemon:host:1"
EARLY = T0 - timedelta(days=1)  # "now" at apply time


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "q.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store.open(str(db))
    yield s
    s.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- opening ------------------------------------------------------------------------------------------


def test_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAMPAIGN_DB", raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path}/db/campaign.db"
    monkeypatch.setenv("CAMPAIGN_DB", "other.db")
    assert resolve_url(None) == f"sqlite:///{tmp_path}/other.db"
    assert resolve_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    with Store.open() as s:  # creates db/ when missing
        assert s.where == str(tmp_path / "other.db")
    monkeypatch.delenv("CAMPAIGN_DB")
    with Store.open():
        assert (tmp_path / "db" / "campaign.db").is_file()


def test_sqlite_settings_and_immediate_writes(store: Store) -> None:
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    seen: list[str] = []
    store.queue_revision()
    store.cancel([], now=T0)  # opens the long-lived connections: reads, writes ...
    store.claim_due(T0 - timedelta(days=1), OWNER, 60, 5)  # ... and the hot path's (claims and marks)
    for conn in store._conns.values():
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.set_trace_callback(seen.append)
    store.claim_due(T0, OWNER, 60, 5)
    store.counts()
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins[0] == "BEGIN IMMEDIATE"  # the claim's
    assert "BEGIN DEFERRED" in begins[1:]  # the count's
    # The claim's COMMIT does not wait for an fsync, and the connection is FULL again right after it.
    assert seen[:2] == ["PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE"]
    assert seen[seen.index("COMMIT") + 1] == "PRAGMA synchronous = FULL"


# -- claims -------------------------------------------------------------------------------------------


def test_claim_returns_due_posts_in_order_with_a_lease(store: Store) -> None:
    link = LinkCard("https://example.org", "Title", "Desc")
    posts = [*many(5), planned("thread", at=T0 + timedelta(seconds=30), text=("one", "two"))]
    posts[0] = PlannedPost(**{**posts[0].__dict__, "link": link})
    store.apply_changes(add=posts, now=EARLY)
    claimed = store.claim_due(T0 + timedelta(minutes=2), OWNER, 90, 10)
    assert [c.post_key for c in claimed] == ["p0", "thread", "p1", "p2"]
    first = claimed[0]
    assert first.link == link and first.parts == ("post 0",) and first.attempts == 0
    assert first.idempotency_key == posts[0].idempotency_key
    assert first.lease_owner == OWNER and first.lease_expires_at == T0 + timedelta(minutes=2, seconds=90)
    assert first.due_at == T0 and first.scheduled_at == T0 and first.late_window == timedelta(hours=24)
    assert claimed[1].parts == ("one", "two")
    assert store.claim_due(T0 + timedelta(minutes=2), "other", 90, 10) == []  # nothing left due
    assert [c.post_key for c in store.claim_due(T0 + timedelta(hours=1), "other", 90, 1)] == ["p3"]


def test_claim_skips_blocked_and_paused_accounts_and_campaigns(store: Store) -> None:
    store.apply_changes(
        add=[
            planned("a", account="x"),
            planned("b", account="y"),
            planned("c", account="z", campaign="other"),
        ],
        now=EARLY,
    )
    store.block_account("x", T0 + timedelta(minutes=10), now=T0, reason="429")
    store.block_account("x", T0 + timedelta(minutes=5), now=T0)  # an earlier block never shortens a later one
    store.pause(account="y", now=T0)
    store.pause(campaign="other", now=T0)
    assert store.claim_due(T0, OWNER, 60, 10) == []
    assert store.next_due_at(T0) == T0 + timedelta(minutes=10)  # when x's block ends
    [a] = store.claim_due(T0 + timedelta(minutes=10), OWNER, 60, 10)
    assert a.account == "x"
    info = store.account_state("x")
    assert info is not None and info.block_reason == "429"
    store.resume(account="y", now=T0)
    store.resume(campaign="other", now=T0)
    assert sorted(c.account for c in store.claim_due(T0 + timedelta(minutes=10), OWNER, 60, 10)) == ["y", "z"]


def test_retry_wait_posts_are_claimed_when_their_retry_time_comes(store: Store) -> None:
    store.apply_changes(add=[planned("a")], now=EARLY)
    [c] = store.claim_due(T0, OWNER, 60, 1)
    store.mark_sending(c.id, owner=OWNER, now=T0)
    store.mark_retry(c.id, T0 + timedelta(minutes=5), "HTTP 503", owner=OWNER, now=T0)
    assert store.claim_due(T0 + timedelta(minutes=4), OWNER, 60, 1) == []
    assert store.next_due_at(T0) == T0 + timedelta(minutes=5)
    [again] = store.claim_due(T0 + timedelta(minutes=5), OWNER, 60, 1)
    assert again.attempts == 1 and again.due_at == T0 + timedelta(minutes=5)
    assert store.get_post(c.id).last_error == "HTTP 503"


def _claim_plan(store: Store) -> list[str]:
    """SQLite's plan for the claim statement as the store runs it (precompiled, with its arguments)."""
    assert store.claim_due(EARLY, OWNER, 60, 100) == []  # compiles the store's claim statement
    claim = store._compiled["claim:False"]
    params = claim.arguments({"b_now": T0, "b_limit": 100, "b_owner": OWNER, "b_updated": T0,
                              "b_expires": T0 + timedelta(seconds=60)})
    assert claim.sql.startswith("UPDATE posts SET status")
    raw = sqlite3.connect(store.where)
    try:
        return [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + claim.sql, params)]
    finally:
        raw.close()


def test_claim_uses_the_due_index_and_never_scans_posts(store: Store) -> None:
    store.apply_changes(add=many(2000, start=EARLY + timedelta(hours=1)), now=EARLY)
    plan = _claim_plan(store)
    assert any("USING INDEX ix_posts_due" in line for line in plan), plan
    assert not any(line.startswith("SCAN posts") for line in plan), plan
    assert not any("TEMP B-TREE" in line for line in plan), plan  # due order comes from the index


def _claim_worker(path: str, owner: str, queue: Any, barrier: Any) -> None:
    got: list[int] = []
    with Store.open(path, busy_timeout=30) as store:
        # Everyone claims a first batch, then all wait for each other: the rest is claimed concurrently, and
        # every worker has won something whatever the scheduler does (no timing luck in the assertion).
        got.extend(c.id for c in store.claim_due(T0 + timedelta(days=1), owner, 60, 7))
        barrier.wait(timeout=60)
        while batch := store.claim_due(T0 + timedelta(days=1), owner, 60, 7):
            got.extend(c.id for c in batch)
    queue.put(got)


def test_several_processes_claim_every_post_exactly_once(db: Path) -> None:
    with Store.open(str(db)) as store:
        store.apply_changes(add=many(600), now=EARLY)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_claim_worker, args=(str(db), f"w{i}", queue, barrier)) for i in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ids = [i for r in results for i in r]
    assert sorted(ids) == list(range(1, 601))
    assert all(len(r) >= 7 for r in results)  # they really competed: each won at least its first batch
    with Store.open(str(db)) as store:
        assert store.counts() == {"claimed": 600}
        assert all(len(store.history(i)) == 2 for i in (1, 300, 600))


# -- the send path ------------------------------------------------------------------------------------


def test_thread_parts_are_recorded_so_a_resume_starts_at_the_next_part(store: Store) -> None:
    store.apply_changes(add=[planned("t", text=("one", "two", "three"))], now=EARLY)
    [c] = store.claim_due(T0, OWNER, 60, 1)
    store.mark_sending(c.id, owner=OWNER, now=T0)
    store.record_part(c.id, 0, Receipt("r0", "https://x/r0", {"cid": "c0"}), now=T0)
    store.record_part(c.id, 1, Receipt("r1"), now=T0)
    with pytest.raises(StoreError):
        store.record_part(c.id, 3, Receipt("r3"), now=T0)  # out of order
    # The daemon dies; its lease expires; the post becomes unknown and a person retries it.
    recovered = store.recover_expired(T0 + timedelta(minutes=5))
    assert recovered.unknown == (c.id,) and recovered.requeued == ()
    assert "lease expired while sending (daemon:host:1)" in (store.get_post(c.id).last_error or "")
    store.retry([c.id], now=T0 + timedelta(minutes=6))
    [again] = store.claim_due(T0 + timedelta(minutes=6), "d2", 60, 1)
    assert [r.remote_id for r in again.part_receipts] == ["r0", "r1"]
    assert again.part_receipts[0].data == {"cid": "c0"}
    store.mark_sending(again.id, owner="d2", now=T0 + timedelta(minutes=6))
    store.record_part(again.id, 2, Receipt("r2"), now=T0 + timedelta(minutes=6))
    store.mark_sent(again.id, Receipt("r0", "https://x/r0"), owner="d2", now=T0 + timedelta(minutes=6))
    post = store.get_post(c.id)
    assert post.status == "sent" and post.remote_url == "https://x/r0" and post.attempts == 2
    assert post.lease_owner is None and len(post.part_receipts) == 3
    info = store.account_state("main")
    assert info is not None and info.sent_on(T0) == 1 and info.sent_on(T0 + timedelta(days=1)) == 0


def test_a_lost_lease_is_reported_and_a_late_receipt_still_counts(store: Store) -> None:
    store.apply_changes(add=many(2), now=EARLY)
    [a, b] = store.claim_due(T0 + timedelta(minutes=1), OWNER, 60, 2)
    with pytest.raises(LeaseLostError, match="held by daemon:host:1"):
        store.mark_sending(a.id, owner="intruder", now=T0)
    store.mark_sending(a.id, owner=OWNER, now=T0)
    assert store.heartbeat(OWNER, T0 + timedelta(minutes=10), now=T0) == 2
    assert store.recover_expired(T0 + timedelta(minutes=5)) == type(store.recover_expired(T0))()
    recovered = store.recover_expired(T0 + timedelta(minutes=11))
    assert recovered.requeued == (b.id,) and recovered.unknown == (a.id,)
    with pytest.raises(LeaseLostError):
        store.mark_failed(a.id, "boom", owner=OWNER, now=T0)  # an unknown post is not ours to fail
    store.mark_sent(a.id, Receipt("late"), owner=OWNER, now=T0 + timedelta(minutes=12))  # unknown -> sent
    assert store.get_post(a.id).status == "sent"
    assert store.heartbeat(OWNER, T0 + timedelta(hours=1), now=T0 + timedelta(minutes=12)) == 0
    with pytest.raises(PostNotFoundError):
        store.mark_sending(999, owner=OWNER, now=T0)


def test_release_and_failures(store: Store) -> None:
    store.apply_changes(add=many(3), now=EARLY)
    rev = store.queue_revision()
    [a, b, c] = store.claim_due(T0 + timedelta(minutes=5), OWNER, 60, 3)
    assert store.queue_revision() == rev  # the daemon's own work does not wake other daemons
    store.mark_sending(a.id, owner=OWNER, now=T0)
    assert store.release([a.id, b.id], owner=OWNER, now=T0) == [b.id]  # sending is never released
    assert store.queue_revision() == rev + 1
    assert store.get_post(b.id).status == "scheduled" and store.get_post(b.id).lease_owner is None
    store.mark_failed(a.id, "HTTP 422: invalid", owner=OWNER, now=T0)
    store.mark_failed(c.id, "credentials missing", owner=OWNER, now=T0)  # claimed -> failed
    assert store.counts() == {"failed": 2, "scheduled": 1}
    store.retry([a.id], now=T0 + timedelta(hours=3))
    post = store.get_post(a.id)
    assert post.status == "scheduled" and post.next_attempt_at == T0 + timedelta(hours=3)


def test_a_post_listed_twice_is_cancelled_or_retried_once(store: Store) -> None:
    """``campaign cancel 6 6`` used to fail the whole command ("post 6 is cancelled") on its second 6."""
    a, b, c = store.apply_changes(add=[planned(k) for k in "abc"], now=T0 - timedelta(hours=1)).added
    store.cancel([a, b, a], now=T0)
    assert {store.get_post(a).status, store.get_post(b).status} == {"cancelled"}
    assert [e.to_status for e in store.history(a)].count("cancelled") == 1
    (claimed,) = store.claim_due(T0, OWNER, 90, 1)
    assert claimed.id == c
    store.mark_failed(c, "HTTP 422: invalid", owner=OWNER, now=T0)
    store.retry([c, c], now=T0)
    assert store.get_post(c).status == "scheduled"
    assert [e.to_status for e in store.history(c)].count("scheduled") == 2  # queued, then retried once


def test_next_due_and_revision(store: Store) -> None:
    assert store.next_due_at(T0) is None
    r0 = store.queue_revision()
    store.apply_changes(
        add=[planned("a", at=T0 + timedelta(hours=2)), planned("b", at=T0 + timedelta(hours=1))], now=T0
    )
    assert store.next_due_at(T0) == T0 + timedelta(hours=1)
    store.pause(campaign="launch", now=T0)
    assert store.next_due_at(T0) is None
    store.resume(campaign="launch", now=T0)
    store.cancel([2], now=T0)
    assert store.next_due_at(T0) == T0 + timedelta(hours=2)
    assert store.queue_revision() == r0 + 4


# -- faults -------------------------------------------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO queue_state (id, revision) VALUES (2, 0)")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_commit_that_fails_rolls_back_and_leaves_the_connection_usable(store: Store) -> None:
    """A COMMIT refused by SQLite (here a deferred foreign key) raises StoreError, ends the transaction and
    restores the claim's relaxed ``synchronous``: the next claim on the same connection works."""
    store.apply_changes(add=many(2), now=EARLY)
    store.claim_due(T0 - timedelta(days=1), OWNER, 60, 5)  # opens the hot connection
    hot = store._conns["hot"].connection.driver_connection
    assert hot is not None
    hot.execute("PRAGMA foreign_keys = ON")
    hot.execute("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, reset by it
    orphan = {"post_id": 999_999, "at": T0, "from_status": "scheduled", "to_status": "claimed", "actor": "t"}
    with pytest.raises(StoreError, match="FOREIGN KEY"), store._hot_write(durable=False) as conn:
        conn.execute(sa.insert(EVENTS).values(**orphan))
    assert not hot.in_transaction
    assert hot.execute("PRAGMA synchronous").fetchone()[0] == 2
    hot.execute("PRAGMA foreign_keys = OFF")
    assert [c.post_key for c in store.claim_due(T0 + timedelta(minutes=5), OWNER, 60, 5)] == ["p0", "p1"]


def test_locked_database_names_the_file(db: Path) -> None:
    Store.open(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with Store.open(str(db), busy_timeout=0.2) as store:
            with pytest.raises(DatabaseLockedError, match=str(db)):
                store.cancel([1], now=T0)
            with pytest.raises(DatabaseLockedError, match=str(db)):
                store.claim_due(T0, "daemon:x:1", 60, 5)
            hot = store._conns["hot"].connection.driver_connection
            assert hot is not None
            assert hot.execute("PRAGMA synchronous").fetchone()[0] == 2  # a failed claim leaves it FULL
            assert store.counts() == {}  # readers are not blocked (WAL)
    finally:
        holder.communicate("")
    with Store.open(str(db)) as store:
        store.apply_changes(add=[planned("a")], now=EARLY)


def test_corrupt_file_is_reported_and_left_alone(db: Path) -> None:
    db.write_bytes(os.urandom(8192))
    before = digest(db)
    with pytest.raises(StoreError, match=f"{db}: not a usable queue database") as info:
        Store.open(str(db))
    assert "\n" not in str(info.value)
    assert digest(db) == before


def test_damaged_database_is_reported_and_left_alone(db: Path) -> None:
    Store.open(str(db)).close()
    data = bytearray(db.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)  # valid header, garbage pages
    db.write_bytes(bytes(data))
    before = digest(db)
    with pytest.raises(StoreError), Store.open(str(db)) as store:
        store.counts()
    assert digest(db) == before


def test_foreign_database_is_refused(db: Path) -> None:
    raw = sqlite3.connect(db)
    raw.execute("CREATE TABLE notes (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not a campaign queue database"):
        Store.open(str(db))


def test_newer_schema_is_refused_untouched(db: Path) -> None:
    Store.open(str(db)).close()
    raw = sqlite3.connect(db)
    raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.commit()
    raw.close()
    before = digest(db)
    with pytest.raises(SchemaVersionError, match="'9999' is newer"):
        Store.open(str(db))
    assert digest(db) == before


def _make_read_only(paths: list[Path]) -> list[Path]:
    """Make files/dirs unwritable; as root (whom permissions do not bind) with the immutable attribute."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return []
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file read-only as root here: {done.stderr.strip()}")
    return paths


def test_read_only_file_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "q.db"
    with Store.open(str(db)) as store:
        store.apply_changes(add=[planned("a")], now=EARLY)
    before = digest(db)
    immutable = _make_read_only([db, folder])
    try:
        with pytest.raises(StoreError, match=str(db)) as info, Store.open(str(db)) as store:
            store.cancel([1], now=T0)
        assert "the queue database is read-only" in str(info.value)
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, immutable)], check=True)
        folder.chmod(0o755)
        db.chmod(0o644)
    assert digest(db) == before
    with Store.open(str(db)) as store:
        assert store.get_post(1).status == "scheduled"


KILL_APPLY = """
import sys, time
from datetime import UTC, datetime, timedelta
import sqlalchemy as sa
sys.path.insert(0, sys.argv[2])
from tests.helpers.queue import T0, many
from campaign.queue.store import Store
from campaign.queue import planner
store = Store.open(sys.argv[1])
desired = many(3000, start=T0 + timedelta(days=1))  # the file changed: new times for all, new posts
desired = [p for p in desired if p.post_key != "p5"]
plan = planner.plan(store, "launch", desired, T0)
if sys.argv[3] == "kill":
    def stall(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO post_events"):
            print("in the middle", flush=True)
            time.sleep(60)
    sa.event.listen(store.engine, "after_cursor_execute", stall)
result = planner.apply(store, plan)
print("done", result.changed, flush=True)
"""


def _snapshot(db: Path) -> list[tuple[Any, ...]]:
    raw = sqlite3.connect(db)
    try:
        return (
            raw.execute("SELECT id, status, scheduled_at, parts FROM posts ORDER BY id").fetchall()
            + raw.execute("SELECT count(*) FROM post_events").fetchall()
        )
    finally:
        raw.close()


@pytest.mark.parametrize("mode", ["kill", "finish"])
def test_killing_apply_leaves_the_queue_before_or_after(db: Path, mode: str) -> None:
    with Store.open(str(db)) as store:
        store.apply_changes(add=many(1000, start=T0 + timedelta(hours=1)), now=T0)
    before = _snapshot(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_APPLY, str(db), str(Path(__file__).parent), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if mode == "kill":
        assert line == "in the middle"
        proc.kill()  # SIGKILL while the apply transaction is open and half written
        proc.wait(timeout=30)
        assert _snapshot(db) == before
    else:
        assert line == "done 3000"
        proc.wait(timeout=30)
    with Store.open(str(db)) as store:
        counts = store.counts()
    assert counts == ({"scheduled": 1000} if mode == "kill" else {"scheduled": 2999, "cancelled": 1})


# -- the CLI ------------------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    from campaign.errors import CampaignError

    group = __import__("click").Group()
    cli_queue.register(group)
    result = CliRunner().invoke(group, list(args), catch_exceptions=True)
    if result.exception and not isinstance(result.exception, (CampaignError, SystemExit)):
        raise result.exception
    return result


def test_cli_commands(db: Path) -> None:
    with Store.open(str(db)) as store:
        store.apply_changes(add=[*many(3), planned("other", account="alt")], now=EARLY)
    url = str(db)
    out = _cli("status", "launch", "--db", url, "--json")
    data = json.loads(out.output)
    assert data["counts"] == {"scheduled": 4} and data["next"][0]["post_key"] == "p0"
    assert "scheduled         4" in _cli("status", "--db", url).output
    assert "Cancelled 1 post." in _cli("cancel", "1", "--db", url, "--now", "2027-01-18T08:00:00Z").output
    shown = json.loads(_cli("show", "1", "--db", url, "--json").output)
    assert shown["status"] == "cancelled"
    assert [h["to"] for h in shown["history"]] == ["scheduled", "cancelled"]
    text = _cli("show", "1", "--db", url).output
    assert "scheduled -> cancelled" in text and "by cli" in text
    assert "1 waiting post held" in _cli("pause", "--account", "alt", "--db", url).output
    assert "1 post scheduled again" in _cli("resume", "--account", "alt", "--db", url).output
    bad = _cli("pause", "--db", url)
    assert "exactly one of" in str(bad.exception)
    missing = _cli("show", "99", "--db", url)
    assert isinstance(missing.exception, PostNotFoundError)
    refused = _cli("retry", "2", "--db", url)
    assert "only" in str(refused.exception)
    with Store.open(url) as store:
        [c] = store.claim_due(T0 + timedelta(minutes=1), OWNER, 60, 1)
        store.mark_sending(c.id, owner=OWNER, now=T0)
        store.mark_unknown(c.id, "timeout", owner=OWNER, now=T0)
    assert "Queued 1 post again" in _cli("retry", str(c.id), "--db", url).output


def test_queue_values_planner_and_lock_do_not_load_sqlalchemy() -> None:
    code = textwrap.dedent(
        """
        import sys, campaign.queue.values, campaign.queue.planner, campaign.queue.lock
        print([m for m in ("sqlalchemy", "alembic", "campaign.queue.store") if m in sys.modules])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_queue_import_is_light() -> None:
    code = textwrap.dedent(
        """
        import sys, campaign.cli.queue
        heavy = [m for m in ("sqlalchemy", "sqlmodel", "alembic", "campaign.queue.store") if m in sys.modules]
        print(heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
