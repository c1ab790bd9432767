"""The queue stops answering under a running daemon, then comes back: no post is lost, doubled or stranded.

Here SQLite, the default: another process holds the write lock past the daemon's busy timeout (5 s), as a
`campaign apply` of a very large campaign or an operator's open `sqlite3` shell would. The daemon's writes
fail with "database is locked"; posts whose ``sending`` marks failed had nothing sent and are deferred
(the deferral written once the lock is gone). PostgreSQL sessions ended by the server are the same story:
tests/test_postgres_daemons.py. The fake platform's log is the witness, as there.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from campaign.queue.store import Store
from tests.fakeplatform.server import read_log
from tests.helpers.pg import Fleet
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

POSTS = 5_000  # enough that the daemon is still sending once the lock is taken


def hold_while_a_post_is_claimed(holder: sqlite3.Connection) -> None:
    """Take the write lock at a moment the daemon holds a claimed post whose ``sending`` mark is not yet
    written: that write must then wait out the busy timeout. Taken while every claimed post was already
    ``sending``, the lock would meet only the daemon's claims and outcomes, which fail and are retried
    with no post given back; so take it, look, and let go until one is."""

    def claimed_under_the_lock() -> bool:
        holder.execute("BEGIN IMMEDIATE")  # waits for the daemon's transaction in progress, then holds
        # The holder's snapshot is the last commit: nothing the daemon does from here is written.
        (n,) = holder.execute("SELECT count(*) FROM posts WHERE status = 'claimed'").fetchone()
        if n == 0:
            holder.execute("ROLLBACK")
        return bool(n)

    wait_until(claimed_under_the_lock, what="the lock taken while a post was claimed")


def test_a_write_lock_held_past_the_busy_timeout_strands_no_post(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    fleet = Fleet(str(db), tmp_path, accounts=20)
    fleet.start_platform()
    try:
        daemon = fleet.start_daemon("--tick", "0.5")
        fleet.enqueue(POSTS)
        fleet.wait_for(300, timeout=300, poll=0.02)
        log = tmp_path / "daemon0.log"
        holder = sqlite3.connect(db, timeout=60, isolation_level=None)
        try:
            hold_while_a_post_is_claimed(holder)
            # Held until the daemon has given a post back: its `sending` mark waited out the busy timeout.
            wait_until(
                lambda: "not sent, the queue failed" in log.read_text(errors="replace"),
                what="a post given back while the queue was locked",
            )
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()
        fleet.wait_for(POSTS, timeout=300)  # a post left leased would never be sent: fail within minutes
        assert daemon.poll() is None  # still running
        with Store.open(str(db)) as store:
            assert store.counts() == {"sent": POSTS}
        stats = fleet.platform.stats()
        assert stats["duplicates"] == [] and stats["created"] == POSTS
        created = Counter(r.idempotency_key for r in read_log(tmp_path / "platform.jsonl") if r.created)
        assert set(created) == set(fleet.keys) and set(created.values()) == {1}
        text = log.read_text(errors="replace")
        assert "database is locked" in text and "Traceback" not in text
    finally:
        fleet.stop()
