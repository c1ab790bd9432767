"""The durable queue: the only module that speaks SQL.

The ``posts`` table is the one source of truth for what is due and what was sent. Every status change goes
through :mod:`campaign.queue.states` and writes a ``post_events`` row in the same transaction. Daemons work
on the
hot path with SQLAlchemy Core statements (no ORM objects, no per-row reloads: PERFORMANCE.md).

Times: every ``now``/``until``/``at`` argument is an aware datetime (any zone; stored as UTC); every time
returned is aware UTC. Nothing here reads the wall clock: callers pass ``now``. Durations are seconds.

Opening (:meth:`Store.open`): a plain path means SQLite (parent directories are created); any URL with
``://`` is handed to SQLAlchemy (``postgresql+psycopg://...`` uses the same models). The stored Alembic
revision is compared with :data:`SCHEMA_HEAD` and Alembic is imported only when they differ: an older
database is upgraded under the write lock, a newer one raises :class:`SchemaVersionError` untouched.

SQLite settings and why:

- ``journal_mode=WAL``: readers (``campaign status``) never block the daemon's writes, and vice versa.
- every write transaction is ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe: the driver's own
  BEGIN is disabled on connect and ours is emitted from the ``begin`` event,
  https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl),
  so two writers queue on the busy timeout instead of one failing with "database is locked" when it
  upgrades a read lock (https://www.sqlite.org/lang_transaction.html). Reads use a deferred BEGIN.
- ``busy_timeout`` (default 5 s): how long a writer waits for another; past it,
  :class:`DatabaseLockedError` names the file.
- ``synchronous=FULL``: in WAL mode, NORMAL may lose the last commits on power loss or OS crash
  (https://www.sqlite.org/pragma.html#pragma_synchronous). Losing a committed ``sending`` mark could roll a
  post back to ``claimed``, and lease recovery would then send it again: a duplicate public post. FULL
  fsyncs the WAL at every commit; the cost (a few hundred microseconds to milliseconds per commit) is small
  next to an HTTP request per post.

Claims are one statement, ``UPDATE posts ... WHERE id IN (SELECT ... ORDER BY next_attempt_at LIMIT n)
RETURNING ...`` (SQLite >= 3.35, https://www.sqlite.org/lang_returning.html), run inside ``BEGIN
IMMEDIATE``; on PostgreSQL the inner SELECT adds ``FOR UPDATE SKIP LOCKED``. The inner SELECT walks the
partial index ``ix_posts_due`` in due order and skips blocked or paused accounts and paused campaigns.

PostgreSQL (several daemons on one queue; every difference from SQLite lives in this module):

- Transactions are READ COMMITTED (the server's default). A claim locks the rows it takes with ``FOR UPDATE
  SKIP LOCKED``, so concurrent claims never wait for each other and never hand out a row twice: a row
  another transaction holds is skipped, and a row changed and committed meanwhile is re-checked against the
  claim's WHERE before it is locked (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
- A claim with ``per_account`` (at most n posts of an account in flight, across every daemon) first takes a
  transaction-level advisory lock, ``pg_advisory_xact_lock`` (released at commit,
  https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS): in READ COMMITTED
  each statement sees what was committed before it began, so the claim statement that follows sees every
  earlier claim and its in-flight count is exact. On SQLite ``BEGIN IMMEDIATE`` serialises claims already.
- Lease recovery locks expired rows with ``SKIP LOCKED`` too: two daemons recovering at once, or a recovery
  racing a heartbeat, never deadlock; a skipped row is recovered on the next pass.
- Migrations run under an advisory lock, so daemons started together on an empty database migrate once.
- Every change that should wake the daemons (apply, cancel, retry, pause, resume, release, recovery) bumps
  ``queue_state.revision`` and, in the same transaction, sends ``NOTIFY campaign_queue`` (delivered at
  commit, https://www.postgresql.org/docs/current/sql-notify.html). :meth:`Store.watch` returns a
  :class:`ChangeWatcher` for it; on SQLite the watcher polls the revision.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, Row

from campaign.channels.base import LinkCard, Receipt
from campaign.errors import (
    DatabaseLockedError,
    IllegalTransitionError,
    LeaseLostError,
    PostNotFoundError,
    SchemaVersionError,
    StoreError,
)
from campaign.plan.posts import PlannedPost
from campaign.queue.models import ACCOUNTS, CAMPAIGNS, EVENTS, POSTS, QUEUE
from campaign.queue.states import (
    CLAIMABLE,
    CLAIMABLE_SQL,
    LEASED,
    PAUSABLE,
    PLANNABLE,
    Status,
    sources,
    sql_in,
)

logger = logging.getLogger(__name__)

#: The newest Alembic revision this code knows (tests check it equals the migrations' head).
SCHEMA_HEAD = "0002"
#: Where the queue lives unless ``--db`` or ``CAMPAIGN_DB`` says otherwise (relative to the working dir).
DEFAULT_DB = "db/campaign.db"
ENV_DB = "CAMPAIGN_DB"
#: Actor of changes made by `apply`.
APPLY_ACTOR = "apply"
#: The PostgreSQL channel on which every revision bump is announced (payload: the new revision).
NOTIFY_CHANNEL = "campaign_queue"
#: pg_advisory_xact_lock keys (any bigint unique to this application): per-account-limited claims, migrations.
_CLAIM_LOCK = 0x63616D7061696701
_MIGRATE_LOCK = 0x63616D7061696702
#: Due rows a per-account-limited claim looks at per post it may return (see :meth:`Store.claim_due`).
_PREFIX_FACTOR = 8


# ---------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ClaimedPost:
    """Everything a dispatcher needs to send one claimed post (times aware UTC)."""

    id: int
    campaign: str
    post_key: str
    occurrence: str
    channel: str
    account: str
    parts: tuple[str, ...]
    link: LinkCard | None
    idempotency_key: str
    #: Receipts of parts already published, in part order (resume at ``len(part_receipts)``).
    part_receipts: tuple[Receipt, ...]
    #: Attempts started before this claim.
    attempts: int
    scheduled_at: datetime
    #: When this attempt became due (scheduled time, retry time, or "now" of an explicit retry).
    due_at: datetime
    send_late: bool
    late_window: timedelta
    lease_owner: str
    lease_expires_at: datetime

    def is_late(self, now: datetime) -> bool:
        """True when the post was due more than its lateness window before ``now`` and may not send late."""
        return not self.send_late and now - self.due_at > self.late_window


@dataclass(frozen=True)
class QueuedPost:
    """One queued post as stored (for `show`, `status` and the planner)."""

    id: int
    campaign: str
    post_key: str
    occurrence: str
    channel: str
    account: str
    scheduled_at: datetime
    zone: str
    parts: tuple[str, ...]
    link: LinkCard | None
    content_hash: str
    idempotency_key: str
    status: str
    previous_status: str | None
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    remote_id: str | None
    remote_url: str | None
    part_receipts: tuple[Receipt, ...]
    last_error: str | None
    send_late: bool
    late_window: timedelta
    created_at: datetime
    updated_at: datetime

    @property
    def ident(self) -> tuple[str, str, str, str, str]:
        return (self.campaign, self.post_key, self.occurrence, self.channel, self.account)

    @property
    def label(self) -> str:
        occ = f"@{self.occurrence}" if self.occurrence else ""
        return f"{self.post_key}{occ}/{self.account}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "campaign": self.campaign,
            "post_key": self.post_key,
            "occurrence": self.occurrence,
            "channel": self.channel,
            "account": self.account,
            "scheduled_at": _iso(self.scheduled_at),
            "zone": self.zone,
            "parts": list(self.parts),
            "link": _link_json(self.link),
            "content_hash": self.content_hash,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at),
            "lease_owner": self.lease_owner,
            "lease_expires_at": _iso(self.lease_expires_at),
            "remote_id": self.remote_id,
            "remote_url": self.remote_url,
            "part_receipts": [_receipt_json(r) for r in self.part_receipts],
            "last_error": self.last_error,
            "send_late": self.send_late,
            "late_window_seconds": int(self.late_window.total_seconds()),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class PostEventView:
    """One line of a post's history."""

    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "from": self.from_status,
            "to": self.to_status,
            "actor": self.actor,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AccountInfo:
    """Shared per-account state. ``sent_today`` counts sends on the UTC day ``counter_day``."""

    account: str
    blocked_until: datetime | None
    block_reason: str | None
    paused: bool
    counter_day: str | None
    sent_today: int

    def sent_on(self, now: datetime) -> int:
        """Posts sent on the UTC day of ``now`` (0 when the counter is from another day)."""
        return self.sent_today if self.counter_day == now.astimezone(UTC).date().isoformat() else 0


#: The kinds of :class:`Mark`, each the batch form of one single-post method (:meth:`Store.write_marks`).
MARK_KINDS = ("sending", "sent", "retry", "defer", "failed", "unknown", "missed")


@dataclass(frozen=True)
class Mark:
    """One hot-path state change for :meth:`Store.write_marks`; ``kind`` names the single-post method it
    batches: ``sending`` (:meth:`Store.mark_sending`), ``sent`` (:meth:`Store.mark_sent` with
    ``receipts[0]``; ``receipts``, every part's receipt in order, also become ``part_receipts``), ``retry``
    (:meth:`Store.mark_retry` until ``until``), ``defer`` (:meth:`Store.defer` until ``until``), ``failed``,
    ``unknown``, ``missed`` (with ``reason``). ``now`` is when it happened (aware)."""

    post_id: int
    kind: str
    now: datetime
    reason: str = ""
    until: datetime | None = None
    receipts: tuple[Receipt, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in MARK_KINDS:
            raise ValueError(f"unknown mark kind {self.kind!r} (one of {', '.join(MARK_KINDS)})")
        if self.kind in ("retry", "defer") and self.until is None:
            raise ValueError(f"a {self.kind} mark needs until")
        if self.kind == "sent" and not self.receipts:
            raise ValueError("a sent mark needs the receipts")


@dataclass(frozen=True)
class Recovered:
    """What :meth:`Store.recover_expired` did: ids back to ``scheduled``, ids now ``unknown``."""

    requeued: tuple[int, ...] = ()
    unknown: tuple[int, ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    """Ids changed by :meth:`Store.apply_changes`; ``skipped`` says which were changed by others meanwhile."""

    added: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    readded: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.updated) + len(self.readded) + len(self.cancelled)


@dataclass(frozen=True)
class Update:
    """A planned rewrite of queued post ``post_id`` (seen as ``seen_status`` at ``seen_updated_at``)."""

    post_id: int
    seen_status: str
    seen_updated_at: datetime
    post: PlannedPost


@dataclass(frozen=True)
class Cancel:
    """A planned cancel of queued post ``post_id`` (seen as ``seen_status`` at ``seen_updated_at``)."""

    post_id: int
    seen_status: str
    seen_updated_at: datetime
    reason: str = "removed from the campaign file"


# ---------------------------------------------------------------------------------------------- helpers


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _link_json(link: LinkCard | None) -> dict[str, str] | None:
    if link is None:
        return None
    return {"url": link.url, "title": link.title, "description": link.description}


def _link_from(raw: Any) -> LinkCard | None:
    if not raw:
        return None
    return LinkCard(url=raw["url"], title=raw.get("title", ""), description=raw.get("description", ""))


def _receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {"remote_id": receipt.remote_id, "url": receipt.url, "data": dict(receipt.data)}


def _receipts_from(raw: Any) -> tuple[Receipt, ...]:
    return tuple(
        Receipt(remote_id=r["remote_id"], url=r.get("url"), data=dict(r.get("data") or {})) for r in raw or ()
    )


def _aware(value: datetime, name: str = "now") -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def resolve_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$CAMPAIGN_DB``, else ``db/campaign.db`` (a plain path: SQLite)."""
    raw = url or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in raw:
        return raw
    return "sqlite:///" + str(Path(raw).expanduser().absolute())


def migrations_dir() -> Path:
    """The Alembic script directory shipped as ``campaign.migrations`` (``db/migrations`` in the source)."""
    from importlib.resources import files

    return Path(str(files("campaign.migrations")))


def _planned_values(post: PlannedPost, now: datetime) -> dict[str, Any]:
    """Column values describing ``post`` (content and time; not status)."""
    scheduled = _aware(post.scheduled_at, "scheduled_at")
    return {
        "scheduled_at": scheduled,
        "zone": post.zone,
        "parts": list(post.parts),
        "link": _link_json(post.link),
        "content_hash": post.content_hash,
        "send_late": post.send_late,
        "late_window_seconds": int(post.late_window.total_seconds()),
        # A past time is only planned for send-late posts: then it is due now (DECISIONS.md).
        "next_attempt_at": max(scheduled, now),
        "updated_at": now,
    }


_CLAIM_COLUMNS = (
    POSTS.c.id,
    POSTS.c.campaign,
    POSTS.c.post_key,
    POSTS.c.occurrence,
    POSTS.c.channel,
    POSTS.c.account,
    POSTS.c.parts,
    POSTS.c.link,
    POSTS.c.idempotency_key,
    POSTS.c.part_receipts,
    POSTS.c.attempts,
    POSTS.c.scheduled_at,
    POSTS.c.next_attempt_at,
    POSTS.c.send_late,
    POSTS.c.late_window_seconds,
    POSTS.c.lease_owner,
    POSTS.c.lease_expires_at,
    POSTS.c.previous_status,
)


def _queued(row: Row[Any]) -> QueuedPost:
    m = row._mapping
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
        link=_link_from(m["link"]),
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
        part_receipts=_receipts_from(m["part_receipts"]),
        last_error=m["last_error"],
        send_late=bool(m["send_late"]),
        late_window=timedelta(seconds=m["late_window_seconds"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


# ---------------------------------------------------------------------------------------------- errors


def _sqlite_error_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorname", "") or ""
    return ""


def _unwritable(where: str) -> bool:
    path = Path(where)
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


#: PostgreSQL SQLSTATEs that mean "another transaction is in the way" (lock_not_available, deadlock_detected,
#: serialization_failure; https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_LOCKED = {"55P03": "lock not available", "40P01": "deadlock", "40001": "serialization failure"}


def _pg_sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def translate_error(exc: BaseException, where: str) -> StoreError:
    """Map a driver error to the one exception tree (the single translation point for SQL errors)."""
    name = _sqlite_error_name(exc)
    detail = str(getattr(exc, "orig", exc)).strip() or type(exc).__name__
    state = _pg_sqlstate(exc)
    if state in _PG_LOCKED:
        return DatabaseLockedError(f"{where}: {_PG_LOCKED[state]} with another process ({detail})")
    if state is not None and state.startswith(("08", "57P")):  # connection exception, server shutdown
        return StoreError(f"{where}: lost the connection to the database server ({detail})")
    if state is None and isinstance(exc, sa.exc.OperationalError) and not isinstance(exc.orig, sqlite3.Error):
        # psycopg reports a refused or failed connection without a SQLSTATE.
        return StoreError(f"{where}: cannot connect to the database server ({detail})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseLockedError(f"{where}: database is locked by another process ({detail})")
    if name.startswith("SQLITE_READONLY") or (name.startswith("SQLITE_CANTOPEN") and _unwritable(where)):
        return StoreError(
            f"{where}: the queue database is read-only (the file and its folder must be writable: SQLite "
            f"keeps -wal and -shm files beside it) ({detail})"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StoreError(f"{where}: not a usable queue database, file left as it is ({detail})")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(f"{where}: cannot open the queue database ({detail})")
    return StoreError(f"{where}: database error ({detail})")


# ---------------------------------------------------------------------------------------------- statements

_INSERT_EVENT = sa.insert(EVENTS)
_INCREMENT_ATTEMPTS = POSTS.c.attempts + 1
#: Store.defer: a deferral after ``sending`` gives back the attempt mark_sending counted.
_REFUND_ATTEMPT = sa.case(
    (POSTS.c.status == Status.SENDING.value, POSTS.c.attempts - 1), else_=POSTS.c.attempts
)
_MOVE_CACHE: dict[tuple[Any, ...], sa.Update] = {}


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
        .returning(p.c.id, p.c.previous_status, p.c.account, p.c.campaign)
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


# ---------------------------------------------------------------------------------------------- store


class Store:
    """The queue database. Create with :meth:`open`; close with :meth:`close` (or use as a context manager).

    One ``Store`` may be used by one thread at a time; open one per process (after ``fork``).
    """

    def __init__(self, engine: Engine, url: str, where: str) -> None:
        self.engine = engine
        self.url = url
        #: What error messages call the database (the file path for SQLite).
        self.where = where
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.is_postgres = engine.dialect.name == "postgresql"
        self._conns: dict[str, Connection] = {}

    # -- opening --------------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, busy_timeout: float = 5.0) -> Store:
        """Open (creating or upgrading) the queue at ``url`` (see :func:`resolve_url`).

        ``busy_timeout`` is how many seconds a write waits for another process's write transaction.
        Raises :class:`SchemaVersionError` for a newer schema, :class:`DatabaseLockedError` past the busy
        timeout, and :class:`StoreError` for a file that cannot be used (read-only, corrupt, not ours).
        """
        full = resolve_url(url)
        sa_url = sa.engine.make_url(full)
        if sa_url.get_backend_name() == "sqlite":
            database = sa_url.database or ""
            where = database
            if database and database != ":memory:":
                path = Path(database)
                if path.is_dir():
                    raise StoreError(f"{database}: is a directory, not a queue database")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"{database}: cannot create its directory ({exc})") from exc
            # AUTOCOMMIT: SQLAlchemy emits no BEGIN/COMMIT of its own; _transaction() does.
            engine = sa.create_engine(
                full, connect_args={"timeout": busy_timeout}, isolation_level="AUTOCOMMIT"
            )
            _install_sqlite_hooks(engine, busy_timeout)
        else:
            where = sa_url.render_as_string(hide_password=True)
            engine = sa.create_engine(full, pool_pre_ping=True)
        store = cls(engine, full, where)
        try:
            store._prepare()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        """Release every connection."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self) -> None:
        """Check the schema revision (fast path: one SELECT) and migrate when it is older than ours."""
        with self._read() as conn:
            revision, has_tables = _stored_revision(conn)
        if revision == SCHEMA_HEAD:
            self._enable_wal()
            return
        known = _known_revisions()
        if revision is not None and revision not in known:
            raise SchemaVersionError(
                f"{self.where}: schema revision {revision!r} is newer than this campaign understands "
                f"(newest known: {SCHEMA_HEAD}); upgrade campaign. The database was not changed."
            )
        if revision is None and has_tables:
            raise StoreError(f"{self.where}: not a campaign queue database (it has other tables)")
        self._enable_wal()
        with self._write() as conn:
            if self.is_postgres:
                # SQLite's BEGIN IMMEDIATE is the write lock; PostgreSQL needs one to migrate only once.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATE_LOCK)))
            # Re-read under the write lock: another process may have migrated meanwhile.
            revision, _ = _stored_revision(conn)
            if revision != SCHEMA_HEAD:
                logger.info("migrating queue database", extra={"action": "migrate", "from": revision})
                _run_migrations(conn)

    def _enable_wal(self) -> None:
        if not self.is_sqlite:
            return
        with self._translate(), self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # Outside any transaction (the mode cannot change inside one); persistent in the file.
            mode = raw.execute("PRAGMA journal_mode=WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                raise StoreError(f"{self.where}: cannot switch the database to WAL mode (got {mode})")

    # -- transactions ---------------------------------------------------------------------------------

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            raise translate_error(exc, self.where) from exc
        except sqlite3.Error as exc:
            raise translate_error(exc, self.where) from exc

    def _connection(self, kind: str) -> Connection:
        # One long-lived connection per kind: checking one out of the pool per transaction costs more
        # than the statements of a hot-path transaction (bench_store.py).
        conn = self._conns.get(kind)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conns[kind] = self.engine.connect()
        return conn

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
    def _transaction(self, kind: str, begin: str) -> Iterator[Connection]:
        try:
            conn = self._connection(kind)
            if not self.is_sqlite:
                with conn.begin():
                    yield conn
                return
            # SQLite: the engine runs in driver autocommit (SQLAlchemy's documented pysqlite recipe
            # replaces the driver's BEGIN with ours); we emit BEGIN/COMMIT on the driver connection, which
            # also keeps SQLAlchemy's per-statement event dispatch off the hot path.
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(begin)
            try:
                yield conn
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
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
    ) -> Row[Any]:
        """Move one post from one of ``expect`` to ``to`` and log it; leased states must match ``owner``.

        Raises PostNotFoundError, LeaseLostError, or IllegalTransitionError (the post is left unchanged).
        """
        froms = _sources(to, tuple(expect))
        values = dict(values or {})
        params: dict[str, Any] = {"p_id": post_id, "p_owner": owner, "p_updated_at": now}
        if extra_where:
            stmt = _move_statement(to, froms, values, extra_where)
        else:
            # Cache by shape: module-level SQL expressions (like _INCREMENT_ATTEMPTS) keep their identity.
            shape = tuple(
                sorted((k, id(v) if isinstance(v, sa.ClauseElement) else 0) for k, v in values.items())
            )
            key = (to, froms, shape)
            cached = _MOVE_CACHE.get(key)
            if cached is None:
                cached = _MOVE_CACHE[key] = _move_statement(to, froms, values, ())
            stmt = cached
        params.update({f"p_{k}": v for k, v in values.items() if not isinstance(v, sa.ClauseElement)})
        row = conn.execute(stmt, params).first()
        if row is None:
            self._diagnose(conn, post_id, to, froms, owner)
        assert row is not None
        conn.execute(
            _INSERT_EVENT,
            {
                "post_id": post_id,
                "at": now,
                "from_status": row.previous_status,
                "to_status": to.value,
                "actor": actor,
                "reason": reason,
            },
        )
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
            conn.execute(_INSERT_EVENT, params)
        return [p["post_id"] for p in params]

    def _bump(self, conn: Connection) -> None:
        stmt = sa.update(QUEUE).where(QUEUE.c.id == 1).values(revision=QUEUE.c.revision + 1)
        if not self.is_postgres:
            conn.execute(stmt)
            return
        revision = conn.execute(stmt.returning(QUEUE.c.revision)).scalar_one()
        # Delivered to every LISTENing daemon when (and only if) this transaction commits.
        conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(revision))))

    # -- daemon hot path ------------------------------------------------------------------------------

    def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, limit: int, *, per_account: int | None = None
    ) -> list[ClaimedPost]:
        """Lease up to ``limit`` posts due at or before ``now``, earliest first, in one atomic statement.

        Skips accounts blocked past ``now`` or paused, and paused campaigns. The lease lasts
        ``lease_seconds`` from ``now`` (extend it with :meth:`heartbeat`). Each claimed post is logged with
        ``owner`` as actor.

        ``per_account`` (optional) caps the posts of one account in flight (``claimed`` or ``sending``, by
        any owner in any process) after the claim: an account already at the cap gets nothing, one below it
        gets its earliest due posts up to the cap. Claims with a cap look at the first ``8 * limit`` due
        posts of accounts below their cap, so a claim may return fewer than ``limit`` while more are due.
        """
        now = _aware(now)
        if limit <= 0:
            return []
        if per_account is not None and per_account <= 0:
            raise ValueError(f"per_account must be positive, got {per_account}")
        p = POSTS
        expires = now + timedelta(seconds=lease_seconds)
        due = (
            sa.select(p.c.id)
            # Literal text identical to ix_posts_due's WHERE, so the planner may use the partial index.
            .where(sa.text(CLAIMABLE_SQL), p.c.next_attempt_at <= now)
            .order_by(p.c.next_attempt_at, p.c.id)
            .limit(limit)
            .correlate(None)
        )
        if per_account is None:
            due = due.where(*_claimable_accounts(now))
        else:
            due = due.where(p.c.id.in_(_under_cap(now, per_account, limit * _PREFIX_FACTOR)))
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (
            sa.update(p)
            .where(p.c.id.in_(due))
            .values(
                status=Status.CLAIMED.value,
                previous_status=p.c.status,
                lease_owner=owner,
                lease_expires_at=expires,
                updated_at=now,
            )
            .returning(*_CLAIM_COLUMNS)
        )
        with self._write() as conn:
            if per_account is not None and self.is_postgres:
                # Serialise capped claims; the claim statement below then sees every earlier one (docstring).
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
            rows = conn.execute(stmt).all()
            self._events(conn, rows, Status.CLAIMED, now, owner)
        claimed = [
            ClaimedPost(
                id=r.id,
                campaign=r.campaign,
                post_key=r.post_key,
                occurrence=r.occurrence,
                channel=r.channel,
                account=r.account,
                parts=tuple(r.parts),
                link=_link_from(r.link),
                idempotency_key=r.idempotency_key,
                part_receipts=_receipts_from(r.part_receipts),
                attempts=r.attempts,
                scheduled_at=r.scheduled_at,
                due_at=r.next_attempt_at,
                send_late=bool(r.send_late),
                late_window=timedelta(seconds=r.late_window_seconds),
                lease_owner=r.lease_owner,
                lease_expires_at=r.lease_expires_at,
            )
            for r in rows
        ]
        claimed.sort(key=lambda c: (c.due_at, c.id))  # RETURNING order is unspecified
        return claimed

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
        now = _aware(now)
        with self._write() as conn:
            row = conn.execute(
                sa.select(POSTS.c.status, POSTS.c.part_receipts).where(POSTS.c.id == post_id)
            ).first()
            if row is None:
                raise PostNotFoundError(f"no queued post with id {post_id}")
            if row.status not in (Status.SENDING, Status.UNKNOWN):
                raise IllegalTransitionError(
                    f"post {post_id} is {row.status}; parts are recorded while sending"
                )
            receipts = list(row.part_receipts or [])
            if not 0 <= index <= len(receipts):
                raise IllegalTransitionError(
                    f"post {post_id}: part {index} recorded before part {len(receipts)}"
                )
            receipts[index : index + 1] = [_receipt_json(receipt)]
            conn.execute(
                sa.update(POSTS).where(POSTS.c.id == post_id).values(part_receipts=receipts, updated_at=now)
            )

    def mark_sent(self, post_id: int, receipt: Receipt, *, owner: str, now: datetime) -> None:
        """sending (leased by ``owner``) or unknown -> sent, with the post's receipt (a thread's first part).

        Counts the send in the account's daily counter (UTC day of ``now``).
        """
        now = _aware(now)
        with self._write() as conn:
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



    def release(self, post_ids: Iterable[int], *, owner: str, now: datetime) -> list[int]:
        """claimed (leased by ``owner``) -> scheduled, keeping their due time (a daemon shutting down).

        Posts already ``sending`` are not released (their outcome is pending). Returns the released ids.
        """
        now = _aware(now)
        ids = list(post_ids)
        if not ids:
            return []
        p = POSTS
        sources(Status.SCHEDULED, among=(Status.CLAIMED,))
        stmt = (
            sa.update(p)
            .where(p.c.id.in_(ids), p.c.status == Status.CLAIMED.value, p.c.lease_owner == owner)
            .values(
                status=Status.SCHEDULED.value,
                previous_status=p.c.status,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(p.c.id, p.c.previous_status)
        )
        with self._write() as conn:
            rows = conn.execute(stmt).all()
            released = self._events(conn, rows, Status.SCHEDULED, now, owner, "released")
            if released:
                self._bump(conn)
        return sorted(released)

    def heartbeat(self, owner: str, until: datetime, *, now: datetime) -> int:
        """Extend every lease ``owner`` holds to ``until``; returns how many posts it still holds.

        ``now`` guards against reviving a lease that already expired (those are left for recovery).
        """
        now, until = _aware(now), _aware(until, "until")
        p = POSTS
        stmt = (
            sa.update(p)
            .where(
                p.c.lease_owner == owner,
                p.c.status.in_([s.value for s in LEASED]),
                p.c.lease_expires_at >= now,
            )
            .values(lease_expires_at=until)
        )
        with self._write() as conn:
            return int(conn.execute(stmt).rowcount)

    def recover_expired(
        self, now: datetime, *, actor: str = "recovery", expired_before: datetime | None = None
    ) -> Recovered:
        """Leases expired before ``now``: claimed -> scheduled (not sent), sending -> unknown.

        ``expired_before`` (default ``now``) moves the cut-off: a lone SQLite daemon holding the daemon lock
        knows every lease is a dead process's and passes a time after every lease (dispatcher, issue 5).
        """
        now = _aware(now)
        cutoff = now if expired_before is None else _aware(expired_before, "expired_before")
        p = POSTS
        sources(Status.SCHEDULED, among=(Status.CLAIMED,))
        sources(Status.UNKNOWN, among=(Status.SENDING,))
        # The literal status term matches ix_posts_lease's WHERE.
        expired = sa.and_(sa.text(_LEASED_SQL), p.c.lease_expires_at < cutoff)

        def rows_in(status: Status) -> sa.ColumnElement[bool]:
            if not self.is_postgres:
                return sa.and_(expired, p.c.status == status.value)
            # Lock without waiting: a row another transaction holds (a heartbeat, another daemon's
            # recovery, the owner's own mark) is left for the next pass instead of risking a deadlock.
            locked = (
                sa.select(p.c.id).where(expired, p.c.status == status.value).with_for_update(skip_locked=True)
            )
            return sa.and_(p.c.id.in_(locked), expired, p.c.status == status.value)

        with self._write() as conn:
            requeued = conn.execute(
                sa.update(p)
                .where(rows_in(Status.CLAIMED))
                .values(
                    status=Status.SCHEDULED.value,
                    previous_status=p.c.status,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(p.c.id, p.c.previous_status)
            ).all()
            unknown = conn.execute(
                sa.update(p)
                .where(rows_in(Status.SENDING))
                .values(
                    status=Status.UNKNOWN.value,
                    previous_status=p.c.status,
                    last_error=sa.literal("lease expired while sending (") + p.c.lease_owner + ")",
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(p.c.id, p.c.previous_status)
            ).all()
            a = self._events(conn, requeued, Status.SCHEDULED, now, actor, "lease expired before sending")
            b = self._events(conn, unknown, Status.UNKNOWN, now, actor, "lease expired while sending")
            if a or b:
                self._bump(conn)
        return Recovered(requeued=tuple(sorted(a)), unknown=tuple(sorted(b)))

    def next_due_at(self, now: datetime, *, per_account: int | None = None) -> datetime | None:
        """When a claim could next succeed (UTC), or None when nothing is waiting.

        The earliest due post of an account that is not held, or the end of a block that holds an account
        with waiting posts. May be at or before ``now`` (then claim right away). With ``per_account``
        (as given to :meth:`claim_due`), accounts at their cap of posts in flight are left out: their next
        post becomes claimable when a post in flight ends, which this query cannot date (the daemon that
        holds it claims the next one itself; others notice at their safety tick).
        """
        now = _aware(now)
        p, a = POSTS, ACCOUNTS
        first = (
            sa.select(p.c.next_attempt_at)
            .where(sa.text(CLAIMABLE_SQL), *_claimable_accounts(now))
            .order_by(p.c.next_attempt_at)
            .limit(1)
        )
        if per_account is not None:
            first = first.where(_in_flight(p.c.account) < per_account)
        blocked = (
            sa.select(sa.func.min(a.c.blocked_until))
            .where(a.c.blocked_until > now, a.c.paused == sa.false())
            .where(
                sa.exists().where(p.c.account == a.c.account, p.c.status.in_([s.value for s in CLAIMABLE]))
            )
        )
        with self._read() as conn:
            due = conn.execute(first).scalar()
            unblock = conn.execute(blocked).scalar()
        times = [_from_db(t) for t in (due, unblock) if t is not None]
        return min(times) if times else None

    # -- shared account state -------------------------------------------------------------------------

    def block_account(
        self, account: str, until: datetime, *, now: datetime, reason: str | None = None
    ) -> None:
        """Hold every claim for ``account`` until ``until`` (UTC); a later block already stored wins."""
        now, until = _aware(now), _aware(until, "until")
        with self._write() as conn:
            current = self._account_row(conn, account, now)
            if current.blocked_until is not None and _from_db(current.blocked_until) >= until:
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

    def _account_row(self, conn: Connection, account: str, now: datetime) -> Row[Any]:
        """The account's row, created when missing (inside the caller's write transaction)."""
        row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.account == account)).first()
        if row is None:
            self._ensure_account(conn, account, now)
            row = conn.execute(sa.select(ACCOUNTS).where(ACCOUNTS.c.account == account)).first()
        assert row is not None
        return row

    def _count_send(self, conn: Connection, account: str, now: datetime) -> None:
        day = now.date().isoformat()
        params = {"p_account": account, "p_day": day, "p_now": now}
        if not conn.execute(_COUNT_SEND, params).rowcount:
            # First send of this account: create its row (race-free), then count as usual.
            self._ensure_account(conn, account, now)
            conn.execute(_COUNT_SEND, params)

    def queue_revision(self) -> int:
        """A counter bumped by apply, cancel, retry, pause, resume, release and recovery (cheap to poll)."""
        with self._read() as conn:
            return int(conn.execute(sa.select(QUEUE.c.revision).where(QUEUE.c.id == 1)).scalar_one())

    def watch(self, *, poll_seconds: float = 1.0) -> ChangeWatcher:
        """A :class:`ChangeWatcher` on this queue (close it, or use it as a context manager).

        PostgreSQL: LISTENs on its own connection. SQLite: polls :meth:`queue_revision` every
        ``poll_seconds`` while waiting.
        """
        return ChangeWatcher(self, poll_seconds=poll_seconds)

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a change by any process; True when one happened meanwhile.

        One-shot convenience (opens and closes a watcher, so only changes made during the call count);
        a daemon keeps one :meth:`watch` open instead.
        """
        with self.watch() as watcher:
            return watcher.wait(timeout)

    # -- dispatcher support (issue 5) -----------------------------------------------------------------

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
        errors: list[StoreError | None] = []
        if not marks:
            return errors
        with self._write() as conn:
            for mark in marks:
                try:
                    self._apply_mark(conn, mark, owner)
                except StoreError as exc:  # raised before the post's row changed: the others go on
                    errors.append(exc)
                else:
                    errors.append(None)
        return errors

    def _apply_mark(self, conn: Connection, mark: Mark, owner: str) -> None:
        """One :class:`Mark` inside the caller's write transaction (the bodies of the single-post methods)."""
        now = _aware(mark.now)
        done = {"lease_owner": None, "lease_expires_at": None}
        if mark.kind == "sending":
            self._move(conn, mark.post_id, Status.SENDING, expect=(Status.CLAIMED,), now=now, actor=owner,
                       owner=owner, values={"attempts": _INCREMENT_ATTEMPTS})
        elif mark.kind == "sent":
            first = mark.receipts[0]
            values: dict[str, Any] = {
                "remote_id": first.remote_id, "remote_url": first.url, "last_error": None, **done,
                "part_receipts": [_receipt_json(r) for r in mark.receipts],
            }
            row = self._move(conn, mark.post_id, Status.SENT, expect=(Status.SENDING, Status.UNKNOWN),
                             now=now, actor=owner, owner=owner, values=values)
            self._count_send(conn, row.account, now)
        elif mark.kind in ("retry", "defer"):
            assert mark.until is not None
            values = {"next_attempt_at": _aware(mark.until, "until"), "last_error": mark.reason, **done}
            if mark.kind == "defer":
                values["attempts"] = _REFUND_ATTEMPT
            self._move(conn, mark.post_id, Status.RETRY_WAIT, expect=(Status.SENDING, Status.CLAIMED),
                       now=now, actor=owner, owner=owner, reason=mark.reason, values=values)
        else:
            to, expect = {
                "failed": (Status.FAILED, (Status.SENDING, Status.CLAIMED)),
                "unknown": (Status.UNKNOWN, (Status.SENDING,)),
                "missed": (Status.MISSED, (Status.CLAIMED,)),
            }[mark.kind]
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
            return [_queued(r) for r in conn.execute(stmt).all()]

    def requeue_unknown(self, post_id: int, *, now: datetime, actor: str, reason: str) -> None:
        """unknown -> scheduled, due ``now``: a retry proven safe (platform deduplicates, or found absent)."""
        now = _aware(now)
        with self._write() as conn:
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
        """When each post of ``account`` sent at or after ``since`` became ``sent`` (UTC, oldest first)."""
        p = POSTS
        stmt = (
            sa.select(p.c.updated_at)
            .where(p.c.account == account, p.c.status == Status.SENT.value, p.c.updated_at >= _aware(since))
            .order_by(p.c.updated_at)
        )
        with self._read() as conn:
            return [_from_db(t) for t in conn.execute(stmt).scalars()]

    # -- people (CLI) ---------------------------------------------------------------------------------

    def get_post(self, post_id: int) -> QueuedPost:
        """One post; raises PostNotFoundError."""
        with self._read() as conn:
            row = conn.execute(sa.select(POSTS).where(POSTS.c.id == post_id)).first()
        if row is None:
            raise PostNotFoundError(f"no queued post with id {post_id}")
        return _queued(row)

    def history(self, post_id: int) -> list[PostEventView]:
        """The post's status changes, oldest first."""
        e = EVENTS
        with self._read() as conn:
            rows = conn.execute(
                sa.select(e.c.at, e.c.from_status, e.c.to_status, e.c.actor, e.c.reason)
                .where(e.c.post_id == post_id)
                .order_by(e.c.id)
            ).all()
        return [PostEventView(r.at, r.from_status, r.to_status, r.actor, r.reason) for r in rows]

    def counts(self, campaign: str | None = None) -> dict[str, int]:
        """Number of posts per status (only statuses that occur)."""
        p = POSTS
        stmt = sa.select(p.c.status, sa.func.count()).group_by(p.c.status)
        if campaign is not None:
            stmt = stmt.where(p.c.campaign == campaign)
        with self._read() as conn:
            return {status: int(n) for status, n in conn.execute(stmt).all()}

    def upcoming(self, campaign: str | None = None, limit: int = 10) -> list[QueuedPost]:
        """The next ``limit`` waiting (scheduled or retry_wait) posts, earliest due first."""
        p = POSTS
        stmt = sa.select(p).where(sa.text(CLAIMABLE_SQL)).order_by(p.c.next_attempt_at, p.c.id).limit(limit)
        if campaign is not None:
            stmt = stmt.where(p.c.campaign == campaign)
        with self._read() as conn:
            return [_queued(r) for r in conn.execute(stmt).all()]

    def cancel(
        self, post_ids: Iterable[int], *, now: datetime, actor: str = "cli", reason: str = "cancelled"
    ) -> None:
        """Cancel every listed post (scheduled, retry_wait, paused or unknown), all or none."""
        now = _aware(now)
        with self._write() as conn:
            for post_id in post_ids:
                self._move(
                    conn,
                    post_id,
                    Status.CANCELLED,
                    expect=sources(Status.CANCELLED),
                    now=now,
                    actor=actor,
                    reason=reason,
                )
            self._bump(conn)

    def retry(self, post_ids: Iterable[int], *, now: datetime, actor: str = "cli") -> None:
        """failed, unknown or missed -> scheduled, due at ``now`` (all or none).

        For ``unknown`` posts this is the person's word that sending again is acceptable.
        """
        now = _aware(now)
        with self._write() as conn:
            for post_id in post_ids:
                self._move(
                    conn,
                    post_id,
                    Status.SCHEDULED,
                    expect=(Status.FAILED, Status.UNKNOWN, Status.MISSED),
                    now=now,
                    actor=actor,
                    reason="explicit retry",
                    values={"next_attempt_at": now},
                )
            self._bump(conn)

    def pause(
        self, *, campaign: str | None = None, account: str | None = None, now: datetime, actor: str = "cli"
    ) -> list[int]:
        """Pause a campaign or an account: its waiting posts become paused, and claims skip it from now on.

        Posts `apply` adds later to a paused campaign or account are added as paused. Returns moved ids.
        """
        now = _aware(now)
        scope = self._scope(campaign, account)
        p = POSTS
        stmt = (
            sa.update(p)
            .where(scope, p.c.status.in_([s.value for s in sources(Status.PAUSED, among=PAUSABLE)]))
            .values(status=Status.PAUSED.value, previous_status=p.c.status, updated_at=now)
            .returning(p.c.id, p.c.previous_status)
        )
        return self._pause_change(stmt, campaign, account, paused=True, now=now, actor=actor)

    def resume(
        self, *, campaign: str | None = None, account: str | None = None, now: datetime, actor: str = "cli"
    ) -> list[int]:
        """Undo :meth:`pause`: paused posts not still held by the other kind of pause become scheduled.

        They keep their due time; the daemon's lateness rule decides whether they are still worth sending.
        """
        now = _aware(now)
        scope = self._scope(campaign, account)
        p = POSTS
        still_accounts = sa.select(ACCOUNTS.c.account).where(ACCOUNTS.c.paused == sa.true())
        still_campaigns = sa.select(CAMPAIGNS.c.campaign).where(CAMPAIGNS.c.paused == sa.true())
        stmt = (
            sa.update(p)
            .where(
                scope,
                p.c.status.in_([s.value for s in sources(Status.SCHEDULED, among=(Status.PAUSED,))]),
                p.c.account.not_in(still_accounts),
                p.c.campaign.not_in(still_campaigns),
            )
            .values(status=Status.SCHEDULED.value, previous_status=p.c.status, updated_at=now)
            .returning(p.c.id, p.c.previous_status)
        )
        return self._pause_change(stmt, campaign, account, paused=False, now=now, actor=actor)

    def _pause_change(
        self, stmt: Any, campaign: str | None, account: str | None, *, paused: bool, now: datetime, actor: str
    ) -> list[int]:
        """Record the pause flag and move the posts ``stmt`` selects, with events, in one transaction."""
        to, reason = (Status.PAUSED, "paused") if paused else (Status.SCHEDULED, "resumed")
        with self._write() as conn:
            self._set_paused(conn, campaign, account, paused, now)
            rows = conn.execute(stmt).all()
            moved = self._events(conn, rows, to, now, actor, reason)
            self._bump(conn)
        return sorted(moved)

    @staticmethod
    def _scope(campaign: str | None, account: str | None) -> sa.ColumnElement[bool]:
        if (campaign is None) == (account is None):
            raise StoreError("pause/resume takes exactly one of a campaign or an account")
        if campaign is not None:
            return POSTS.c.campaign == campaign
        return POSTS.c.account == account

    def _set_paused(
        self, conn: Connection, campaign: str | None, account: str | None, paused: bool, now: datetime
    ) -> None:
        if account is not None:
            self._account_row(conn, account, now)
            conn.execute(
                sa.update(ACCOUNTS).where(ACCOUNTS.c.account == account).values(paused=paused, updated_at=now)
            )
            return
        c = CAMPAIGNS
        conn.execute(  # race-free creation (two machines may pause at once on PostgreSQL)
            self._insert_ignoring_duplicates(c, "campaign"),
            {"campaign": campaign, "paused": paused, "updated_at": now},
        )
        conn.execute(sa.update(c).where(c.c.campaign == campaign).values(paused=paused, updated_at=now))

    def paused_scope(self, campaign: str) -> tuple[bool, frozenset[str]]:
        """(is ``campaign`` paused, the set of paused accounts)."""
        with self._read() as conn:
            return self._paused_scope(conn, campaign)

    @staticmethod
    def _paused_scope(conn: Connection, campaign: str) -> tuple[bool, frozenset[str]]:
        c_paused = conn.execute(
            sa.select(CAMPAIGNS.c.paused).where(CAMPAIGNS.c.campaign == campaign)
        ).scalar()
        accounts = conn.execute(sa.select(ACCOUNTS.c.account).where(ACCOUNTS.c.paused == sa.true())).scalars()
        return bool(c_paused), frozenset(accounts)

    # -- bulk copy (`campaign db copy`) ----------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        """Rows per copied table (:data:`COPY_TABLES`)."""
        count = sa.func.count()
        with self._read() as conn:
            return {t.name: conn.execute(sa.select(count).select_from(t)).scalar_one() for t in COPY_TABLES}

    def holds_queue_data(self) -> bool:
        """True when any post, event, account or campaign state is stored (the revision row aside)."""
        counts = self.row_counts()
        return any(n for name, n in counts.items() if name != QUEUE.name)

    @contextmanager
    def snapshot(self, batch: int = 5000) -> Iterator[Callable[[str], Iterator[list[dict[str, Any]]]]]:
        """A consistent read of the whole queue: yields ``rows(table)``, which streams that table's rows in
        primary-key order as column dicts, ``batch`` at a time, all from one snapshot (SQLite: one read
        transaction in WAL mode; PostgreSQL: REPEATABLE READ READ ONLY, server-side cursors)."""
        with self._read() as conn:
            if self.is_postgres:
                # Must be the transaction's first statement
                # (https://www.postgresql.org/docs/current/sql-set-transaction.html).
                conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))

            def rows(name: str) -> Iterator[list[dict[str, Any]]]:
                table = _COPY_BY_NAME[name]
                stmt = sa.select(table).order_by(*table.primary_key.columns)
                result = conn.execution_options(yield_per=batch).execute(stmt)
                for part in result.mappings().partitions(batch):
                    yield [dict(r) for r in part]

            yield rows

    def replace_all(self, rows: Callable[[str], Iterable[Sequence[Mapping[str, Any]]]]) -> None:
        """Replace the whole queue with ``rows(table)`` for each of :data:`COPY_TABLES` (ids kept), in one
        write transaction; then move id sequences past the copied ids (PostgreSQL) and announce a change.

        Callers check emptiness and daemon locks first (:mod:`campaign.queue.copy`).
        """
        with self._write() as conn:
            for table in reversed(COPY_TABLES):  # children first (post_events references posts)
                conn.execute(sa.delete(table))
            for table in COPY_TABLES:
                for batch in rows(table.name):
                    if batch:
                        conn.execute(sa.insert(table), list(batch))
            if self.is_postgres:
                for table in (POSTS, EVENTS):
                    # SERIAL ids: the next id handed out must follow the copied ones.
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )
            if conn.execute(sa.select(QUEUE.c.id).where(QUEUE.c.id == 1)).first() is None:
                conn.execute(sa.insert(QUEUE), {"id": 1, "revision": 0})
            self._bump(conn)
        logger.info("queue replaced by a copy", extra={"action": "copy"})

    # -- planner support ------------------------------------------------------------------------------

    def campaign_posts(self, campaign: str) -> list[QueuedPost]:
        """Every queued post of ``campaign`` (any status), by id."""
        p = POSTS
        with self._read() as conn:
            rows = conn.execute(sa.select(p).where(p.c.campaign == campaign).order_by(p.c.id)).all()
        return [_queued(r) for r in rows]

    def cancelled_by(self, post_ids: Iterable[int]) -> dict[int, str]:
        """For each listed post, the actor of its latest event (who cancelled a cancelled post)."""
        ids = list(post_ids)
        result: dict[int, str] = {}
        e = EVENTS
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                latest = (
                    sa.select(sa.func.max(e.c.id)).where(e.c.post_id.in_(chunk)).group_by(e.c.post_id)
                ).scalar_subquery()
                rows = conn.execute(sa.select(e.c.post_id, e.c.actor).where(e.c.id.in_(latest))).all()
                result.update({r.post_id: r.actor for r in rows})
        return result

    def apply_changes(
        self,
        *,
        add: Sequence[PlannedPost] = (),
        update: Sequence[Update] = (),
        readd: Sequence[Update] = (),
        cancel: Sequence[Cancel] = (),
        now: datetime,
        actor: str = APPLY_ACTOR,
    ) -> ApplyResult:
        """Make exactly these changes in one write transaction, re-validating each against the queue.

        An update, re-add or cancel whose post changed status or was touched since it was planned (seen
        status and ``updated_at``) is skipped, never overwritten; an add whose key exists is skipped.
        New posts of a paused campaign or account are added as paused.
        """
        now = _aware(now)
        p = POSTS
        added: list[int] = []
        updated: list[int] = []
        readded: list[int] = []
        cancelled: list[int] = []
        skipped: list[str] = []
        with self._write() as conn:
            paused_by_campaign: dict[str, tuple[bool, frozenset[str]]] = {}

            def is_paused(post: PlannedPost) -> bool:
                if post.campaign not in paused_by_campaign:
                    paused_by_campaign[post.campaign] = self._paused_scope(conn, post.campaign)
                c_paused, accounts = paused_by_campaign[post.campaign]
                return c_paused or post.account in accounts

            if add:
                added, dup = self._insert(conn, add, now, actor, is_paused)
                skipped.extend(f"{key}: already queued" for key in dup)
            for up in update:
                row = conn.execute(
                    sa.update(p)
                    .where(
                        p.c.id == up.post_id,
                        p.c.status == up.seen_status,
                        p.c.status.in_([s.value for s in PLANNABLE]),
                        p.c.updated_at == up.seen_updated_at,
                    )
                    .values(_update_values(up.post, now))
                    .returning(p.c.id)
                ).first()
                if row is None:
                    skipped.append(f"post {up.post_id}: changed meanwhile")
                else:
                    updated.append(up.post_id)
            for up in readd:
                to = Status.PAUSED if is_paused(up.post) else Status.SCHEDULED
                try:
                    self._move(
                        conn,
                        up.post_id,
                        to,
                        expect=(Status.CANCELLED,),
                        now=now,
                        actor=actor,
                        reason="back in the campaign file",
                        values=_planned_values(up.post, now),
                        extra_where=(p.c.updated_at == up.seen_updated_at,),
                    )
                    readded.append(up.post_id)
                except (IllegalTransitionError, StoreError):
                    skipped.append(f"post {up.post_id}: changed meanwhile")
            for c in cancel:
                try:
                    self._move(
                        conn,
                        c.post_id,
                        Status.CANCELLED,
                        expect=(Status(c.seen_status),),
                        now=now,
                        actor=actor,
                        reason=c.reason,
                        extra_where=(p.c.updated_at == c.seen_updated_at,),
                    )
                    cancelled.append(c.post_id)
                except (IllegalTransitionError, StoreError):
                    skipped.append(f"post {c.post_id}: changed meanwhile")
            if added or updated or readded or cancelled:
                self._bump(conn)
        return ApplyResult(
            added=tuple(added),
            updated=tuple(updated),
            readded=tuple(readded),
            cancelled=tuple(cancelled),
            skipped=tuple(skipped),
        )

    def _insert(
        self,
        conn: Connection,
        posts: Sequence[PlannedPost],
        now: datetime,
        actor: str,
        is_paused: Any,
    ) -> tuple[list[int], list[str]]:
        rows = []
        for post in posts:
            status = Status.PAUSED if is_paused(post) else Status.SCHEDULED
            rows.append(
                {
                    "campaign": post.campaign,
                    "post_key": post.post_key,
                    "occurrence": post.occurrence,
                    "channel": post.channel,
                    "account": post.account,
                    "idempotency_key": post.idempotency_key,
                    "status": status.value,
                    "previous_status": None,
                    "attempts": 0,
                    "part_receipts": [],
                    "created_at": now,
                    **_planned_values(post, now),
                }
            )
        stmt = self._insert_ignoring_duplicates().returning(
            POSTS.c.id, POSTS.c.idempotency_key, POSTS.c.status
        )
        ids: list[int] = []
        events: list[dict[str, Any]] = []
        seen: set[str] = set()
        # SQLAlchemy batches an executemany with RETURNING into multi-row INSERTs ("insertmanyvalues").
        for start in range(0, len(rows), 5000):
            result = conn.execute(stmt, rows[start : start + 5000])
            for r in result.all():
                ids.append(r.id)
                seen.add(r.idempotency_key)
                events.append(
                    {
                        "post_id": r.id,
                        "at": now,
                        "from_status": None,
                        "to_status": r.status,
                        "actor": actor,
                        "reason": "added",
                    }
                )
        if events:
            conn.execute(sa.insert(EVENTS), events)
        duplicates = [row["idempotency_key"] for row in rows if row["idempotency_key"] not in seen]
        return ids, duplicates

    def _insert_ignoring_duplicates(self, table: sa.Table = POSTS, key: str = "idempotency_key") -> Any:
        """``INSERT ... ON CONFLICT (key) DO NOTHING`` in this database's dialect (race-free on PostgreSQL,
        where two daemons may create the same row at once)."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=[key])

    def _ensure_account(self, conn: Connection, account: str, now: datetime) -> None:
        """Create the account's state row if it does not exist (several daemons may try at once)."""
        conn.execute(
            self._insert_ignoring_duplicates(ACCOUNTS, "account"),
            {"account": account, "paused": False, "sent_today": 0, "updated_at": now},
        )


_LEASED_SQL = sql_in(LEASED)
#: What `campaign db copy` copies, parents first (the Alembic version table is each database's own).
COPY_TABLES: tuple[sa.Table, ...] = (POSTS, EVENTS, ACCOUNTS, CAMPAIGNS, QUEUE)
_COPY_BY_NAME = {t.name: t for t in COPY_TABLES}


def _claimable_accounts(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """Post terms: its account is neither paused nor blocked past ``now``, its campaign not paused."""
    a, p = ACCOUNTS, POSTS
    held = sa.select(a.c.account).where(sa.or_(a.c.paused == sa.true(), a.c.blocked_until > now))
    paused = sa.select(CAMPAIGNS.c.campaign).where(CAMPAIGNS.c.paused == sa.true())
    return (p.c.account.not_in(held), p.c.campaign.not_in(paused))


def _in_flight(account: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    """Posts of ``account`` (a correlated column) that are claimed or sending, by anyone."""
    busy = POSTS.alias("busy")
    return (
        sa.select(sa.func.count())
        .select_from(busy)
        # ix_posts_account_status (account, status) answers this with an index range.
        .where(busy.c.account == account, busy.c.status.in_([s.value for s in LEASED]))
        .scalar_subquery()
    )


def _under_cap(now: datetime, cap: int, prefix: int) -> sa.Select[Any]:
    """Ids a capped claim may take: among the first ``prefix`` due posts of accounts below ``cap`` in flight,
    each account's earliest ``cap - in_flight``. Window functions may not share a query level with FOR
    UPDATE on PostgreSQL, so the ranking is a subquery of the locking SELECT."""
    p = POSTS
    head = (
        sa.select(p.c.id, p.c.account, p.c.next_attempt_at, _in_flight(p.c.account).label("busy"))
        .where(sa.text(CLAIMABLE_SQL), p.c.next_attempt_at <= now, *_claimable_accounts(now))
        .where(_in_flight(p.c.account) < cap)
        .order_by(p.c.next_attempt_at, p.c.id)
        .limit(prefix)
        .subquery("head")
    )
    rank = (
        sa.func.row_number()
        .over(partition_by=head.c.account, order_by=(head.c.next_attempt_at, head.c.id))
        .label("rank")
    )
    ranked = sa.select(head.c.id, head.c.busy, rank).subquery("ranked")
    return sa.select(ranked.c.id).where(ranked.c.rank <= cap - ranked.c.busy)


def _update_values(post: PlannedPost, now: datetime) -> dict[str, Any]:
    values = _planned_values(post, now)
    due = values.pop("next_attempt_at")
    # A retry_wait post keeps its backoff when that ends later than the new time.
    values["next_attempt_at"] = sa.case(
        (
            sa.and_(POSTS.c.status == Status.RETRY_WAIT.value, POSTS.c.next_attempt_at > due),
            POSTS.c.next_attempt_at,
        ),
        else_=sa.literal(due, POSTS.c.next_attempt_at.type),
    )
    return values


def _from_db(value: Any) -> datetime:
    """Aggregates (min) bypass the column type on SQLite and come back as text; normalise to aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- schema


def _stored_revision(conn: Connection) -> tuple[str | None, bool]:
    """(the Alembic revision stored, whether the database has any table at all)."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("alembic_version"):
        return None, bool(inspector.get_table_names())
    revisions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) != 1:
        return ("+".join(sorted(revisions)) or None), True
    return str(revisions[0]), True


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _run_migrations(conn: Connection, target: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), target)


def _install_sqlite_hooks(engine: Engine, busy_timeout: float) -> None:
    """Per-connection pragmas. Transactions are ours (:meth:`Store._transaction`), the driver's are off."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Disable the driver's implicit BEGIN so ours is the only one (and DDL stays transactional).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()


# ---------------------------------------------------------------------------------------------- watching


class ChangeWatcher:
    """Notices queue changes made by any process (apply, cancel, retry, pause, resume, release, recovery).

    Every such change bumps ``queue_state.revision`` (:meth:`Store.queue_revision`); on PostgreSQL the same
    transaction sends ``NOTIFY campaign_queue``, which this watcher LISTENs for on a dedicated autocommit
    connection, so a daemon on another machine wakes within milliseconds of the commit. On SQLite (one
    machine) it compares the revision, reading it at most every ``poll_seconds`` while waiting.

    For a daemon's event loop, either ``await watcher.wait_async(timeout)`` in a task, or register
    :meth:`fileno` with ``loop.add_reader`` and call :meth:`changed` when it is readable (re-read
    :meth:`fileno` afterwards: it changes when a lost connection is re-opened). Keep the safety tick: a
    notification sent while the watcher was reconnecting is lost (then :meth:`changed` reports a change,
    so nothing is missed, only noticed later).

    A spurious True (a change that needs nothing from the caller) is possible; a missed change is not,
    as long as the caller looks at the queue after every True. Not thread-safe. Raises nothing but
    :class:`StoreError` (a SQLite revision read that fails).
    """

    def __init__(self, store: Store, *, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._conn: Any = None  # psycopg.Connection (PostgreSQL only)
        self._revision: int | None = None
        if store.is_postgres:
            self._listen()
        else:
            self._revision = store.queue_revision()

    def _listen(self) -> None:
        # Through the engine's pool (same URL and connect arguments), detached: it lives outside the pool.
        raw = self.store.engine.raw_connection()
        conn: Any = raw.driver_connection  # read before detach(), which clears it
        raw.detach()
        try:
            conn.autocommit = True  # NOTIFY is delivered between transactions; LISTEN must not sit in one
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except Exception:
            raw.close()
            raise
        self._conn = conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to release
                logger.debug("closing a broken LISTEN connection failed", exc_info=True)

    def fileno(self) -> int | None:
        """A descriptor that becomes readable when a notification may be waiting (None on SQLite, or while
        the PostgreSQL connection is lost: then poll :meth:`changed`)."""
        if self._conn is None:
            return None
        return int(self._conn.fileno())

    def changed(self) -> bool:
        """Never blocks: True when the queue changed since the last call (or the watcher was created)."""
        if not self.store.is_postgres:
            revision = self.store.queue_revision()
            seen, self._revision = self._revision, revision
            return revision != seen
        return self._drain(0.0)

    def _drain(self, timeout: float) -> bool:
        if self._conn is None:
            try:
                self._listen()
            except Exception as exc:
                logger.warning("cannot LISTEN for queue changes: %s", exc, extra={"action": "listen"})
                return False
            # Changes made while the connection was down were not announced to us: report one.
            return True
        try:
            got = list(self._conn.notifies(timeout=timeout, stop_after=1))
            if got:  # take whatever else arrived in the same packets, without waiting
                got.extend(self._conn.notifies(timeout=0))
        except Exception as exc:
            logger.warning("lost the LISTEN connection: %s", exc, extra={"action": "listen"})
            self._drop()
            return True
        return bool(got)

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True as soon as a change is seen."""
        if self.store.is_postgres:
            return self._drain(max(0.0, timeout))
        import time

        deadline = time.monotonic() + timeout
        while True:
            if self.changed():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.poll_seconds, left))

    async def wait_async(self, timeout: float) -> bool:
        """Like :meth:`wait` without blocking the running event loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.changed():
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            fd = self.fileno()
            if fd is None:
                await asyncio.sleep(min(self.poll_seconds, left))
                continue
            ready: asyncio.Future[None] = loop.create_future()

            def readable(future: asyncio.Future[None] = ready) -> None:
                if not future.done():
                    future.set_result(None)

            loop.add_reader(fd, readable)
            try:
                await asyncio.wait_for(ready, left)
            except TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> ChangeWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dumps(value: Any) -> str:
    """Compact JSON as the CLI prints it."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)
