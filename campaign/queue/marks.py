"""Marks: what happened to a claimed post (sending, sent, retry, defer, failed, unknown, missed), one at a
time or batched in one transaction (:meth:`Marks.write_marks`: one fsync for many), and the per-account
state the dispatcher's pacing reads and writes (blocks, daily counters, :meth:`Marks.sent_times` for quotas).

A post marked ``unknown`` bumps the queue revision (and NOTIFYs on PostgreSQL): it waits for
re-examination, which any daemon may do (recovery's ``sending -> unknown`` bumps it too). Other marks are
the daemon's own work and wake nobody.

A mark on a leased post must come from the lease's owner; a mark its post refuses raises
:class:`LeaseLostError` or :class:`IllegalTransitionError` and leaves the post unchanged
(:meth:`campaign.queue.core.StoreCore._move`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from campaign.channels.base import Receipt, Upload
from campaign.errors import IllegalTransitionError, LeaseLostError, PostNotFoundError, StoreError
from campaign.queue.core import StoreCore, queued_from
from campaign.queue.models import ACCOUNTS, POSTS
from campaign.queue.precompiled import Precompiled
from campaign.queue.states import Status
from campaign.queue.values import AccountInfo, Mark, QueuedPost, aware, from_db, receipt_json

_INCREMENT_ATTEMPTS = POSTS.c.attempts + 1
#: A deferral after ``sending`` gives back the attempt mark_sending counted.
_REFUND_ATTEMPT = sa.case(
    (POSTS.c.status == Status.SENDING.value, POSTS.c.attempts - 1), else_=POSTS.c.attempts
)
_COUNT_SEND = (
    sa.update(ACCOUNTS)
    .where(ACCOUNTS.c.account == sa.bindparam("p_account"))
    .values(
        sent_today=sa.case(
            (ACCOUNTS.c.counter_day == sa.bindparam("p_day"), ACCOUNTS.c.sent_today + 1), else_=1
        ),
        counter_day=sa.bindparam("p_day"),
        updated_at=sa.bindparam("p_now", type_=ACCOUNTS.c.updated_at.type),
    )
)
#: Kinds :meth:`Marks._bulk_marks` applies in bulk (the statements below name the status each comes from).
_BULK = frozenset({"sending", "sent"})
#: What the bulk marks set, on both databases (``{p}``: the posts table's name in the statement; ``m``: the
#: marks, with ``kind`` and the values a ``sent`` mark brings).
_BULK_SET = """
    status = CASE WHEN m.kind = 'sending' THEN 'sending' ELSE 'sent' END,
    previous_status = {p}.status,
    attempts = CASE WHEN m.kind = 'sending' THEN {p}.attempts + 1 ELSE {p}.attempts END,
    updated_at = m.at,
    remote_id = CASE WHEN m.kind = 'sent' THEN m.remote_id ELSE {p}.remote_id END,
    remote_url = CASE WHEN m.kind = 'sent' THEN m.remote_url ELSE {p}.remote_url END,
    part_receipts = CASE WHEN m.kind = 'sent' THEN m.receipts ELSE {p}.part_receipts END,
    last_error = CASE WHEN m.kind = 'sent' THEN NULL ELSE {p}.last_error END,
    lease_owner = CASE WHEN m.kind = 'sent' THEN NULL ELSE {p}.lease_owner END,
    lease_expires_at = CASE WHEN m.kind = 'sent' THEN NULL ELSE {p}.lease_expires_at END
"""
#: :meth:`Marks._bulk_marks` on SQLite: the marks arrive as one JSON array of ``[id, kind, at, remote_id,
#: remote_url, receipts]`` rows (``at`` and ``receipts`` as the texts the column types store), read with
#: ``json_each`` (https://www.sqlite.org/json1.html#jeach), and one ``UPDATE ... FROM``
#: (https://www.sqlite.org/lang_update.html#update_from, SQLite 3.33) applies both kinds with the one-by-one
#: path's guards (the status each kind comes from, and the lease owner). It returns the
#: rows it moved; the others are left to the one-by-one path, which raises the precise error. Binding every
#: mark's parameters in Python (an ``executemany`` per kind, after a read of the rows) held the commit
#: thread's GIL for about 10 us a mark (docs/BENCHMARKS.md, sixteenth pass). ``json_extract`` rather than
#: ``->>``, which needs SQLite 3.38.
_SQLITE_BULK: sa.TextClause = sa.text(
    "UPDATE posts SET " + _BULK_SET.format(p="posts") + """
    FROM (
        SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS kind,
               json_extract(value, '$[2]') AS at, json_extract(value, '$[3]') AS remote_id,
               json_extract(value, '$[4]') AS remote_url, json_extract(value, '$[5]') AS receipts,
               CASE json_extract(value, '$[1]') WHEN 'sending' THEN 'claimed' WHEN 'sent' THEN 'sending' END
                   AS from_status
        FROM json_each(:marks)
    ) AS m
    WHERE posts.id = m.id AND posts.status = m.from_status AND posts.lease_owner = :owner
    RETURNING posts.id, posts.account
    """
)
#: SQLite: the sends of a batch counted per (account, UTC day), as ``_COUNT_SEND`` counts one, in one upsert
#: (https://www.sqlite.org/lang_upsert.html) of a JSON array of ``[account, day, n, at]`` rows taken in
#: order (``key`` is the array index; ``WHERE true`` is the upsert's parsing rule for ``INSERT ... SELECT``).
_SQLITE_SENDS: sa.TextClause = sa.text(
    """
    INSERT INTO account_state (account, paused, sent_today, counter_day, updated_at)
    SELECT json_extract(value, '$[0]'), 0, json_extract(value, '$[2]'), json_extract(value, '$[1]'),
           json_extract(value, '$[3]')
    FROM json_each(:sends) WHERE true ORDER BY key
    ON CONFLICT (account) DO UPDATE SET
        sent_today = CASE WHEN account_state.counter_day = excluded.counter_day
                          THEN account_state.sent_today + excluded.sent_today ELSE excluded.sent_today END,
        counter_day = excluded.counter_day,
        updated_at = excluded.updated_at
    """
)
#: The bulk-mark statements by name (``marks:pg`` on PostgreSQL, the others on SQLite) and the columns a
#: statement returns.
_HOT_MARKS: dict[str, Callable[[Any], Any]] = {
    "marks:pg": lambda store: _PG_BULK,
    "marks:sqlite": lambda store: _SQLITE_BULK,
    "marks:sends": lambda store: _SQLITE_SENDS,
}
_HOT_COLUMNS = {"marks:pg": (POSTS.c.id,), "marks:sqlite": (POSTS.c.id, POSTS.c.account)}
#: For the kinds that only set ``last_error``: (new status, statuses it may come from).
_PLAIN_MARKS = {
    "failed": (Status.FAILED, (Status.SENDING, Status.CLAIMED)),
    "unknown": (Status.UNKNOWN, (Status.SENDING,)),
    "missed": (Status.MISSED, (Status.CLAIMED,)),
}


#: :meth:`Marks._bulk_marks` on PostgreSQL in ONE statement (one round trip instead of five or six): the
#: marks arrive as one JSON array of ``[id, kind, at, remote_id, remote_url, receipts]`` rows, read with
#: ``json_array_elements`` (https://www.postgresql.org/docs/current/functions-json.html). The standard
#: library's encoder writes it in C; psycopg dumped the six parallel arrays used before in Python, escaping
#: every quote of the receipts: 1.9 ms of the commit thread's GIL per 100 marks (docs/BENCHMARKS.md). One
#: ``UPDATE ... FROM`` applies both kinds with the one-by-one path's guards (the status each kind comes
#: from, and the lease owner; a row changed meanwhile is re-checked against them before it is updated), and
#: data-modifying CTEs (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING)
#: insert the events of the rows it changed and count the sends per account with an upsert. Rows it did not
#: change are left to the one-by-one path, which raises the precise error.
#:
#: Its plan must not depend on the table's statistics. Autovacuum analyses ``posts`` after a busy spell,
#: when nothing is in flight, so the planner then expects no ``claimed`` or ``sending`` row at all. With the
#: guards written as ``(kind = 'sending' AND status = 'claimed') OR ...`` it walked the in-flight rows
#: (``ix_posts_lease``) and re-read the whole JSON array once per row: 42 and 77 ms for batches of 200
#: ``sending`` and ``sent`` marks instead of 7 and 8 (docs/BENCHMARKS.md, tenth pass). So the array is read
#: once (``MATERIALIZED``), the rows are reached by their ids (``id = ANY``, the primary key, whose
#: uniqueness the planner knows without statistics), and the expected status is a column of ``m``, compared
#: per row, not a condition the planner could match to an index.
_PG_BULK: sa.TextClause = sa.text(
    """
    WITH m AS MATERIALIZED (
        SELECT CAST(e->>0 AS bigint) AS id, e->>1 AS kind, CAST(e->>2 AS timestamptz) AS at,
               e->>3 AS remote_id, e->>4 AS remote_url, e->5 AS receipts,
               CASE e->>1 WHEN 'sending' THEN 'claimed' WHEN 'sent' THEN 'sending' END AS from_status
        FROM json_array_elements(CAST(:marks AS json)) AS e
    ), done AS (
        UPDATE posts AS p SET """ + _BULK_SET.format(p="p") + """
        FROM m
        WHERE p.id = ANY(ARRAY(SELECT id FROM m)) AND p.id = m.id AND p.status = m.from_status
          AND p.lease_owner = :owner
        RETURNING p.id, p.previous_status, p.status, p.account, m.kind, m.at
    ), events AS (
        INSERT INTO post_events (post_id, at, from_status, to_status, actor, reason)
        SELECT id, at, previous_status, status, CAST(:owner AS varchar), NULL FROM done
    ), sends AS (
        INSERT INTO account_state AS a (account, paused, sent_today, counter_day, updated_at)
        SELECT account, false, count(*), CAST(:day AS varchar), max(at) FROM done
        WHERE kind = 'sent' GROUP BY account
        ON CONFLICT (account) DO UPDATE SET
            sent_today = CASE WHEN a.counter_day = excluded.counter_day
                              THEN a.sent_today + excluded.sent_today ELSE excluded.sent_today END,
            counter_day = excluded.counter_day,
            updated_at = excluded.updated_at
    )
    SELECT id FROM done
    """
)


def _bulk_marks_pg(conn: Connection, marks: Sequence[Mark], owner: str, statement: Precompiled) -> set[int]:
    """Apply ``sending`` and ``sent`` marks (each post once; every ``sent`` of one UTC day) with
    :data:`_PG_BULK`; the ids of the posts it moved."""
    return {row.id for row in statement.execute(conn, _pg_bulk_parameters(marks, owner))}


def _pg_bulk_parameters(marks: Sequence[Mark], owner: str) -> dict[str, Any]:
    """:data:`_PG_BULK`'s parameters for ``marks`` (see :func:`_bulk_marks_pg`)."""
    sent = [m for m in marks if m.kind == "sent"]
    rows = [
        [m.post_id, m.kind, aware(m.now).isoformat(), m.receipts[0].remote_id, m.receipts[0].url,
         [receipt_json(r) for r in m.receipts]]
        if m.kind == "sent" else [m.post_id, m.kind, aware(m.now).isoformat(), None, None, None]
        for m in marks
    ]
    return {
        "marks": json.dumps(rows),
        "owner": owner,
        "day": aware(sent[0].now).date().isoformat() if sent else None,
    }


def _bulk_marks_pg_by_day(
    conn: Connection, marks: Sequence[Mark], owner: str, statement: Precompiled
) -> set[int]:
    """:func:`_bulk_marks_pg` once per UTC day of the ``sent`` marks (each counts on its own day; a batch
    almost always has one), the ``sending`` marks with the first; the ids of the posts moved."""
    days: dict[Any, list[Mark]] = {}
    for m in marks:
        days.setdefault(aware(m.now).date() if m.kind == "sent" else None, []).append(m)
    groups = [g for d, g in days.items() if d is not None] or [[]]
    groups[0].extend(days.get(None, ()))
    return set().union(*(_bulk_marks_pg(conn, g, owner, statement) for g in groups))


@lru_cache(maxsize=8)  # a few dialects at a time (one per open store); not one entry per store ever opened
def _sqlite_texts(dialect: Dialect) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The texts SQLite stores for a time (``updated_at``) and for receipts (``part_receipts``): the column
    types' own bind steps, so a bulk mark stores what the one-by-one path stores."""
    time = POSTS.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    receipts = POSTS.c.part_receipts.type.dialect_impl(dialect).bind_processor(dialect)
    assert time is not None and receipts is not None, "SQLite stores times and JSON as text"
    return time, receipts


def _bulk_marks_sqlite(
    conn: Connection, marks: Sequence[Mark], owner: str, bulk: Precompiled, sends: Precompiled,
    texts: tuple[Callable[[Any], Any], Callable[[Any], Any]],
) -> dict[int, str]:
    """Apply ``sending`` and ``sent`` marks (each post once) with :data:`_SQLITE_BULK`, and count the sends
    with :data:`_SQLITE_SENDS`; the posts moved (id: account)."""
    time, receipts = texts
    rows = [
        [m.post_id, "sent", time(m.now), m.receipts[0].remote_id, m.receipts[0].url,
         receipts([receipt_json(r) for r in m.receipts])]
        if m.kind == "sent" else [m.post_id, m.kind, time(m.now)]
        for m in marks
    ]
    moved: dict[int, str] = {row.id: row.account for row in bulk.execute(conn, {
        "marks": json.dumps(rows), "owner": owner})}
    # Per (account, UTC day) in the order the marks came, with the account's last time (as _COUNT_SEND,
    # one after the other, would leave them).
    counted: dict[tuple[str, str], int] = {}
    latest: dict[str, str] = {}
    for mark, row in zip(marks, rows, strict=True):
        account = moved.get(mark.post_id)
        if account is not None and mark.kind == "sent":
            key = (account, aware(mark.now).date().isoformat())
            counted[key] = counted.get(key, 0) + 1
            latest[account] = row[2]
    if counted:
        sends.execute(conn, {"sends": json.dumps(
            [[account, day, n, latest[account]] for (account, day), n in counted.items()])})
    return moved


class Marks(StoreCore):
    """Outcomes of claimed posts and shared account state (mixed into :class:`campaign.queue.store.Store`)."""

    def mark_sending(self, post_id: int, *, owner: str, now: datetime) -> None:
        """claimed -> sending, counting an attempt. Commit happens before the caller may send anything.

        Raises LeaseLostError when ``owner`` no longer holds the lease (then do not send).
        """
        self._mark_one(Mark(post_id, "sending", now), owner)

    def record_part(self, post_id: int, index: int, receipt: Receipt, *, now: datetime) -> None:
        """Store the receipt of thread part ``index`` (0-based) so a resumed send starts at ``index + 1``.

        Allowed while ``sending`` or ``unknown`` (a receipt that arrives after the lease was recovered is
        still the truth). Parts are recorded in order; recording the same index again replaces it.
        """
        now = aware(now)
        with self._hot_write() as conn:
            self._record_part(conn, post_id, index, receipt, now)

    def _record_part(
        self, conn: Connection, post_id: int, index: int, receipt: Receipt, now: datetime
    ) -> None:
        """:meth:`record_part` inside the caller's write transaction."""
        row = conn.execute(
            sa.select(POSTS.c.status, POSTS.c.part_receipts).where(POSTS.c.id == post_id)
        ).first()
        if row is None:
            raise PostNotFoundError(f"no queued post with id {post_id}")
        if row.status not in (Status.SENDING, Status.UNKNOWN):
            raise IllegalTransitionError(f"post {post_id} is {row.status}; parts are recorded while sending")
        receipts = list(row.part_receipts or [])
        if not 0 <= index <= len(receipts):
            raise IllegalTransitionError(f"post {post_id}: part {index} recorded before part {len(receipts)}")
        receipts[index : index + 1] = [receipt_json(receipt)]
        conn.execute(
            sa.update(POSTS).where(POSTS.c.id == post_id).values(part_receipts=receipts, updated_at=now)
        )

    def record_uploads(
        self, post_id: int, uploads: Sequence[Upload], *, owner: str, now: datetime
    ) -> None:
        """Add finished media uploads to the post's ``media_uploads`` (one replaces an earlier one of the same
        key), committed before the request that uses them is sent, so a retry or restart reuses them.

        Only while the post is ``sending`` under ``owner``'s lease (LeaseLostError otherwise: recovery or
        another daemon moved it on, and the request must not leave). Written on the hot path's connection:
        the dispatcher calls it where it claims (the group writer's thread).
        """
        now = aware(now)
        with self._hot_write() as conn:
            p = POSTS
            row = conn.execute(
                sa.select(p.c.status, p.c.lease_owner, p.c.media_uploads).where(p.c.id == post_id)
            ).first()
            if row is None:
                raise PostNotFoundError(f"no queued post with id {post_id}")
            if row.status != Status.SENDING or row.lease_owner != owner:
                raise LeaseLostError(
                    f"post {post_id} is {row.status} for {row.lease_owner}; its uploads were not recorded"
                )
            keys = {u.key for u in uploads}
            kept = [u for u in row.media_uploads or [] if not (isinstance(u, dict) and u.get("key") in keys)]
            conn.execute(
                sa.update(POSTS).where(POSTS.c.id == post_id)
                .values(media_uploads=[*kept, *(u.to_json() for u in uploads)], updated_at=now)
            )

    def recorded_uploads(self, post_id: int) -> list[Upload]:
        """The media uploads recorded with the post (expired ones included: the adapter decides)."""
        with self._read() as conn:
            raw = conn.execute(sa.select(POSTS.c.media_uploads).where(POSTS.c.id == post_id)).scalar()
        found = (Upload.from_json(u) for u in raw or [] if isinstance(u, dict))
        return [u for u in found if u is not None]

    def mark_sent(self, post_id: int, receipt: Receipt, *, owner: str, now: datetime) -> None:
        """sending (leased by ``owner``) or unknown -> sent, with the post's receipt (a thread's first part).

        Counts the send in the account's daily counter (UTC day of ``now``).
        """
        now = aware(now)
        with self._hot_write() as conn:
            row = self._move(
                conn,
                post_id,
                Status.SENT,
                expect=(Status.SENDING, Status.UNKNOWN),
                now=now,
                actor=owner,
                owner=owner,
                values={
                    "remote_id": receipt.remote_id,
                    "remote_url": receipt.url,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "last_error": None,
                },
            )
            self._count_send(conn, row.account, now)

    def mark_retry(
        self, post_id: int, next_attempt_at: datetime, error: str, *, owner: str, now: datetime
    ) -> None:
        """sending or claimed (leased by ``owner``) -> retry_wait until ``next_attempt_at``.

        Only for outcomes where nothing (more) was published: transient errors, or a deferral before sending.
        """
        self._mark_one(Mark(post_id, "retry", now, reason=error, until=next_attempt_at), owner)

    def mark_failed(self, post_id: int, error: str, *, owner: str, now: datetime) -> None:
        """sending or claimed (leased by ``owner``) -> failed (permanent: a person must act)."""
        self._mark_one(Mark(post_id, "failed", now, reason=error), owner)

    def mark_unknown(self, post_id: int, reason: str, *, owner: str, now: datetime) -> None:
        """sending (leased by ``owner``) -> unknown: the request may have been received."""
        self._mark_one(Mark(post_id, "unknown", now, reason=reason), owner)

    def mark_missed(self, post_id: int, reason: str, *, owner: str, now: datetime) -> None:
        """claimed (leased by ``owner``) -> missed: found due later than its lateness window."""
        self._mark_one(Mark(post_id, "missed", now, reason=reason), owner)

    def _mark_one(self, mark: Mark, owner: str) -> None:
        """One mark in its own write transaction (the single-post methods; :meth:`write_marks` batches)."""
        with self._write() as conn:
            self._apply_mark(conn, mark, owner)
            if mark.kind == "unknown":
                self._bump(conn)

    def defer(self, post_id: int, until: datetime, reason: str, *, owner: str, now: datetime) -> None:
        """claimed or sending (leased by ``owner``) -> retry_wait until ``until``, refunding the attempt.

        For waits that are not failures and where nothing (more) was published: a rate limit or quota, or a
        daemon stopping between thread parts. Unlike :meth:`mark_retry` it does not count an attempt.
        """
        self._mark_one(Mark(post_id, "defer", now, reason=reason, until=until), owner)

    def write_marks(self, marks: Sequence[Mark], *, owner: str) -> list[StoreError | None]:
        """Apply ``marks`` in order in ONE write transaction (group commit: one fsync for all of them).

        Each mark goes through the same transition as its single-post method (:class:`Mark`), leased by
        ``owner``, with its event row. A mark its post refuses (lease lost, illegal transition, no such post)
        leaves that post unchanged and does not stop the others: the result holds, per mark, None or that
        error. A database failure raises :class:`StoreError` and commits nothing.
        """
        errors: list[StoreError | None] = [None] * len(marks)
        if not marks:
            return errors
        with self._hot_write() as conn:
            rest = self._bulk_marks(conn, marks, owner)
            unknown = False
            for i in rest:
                mark = marks[i]
                try:
                    self._apply_mark(conn, mark, owner)
                except StoreError as exc:  # raised before the post's row changed: the others go on
                    errors[i] = exc
                else:
                    unknown = unknown or mark.kind == "unknown"
            if unknown:
                self._bump(conn)
        return errors

    def _bulk_marks(self, conn: Connection, marks: Sequence[Mark], owner: str) -> list[int]:
        """Apply the common hot-path marks in a few statements for the whole batch; return the indexes of
        the marks left for :meth:`_apply_mark` (in order).

        ``sending`` marks of posts ``claimed`` by ``owner`` and ``sent`` marks of posts ``sending`` for
        ``owner`` (the dispatcher's steady state) are applied on SQLite with three statements whatever their
        number (:data:`_SQLITE_BULK`, the counters' upsert :data:`_SQLITE_SENDS`, and their events read
        from the moved rows, :meth:`StoreCore._log_moved`), each precompiled (:mod:`.precompiled`); on
        PostgreSQL with :data:`_PG_BULK`, one statement per UTC day. The same rows as the one-by-one path,
        without a round trip or Python's binding per post. Anything else (another status or owner, a post
        marked twice in the batch, the other kinds) takes the one-by-one path, which raises the precise
        error.
        """
        counts = Counter(m.post_id for m in marks)
        wanted = {i: m for i, m in enumerate(marks) if m.kind in _BULK and counts[m.post_id] == 1}
        # PostgreSQL: one statement even for one mark (the one-by-one path takes two or three round trips).
        if len(wanted) < (1 if self.is_postgres else 2):
            return [i for i in range(len(marks))]
        if self.is_postgres:
            done_ids = _bulk_marks_pg_by_day(conn, list(wanted.values()), owner, self._hot("marks:pg"))
            return [i for i, m in enumerate(marks) if i not in wanted or m.post_id not in done_ids]
        moved = _bulk_marks_sqlite(conn, list(wanted.values()), owner, self._hot("marks:sqlite"),
                                   self._hot("marks:sends"), _sqlite_texts(self.engine.dialect))
        self._log_moved(conn, list(moved), owner)
        return [i for i, m in enumerate(marks) if i not in wanted or m.post_id not in moved]

    def _hot(self, name: str) -> Precompiled:
        """The bulk-mark statement ``name``, compiled once per store (:mod:`.precompiled`)."""
        return self._precompiled(name, lambda: Precompiled(
            _HOT_MARKS[name](self), self.engine.dialect, columns=_HOT_COLUMNS.get(name, ())))

    def _apply_mark(self, conn: Connection, mark: Mark, owner: str) -> None:
        """One :class:`Mark` inside the caller's write transaction (the bodies of the single-post methods)."""
        now = aware(mark.now)
        done = {"lease_owner": None, "lease_expires_at": None}
        if mark.kind == "sending":
            self._move(conn, mark.post_id, Status.SENDING, expect=(Status.CLAIMED,), now=now, actor=owner,
                       owner=owner, values={"attempts": _INCREMENT_ATTEMPTS})
        elif mark.kind == "part":
            self._record_part(conn, mark.post_id, len(mark.receipts) - 1, mark.receipts[-1], now)
        elif mark.kind == "sent":
            first = mark.receipts[0]
            values: dict[str, Any] = {
                "remote_id": first.remote_id, "remote_url": first.url, "last_error": None, **done,
                "part_receipts": [receipt_json(r) for r in mark.receipts],
            }
            row = self._move(conn, mark.post_id, Status.SENT, expect=(Status.SENDING, Status.UNKNOWN),
                             now=now, actor=owner, owner=owner, values=values)
            self._count_send(conn, row.account, now)
        elif mark.kind in ("retry", "defer"):
            assert mark.until is not None
            values = {"next_attempt_at": aware(mark.until, "until"), "last_error": mark.reason, **done}
            if mark.kind == "defer":
                values["attempts"] = _REFUND_ATTEMPT
            self._move(conn, mark.post_id, Status.RETRY_WAIT, expect=(Status.SENDING, Status.CLAIMED),
                       now=now, actor=owner, owner=owner, reason=mark.reason, values=values)
        else:
            to, expect = _PLAIN_MARKS[mark.kind]
            self._move(conn, mark.post_id, to, expect=expect, now=now, actor=owner, owner=owner,
                       reason=mark.reason, values={"last_error": mark.reason, **done})

    def unknown_posts(self, limit: int = 100) -> list[QueuedPost]:
        """Posts in ``unknown``, oldest change first (for reconciliation)."""
        p = POSTS
        stmt = (
            sa.select(p)
            .where(p.c.status == Status.UNKNOWN.value)
            .order_by(p.c.updated_at, p.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [queued_from(r) for r in conn.execute(stmt).all()]

    def requeue_unknown(self, post_id: int, *, now: datetime, actor: str, reason: str) -> None:
        """unknown -> scheduled, due ``now``: a retry proven safe (platform deduplicates, or found absent)."""
        now = aware(now)
        with self._hot_write() as conn:
            self._move(
                conn,
                post_id,
                Status.SCHEDULED,
                expect=(Status.UNKNOWN,),
                now=now,
                actor=actor,
                reason=reason,
                values={"next_attempt_at": now},
            )

    def sent_times(self, account: str, since: datetime) -> list[datetime]:
        """When each post of ``account`` sent at or after ``since`` became ``sent`` (UTC, oldest first).

        The dispatcher's quota check: read on the hot path's connection, so call it where claims are made
        (the group writer's thread, behind the marks queued before it)."""
        p = POSTS
        stmt = (
            sa.select(p.c.updated_at)
            .where(p.c.account == account, p.c.status == Status.SENT.value, p.c.updated_at >= aware(since))
            .order_by(p.c.updated_at)
        )
        with self._hot_read() as conn:
            return [from_db(t) for t in conn.execute(stmt).scalars()]

    # -- shared account state -------------------------------------------------------------------------

    def block_account(
        self, account: str, until: datetime, *, now: datetime, reason: str | None = None
    ) -> None:
        """Hold every claim for ``account`` until ``until`` (UTC); a later block already stored wins."""
        now, until = aware(now), aware(until, "until")
        with self._write() as conn:
            current = self._account_row(conn, account, now)
            if current.blocked_until is not None and from_db(current.blocked_until) >= until:
                return
            conn.execute(
                sa.update(ACCOUNTS)
                .where(ACCOUNTS.c.account == account)
                .values(blocked_until=until, block_reason=reason, updated_at=now)
            )

    def account_state(self, account: str) -> AccountInfo | None:
        """The shared state of ``account`` (None when nothing was ever recorded for it)."""
        with self._read() as conn:
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.account == account)).first()
        if row is None:
            return None
        return AccountInfo(
            account=row.account,
            blocked_until=row.blocked_until,
            block_reason=row.block_reason,
            paused=bool(row.paused),
            counter_day=row.counter_day,
            sent_today=row.sent_today,
        )

    def _count_send(self, conn: Connection, account: str, now: datetime) -> None:
        day = now.date().isoformat()
        params = {"p_account": account, "p_day": day, "p_now": now}
        count = self._precompiled("count_send", lambda: Precompiled(_COUNT_SEND, self.engine.dialect))
        if not count.execute(conn, params):
            # First send of this account: create its row (race-free), then count as usual.
            self._ensure_account(conn, account, now)
            count.execute(conn, params)
