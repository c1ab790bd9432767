"""The store's contract, run against SQLite and a real PostgreSQL server alike (APScheduler's style).

Every test takes ``url`` (a fresh, empty queue on each back end) and uses only :class:`Store`'s public API,
except where a test reads the tables to check an invariant. PostgreSQL cases are marked ``postgres``; they
skip without ``CAMPAIGN_TEST_PG_URL`` (fail under CI=true, see tests/helpers/pg.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine.reflection import Inspector

from campaign.channels.base import Receipt
from campaign.errors import LeaseLostError, StoreError
from campaign.queue import core
from campaign.queue.models import METADATA
from campaign.queue.precompiled import Precompiled
from campaign.queue.store import SCHEMA_HEAD, Mark, Store
from tests.helpers.pg import (
    drop_database,
    end_sessions,
    explain_analyze,
    explain_nodes_under,
    new_database,
    rows_read,
)
from tests.helpers.queue import T0, many, planned

OWNER = "daemon:a:1"
EARLY = T0 - timedelta(days=1)
LATER = T0 + timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "q.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as s:
        yield s


def in_flight_per_account(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT account, COUNT(*) FROM posts WHERE status IN ('claimed', 'sending') GROUP BY account"
            )
        ).all()
    return {r[0]: int(r[1]) for r in rows}


# -- schema -------------------------------------------------------------------------------------------


def test_migrated_schema_equals_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diff == [] and version == SCHEMA_HEAD


def test_values_round_trip(store: Store) -> None:
    post = planned("t", text=("héllo 👋", "two"), at=datetime(2027, 1, 18, 10, 0, tzinfo=UTC))
    store.apply_changes(add=[post], now=EARLY)
    [queued] = store.campaign_posts("launch")
    assert queued.parts == ("héllo 👋", "two") and queued.scheduled_at == post.scheduled_at
    assert queued.scheduled_at.tzinfo == UTC and queued.created_at == EARLY
    again = store.apply_changes(add=[post], now=EARLY)  # the unique idempotency key: skipped, not an error
    assert again.added == () and len(again.skipped) == 1


# -- claims -------------------------------------------------------------------------------------------


def test_claims_are_due_ordered_leased_and_exclusive(store: Store) -> None:
    store.apply_changes(add=many(5), now=EARLY)
    first = store.claim_due(T0 + timedelta(minutes=2), OWNER, 90, 10)
    assert [c.post_key for c in first] == ["p0", "p1", "p2"]
    assert first[0].lease_owner == OWNER
    assert first[0].lease_expires_at == T0 + timedelta(minutes=2, seconds=90)
    assert store.claim_due(T0 + timedelta(minutes=2), "other", 90, 10) == []
    assert [c.post_key for c in store.claim_due(LATER, "other", 90, 10)] == ["p3", "p4"]
    assert [e.to_status for e in store.history(first[0].id)] == ["scheduled", "claimed"]


def test_a_claim_logs_each_post_it_took_and_no_other(store: Store) -> None:
    """Each claimed post gets one history row: the claim's time, the status it came from (``scheduled`` or
    ``retry_wait``), ``claimed``, the owner, no reason. Posts it did not take get none. (On SQLite the rows
    are read from the moved posts in one statement, on PostgreSQL written by the claim's own statement.)"""
    store.apply_changes(add=many(4), now=EARLY)
    [retried] = store.claim_due(T0, "daemon:b:2", 60, 1)
    store.write_marks([Mark(retried.id, "retry", T0, "try again", until=T0)], owner="daemon:b:2")
    now = T0 + timedelta(minutes=2, microseconds=123456)
    taken = store.claim_due(now, OWNER, 60, 10)
    assert sorted(c.post_key for c in taken) == ["p0", "p1", "p2"]
    for post in taken:
        last = store.history(post.id)[-1]
        came_from = "retry_wait" if post.id == retried.id else "scheduled"
        assert (last.at, last.from_status, last.to_status, last.actor, last.reason) == (
            now, came_from, "claimed", OWNER, None)
        assert [e.to_status for e in store.history(post.id)].count("claimed") == (2 if post.id == retried.id
                                                                                  else 1)
    [left] = [p for p in store.campaign_posts("launch") if p.post_key == "p3"]
    assert [e.to_status for e in store.history(left.id)] == ["scheduled"]


def test_a_send_late_occurrence_a_later_due_one_supersedes_is_named_in_the_claim(store: Store) -> None:
    """After downtime a daily ``send_late`` post has three overdue occurrences on each of two accounts: the
    claim names the latest due occurrence on each earlier one (the dispatcher marks those missed), and none
    on the latest, on an occurrence within its window, on a one-off post or across accounts. A cancelled
    later occurrence supersedes nothing."""
    def daily(day: int, account: str) -> Any:
        return planned("daily", at=T0 + timedelta(days=day), account=account,
                       occurrence=f"2027-01-{18 + day}T10:00", send_late=True)

    posts = [daily(day, account) for day in range(3) for account in ("a1", "a2")]
    posts += [daily(3, "a2"), planned("once", at=T0, account="a1", send_late=True)]
    ids = store.apply_changes(add=posts, now=EARLY).added
    store.cancel([ids[-2]], now=EARLY)  # a2's occurrence of the 21st
    now = T0 + timedelta(days=3, hours=1)  # the 21st, 11:00: the 18th and 19th are over 24 h late
    claimed = {(c.account, c.occurrence or c.post_key): c.superseded_by
               for c in store.claim_due(now, OWNER, 90, 20)}
    assert claimed == {
        ("a1", "2027-01-18T10:00"): "2027-01-20T10:00",
        ("a1", "2027-01-19T10:00"): "2027-01-20T10:00",
        ("a1", "2027-01-20T10:00"): "",
        ("a2", "2027-01-18T10:00"): "2027-01-20T10:00",
        ("a2", "2027-01-19T10:00"): "2027-01-20T10:00",
        ("a2", "2027-01-20T10:00"): "",
        ("a1", "once"): "",
    }


def _flush_setting(conn: sa.Connection, postgres: bool) -> str:
    """When a COMMIT on ``conn`` waits for its log to reach the disk: SQLite's ``synchronous``, PostgreSQL's
    ``synchronous_commit``."""
    raw: Any = conn.connection.driver_connection
    if postgres:
        return str(raw.execute("SHOW synchronous_commit").fetchone()[0])
    return {0: "off", 1: "normal", 2: "full", 3: "extra"}[raw.execute("PRAGMA synchronous").fetchone()[0]]


def test_a_claim_commits_without_waiting_for_its_flush_and_marks_wait(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost claim only returns its posts to ``scheduled``, so its COMMIT need not wait for the disk; a
    ``sending`` mark's must (the request leaves after it; the log being one sequence, it also carries the
    claim before it)."""
    store.apply_changes(add=[planned(f"p{i}", account=f"a{i}") for i in range(4)], now=EARLY)
    seen: list[tuple[str, str]] = []  # (hot statement, the setting its transaction commits with)

    def spy(original: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Precompiled, conn: sa.Connection, *args: Any, **kw: Any) -> Any:
            result = original(self, conn, *args, **kw)
            name = next((k for k, v in store._compiled.items() if v is self), "?")
            seen.append((name, _flush_setting(conn, store.is_postgres)))
            return result

        return run

    monkeypatch.setattr(Precompiled, "execute", spy(Precompiled.execute))
    monkeypatch.setattr(Precompiled, "executemany", spy(Precompiled.executemany))
    durable, not_flushed = ("on", "off") if store.is_postgres else ("full", "normal")
    for cap in (None, 1):
        seen.clear()
        posts = store.claim_due(LATER, OWNER, 60, 2, per_account=cap)
        assert len(posts) == 2
        assert seen[0][0] == f"claim:{cap is not None}"  # then, on SQLite, the insert of its events
        assert {setting for _, setting in seen} == {not_flushed}
        hot = store._conns["hot"]
        assert _flush_setting(hot, store.is_postgres) == durable  # the next transaction waits again
        seen.clear()
        marks = [Mark(p.id, "sending", LATER) for p in posts]
        assert store.write_marks(marks, owner=OWNER) == [None, None]
        assert seen and {setting for _, setting in seen} == {durable}


def test_claims_skip_blocked_and_paused(store: Store) -> None:
    store.apply_changes(
        add=[planned("a", account="x"), planned("b", account="y"), planned("c", campaign="other")], now=EARLY
    )
    store.block_account("x", T0 + timedelta(minutes=10), now=T0, reason="429")
    store.pause(account="y", now=T0)
    store.pause(campaign="other", now=T0)
    assert store.claim_due(T0, OWNER, 60, 10) == []
    assert store.next_due_at(T0) == T0 + timedelta(minutes=10)
    assert [c.account for c in store.claim_due(T0 + timedelta(minutes=10), OWNER, 60, 10)] == ["x"]


def test_per_account_cap_counts_posts_in_flight_of_every_owner(store: Store) -> None:
    posts = [planned(f"a{i}", account="a", at=T0 + timedelta(seconds=i)) for i in range(4)]
    posts += [planned(f"b{i}", account="b", at=T0 + timedelta(seconds=10 + i)) for i in range(2)]
    store.apply_changes(add=posts, now=EARLY)
    got = store.claim_due(LATER, "d1", 60, 10, per_account=2)
    assert [c.post_key for c in got] == ["a0", "a1", "b0", "b1"]
    assert store.claim_due(LATER, "d2", 60, 10, per_account=2) == []  # both accounts at their cap
    assert store.next_due_at(LATER, per_account=2) is None
    assert store.next_due_at(LATER) == T0 + timedelta(seconds=2)  # uncapped: a2 is due
    store.mark_sending(got[0].id, owner="d1", now=T0)
    store.mark_sent(got[0].id, Receipt("r"), owner="d1", now=T0)
    [a2] = store.claim_due(LATER, "d2", 60, 10, per_account=2)  # a has one in flight: one more
    assert a2.post_key == "a2"
    store.release([got[1].id], owner="d1", now=T0)
    assert [c.post_key for c in store.claim_due(LATER, "d2", 60, 10, per_account=1)] == []  # a2 in flight
    with pytest.raises(ValueError):
        store.claim_due(LATER, "d2", 60, 10, per_account=0)


def test_an_owner_holds_an_accounts_posts_ahead_only_while_no_other_owner_holds_one(store: Store) -> None:
    """``ahead``: one owner may hold ``per_account + ahead`` posts of an account (it sends ``per_account``
    at a time); while another owner holds a post of it, nobody gets it."""
    posts = [planned(f"a{i}", account="a", at=T0 + timedelta(seconds=i)) for i in range(4)]
    posts += [planned(f"b{i}", account="b", at=T0 + timedelta(seconds=10 + i)) for i in range(3)]
    store.apply_changes(add=posts, now=EARLY)
    got = store.claim_due(LATER, "d1", 60, 10, per_account=1, ahead=1)
    assert [c.post_key for c in got] == ["a0", "a1", "b0", "b1"]
    # d1 holds two of each: nothing more for d1, nothing at all for d2.
    for owner in ("d1", "d2"):
        assert store.next_due_at(LATER, per_account=1, ahead=1, owner=owner) is None
        assert store.claim_due(LATER, owner, 60, 10, per_account=1, ahead=1) == []
    assert store.next_due_at(LATER, per_account=1) is None  # nor for a claim that holds nothing ahead
    a0, a1, b0, _ = got
    for post in (a0, b0):
        store.mark_sending(post.id, owner="d1", now=T0)
        store.mark_sent(post.id, Receipt(f"r{post.id}"), owner="d1", now=T0)
    # d1 still holds a1 and b1: its next post of each account, and nothing for d2 (the cap of 1 is taken).
    assert store.next_due_at(LATER, per_account=1, ahead=1, owner="d2") is None
    assert store.claim_due(LATER, "d2", 60, 10, per_account=1, ahead=1) == []
    assert store.next_due_at(LATER, per_account=1, ahead=1, owner="d1") == T0 + timedelta(seconds=2)
    a2, b2 = store.claim_due(LATER, "d1", 60, 10, per_account=1, ahead=1)
    assert (a2.post_key, b2.post_key) == ("a2", "b2")
    # Once d1 holds nothing of account a, d2 may hold its posts ahead in turn (d1 still holds b's).
    store.release([a1.id, a2.id], owner="d1", now=T0)
    assert [c.post_key for c in store.claim_due(LATER, "d2", 60, 10, per_account=1, ahead=1)] == ["a1", "a2"]
    with pytest.raises(ValueError):
        store.claim_due(LATER, "d2", 60, 10, per_account=1, ahead=-1)


def test_an_account_held_by_two_owners_gets_no_more_than_its_cap(store: Store) -> None:
    """Claims with ``ahead`` never let posts held by two owners exceed ``per_account``: an owner that
    finds another owner's post of an account takes only what the cap leaves."""
    store.apply_changes(
        add=[planned(f"c{i}", account="c", at=T0 + timedelta(seconds=i)) for i in range(6)], now=EARLY
    )
    [c0] = store.claim_due(LATER, "d2", 60, 1, per_account=2, ahead=2)
    assert c0.post_key == "c0"
    assert [c.post_key for c in store.claim_due(LATER, "d1", 60, 10, per_account=2, ahead=2)] == ["c1"]
    for owner in ("d1", "d2"):
        assert store.claim_due(LATER, owner, 60, 10, per_account=2, ahead=2) == []
        assert store.next_due_at(LATER, per_account=2, ahead=2, owner=owner) is None
    assert in_flight_per_account(store) == {"c": 2}
    # Alone again, d1 holds up to four (two to send, two ahead).
    store.release([c0.id], owner="d2", now=T0)
    assert [c.post_key for c in store.claim_due(LATER, "d1", 60, 10, per_account=2, ahead=2)] == [
        "c0", "c2", "c3"]


def _worst_in_flight(store: Store, cap: int, ahead: int) -> int:
    """Most posts of one account ``sending`` at once; also checks that no account has more than ``cap +
    ahead`` posts held, nor more than ``cap`` when two owners hold them (posts ahead belong to one owner)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT account, COUNT(*), COUNT(DISTINCT lease_owner), "
            "SUM(CASE WHEN status = 'sending' THEN 1 ELSE 0 END) "
            "FROM posts WHERE status IN ('claimed', 'sending') GROUP BY account"
        )).all()
    for account, held, owners, _ in rows:
        assert held <= cap + ahead and (owners == 1 or held <= cap), (account, held, owners)
    return max((int(r[3]) for r in rows), default=0)


def _claimer(url: str, owner: str, cap: int | None, ahead: int, out: Any) -> None:
    got: list[int] = []
    worst = 0
    try:
        with Store.open(url, busy_timeout=30) as store:
            while batch := store.claim_due(LATER, owner, 60, 5, per_account=cap, ahead=ahead):
                for post in batch:  # one at a time, as a daemon with per_account=1 sends them
                    store.mark_sending(post.id, owner=owner, now=T0)
                    if cap is not None:
                        worst = max(worst, _worst_in_flight(store, cap, ahead))
                    store.mark_sent(post.id, Receipt(f"r{post.id}"), owner=owner, now=T0)
                    got.append(post.id)
    except Exception as exc:  # reported to the test, which fails with it (a dead worker would only time out)
        out.put((got, worst, f"{type(exc).__name__}: {exc}"))
        return
    out.put((got, worst, None))


@pytest.mark.parametrize(("cap", "ahead"), [(None, 0), (1, 0), (1, 1)])
def test_several_processes_take_every_post_exactly_once(url: str, cap: int | None, ahead: int) -> None:
    accounts = [f"acct{i}" for i in range(6)]
    with Store.open(url) as store:
        store.apply_changes(
            add=[
                planned(f"p{i}", account=accounts[i % len(accounts)], at=T0 + timedelta(seconds=i))
                for i in range(300)
            ],
            now=EARLY,
        )
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(url, f"w{i}", cap, ahead, out)) for i in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [problem for _, _, problem in results if problem] == []
    ids = sorted(i for got, _, _ in results for i in got)
    assert ids == list(range(1, 301))
    if cap is not None:
        # Every worker looked at the whole table while it sent a post: never two of one account sending.
        assert max(worst for _, worst, _ in results) == 1
    with Store.open(url) as store:
        assert store.counts() == {"sent": 300}
        states = [store.account_state(a) for a in accounts]
        assert sum(s.sent_today for s in states if s is not None) == 300


# -- leases and recovery ------------------------------------------------------------------------------


def test_a_heartbeat_naming_posts_renews_only_those(store: Store) -> None:
    """A dispatcher names the posts it is handling: another post of the same owner keeps its lease (and
    expires into recovery), and so does a post named but leased to someone else."""
    store.apply_changes(add=many(4), now=EARLY)
    now = T0 + timedelta(minutes=5)  # all four due
    a, b, c = store.claim_due(now, OWNER, 60, 3)
    (other,) = store.claim_due(now, "daemon:b:2", 60, 1)
    until = now + timedelta(minutes=5)
    assert store.heartbeat(OWNER, until, now=now, ids={a.id, c.id, other.id}) == 2
    assert store.heartbeat(OWNER, until, now=now, ids=()) == 0
    leases = {p.id: store.get_post(p.id).lease_expires_at for p in (a, b, c, other)}
    first = now + timedelta(seconds=60)
    assert leases == {a.id: until, b.id: first, c.id: until, other.id: first}
    assert store.recover_expired(now + timedelta(minutes=2)).requeued == (b.id, other.id)


def test_a_driver_error_of_a_hot_statement_is_a_store_error(store: Store) -> None:
    """Hot statements run on the driver's cursor (campaign.queue.precompiled): what the driver raises
    there is translated like any other database error, on both back ends (psycopg's own errors escaped
    untranslated before)."""
    with pytest.raises(StoreError, match="database error") as caught, store._hot_write() as conn:
        raw = conn.connection.driver_connection
        raw.cursor().execute("SELECT 1 FROM no_such_table")
    assert type(caught.value) is StoreError
    store.apply_changes(add=many(1), now=EARLY)  # the connection is still usable
    assert len(store.claim_due(T0, OWNER, 60, 1)) == 1


def _end_every_session(store: Store) -> None:
    """End every session of ``store``'s database from the server side (what a restart does to them)."""
    assert end_sessions(store.url) >= 2


def _calls_of_every_kind(store: Store) -> dict[str, Callable[[], object]]:
    """A call on each of the store's long-lived connections: hot (claims), write and read."""
    return {
        "claim": lambda: store.claim_due(LATER, OWNER, 60, 1),
        "heartbeat": lambda: store.heartbeat(OWNER, LATER, now=T0),
        "next due": lambda: store.next_due_at(T0, per_account=1, owner=OWNER),
        "counts": store.counts,
        "recovery": lambda: store.recover_expired(T0),
    }


@pytest.mark.postgres
def test_after_the_server_ends_every_session_only_the_statement_under_way_fails(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restart (here: every session of the database ended from the server side) kills each of
    the store's long-lived connections. The statement that meets its dead connection fails with one
    StoreError; every other connection is then pinged before its next use and replaced, so no later call
    fails (before, each kind failed once on its next use, however much later)."""
    monkeypatch.setattr(core, "IDLE_PING", 3600.0)  # no connection counts as idle: only suspicion pings
    with Store.open(pg_url) as store:
        store.apply_changes(add=many(6), now=EARLY)
        calls = _calls_of_every_kind(store)
        for call in calls.values():
            call()  # every kind of connection is open
        _end_every_session(store)
        with pytest.raises(StoreError, match="connection"):
            calls["claim"]()
        for call in calls.values():
            call()
        assert store.counts() == {"claimed": 2, "scheduled": 4}


@pytest.mark.postgres
def test_a_connection_idle_past_the_ping_interval_is_checked_before_use(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection idle longer than IDLE_PING (here: any) is pinged before its transaction, so sessions
    ended while the store was idle cost no failed call at all."""
    monkeypatch.setattr(core, "IDLE_PING", 0.0)
    with Store.open(pg_url) as store:
        store.apply_changes(add=many(6), now=EARLY)
        calls = _calls_of_every_kind(store)
        for call in calls.values():
            call()
        _end_every_session(store)
        for call in calls.values():
            call()
        assert store.counts() == {"claimed": 2, "scheduled": 4}


def test_a_dead_owners_leases_are_recovered_by_another(store: Store) -> None:
    store.apply_changes(add=many(3), now=EARLY)
    a, b, c = store.claim_due(T0 + timedelta(minutes=5), "dead", 60, 3)
    store.mark_sending(a.id, owner="dead", now=T0)
    assert store.heartbeat("dead", T0 + timedelta(minutes=2), now=T0) == 3
    assert store.recover_expired(T0 + timedelta(minutes=1)).requeued == ()  # still alive then
    done = store.recover_expired(T0 + timedelta(minutes=3), actor="daemon:b:2")
    assert done.requeued == (b.id, c.id) and done.unknown == (a.id,)
    assert store.get_post(a.id).status == "unknown"  # ambiguous: never sent again automatically
    with pytest.raises(LeaseLostError):
        store.mark_sending(b.id, owner="dead", now=T0 + timedelta(minutes=3))
    again = store.claim_due(T0 + timedelta(minutes=3), "daemon:b:2", 60, 10)
    assert [p.id for p in again] == [b.id, c.id]
    assert store.history(a.id)[-1].actor == "daemon:b:2"


# -- change notification ------------------------------------------------------------------------------


def test_watcher_sees_changes_from_other_connections_but_not_daemon_work(url: str) -> None:
    with (
        Store.open(url) as daemon_store,
        Store.open(url) as cli_store,
        daemon_store.watch(poll_seconds=0.01) as watcher,
    ):
        assert watcher.changed() is False
        cli_store.apply_changes(add=many(2), now=EARLY)
        assert watcher.wait(10) is True
        assert watcher.changed() is False  # consumed
        [c, _] = daemon_store.claim_due(LATER, OWNER, 60, 2)
        daemon_store.mark_sending(c.id, owner=OWNER, now=T0)
        daemon_store.mark_failed(c.id, "HTTP 422", owner=OWNER, now=T0)
        assert watcher.wait(0.05) is False  # a daemon's own work wakes nobody
        cli_store.retry([c.id], now=T0)
        assert watcher.wait(10) is True
        cli_store.pause(campaign="launch", now=T0)
        assert watcher.wait(10) is True
        cli_store.resume(campaign="launch", now=T0)
        assert watcher.wait(10) is True
        assert watcher.wait(0.05) is False


def test_watcher_wakes_an_event_loop(url: str) -> None:
    async def scenario(store: Store, other: Store) -> tuple[bool, bool]:
        with store.watch(poll_seconds=0.01) as watcher:
            idle = await watcher.wait_async(0.05)
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, lambda: other.apply_changes(add=many(1), now=EARLY))
            woke = await watcher.wait_async(10)
            return idle, woke

    with Store.open(url) as store, Store.open(url) as other:
        assert asyncio.run(scenario(store, other)) == (False, True)


@pytest.mark.postgres
def test_postgres_watcher_exposes_a_descriptor_and_survives_a_lost_connection(pg_url: str) -> None:
    with Store.open(pg_url) as store, store.watch() as watcher:
        fd = watcher.fileno()
        assert isinstance(fd, int) and fd >= 0
        with store.engine.connect() as conn:  # end the LISTEN session from the server side
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))
            conn.commit()
        assert watcher.wait(5) is True  # the loss is reported as a (possible) change
        assert watcher.changed() is True  # re-opened: changes meanwhile were not announced
        store.apply_changes(add=many(1), now=EARLY)
        assert watcher.wait(10) is True and watcher.fileno() is not None


# -- opening ------------------------------------------------------------------------------------------


def _opener(url: str, out: Any) -> None:
    try:
        with Store.open(url, busy_timeout=30) as store:
            out.put(store.queue_revision())
    except Exception as exc:  # reported to the test
        out.put(repr(exc))


@pytest.mark.postgres
def test_daemons_started_together_on_an_empty_postgres_database_migrate_once() -> None:
    name, url = new_database("template0")  # empty: no schema at all
    try:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        procs = [ctx.Process(target=_opener, args=(url, out)) for _ in range(4)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert results == [0, 0, 0, 0]
    finally:
        drop_database(name)


def _fresh_empty(backend: str, tmp_path: Path, round_: int) -> tuple[str, Callable[[], None]]:
    """(URL, cleanup) of a database with no schema at all."""
    if backend == "sqlite":
        return str(tmp_path / f"empty{round_}.db"), lambda: None
    name, url = new_database("template0")
    return url, lambda: drop_database(name)


def _open_together(url: str, openers: int) -> list[object]:
    """Open ``url`` from ``openers`` threads released by one barrier; each one's revision or exception."""
    barrier = threading.Barrier(openers)
    results: list[object] = []

    def open_at_once() -> None:
        barrier.wait(timeout=60)
        try:
            with Store.open(url, busy_timeout=30) as store:
                results.append(store.queue_revision())
        except Exception as exc:  # reported to the test
            results.append(exc)

    threads = [threading.Thread(target=open_at_once) for _ in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_openers_released_together_on_an_empty_database_all_succeed(backend: str, tmp_path: Path) -> None:
    """Several openers released by one barrier, five times over: each round migrates once, none fails."""
    for round_ in range(5):
        url, cleanup = _fresh_empty(backend, tmp_path, round_)
        try:
            assert _open_together(url, 4) == [0] * 4, f"round {round_}"
        finally:
            cleanup()


@pytest.mark.postgres
def test_an_opener_whose_look_straddles_another_openers_migration_is_not_fooled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replays, step by step, the interleaving that made daemons started together fail with "not a campaign
    queue database": opener L finds no ``alembic_version``; opener E migrates and commits; only then does L
    list the tables (READ COMMITTED: each statement sees the latest commits) and finds tables without a
    version. L must re-check under the migration lock instead of refusing the database."""
    name, url = new_database("template0")
    looked, migrated = threading.Event(), threading.Event()
    late: list[threading.Thread] = []
    errors: list[Exception] = []
    original = Inspector.get_table_names

    def get_table_names(self: Inspector, *args: Any, **kw: Any) -> list[str]:
        if threading.current_thread() is late[0] and not looked.is_set():
            looked.set()  # L has seen no alembic_version; hold it here until E has committed
            assert migrated.wait(timeout=60)
        return original(self, *args, **kw)

    def open_late() -> None:
        try:
            Store.open(url).close()
        except Exception as exc:  # reported to the test
            errors.append(exc)

    monkeypatch.setattr(Inspector, "get_table_names", get_table_names)
    try:
        late.append(threading.Thread(target=open_late))
        late[0].start()
        assert looked.wait(timeout=60)
        Store.open(url).close()  # E: migrates the empty database while L is between its two looks
        migrated.set()
        late[0].join(timeout=60)
        assert not late[0].is_alive() and errors == []
        with Store.open(url) as store:
            assert store.queue_revision() == 0
    finally:
        migrated.set()
        drop_database(name)


@pytest.mark.postgres
def test_unreachable_server_is_a_store_error(pg_url: str) -> None:
    dead = sa.engine.make_url(pg_url).set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="cannot connect to the database server"):
        Store.open(dead)


def test_switching_a_new_queue_to_wal_waits_for_other_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite refuses ``journal_mode=WAL`` at once ("database is locked", without its busy handler: waiting
    could deadlock) while another connection holds a write transaction on the file, as one opener migrating
    a new queue does: the switch is tried again until the busy timeout, not failed (four openers of a new
    queue released together hit this under load)."""
    import sqlite3

    from campaign.queue import dialect

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # a write transaction in rollback-journal mode (a migration)
    holder.execute("INSERT INTO t VALUES (1)")
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the first retry's pause: the other connection finishes
        waits.append(seconds)
        holder.execute("COMMIT")

    monkeypatch.setattr(dialect.time, "sleep", sleep)
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    try:
        dialect.enable_wal(engine, str(path))
        assert len(waits) == 1
        with sqlite3.connect(path) as fresh:
            assert fresh.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        engine.dispose()
        holder.close()


def _reltuples(store: Store) -> float:
    """What PostgreSQL's planner believes ``posts`` holds (-1 or 0: never analysed)."""
    with store.engine.connect() as conn:
        believed = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'posts'::regclass")
        return float(believed.scalar())


@pytest.mark.postgres
def test_many_new_posts_refresh_postgresql_statistics(pg_url: str) -> None:
    """Adding more than 50 posts plus a tenth of those already waiting to be sent refreshes the planner's
    statistics of ``posts`` at once, not at autovacuum's next round (docs/BENCHMARKS.md, tenth pass). Posts
    already sent do not raise the bar: the daemons' plans read the waiting ones."""
    with Store.open(pg_url) as store:
        assert _reltuples(store) <= 0  # a new queue: never analysed
        store.apply_changes(add=[planned(f"a{i}") for i in range(200)], now=T0)
        assert _reltuples(store) == 200
        store.apply_changes(add=[planned(f"b{i}") for i in range(70)], now=T0)  # not above 50 + 20
        assert _reltuples(store) == 200
        store.apply_changes(add=[planned(f"c{i}") for i in range(78)], now=T0)  # above 50 + 27
        assert _reltuples(store) == 348
        with store.engine.begin() as conn:  # as if all were sent: nothing waits any more
            conn.exec_driver_sql("UPDATE posts SET status = 'sent'")
        store.apply_changes(add=[planned(f"d{i}") for i in range(51)], now=T0)  # above 50 + 0
        assert _reltuples(store) == 399
        assert not store.refresh_statistics(50)


def test_sqlite_has_no_statistics_to_refresh(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "q.db")) as store:
        assert not store.refresh_statistics(1_000_000)


@pytest.mark.postgres
def test_a_lock_on_the_table_leaves_the_statistics_alone_and_the_apply_done(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The refresh waits only briefly: while another session holds a lock that conflicts with ANALYZE (a
    VACUUM, an ANALYZE, DDL), it gives up after its lock timeout and logs why; the posts stay added."""
    monkeypatch.setattr("campaign.queue.core.ANALYZE_LOCK_TIMEOUT", "50ms")
    with Store.open(pg_url) as store, store.engine.connect() as other:
        with other.begin():
            other.exec_driver_sql("LOCK TABLE posts IN SHARE UPDATE EXCLUSIVE MODE")
            added = store.apply_changes(add=[planned(f"a{i}") for i in range(100)], now=T0)
        assert len(added.added) == 100
        assert _reltuples(store) <= 0
        assert "statistics of the queue were not refreshed" in caplog.text and "lock" in caplog.text
        assert store.refresh_statistics(100)  # the lock released: this time it runs
        assert _reltuples(store) == 100


@pytest.mark.postgres
def test_a_claim_after_a_load_reads_a_prefix_of_the_due_posts_not_all_of_them(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the statistics a load refreshes, a capped claim walks the due posts in order and stops after its
    prefix, and locks the posts it picked by primary key. Without them it read every due post twice (a
    bitmap scan, then the locking walk), 29-45 ms per claim at 20,000-200,000 due posts."""
    plans: list[list[dict[str, Any]]] = []

    def explained(self: Precompiled, conn: sa.Connection, values: Any, *, first: Any = ()) -> Any:
        driver = conn.connection.driver_connection
        for statement in first:
            driver.execute(statement)
        plans.append(explain_analyze(driver, self.sql, self.arguments(values)))
        return []

    with Store.open(pg_url) as store:
        # One busy account, and a hundred others with a post every 100 seconds each, all due.
        store.apply_changes(add=many(4000, step=timedelta(seconds=1), account="a"), now=T0)
        second = timedelta(seconds=1)
        others = [planned(f"q{i}", account=f"acct{i % 100}", at=T0 + i * second) for i in range(4000)]
        store.apply_changes(add=others, now=T0)
        monkeypatch.setattr(Precompiled, "execute", explained)
        store.claim_due(T0 + timedelta(days=1), OWNER, 60, 100, per_account=1, ahead=1)
    (nodes,) = plans
    scans = [n for n in nodes if n.get("Relation Name") == "posts" and "Scan" in n["Node Type"]]
    due = [n for n in scans if n.get("Index Name") == "ix_posts_due" or n["Node Type"] == "Bitmap Heap Scan"]
    assert due and all(rows_read(n) <= 2 * 100 for n in due), [(n["Node Type"], rows_read(n)) for n in due]
    locked = [n for n in nodes if n["Node Type"] == "LockRows"]
    below = [m for n in locked for m in explain_nodes_under(n) if "Scan" in m["Node Type"]]
    assert below and all(m.get("Index Name") == "posts_pkey" for m in below), below
    claimed = [n for n in nodes if n["Node Type"] == "ModifyTable"]
    assert [n["Actual Rows"] for n in claimed if n.get("Relation Name") == "posts"] == [100]


# -- the next due time ------------------------------------------------------------------------------------


def _due_oracle(store: Store, now: datetime, *, cap: int | None, hold: int, owner: str) -> datetime | None:
    """:meth:`Store.next_due_at` by brute force over the rows: the earliest later-of (due, embargo) of a
    waiting post whose account has room and is neither paused nor blocked, and whose campaign is not paused;
    or the end of a block that holds an account with waiting posts."""
    with store.engine.connect() as conn:
        posts = conn.execute(sa.text(
            "SELECT account, campaign, status, next_attempt_at, not_before, lease_owner FROM posts"
        )).all()
        accounts = {r[0]: r for r in conn.execute(sa.text(
            "SELECT account, paused, blocked_until FROM account_state"
        )).all()}
        paused = {r[0] for r in conn.execute(sa.text("SELECT campaign FROM campaign_state WHERE paused"))}

    def at(value: Any) -> datetime | None:
        if value is None:
            return None
        value = datetime.fromisoformat(value) if isinstance(value, str) else value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    flying: dict[str, list[str]] = {}
    for account, _, status, _, _, lease_owner in posts:
        if status in ("claimed", "sending"):
            flying.setdefault(account, []).append(lease_owner)
    full = set()
    if cap is not None:
        for account, owners in flying.items():
            if len(owners) >= (cap if any(o != owner for o in owners) else hold):
                full.add(account)
    waiting = [p for p in posts if p[2] in ("scheduled", "retry_wait")]
    held = {a for a, row in accounts.items() if row[1] or (at(row[2]) is not None and at(row[2]) > now)}
    times = [
        max(t for t in (at(p[3]), at(p[4])) if t is not None)
        for p in waiting if p[0] not in held | full and p[1] not in paused
    ]
    times += [
        t for a, row in accounts.items()
        if not row[1] and (t := at(row[2])) is not None and t > now and any(p[0] == a for p in waiting)
    ]
    return min(times) if times else None


def test_the_next_due_time_is_the_earliest_post_a_claim_could_take(store: Store) -> None:
    """Checked against a brute-force reading of the rows, over posts with and without an embargo (before or
    after their time), paused and blocked accounts, a paused campaign, and accounts at their cap."""
    import random

    rng = random.Random(12)
    posts = []
    for i in range(240):
        post = planned(f"p{i}", account=f"a{i % 8}", campaign="other" if i % 11 == 0 else "launch",
                       at=T0 + timedelta(minutes=rng.randrange(-120, 240)))
        embargo = rng.choice([None, -30, 5, 45, 200])
        if embargo is not None:
            post = dataclasses.replace(post, not_before=post.scheduled_at + timedelta(minutes=embargo))
        posts.append(post)
    # The earliest of all while a2 has room: due at its embargo, four hours before T0.
    posts.append(dataclasses.replace(planned("e", account="a2", at=T0 - timedelta(hours=5)),
                                     not_before=T0 - timedelta(hours=4)))
    store.apply_changes(add=posts, now=EARLY)
    # apply queues a post due no sooner than its embargo ends; a retry or a hand-edited row may say otherwise.
    with store.engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE posts SET next_attempt_at = scheduled_at WHERE id % 3 = 0 OR post_key = 'e'"
        ))
    store.pause(account="a7", now=T0)
    store.block_account("a6", T0 + timedelta(minutes=50), now=T0, reason="429")
    checked = 0
    for round_, now in enumerate([T0 - timedelta(hours=3), T0, T0 + timedelta(minutes=90), LATER]):
        if round_ == 1:
            store.pause(campaign="other", now=T0)
        if round_ == 2:  # d1 holds two posts of some accounts (its cap and one ahead), d2 one of another
            store.claim_due(now, "d1", 60, 6, per_account=1, ahead=1)
            store.claim_due(now, "d2", 60, 1, per_account=1)
        for cap, hold, owner in [(None, 0, "d1"), (1, 2, "d1"), (1, 2, "d2"), (2, 2, "d3")]:
            expected = _due_oracle(store, now, cap=cap, hold=hold, owner=owner)
            kwargs: dict[str, Any] = {}
            if cap is not None:
                kwargs = {"per_account": cap, "ahead": hold - cap, "owner": owner}
            assert store.next_due_at(now, **kwargs) == expected, (now, cap, owner)
            checked += expected is not None
    assert checked >= 12  # most rounds had something to find
    with store.engine.connect() as conn:  # both walks had posts to look at
        assert conn.execute(sa.text("SELECT count(*) FROM posts WHERE not_before > next_attempt_at")).scalar()


def _statement_of(store: Store, call: Callable[[], object]) -> tuple[str, Any]:
    """The SQL statement (and its parameters) that ``call`` sent last through the store's engine."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    return seen[-1]


def test_the_next_due_time_walks_indexes_and_stops_at_the_first_post(store: Store) -> None:
    """The daemon reads the next due time on its event loop, so every send waits for it. Ordering by the later
    of due time and embargo (no index holds it) read every waiting post: 65-90 ms at 100,000 posts queued a
    month ahead. Now each of its two walks stops at the first post a claim could take."""
    ahead = T0 + timedelta(days=30)
    posts = [planned(f"p{i}", account=f"a{i % 20}", at=ahead + timedelta(minutes=i)) for i in range(3000)]
    # A campaign under an embargo: its posts are queued due when it ends, so they wait in ix_posts_due.
    posts[1000:1100] = [dataclasses.replace(p, not_before=p.scheduled_at + timedelta(hours=1))
                        for p in posts[1000:1100]]
    store.apply_changes(add=posts, now=T0)
    assert store.claim_due(T0, "d1", 60, 10) == []
    sql, parameters = _statement_of(store, lambda: store.next_due_at(T0, per_account=1, ahead=1, owner="d1"))
    assert store.next_due_at(T0, per_account=1, ahead=1, owner="d1") == ahead
    raw = store.engine.raw_connection()
    try:
        driver = raw.driver_connection
        if store.is_sqlite:
            plan = [row[3] for row in driver.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
            for index in ("ix_posts_due", "ix_posts_embargo", "ix_posts_lease"):
                assert any(f"USING INDEX {index}" in line for line in plan), (index, plan)
            assert not any(line.startswith("SCAN posts") and "INDEX" not in line for line in plan), plan
            assert not any("FOR ORDER BY" in line for line in plan), plan  # the order is the index's
        else:
            nodes = explain_analyze(driver, sql, parameters)
            raw.rollback()
            scans = [n for n in nodes if n.get("Relation Name") == "posts" and "Scan" in n["Node Type"]]
            waiting = [n for n in scans if n.get("Index Name") in ("ix_posts_due", "ix_posts_embargo")]
            assert len(waiting) == 2, [(n["Node Type"], n.get("Index Name")) for n in scans]
            read = [(n.get("Index Name"), rows_read(n)) for n in scans]
            assert sum(n for _, n in read) <= 10, read
    finally:
        raw.close()
