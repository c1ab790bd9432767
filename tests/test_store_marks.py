"""Store.write_marks (group commit): the same transitions as the single-post methods, in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaign.channels.base import Receipt
from campaign.errors import IllegalTransitionError, LeaseLostError, PostNotFoundError
from campaign.queue.marks import _pg_bulk_parameters
from campaign.queue.store import Mark, Store
from tests.helpers.pg import drop_database, explain_analyze, new_database, pg_template  # noqa: F401 (fixture)
from tests.helpers.queue import T0, planned

OWNER = "daemon:test:1"
NOW = T0 + timedelta(seconds=5)
UNTIL = T0 + timedelta(minutes=10)
R1 = Receipt(remote_id="r1", url="https://m.example/@a/r1", data={"cid": "c1"})
R2 = Receipt(remote_id="r2", url="https://m.example/@a/r2")
#: What a platform may hand back: quotes, backslashes, JSON-looking text, non-ASCII, nested data.
ODD = Receipt(
    remote_id='at://did:plc:x/app.bsky.feed.post/"3k\\q"', url="https://m.example/@a/été?q=☃&x=[1]",
    data={"cid": "{\"not\": \"json\"}", "名": ["😀", None, 1.5, {"deep": True}]},
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two identical queues: one driven through the single-post methods, one through write_marks; on SQLite
    and on PostgreSQL (whose bulk path is one statement of its own, campaign/queue/marks.py)."""
    made: list[str] = []
    if request.param == "sqlite":
        urls = [str(tmp_path / "single.db"), str(tmp_path / "batch.db")]
    else:
        template = request.getfixturevalue("pg_template")
        urls = []
        for _ in range(2):
            name, url = new_database(template)
            made.append(name)
            urls.append(url)
    pair = (Store.open(urls[0]), Store.open(urls[1]))
    for store in pair:
        store.apply_changes(
            add=[planned("solo"), planned("thread", text=("one", "two"), account="other")],
            now=T0 - timedelta(days=1),
        )
        store.claim_due(T0, OWNER, 60, 10)
    yield pair
    for store in pair:
        store.close()
    for name in made:
        drop_database(name)


def state(store: Store, post_id: int) -> tuple[Any, ...]:
    post = store.get_post(post_id)
    events = [(e.at, e.from_status, e.to_status, e.actor, e.reason) for e in store.history(post_id)]
    return (
        post.status, post.attempts, post.next_attempt_at, post.lease_owner, post.lease_expires_at,
        post.remote_id, post.remote_url, post.part_receipts, post.last_error, post.updated_at, events,
    )


Single = Callable[[Store, int], object]


def sending(s: Store, i: int) -> None:
    s.mark_sending(i, owner=OWNER, now=NOW)


#: (name, what the single-post methods do, in order, the same as marks), for a post that was just claimed.
CASES: list[tuple[str, list[Single], Callable[[int], list[Mark]]]] = [
    (
        "sent",
        [
            sending,
            lambda s, i: s.record_part(i, 0, R1, now=NOW),
            lambda s, i: s.mark_sent(i, R1, owner=OWNER, now=NOW),
        ],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "sent", NOW, receipts=(R1,))],
    ),
    (
        "sent-odd-receipt",
        [
            sending,
            lambda s, i: s.record_part(i, 0, ODD, now=NOW),
            lambda s, i: s.mark_sent(i, ODD, owner=OWNER, now=NOW),
        ],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "sent", NOW, receipts=(ODD,))],
    ),
    (
        "retry",
        [sending, lambda s, i: s.mark_retry(i, UNTIL, "503", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "retry", NOW, "503", until=UNTIL)],
    ),
    (
        "defer-after-sending",
        [sending, lambda s, i: s.defer(i, UNTIL, "rate limited", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "defer", NOW, "rate limited", until=UNTIL)],
    ),
    (
        "defer-claimed",
        [lambda s, i: s.defer(i, UNTIL, "quota", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "defer", NOW, "quota", until=UNTIL)],
    ),
    (
        "failed",
        [sending, lambda s, i: s.mark_failed(i, "401", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "failed", NOW, "401")],
    ),
    (
        "unknown",
        [sending, lambda s, i: s.mark_unknown(i, "reset", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "sending", NOW), Mark(i, "unknown", NOW, "reset")],
    ),
    (
        "missed",
        [lambda s, i: s.mark_missed(i, "too late", owner=OWNER, now=NOW)],
        lambda i: [Mark(i, "missed", NOW, "too late")],
    ),
]


@pytest.mark.parametrize(("name", "single", "marks"), CASES, ids=[c[0] for c in CASES])
def test_marks_leave_exactly_what_the_single_post_methods_leave(
    stores: tuple[Store, Store], name: str, single: list[Single], marks: Callable[[int], list[Mark]]
) -> None:
    one, batch = stores
    for step in single:
        step(one, 1)
    assert batch.write_marks(marks(1), owner=OWNER) == [None] * len(marks(1))
    assert state(batch, 1) == state(one, 1)
    if name == "sent-odd-receipt":  # and both are the receipt as the platform gave it
        post = batch.get_post(1)
        assert (post.remote_id, post.remote_url) == (ODD.remote_id, ODD.url)
        assert post.part_receipts == (ODD,)
    assert batch.account_state("main") == one.account_state("main")  # the daily send counter too


def test_a_sent_thread_keeps_every_receipt(stores: tuple[Store, Store]) -> None:
    one, batch = stores
    one.mark_sending(2, owner=OWNER, now=NOW)
    one.record_part(2, 0, R1, now=NOW)
    one.record_part(2, 1, R2, now=NOW)
    one.mark_sent(2, R1, owner=OWNER, now=NOW)
    batch.mark_sending(2, owner=OWNER, now=NOW)
    # non-final parts are recorded before the next is sent: a `part` mark, group-committed like the others
    assert batch.write_marks([Mark(2, "part", NOW, receipts=(R1,))], owner=OWNER) == [None]
    assert batch.get_post(2).part_receipts == (R1,)
    assert batch.write_marks([Mark(2, "sent", NOW, receipts=(R1, R2))], owner=OWNER) == [None]
    assert state(batch, 2) == state(one, 2)
    assert batch.get_post(2).part_receipts == (R1, R2)


def test_a_part_mark_is_refused_unless_its_post_is_sending(stores: tuple[Store, Store]) -> None:
    _, store = stores
    errors = store.write_marks(
        [Mark(2, "part", NOW, receipts=(R1,)), Mark(1, "sending", NOW),
         Mark(1, "part", NOW, receipts=(R1, R2))],  # part 1 before part 0
        owner=OWNER,
    )
    assert isinstance(errors[0], IllegalTransitionError) and "claimed" in str(errors[0])
    assert errors[1] is None and isinstance(errors[2], IllegalTransitionError)
    assert store.get_post(2).part_receipts == () and store.get_post(1).status == "sending"


def test_a_refused_mark_leaves_its_post_alone_and_the_others_commit(stores: tuple[Store, Store]) -> None:
    _, store = stores
    errors = store.write_marks(
        [
            Mark(1, "sending", NOW),
            Mark(2, "sending", NOW),
            Mark(2, "sent", NOW, receipts=(R1,)),  # not sending by this owner: its lease is not ours
            Mark(99, "failed", NOW, "x"),
            Mark(1, "missed", NOW, "x"),  # sending posts cannot be missed
        ],
        owner="daemon:other:2",
    )
    assert isinstance(errors[0], LeaseLostError) and isinstance(errors[1], LeaseLostError)
    assert isinstance(errors[2], IllegalTransitionError | LeaseLostError)
    assert isinstance(errors[3], PostNotFoundError)
    assert errors[4] is not None
    assert store.get_post(1).status == store.get_post(2).status == "claimed"

    errors = store.write_marks(
        [Mark(1, "sending", NOW), Mark(1, "missed", NOW, "late"), Mark(2, "sending", NOW)], owner=OWNER
    )
    assert errors[0] is None and isinstance(errors[1], IllegalTransitionError) and errors[2] is None
    assert store.get_post(1).status == store.get_post(2).status == "sending"


def test_a_failing_mark_rolls_the_whole_transaction_back(stores: tuple[Store, Store]) -> None:
    _, store = stores
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError, match="aware"):
        store.write_marks([Mark(1, "sending", NOW), Mark(2, "sending", naive)], owner=OWNER)
    assert store.get_post(1).status == "claimed" and store.get_post(1).attempts == 0


def test_marks_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        Mark(1, "published", NOW)
    with pytest.raises(ValueError, match="until"):
        Mark(1, "retry", NOW, "503")
    with pytest.raises(ValueError, match="receipts"):
        Mark(1, "sent", NOW)
    with pytest.raises(ValueError, match="receipts"):
        Mark(1, "part", NOW)


def test_batches_of_many_posts_leave_what_the_single_post_methods_leave(stores: tuple[Store, Store]) -> None:
    """Sending and sent marks of several posts are written in bulk (one statement per kind); the rows,
    events and daily counters are the same as marks written one per batch (the one-by-one path), and a post
    whose lease is not ours is refused."""
    one, batch = stores
    for store in (one, batch):
        store.apply_changes(add=[planned(f"more{i}", account=f"acct{i % 2}") for i in range(4)], now=T0)
        store.claim_due(T0, OWNER, 60, 10)
        store.apply_changes(add=[planned("theirs", account="third")], now=T0)
        store.claim_due(T0, "daemon:other:2", 60, 10)
    ids = [1, 2, 3, 4, 5, 6]
    for i in ids:
        assert one.write_marks([Mark(i, "sending", NOW)], owner=OWNER) == [None]
    for i in ids:
        mark = Mark(i, "sent", NOW + timedelta(seconds=i), receipts=(R1,))
        assert one.write_marks([mark], owner=OWNER) == [None]
    errors = batch.write_marks([Mark(i, "sending", NOW) for i in [*ids, 7]], owner=OWNER)
    assert errors[:6] == [None] * 6 and isinstance(errors[6], LeaseLostError)
    sent = [Mark(i, "sent", NOW + timedelta(seconds=i), receipts=(R1,)) for i in ids]
    assert batch.write_marks(sent, owner=OWNER) == [None] * 6
    for i in ids:
        assert state(batch, i) == state(one, i)
    for account in ("main", "other", "acct0", "acct1"):
        assert batch.account_state(account) == one.account_state(account)
    assert batch.get_post(7).status == "claimed"


def test_sends_either_side_of_midnight_count_on_their_own_days(stores: tuple[Store, Store]) -> None:
    """A batch whose sent marks span two UTC days counts each in its day, as the single-post methods do."""
    one, batch = stores
    late = NOW.replace(hour=23, minute=59, second=59)
    for store in (one, batch):
        store.apply_changes(add=[planned("again")], now=T0)  # a second post of account "main"
        store.claim_due(T0, OWNER, 60, 10)
    for i in (1, 3):
        one.mark_sending(i, owner=OWNER, now=NOW)
    one.mark_sent(1, R1, owner=OWNER, now=late)
    one.mark_sent(3, R2, owner=OWNER, now=late + timedelta(seconds=2))
    assert batch.write_marks([Mark(1, "sending", NOW), Mark(3, "sending", NOW)], owner=OWNER) == [None] * 2
    marks = [
        Mark(1, "sent", late, receipts=(R1,)), Mark(3, "sent", late + timedelta(seconds=2), receipts=(R2,))
    ]
    assert batch.write_marks(marks, owner=OWNER) == [None] * 2
    assert batch.account_state("main") == one.account_state("main")
    assert [batch.get_post(i).status for i in (1, 3)] == ["sent", "sent"]
    info = batch.account_state("main")
    assert info is not None and (info.counter_day, info.sent_today) == ("2027-01-19", 1)


def _raw(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value of the posts, their history and the accounts, as SQLite holds them (text)."""
    with sqlite3.connect(path) as conn:
        return {
            "posts": conn.execute("SELECT * FROM posts ORDER BY id").fetchall(),
            "events": conn.execute(
                "SELECT post_id, at, from_status, to_status, actor, reason FROM post_events "
                "ORDER BY post_id, id"
            ).fetchall(),
            "accounts": conn.execute("SELECT * FROM account_state ORDER BY account").fetchall(),
        }


def test_a_batch_on_sqlite_stores_the_very_texts_the_single_post_methods_store(tmp_path: Path) -> None:
    """SQLite's bulk marks go as one JSON array of texts (campaign/queue/marks.py): times, odd receipts,
    counters across midnight and the history come out byte for byte as the one-by-one path writes them, and
    marks the bulk statement does not move (another owner's post) get the precise error."""
    late = NOW.replace(hour=23, minute=59, second=59, microsecond=999999)
    paths = [tmp_path / "single.db", tmp_path / "batch.db"]
    for path in paths:
        with Store.open(str(path)) as store:
            store.apply_changes(add=[planned(f"p{i}", account=f"acct{i % 2}") for i in range(5)],
                                now=T0 - timedelta(days=1))
            store.claim_due(T0, OWNER, 60, 4)
            store.claim_due(T0, "daemon:other:2", 60, 1)
    receipts = {1: (ODD,), 2: (R1, R2), 3: (R2,), 4: (ODD, R1)}
    times = {1: late, 2: late + timedelta(microseconds=1), 3: late - timedelta(seconds=1),
             4: late + timedelta(hours=1)}
    with Store.open(str(paths[0])) as one:  # one mark per call: the one-by-one path (_apply_mark)
        for i in receipts:
            assert one.write_marks([Mark(i, "sending", NOW)], owner=OWNER) == [None]
        for i, got in receipts.items():
            assert one.write_marks([Mark(i, "sent", times[i], receipts=got)], owner=OWNER) == [None]
    with Store.open(str(paths[1])) as batch:
        errors = batch.write_marks([Mark(i, "sending", NOW) for i in [*receipts, 5]], owner=OWNER)
        assert errors[:4] == [None] * 4 and isinstance(errors[4], LeaseLostError)
        sent = [Mark(i, "sent", times[i], receipts=got) for i, got in receipts.items()]
        errors = batch.write_marks([*sent, Mark(5, "sent", late, receipts=(R1,))], owner=OWNER)
        assert errors[:4] == [None] * 4 and isinstance(errors[4], IllegalTransitionError)
    single, bulk = (_raw(path) for path in paths)
    assert bulk["accounts"] == single["accounts"]
    assert bulk["events"] == single["events"]
    assert bulk["posts"] == single["posts"]
    with sqlite3.connect(paths[1]) as conn:
        stored = [r[0] for r in conn.execute("SELECT updated_at FROM posts WHERE id <= 4 ORDER BY id")]
    assert stored == [times[i].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for i in receipts]
    assert len(bulk["events"]) == 5 + 4 * 3 + 1  # created; claimed, sending, sent; the other daemon's claim


@pytest.mark.postgres
def test_a_heartbeat_on_postgresql_skips_rows_the_group_commit_holds(pg_url: str) -> None:
    """The heartbeat (loop thread) and the group commit (worker thread, another connection) both lock several
    of the owner's rows, in no common order: the heartbeat skips rows locked by the other transaction instead
    of waiting for them, so the two can never deadlock (PostgreSQL aborted one of them in a test run)."""
    with Store.open(pg_url) as store, Store.open(pg_url) as other:
        store.apply_changes(add=[planned("a"), planned("b", account="other")], now=T0 - timedelta(days=1))
        held, free = store.claim_due(T0, OWNER, 60, 2)
        until = T0 + timedelta(minutes=30)
        with other.engine.connect() as conn, conn.begin():
            conn.execute(sa.text("SELECT id FROM posts WHERE id = :id FOR UPDATE"), {"id": held.id})
            assert store.heartbeat(OWNER, until, now=T0) == 1  # returned at once: the locked row skipped
        assert store.get_post(free.id).lease_expires_at == until
        assert store.get_post(held.id).lease_expires_at == T0 + timedelta(seconds=60)
        assert store.heartbeat(OWNER, until, now=T0) == 2  # released: extended now


@pytest.mark.postgres
def test_postgresql_bulk_marks_keep_their_plan_when_statistics_saw_nothing_in_flight(pg_url: str) -> None:
    """Autovacuum analyses ``posts`` when a busy spell is over, so the planner expects no claimed or sending
    row. The bulk marks must still read their JSON array once and reach each row by its id: a plan that
    walked the in-flight rows and re-read the array for each made a batch of 200 marks 5-9x slower."""
    with Store.open(pg_url) as store:
        # Enough rows that reading the table costs more than finding 200 of them by id.
        posts = [planned(f"p{i}", account=f"acct{i % 50}") for i in range(5000)]
        store.apply_changes(add=posts, now=T0 - timedelta(days=1))  # analysed: all scheduled, none in flight
        claimed = store.claim_due(T0, OWNER, 60, 200)
        assert len(claimed) == 200
        statement = store._hot("marks:pg")
        marks = [Mark(p.id, "sending", NOW) for p in claimed]
        arguments = statement.arguments(_pg_bulk_parameters(marks, OWNER))
        with store.engine.connect() as conn:
            raw = conn.connection.driver_connection
            nodes = explain_analyze(raw, statement.sql, arguments)
            raw.rollback()
        reads = [n for n in nodes if n.get("Function Name") == "json_array_elements"]
        assert reads and all(n["Actual Loops"] == 1 for n in reads), reads
        scans = [n for n in nodes if n.get("Relation Name") == "posts" and "Scan" in n["Node Type"]]
        assert scans and all(n.get("Index Name") == "posts_pkey" for n in scans), scans
        updated = [n for n in nodes if n["Node Type"] == "ModifyTable" and n.get("Relation Name") == "posts"]
        assert [n["Actual Rows"] for n in updated] == [200]
        # And the statement does its work: every post moves, once.
        assert store.write_marks(marks, owner=OWNER) == [None] * 200
        assert {store.get_post(p.id).status for p in claimed} == {"sending"}
