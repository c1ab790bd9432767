"""The durable queue: :class:`Store`, the one door to the SQL that the rest of campaign uses.

The ``posts`` table is the one source of truth for what is due and what was sent. Every status change goes
through :mod:`campaign.queue.states` and writes a ``post_events`` row in the same transaction. Daemons work
on the hot path with SQLAlchemy Core statements (no ORM objects, no per-row reloads: PERFORMANCE.md).

Times: every ``now``/``until``/``at`` argument is an aware datetime (any zone; stored as UTC); every time
returned is aware UTC. Nothing here reads the wall clock: callers pass ``now``. Durations are seconds.

Opening (:meth:`Store.open`): a plain path means SQLite (parent directories are created, unless the
caller asks for an existing queue only: ``create=False``); any URL with
``://`` is handed to SQLAlchemy (``postgresql+psycopg://...`` uses the same models). The stored Alembic
revision is compared with :data:`SCHEMA_HEAD` and Alembic is imported only when they differ: an older
database is upgraded under a lock every opener takes, a newer one raises :class:`SchemaVersionError`
untouched (:mod:`campaign.queue.schema`).

How the store is built. One class per concern, each a mixin on :class:`campaign.queue.core.StoreCore`
(connections, transactions, the status-change primitive ``_move``), composed here by inheritance:

=====================  ==========================================================================
module                 concern
=====================  ==========================================================================
``values``             value types handed out and taken in (no SQLAlchemy)
``dialect``            SQLite/PostgreSQL specifics: URLs, engines, pragmas, driver error translation
``schema``             revision check and Alembic migrations
``core``               connections, transactions, status changes and their events, revision bumps
``claims``             claim, heartbeat, release, lease recovery, next wake time (daemons)
``marks``              outcomes of claimed posts, batched marks, account blocks and counters
``admin``              people's commands (show, cancel, retry, pause, resume) and whole-queue copy
``apply``              the planner's reads and the one transaction that applies a plan
``metrics``            readings of sent posts: scheduling, claiming due ones, samples (issue 15)
``watcher``            :class:`ChangeWatcher`: LISTEN/NOTIFY on PostgreSQL, polling on SQLite
=====================  ==========================================================================

Mixins rather than delegation: every concern needs the same connection, transaction and ``_move``
machinery, and callers keep one object with the same methods as before; a mixin reaches the shared part
through ``self`` with no forwarding layer, and mypy checks each mixin against ``StoreCore`` alone, so no
mixin may call another (shared helpers live in ``core``). The names callers import from this module
(values, :func:`resolve_url`, :data:`SCHEMA_HEAD`, ...) are re-exported here.
"""

from __future__ import annotations

from campaign.errors import (
    DatabaseLockedError,
    IllegalTransitionError,
    LeaseLostError,
    PostNotFoundError,
    SchemaVersionError,
    StoreError,
)
from campaign.queue.admin import COPY_TABLES, Admin
from campaign.queue.apply import Apply
from campaign.queue.claims import Claims
from campaign.queue.core import NOTIFY_CHANNEL
from campaign.queue.dialect import DEFAULT_DB, ENV_DB, create_engine, resolve_url, translate_error
from campaign.queue.marks import Marks
from campaign.queue.metrics import Metrics
from campaign.queue.schema import SCHEMA_HEAD, ensure_schema, migrations_dir
from campaign.queue.values import (
    APPLY_ACTOR,
    MARK_KINDS,
    AccountInfo,
    ApplyResult,
    Cancel,
    ClaimedPost,
    Mark,
    PostEventView,
    QueuedPost,
    Recovered,
    Update,
    dumps,
)
from campaign.queue.watcher import ChangeWatcher

__all__ = [
    "APPLY_ACTOR",
    "COPY_TABLES",
    "DEFAULT_DB",
    "ENV_DB",
    "MARK_KINDS",
    "NOTIFY_CHANNEL",
    "SCHEMA_HEAD",
    "AccountInfo",
    "ApplyResult",
    "Cancel",
    "ChangeWatcher",
    "ClaimedPost",
    "DatabaseLockedError",
    "IllegalTransitionError",
    "LeaseLostError",
    "Mark",
    "PostEventView",
    "PostNotFoundError",
    "QueuedPost",
    "Recovered",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "Update",
    "dumps",
    "migrations_dir",
    "resolve_url",
    "translate_error",
]


class Store(Claims, Marks, Admin, Apply, Metrics):
    """The queue database. Create with :meth:`open`; close with :meth:`close` (or use as a context manager).

    One ``Store`` may be used by one thread at a time; open one per process (after ``fork``).
    """

    @classmethod
    def open(cls, url: str | None = None, *, busy_timeout: float = 5.0, create: bool = True) -> Store:
        """Open (creating or upgrading) the queue at ``url`` (see :func:`resolve_url`).

        ``busy_timeout`` is how many seconds a write waits for another process's write transaction.
        ``create=False`` opens only an existing queue (an older schema is still upgraded): a missing SQLite
        file, or a database without a queue, is a :class:`StoreError` and nothing is created. Commands
        that read a queue (status, show, db copy's source) pass it, so a typo in ``--db`` never makes one.
        Raises :class:`SchemaVersionError` for a newer schema, :class:`DatabaseLockedError` past the busy
        timeout, and :class:`StoreError` for a file that cannot be used (read-only, corrupt, not ours) or
        a URL whose scheme or driver is unknown.
        """
        full = resolve_url(url)
        engine, where = create_engine(full, busy_timeout, create=create)
        store = cls(engine, full, where)
        try:
            ensure_schema(store, create=create)
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
