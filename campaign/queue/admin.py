"""What people do to the queue through the CLI: look (posts, history, counts), cancel, retry, pause and
resume; and the whole-queue copy used by ``campaign db copy`` (:mod:`campaign.queue.copy`).

Every change here is all-or-nothing (one write transaction) and bumps the queue revision, so running
daemons notice it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign.errors import PostNotFoundError, StoreError
from campaign.queue.core import StoreCore, paused_scope_in, queued_from
from campaign.queue.dialect import translate_error
from campaign.queue.models import ACCOUNTS, CAMPAIGNS, EVENTS, METRIC_SCHEDULE, POST_METRICS, POSTS, QUEUE
from campaign.queue.states import CLAIMABLE_SQL, PAUSABLE, Status, sources
from campaign.queue.values import PostEventView, QueuedPost, aware

logger = logging.getLogger(__name__)

#: What `campaign db copy` copies, parents first (the Alembic version table is each database's own).
COPY_TABLES: tuple[sa.Table, ...] = (POSTS, EVENTS, ACCOUNTS, CAMPAIGNS, QUEUE, POST_METRICS, METRIC_SCHEDULE)
_COPY_BY_NAME = {t.name: t for t in COPY_TABLES}


class Admin(StoreCore):
    """People's commands and the whole-queue copy (mixed into :class:`campaign.queue.store.Store`)."""

    def get_post(self, post_id: int) -> QueuedPost:
        """One post; raises PostNotFoundError."""
        with self._read() as conn:
            row = conn.execute(sa.select(POSTS).where(POSTS.c.id == post_id)).first()
        if row is None:
            raise PostNotFoundError(f"no queued post with id {post_id}")
        return queued_from(row)

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
            return [queued_from(r) for r in conn.execute(stmt).all()]

    def cancel(
        self, post_ids: Iterable[int], *, now: datetime, actor: str = "cli", reason: str = "cancelled"
    ) -> None:
        """Cancel every listed post (scheduled, retry_wait, paused or unknown), all or none; a post listed
        twice is cancelled once."""
        now = aware(now)
        with self._write() as conn:
            for post_id in dict.fromkeys(post_ids):
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

        For ``unknown`` posts this is the person's word that sending again is acceptable. A post listed twice
        is queued once.
        """
        now = aware(now)
        with self._write() as conn:
            for post_id in dict.fromkeys(post_ids):
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
        now = aware(now)
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
        now = aware(now)
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
            return paused_scope_in(conn, campaign)

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
                # Read while another store's transaction writes (db copy): an error here is this queue's,
                # so it is named here, not by the writer's transaction that pulls the rows.
                try:
                    result = conn.execution_options(yield_per=batch).execute(stmt)
                    for part in result.mappings().partitions(batch):
                        yield [dict(r) for r in part]
                except self._driver_errors as exc:
                    raise translate_error(exc, self.where) from exc

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

    # -- which secret goes to which host (what `plan` shows a reviewer) ------------------------------------

    def campaign_destinations(self, campaign: str) -> frozenset[tuple[str, str]] | None:
        """The (credential, host) pairs the last `apply` of ``campaign`` recorded (None: never recorded)."""
        c = CAMPAIGNS
        with self._read() as conn:
            raw = conn.execute(sa.select(c.c.destinations).where(c.c.campaign == campaign)).scalar()
        return None if raw is None else frozenset((str(a), str(b)) for a, b in raw)

    def record_campaign_destinations(
        self, campaign: str, pairs: Iterable[tuple[str, str]], *, now: datetime
    ) -> None:
        """Remember ``campaign``'s (credential, host) pairs (creates its state row when missing)."""
        c = CAMPAIGNS
        value = [list(p) for p in sorted(pairs)]
        with self._write() as conn:
            conn.execute(
                self._insert_ignoring_duplicates(c, "campaign"),
                {"campaign": campaign, "paused": False, "updated_at": now},
            )
            conn.execute(sa.update(c).where(c.c.campaign == campaign).values(destinations=value))
