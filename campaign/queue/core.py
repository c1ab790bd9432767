"""The base of the store: connections, transactions, and the one place a post's status changes.

:class:`StoreCore` holds the engine and the long-lived connections, runs read and write transactions
(translating driver errors), moves a post between statuses with its ``post_events`` row
(:meth:`StoreCore._move`, checked against :mod:`campaign.queue.states`), and bumps the queue revision that
wakes the daemons. The concern mixins (:mod:`~campaign.queue.claims`, :mod:`~campaign.queue.marks`,
:mod:`~campaign.queue.admin`, :mod:`~campaign.queue.apply`) build on it; :class:`campaign.queue.store.Store`
composes them.

Every change that should wake the daemons (apply, cancel, retry, pause, resume, release, recovery) bumps
``queue_state.revision`` and, on PostgreSQL, sends ``NOTIFY campaign_queue`` in the same transaction
(delivered at commit, https://www.postgresql.org/docs/current/sql-notify.html).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from campaign.errors import IllegalTransitionError, LeaseLostError, PostNotFoundError, StoreError
from campaign.media.model import media_from_json
from campaign.queue.dialect import SYNCHRONOUS, connection_lost, insert_ignoring_duplicates, translate_error
from campaign.queue.models import ACCOUNTS, CAMPAIGNS, EVENTS, POSTS, QUEUE
from campaign.queue.precompiled import Precompiled
from campaign.queue.states import CLAIMABLE_SQL, LEASED, Status, sources, sql_in
from campaign.queue.values import QueuedPost, link_from, receipts_from

#: The PostgreSQL channel on which every revision bump is announced (payload: the new revision).
NOTIFY_CHANNEL = "campaign_queue"
#: Seconds a long-lived PostgreSQL connection may sit idle before it is pinged ahead of its next
#: transaction (:meth:`StoreCore._connection`): the hot path's never is, a heartbeat's always is.
IDLE_PING = 5.0
#: PostgreSQL re-reads the statistics of ``posts`` once more posts than this, plus this share of the posts
#: already waiting to be sent, were added at once (:meth:`StoreCore.refresh_statistics`): autovacuum's rule
#: and defaults (``autovacuum_analyze_threshold``, ``autovacuum_analyze_scale_factor``,
#: https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-STATISTICS), measured against
#: the part of the table the daemons' plans read rather than the whole table.
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE = 0.1
#: How long that refresh waits for a lock held by another ANALYZE, a VACUUM or DDL before giving up.
ANALYZE_LOCK_TIMEOUT = "2s"

logger = logging.getLogger(__name__)

_INSERT_EVENT = sa.insert(EVENTS)
_EVENT_KEYS = ("post_id", "at", "from_status", "to_status", "actor", "reason")
#: SQLite: the history rows of posts a statement of the same transaction has just moved, read from the rows
#: themselves (the move set ``updated_at``, ``previous_status`` and ``status``); the ids come as one JSON
#: array, so the statement is the same for any number of posts (:mod:`.precompiled`).
_LOG_MOVED = sa.text(
    "INSERT INTO post_events (post_id, at, from_status, to_status, actor, reason) "
    "SELECT id, updated_at, previous_status, status, :actor, NULL FROM posts "
    "WHERE id IN (SELECT value FROM json_each(:ids))"
)
#: What :func:`_move_statement` returns of the moved post.
_MOVE_RETURNS = (POSTS.c.id, POSTS.c.previous_status, POSTS.c.account, POSTS.c.campaign)


@cache
def _sources(to: Status, expect: tuple[Status, ...]) -> tuple[Status, ...]:
    return sources(to, among=expect)


def _move_statement(
    to: Status,
    froms: tuple[Status, ...],
    values: Mapping[str, Any],
    extra_where: Sequence[sa.ColumnElement[bool]],
) -> sa.Update:
    """``UPDATE posts SET status=to ... WHERE id=:p_id AND status IN froms (leased ones: owned by :p_owner)``.

    Plain values become bind parameters named ``p_<column>``; SQL expressions are embedded.
    """
    p = POSTS
    leased = [s for s in froms if s in LEASED]
    free = [s for s in froms if s not in LEASED]
    # Literal IN lists: the states are constants, and expanding bind parameters cost per execution.
    conds: list[sa.ColumnElement[bool] | sa.TextClause] = []
    if free:
        conds.append(sa.text(sql_in(free)))
    if leased:
        conds.append(sa.and_(sa.text(sql_in(leased)), p.c.lease_owner == sa.bindparam("p_owner")))
    sets: dict[str, Any] = {"updated_at": sa.bindparam("p_updated_at", type_=p.c.updated_at.type)}
    for key, value in values.items():
        sets[key] = (
            value if isinstance(value, sa.ClauseElement) else sa.bindparam(f"p_{key}", type_=p.c[key].type)
        )
    sets.update(status=to.value, previous_status=p.c.status)
    return (
        sa.update(p)
        .where(p.c.id == sa.bindparam("p_id"), sa.or_(*conds), *extra_where)
        .values(sets)
        .returning(*_MOVE_RETURNS)
    )


def queued_from(row: Row[Any]) -> QueuedPost:
    """A whole ``posts`` row as a :class:`QueuedPost`."""
    m = row._mapping
    media, link_image, media_base_url = media_from_json(m["media"])
    return QueuedPost(
        id=m["id"],
        campaign=m["campaign"],
        post_key=m["post_key"],
        occurrence=m["occurrence"],
        channel=m["channel"],
        account=m["account"],
        scheduled_at=m["scheduled_at"],
        zone=m["zone"],
        parts=tuple(m["parts"]),
        link=link_from(m["link"]),
        content_hash=m["content_hash"],
        idempotency_key=m["idempotency_key"],
        status=m["status"],
        previous_status=m["previous_status"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        remote_id=m["remote_id"],
        remote_url=m["remote_url"],
        part_receipts=receipts_from(m["part_receipts"]),
        last_error=m["last_error"],
        send_late=bool(m["send_late"]),
        late_window=timedelta(seconds=m["late_window_seconds"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        media=media,
        link_image=link_image,
        media_base_url=media_base_url,
    )


def paused_scope_in(conn: Connection, campaign: str) -> tuple[bool, frozenset[str]]:
    """(is ``campaign`` paused, the set of paused accounts), read on ``conn``."""
    c_paused = conn.execute(sa.select(CAMPAIGNS.c.paused).where(CAMPAIGNS.c.campaign == campaign)).scalar()
    accounts = conn.execute(sa.select(ACCOUNTS.c.account).where(ACCOUNTS.c.paused == sa.true())).scalars()
    return bool(c_paused), frozenset(accounts)


class StoreCore:
    """Connections, transactions and status changes shared by every part of :class:`Store`.

    One instance may be used by one thread at a time; open one per process (after ``fork``).
    """

    def __init__(self, engine: Engine, url: str, where: str) -> None:
        self.engine = engine
        self.url = url
        #: What error messages call the database (the file path for SQLite).
        self.where = where
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.is_postgres = engine.dialect.name == "postgresql"
        self._conns: dict[str, Connection] = {}
        #: When each long-lived connection last ended a transaction (time.monotonic; -inf: suspect, ping it).
        self._used: dict[str, float] = {}
        #: What a failed statement may raise: SQLAlchemy's wrapper, or the driver's own error from a
        #: statement run on its cursor (:mod:`campaign.queue.precompiled`); both are translated.
        self._driver_errors: tuple[type[BaseException], ...] = (
            sa.exc.DBAPIError, sqlite3.Error, engine.dialect.loaded_dbapi.Error,
        )
        #: Hot statements compiled for this store's dialect (:meth:`_precompiled`).
        self._compiled: dict[Hashable, Precompiled] = {}

    def _precompiled(self, name: Hashable, build: Callable[[], Precompiled]) -> Precompiled:
        """The hot statement ``name`` for this store, compiled on first use by ``build``."""
        found = self._compiled.get(name)
        if found is None:
            found = self._compiled[name] = build()
        return found

    # -- transactions ---------------------------------------------------------------------------------

    @property
    def commits_off_thread(self) -> bool:
        """True when ``write_marks`` and ``claim_due`` may run in a worker thread while the caller's thread
        uses the store: they have a connection of their own (:meth:`_hot_write`), ordered with every other
        write by SQLite's write lock on a SQLite file and by row locks on PostgreSQL (as several daemons'
        connections already are). The dispatcher's group writer then commits and claims beside the event
        loop instead of stopping it for each fsync or round trip (:mod:`campaign.dispatch.writer`). Not for
        SQLite ``:memory:`` (one database per connection)."""
        return self.is_postgres or (self.is_sqlite and self.where not in ("", ":memory:"))

    @contextmanager
    def _hot_write(self, *, durable: bool = True) -> Iterator[Connection]:
        """The write transaction of the dispatcher's hot path (marks and claims): on its own connection
        when :attr:`commits_off_thread`, so one worker thread may run it beside the caller's thread.

        ``durable=False`` (a claim, and only a claim) lets SQLite commit without waiting for its fsync
        (``synchronous=NORMAL`` for this one transaction; PostgreSQL's claim sets ``synchronous_commit``
        off itself). Such a commit may be lost by a power cut, never reordered: the log is one sequence, and
        the next durable commit (the ``sending`` mark of a claimed post, before its request leaves) flushes
        it too. Losing a claim only returns its posts to ``scheduled``, and nothing was sent for them."""
        kind = "hot" if self.commits_off_thread else "write"
        with self._transaction(kind, "BEGIN IMMEDIATE", durable=durable) as conn:
            yield conn

    @contextmanager
    def _hot_read(self) -> Iterator[Connection]:
        """A read transaction on the hot path's connection (:meth:`_hot_write`): for reads the dispatcher
        makes where it claims, in the group writer's thread, beside the caller's own reads."""
        kind = "hot" if self.commits_off_thread else "read"
        with self._transaction(kind, "BEGIN DEFERRED") as conn:
            yield conn

    def _connection(self, kind: str) -> Connection:
        # One long-lived connection per kind: checking one out of the pool per transaction costs more
        # than the statements of a hot-path transaction (bench_store.py). So the pool's pre-ping does not
        # see them: on PostgreSQL one idle for IDLE_PING seconds, or suspect because another was found
        # dead, is pinged first, and replaced if the server restarted or ended its session meanwhile.
        conn = self._conns.get(kind)
        if conn is not None and (conn.closed or conn.invalidated or not self._answers(kind, conn)):
            self._drop(kind)
            conn = None
        if conn is None:
            conn = self._conns[kind] = self.engine.connect()
        return conn

    def _answers(self, kind: str, conn: Connection) -> bool:
        """False when ``conn`` (PostgreSQL, idle past :data:`IDLE_PING` or suspect) fails a ping."""
        if not self.is_postgres or time.monotonic() - self._used.get(kind, -math.inf) < IDLE_PING:
            return True
        try:
            raw = conn.connection.driver_connection
            return raw is not None and bool(self.engine.dialect.do_ping(raw))
        except Exception:  # any failure: open a new connection, whose error (if any) is reported
            return False

    def _drop(self, kind: str) -> None:
        """Forget the long-lived connection ``kind`` (closing it without a round trip)."""
        conn = self._conns.pop(kind, None)
        self._used.pop(kind, None)
        if conn is not None:
            with suppress(Exception):
                conn.invalidate()
                conn.close()

    def _lost(self, kind: str) -> None:
        """The connection ``kind`` is gone: replace it, and ping the others before their next use (a
        server restart ended them all; each belongs to the thread that uses it, so it is not closed here)."""
        self._drop(kind)
        for other in list(self._conns):
            self._used[other] = -math.inf

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._transaction("write", "BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (deferred BEGIN on SQLite: takes no write lock)."""
        with self._transaction("read", "BEGIN DEFERRED") as conn:
            yield conn

    @contextmanager
    def _transaction(self, kind: str, begin: str, *, durable: bool = True) -> Iterator[Connection]:
        try:
            conn = self._connection(kind)
            if not self.is_sqlite:
                try:
                    with conn.begin():
                        yield conn
                finally:
                    self._used[kind] = time.monotonic()
                return
            # SQLite: the engine runs in driver autocommit (SQLAlchemy's documented pysqlite recipe
            # replaces the driver's BEGIN with ours); we emit BEGIN/COMMIT on the driver connection, which
            # also keeps SQLAlchemy's per-statement event dispatch off the hot path.
            raw = conn.connection.driver_connection
            assert raw is not None
            if not durable:
                raw.execute("PRAGMA synchronous = NORMAL")  # this transaction only (finally below)
            try:
                raw.execute(begin)
                try:
                    yield conn
                    raw.execute("COMMIT")
                except BaseException:
                    # A COMMIT that failed (say, a deferred constraint) leaves the transaction open: end it,
                    # or the connection's next BEGIN fails and the setting below cannot be changed back.
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    raise
            finally:
                if not durable:
                    raw.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        except self._driver_errors as exc:
            if self.is_postgres and connection_lost(exc):
                self._lost(kind)
            raise translate_error(exc, self.where) from exc

    # -- transitions (all status changes pass here) ----------------------------------------------------

    def _move(
        self,
        conn: Connection,
        post_id: int,
        to: Status,
        *,
        expect: Sequence[Status],
        now: datetime,
        actor: str,
        reason: str | None = None,
        owner: str | None = None,
        values: Mapping[str, Any] | None = None,
        extra_where: Sequence[sa.ColumnElement[bool]] = (),
    ) -> Any:
        """Move one post from one of ``expect`` to ``to`` and log it; leased states must match ``owner``.
        Returns the post's ``id``, ``previous_status``, ``account`` and ``campaign`` (a row with those
        attributes).

        Raises PostNotFoundError, LeaseLostError, or IllegalTransitionError (the post is left unchanged).
        """
        froms = _sources(to, tuple(expect))
        values = dict(values or {})
        params: dict[str, Any] = {"p_id": post_id, "p_owner": owner, "p_updated_at": now}
        params.update({f"p_{k}": v for k, v in values.items() if not isinstance(v, sa.ClauseElement)})
        row: Any
        if extra_where:
            row = conn.execute(_move_statement(to, froms, values, extra_where), params).first()
        else:
            # Compiled once per shape (module-level SQL expressions, such as the marks' attempt increment,
            # keep their identity) and run on the driver (:mod:`.precompiled`): a single-post change is
            # a statement or two, and ``Connection.execute`` cost more Python than SQLite spent on them.
            shape = tuple(
                sorted((k, id(v) if isinstance(v, sa.ClauseElement) else 0) for k, v in values.items())
            )
            key = ("move", to, froms, shape)
            move = self._precompiled(key, lambda: Precompiled(
                _move_statement(to, froms, values, ()), self.engine.dialect, columns=_MOVE_RETURNS))
            rows = move.execute(conn, params)
            row = rows[0] if rows else None
        if row is None:
            self._diagnose(conn, post_id, to, froms, owner)
        assert row is not None
        event = {"post_id": post_id, "at": now, "from_status": row.previous_status, "to_status": to.value,
                 "actor": actor, "reason": reason}  # fmt: skip
        self._insert_events(conn, [event])
        return row

    def _diagnose(
        self, conn: Connection, post_id: int, to: Status, froms: Sequence[Status], owner: str | None
    ) -> None:
        row = conn.execute(
            sa.select(POSTS.c.status, POSTS.c.lease_owner).where(POSTS.c.id == post_id)
        ).first()
        if row is None:
            raise PostNotFoundError(f"no queued post with id {post_id}")
        if owner is not None and any(s in LEASED for s in froms) and row.lease_owner != owner:
            # The caller once claimed it (recovery or another daemon moved it on since): a lost lease,
            # not a bug. A caller that never held it is making an illegal change (below).
            had_it = conn.execute(
                sa.select(EVENTS.c.id)
                .where(EVENTS.c.post_id == post_id, EVENTS.c.actor == owner, EVENTS.c.to_status == "claimed")
                .limit(1)
            ).first()
            if had_it is not None or row.status in froms:
                raise LeaseLostError(
                    f"post {post_id}: lease is held by {row.lease_owner or 'nobody'}, not {owner} "
                    f"(status {row.status})"
                )
        if row.status in froms:
            raise StoreError(f"post {post_id}: changed by another process meanwhile (now {row.status})")
        wanted = ", ".join(s.value for s in froms)
        raise IllegalTransitionError(
            f"post {post_id} is {row.status}; only {wanted} posts can become {to.value}"
        )

    def _events(
        self,
        conn: Connection,
        rows: Iterable[Row[Any]],
        to: Status,
        now: datetime,
        actor: str,
        reason: str | None = None,
    ) -> list[int]:
        """Log a bulk move of ``rows`` (each with ``id`` and ``previous_status``) to ``to``; their ids."""
        params = [
            {
                "post_id": r.id,
                "at": now,
                "from_status": r.previous_status,
                "to_status": to.value,
                "actor": actor,
                "reason": reason,
            }
            for r in rows
        ]
        if params:
            self._insert_events(conn, params)
        return [p["post_id"] for p in params]

    def _log_moved(self, conn: Connection, ids: Sequence[int], actor: str) -> None:
        """SQLite: the ``post_events`` rows of the posts ``ids``, which a statement of this transaction has
        just moved (each row's ``updated_at``, ``previous_status`` and ``status`` are the move's), in one
        statement, without a reason (the hot path's moves give none).

        The same rows as :meth:`_events` writes, without binding each one in Python: on the hot path the
        claims' and the bulk marks' history rows held the commit thread's GIL for about 5 us a row
        (docs/BENCHMARKS.md, sixteenth pass).
        """
        if ids:
            log = self._precompiled("events:moved", lambda: Precompiled(_LOG_MOVED, self.engine.dialect))
            log.execute(conn, {"ids": json.dumps(list(ids)), "actor": actor})

    def _insert_events(self, conn: Connection, events: list[dict[str, Any]]) -> None:
        """Insert ``post_events`` rows (each with every column but ``id``), precompiled."""
        insert = self._precompiled("events", lambda: Precompiled(
            _INSERT_EVENT, self.engine.dialect, keys=_EVENT_KEYS))
        insert.executemany(conn, events)

    def _bump(self, conn: Connection) -> None:
        stmt = sa.update(QUEUE).where(QUEUE.c.id == 1).values(revision=QUEUE.c.revision + 1)
        if not self.is_postgres:
            conn.execute(stmt)
            return
        revision = conn.execute(stmt.returning(QUEUE.c.revision)).scalar_one()
        # Delivered to every LISTENing daemon when (and only if) this transaction commits.
        conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(revision))))

    def queue_revision(self) -> int:
        """A counter bumped by apply, cancel, retry, pause, resume, release and recovery (cheap to poll)."""
        with self._read() as conn:
            return int(conn.execute(sa.select(QUEUE.c.revision).where(QUEUE.c.id == 1)).scalar_one())

    # -- planner statistics ---------------------------------------------------------------------------

    def refresh_statistics(self, added: int) -> bool:
        """PostgreSQL, after ``added`` posts were committed at once: ``ANALYZE posts`` when they are more
        than :data:`ANALYZE_THRESHOLD` plus :data:`ANALYZE_SCALE` of the posts that were already waiting to
        be sent (``scheduled`` or ``retry_wait``). Returns whether it ran. Never raises: statistics only
        steer plans.

        Until then the planner does not know the new posts: the claim read every due post to rank the first
        few (bitmap scan and sort): 29 ms per claim of 200 at 20,000 due posts, 45 ms at 200,000, against
        11-16 ms with statistics (docs/BENCHMARKS.md, tenth pass). Autovacuum would analyse only after a
        tenth of the whole table changed, and a queue keeps every post it ever sent; the PostgreSQL manual
        advises an ``ANALYZE`` after any bulk load (https://www.postgresql.org/docs/current/populate.html).
        It reads a sample of at most 30,000 rows (0.1-0.2 s at 100,000-1,000,000 posts) and blocks neither
        reads nor writes; a role that does not own the table gets a warning from the server and nothing
        else.
        """
        if not self.is_postgres or added <= ANALYZE_THRESHOLD:
            return False
        try:
            with self._write() as conn:
                # Another ANALYZE, a VACUUM or DDL holds the table's lock: wait briefly, then leave it be.
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_TIMEOUT}'")
                # The literal status term matches ix_posts_due's WHERE: the count reads that index.
                waiting = conn.exec_driver_sql(f"SELECT count(*) FROM posts WHERE {CLAIMABLE_SQL}").scalar()
                if added <= ANALYZE_THRESHOLD + ANALYZE_SCALE * max(int(waiting or 0) - added, 0):
                    return False
                conn.exec_driver_sql("ANALYZE posts")
        except StoreError as exc:
            logger.warning("the planner's statistics of the queue were not refreshed: %s", exc)  # names where
            return False
        return True

    # -- state rows -----------------------------------------------------------------------------------

    def _insert_ignoring_duplicates(self, table: sa.Table = POSTS, key: str = "idempotency_key") -> Any:
        """``INSERT ... ON CONFLICT (key) DO NOTHING`` in this database's dialect."""
        return insert_ignoring_duplicates(self.engine.dialect.name, table, key)

    def _ensure_account(self, conn: Connection, account: str, now: datetime) -> None:
        """Create the account's state row if it does not exist (several daemons may try at once)."""
        conn.execute(
            self._insert_ignoring_duplicates(ACCOUNTS, "account"),
            {"account": account, "paused": False, "sent_today": 0, "updated_at": now},
        )

    def _account_row(self, conn: Connection, account: str, now: datetime) -> Row[Any]:
        """The account's row, created when missing (inside the caller's write transaction)."""
        row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.account == account)).first()
        if row is None:
            self._ensure_account(conn, account, now)
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.account == account)).first()
        assert row is not None
        return row
