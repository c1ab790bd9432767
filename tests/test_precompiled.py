"""Precompiled hot statements (campaign/queue/precompiled.py): the same values in and out as SQLAlchemy's
``Connection.execute`` of the same statement, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from campaign.channels.base import LinkCard, Receipt
from campaign.queue.claims import _claim_statement, _claimed
from campaign.queue.models import EVENTS, POSTS
from campaign.queue.precompiled import Precompiled
from campaign.queue.store import Mark, Store
from tests.helpers.pg import drop_database, new_database, pg_template  # noqa: F401 (fixture)
from tests.helpers.queue import T0, planned

OWNER = "daemon:test:1"
#: Not UTC, and no microseconds: the stored text must still be SQLAlchemy's (UTC, six digits).
LOCAL = datetime(2026, 11, 30, 17, 5, 0, tzinfo=timezone(timedelta(hours=2)))
LINK = LinkCard(url="https://example.org/x", title="X")
KEYS = ("post_id", "at", "from_status", "to_status", "actor", "reason")
#: A sent mark as one statement per post: parameters, values fixed when it was built, a guard.
SENT = (
    sa.update(POSTS)
    .where(POSTS.c.id == sa.bindparam("b_id"), POSTS.c.status == "sending",
           POSTS.c.lease_owner == sa.bindparam("b_owner"))
    .values(status="sent", previous_status=POSTS.c.status,
            updated_at=sa.bindparam("b_now", type_=POSTS.c.updated_at.type),
            remote_id=sa.bindparam("b_remote_id"), remote_url=sa.bindparam("b_remote_url"),
            part_receipts=sa.bindparam("b_part_receipts", type_=POSTS.c.part_receipts.type),
            last_error=None, lease_owner=None, lease_expires_at=None)
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    name = None
    if request.param == "sqlite":
        url = str(tmp_path / "q.db")
    else:
        name, url = new_database(request.getfixturevalue("pg_template"))
    store = Store.open(url)
    link_post = replace(planned("linked", account="b"), link=LINK)
    store.apply_changes(add=[planned("solo", text=("one", "two")), link_post], now=T0 - timedelta(days=1))
    yield store
    store.close()
    if name is not None:
        drop_database(name)


def _raw_events(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT post_id, at, from_status, to_status, actor, reason FROM post_events "
            "WHERE actor IN ('test:sa', 'test:pre', 'test:pre2') ORDER BY id"
        )).all()
    return [tuple(r) for r in rows]


def test_an_insert_stores_exactly_what_sqlalchemy_stores(store: Store) -> None:
    """Times are converted by the column type (UTC; on SQLite SQLAlchemy's text with six digits), so a
    precompiled write compares and sorts like every other write."""
    [post] = [p for p in store.upcoming(limit=10) if p.post_key == "solo"]
    row = {"post_id": post.id, "at": LOCAL, "from_status": None, "to_status": "scheduled", "reason": "r"}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(EVENTS), [{**row, "actor": "test:sa"}])
        Precompiled(sa.insert(EVENTS), store.engine.dialect, keys=KEYS).executemany(
            conn, [{**row, "actor": "test:pre"}, {**row, "actor": "test:pre2", "reason": None}]
        )
    via_sa, via_pre, second = _raw_events(store)
    assert via_pre[:4] == via_sa[:4] and via_pre[5] == via_sa[5]
    assert second[5] is None
    if store.is_sqlite:
        assert via_pre[1] == "2026-11-30 15:05:00.000000"


def test_fixed_values_and_a_missing_parameter(store: Store) -> None:
    """Values fixed in the statement (``status='sent'``, ``last_error=NULL``) are sent as built; a parameter
    left out is a KeyError naming it, before anything reaches the database."""
    sent = Precompiled(SENT, store.engine.dialect)
    with pytest.raises(KeyError, match="b_owner"):
        sent.arguments({"b_id": 1, "b_now": LOCAL, "b_remote_id": "r", "b_remote_url": None,
                        "b_part_receipts": []})
    [post] = store.claim_due(T0, OWNER, 60, 1)
    store.write_marks([Mark(post.id, "sending", T0)], owner=OWNER)
    values = {"b_id": post.id, "b_owner": OWNER, "b_now": LOCAL, "b_remote_id": "r1",
              "b_remote_url": "https://m.example/r1", "b_part_receipts": [{"remote_id": "r1", "url": None}]}
    with store.engine.begin() as conn:
        assert sent.executemany(conn, [values]) == 1
        assert sent.executemany(conn, [values]) == 0  # no longer sending: the guard holds
    got = store.get_post(post.id)
    assert (got.status, got.remote_id, got.lease_owner, got.last_error) == ("sent", "r1", None, None)
    assert got.part_receipts == (Receipt("r1", None),)
    assert got.updated_at == LOCAL.astimezone(UTC)


def test_a_single_post_move_writes_what_sqlalchemy_writes(store: Store) -> None:
    """A single-post transition (``StoreCore._move``) runs precompiled: the same row and event as
    ``Connection.execute`` of the same statement writes, with a time, a JSON value and an SQL expression."""
    from campaign.queue.core import _move_statement
    from campaign.queue.marks import _INCREMENT_ATTEMPTS
    from campaign.queue.states import Status

    a, b = sorted(store.claim_due(T0, OWNER, 60, 2), key=lambda c: c.post_key)
    values = {"next_attempt_at": LOCAL, "last_error": "try again", "attempts": _INCREMENT_ATTEMPTS,
              "part_receipts": [{"remote_id": "r1", "url": None, "data": {"n": 1}}]}
    froms = (Status.CLAIMED,)
    with store._write() as conn:
        moved = store._move(conn, a.id, Status.RETRY_WAIT, expect=froms, now=LOCAL, actor="test:pre",
                            owner=OWNER, values=values)
        params = {"p_id": b.id, "p_owner": OWNER, "p_updated_at": LOCAL, "p_next_attempt_at": LOCAL,
                  "p_last_error": "try again", "p_part_receipts": values["part_receipts"]}
        other = conn.execute(_move_statement(Status.RETRY_WAIT, froms, values, ()), params).one()
        conn.execute(sa.insert(EVENTS), [{"post_id": b.id, "at": LOCAL, "from_status": other.previous_status,
                                          "to_status": "retry_wait", "actor": "test:sa", "reason": None}])
    assert (moved.id, moved.previous_status, moved.account, moved.campaign) == (
        a.id, "claimed", a.account, a.campaign)
    columns = ("status", "next_attempt_at", "last_error", "attempts", "part_receipts", "updated_at",
               "lease_owner")
    with store.engine.connect() as conn:
        raw = {r[0]: tuple(r[1:]) for r in conn.execute(sa.text(
            f"SELECT id, {', '.join(columns)} FROM posts WHERE id IN ({a.id}, {b.id})"))}
    assert raw[a.id] == raw[b.id]
    status, due = raw[a.id][:2]
    assert status == "retry_wait"
    assert due == ("2026-11-30 15:05:00.000000" if store.is_sqlite else LOCAL)
    via_sa, via_pre = sorted(_raw_events(store), key=lambda e: e[4] != "test:sa")
    assert via_pre[1:4] == via_sa[1:4]
    assert store.get_post(a.id).attempts == a.attempts + 1


def _queue(path: Path) -> Store:
    store = Store.open(str(path))
    store.apply_changes(add=[planned("solo", text=("one", "two")), replace(planned("linked", account="b"),
                                                                          link=LINK)],
                        now=T0 - timedelta(days=1))
    return store


def test_a_claim_returns_what_sqlalchemy_returns(tmp_path: Path) -> None:
    """The store's claim (precompiled) and the same statement through ``Connection.execute`` on an identical
    queue return the same posts, field by field (JSON parts and link, aware times, booleans). (PostgreSQL's
    claims go through the same class; the store tests run them on both databases.)"""
    store, twin = _queue(tmp_path / "q.db"), _queue(tmp_path / "twin.db")
    now = T0 + timedelta(seconds=1)
    params = {"b_now": now, "b_limit": 10, "b_owner": OWNER, "b_updated": now,
              "b_expires": now + timedelta(seconds=60), "b_cap": 1, "b_hold": 1, "b_prefix": 80}
    mine = store.claim_due(now, OWNER, 60, 10, per_account=1)
    with twin.engine.begin() as conn:
        rows = conn.execute(_claim_statement(True, False), params).all()
    theirs = sorted((_claimed(r) for r in rows), key=lambda c: (c.due_at, c.id))
    twin.close()
    store.close()
    assert sorted(c.post_key for c in mine) == ["linked", "solo"]
    assert mine == theirs
    assert all(c.due_at.tzinfo is UTC and c.lease_expires_at == now + timedelta(seconds=60) for c in mine)
    assert {c.post_key: c.parts for c in mine}["solo"] == ("one", "two")
    assert {c.post_key: c.link for c in mine}["linked"] == LINK


def test_the_capped_claim_reads_only_the_leased_posts(tmp_path: Path) -> None:
    """The in-flight count of a capped claim reads the partial index of leased posts, not an entry per row
    of the table (which grows with every post ever sent)."""
    store = Store.open(str(tmp_path / "q.db"))
    store.apply_changes(add=[planned(f"p{i}", account=f"a{i % 7}") for i in range(50)],
                        now=T0 - timedelta(days=1))
    assert store.claim_due(T0, OWNER, 60, 3, per_account=1)
    claim = store._compiled["claim:True"]
    args = claim.arguments({"b_now": T0, "b_limit": 3, "b_owner": OWNER, "b_updated": T0, "b_expires": T0,
                            "b_cap": 1, "b_hold": 2, "b_prefix": 24})
    raw = sqlite3.connect(store.where)
    try:
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + claim.sql, args)]
    finally:
        raw.close()
        store.close()
    assert "SCAN leased USING INDEX ix_posts_lease" in plan, plan
    assert not any("ix_posts_account_status" in line for line in plan), plan
