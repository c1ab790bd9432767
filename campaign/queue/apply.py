"""Applying a plan (:mod:`campaign.queue.planner`): what the planner reads, and the one transaction that
makes its changes.

:meth:`Apply.apply_changes` re-validates every change against the queue inside its write transaction: an
update, re-add or cancel whose post changed status or was touched since it was planned (its seen status
and ``updated_at``) is skipped, never overwritten, and an add whose idempotency key exists is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign.errors import IllegalTransitionError, StoreError
from campaign.media.model import media_to_json
from campaign.plan.posts import PlannedPost
from campaign.queue.core import StoreCore, paused_scope_in, queued_from
from campaign.queue.models import EVENTS, POSTS
from campaign.queue.states import PLANNABLE, Status
from campaign.queue.values import APPLY_ACTOR, ApplyResult, Cancel, QueuedPost, Update, aware, link_json

#: Rows per multi-row INSERT of new posts.
_INSERT_BATCH = 5000


def _planned_values(post: PlannedPost, now: datetime) -> dict[str, Any]:
    """Column values describing ``post`` (content and time; not status)."""
    scheduled = aware(post.scheduled_at, "scheduled_at")
    return {
        "scheduled_at": scheduled,
        "zone": post.zone,
        "parts": list(post.parts),
        "link": link_json(post.link),
        "content_hash": post.content_hash,
        "media": media_to_json(post.media, post.link_image, post.media_base_url),
        "send_late": post.send_late,
        "late_window_seconds": int(post.late_window.total_seconds()),
        "not_before": post.not_before,
        # A past time is only planned for send-late posts: then it is due now (DECISIONS.md).
        "next_attempt_at": max(scheduled, now, post.not_before or scheduled),
        "updated_at": now,
    }


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


def _new_row(post: PlannedPost, status: Status, now: datetime) -> dict[str, Any]:
    return {
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


class _PausedLookup:
    """Whether a new post is born paused (its campaign or account is), read once per campaign."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._by_campaign: dict[str, tuple[bool, frozenset[str]]] = {}

    def status_for(self, post: PlannedPost) -> Status:
        if post.campaign not in self._by_campaign:
            self._by_campaign[post.campaign] = paused_scope_in(self._conn, post.campaign)
        c_paused, accounts = self._by_campaign[post.campaign]
        return Status.PAUSED if c_paused or post.account in accounts else Status.SCHEDULED


@dataclass(frozen=True)
class _Guarded:
    """One planned update, re-add or cancel of an existing post, made only if the post is as it was seen."""

    kind: Literal["update", "readd", "cancel"]
    post_id: int
    seen_status: str
    seen_updated_at: datetime
    post: PlannedPost | None = None
    reason: str = ""

    @classmethod
    def of(cls, kind: Literal["update", "readd"], up: Update) -> _Guarded:
        return cls(kind, up.post_id, up.seen_status, up.seen_updated_at, up.post)

    @classmethod
    def cancelling(cls, c: Cancel) -> _Guarded:
        return cls("cancel", c.post_id, c.seen_status, c.seen_updated_at, reason=c.reason)


@dataclass
class _Tally:
    """What :meth:`Apply.apply_changes` did so far, by kind."""

    added: list[int] = field(default_factory=list)
    update: list[int] = field(default_factory=list)
    readd: list[int] = field(default_factory=list)
    cancel: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.update or self.readd or self.cancel)

    def result(self) -> ApplyResult:
        return ApplyResult(
            added=tuple(self.added),
            updated=tuple(self.update),
            readded=tuple(self.readd),
            cancelled=tuple(self.cancel),
            skipped=tuple(self.skipped),
        )


@dataclass(frozen=True)
class _Inserted:
    """Ids of the posts an insert added, and the keys it skipped because they were queued already."""

    ids: list[int]
    duplicates: list[str]


class Apply(StoreCore):
    """The planner's reads and :meth:`apply_changes` (mixed into :class:`campaign.queue.store.Store`)."""

    def campaign_posts(self, campaign: str) -> list[QueuedPost]:
        """Every queued post of ``campaign`` (any status), by id."""
        p = POSTS
        with self._read() as conn:
            rows = conn.execute(sa.select(p).where(p.c.campaign == campaign).order_by(p.c.id)).all()
        return [queued_from(r) for r in rows]

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
        New posts of a paused campaign or account are added as paused. On PostgreSQL, many new posts then
        refresh the planner's statistics (:meth:`refresh_statistics`).
        """
        now = aware(now)
        guarded = [
            *(_Guarded.of("update", up) for up in update),
            *(_Guarded.of("readd", up) for up in readd),
            *(_Guarded.cancelling(c) for c in cancel),
        ]
        tally = _Tally()
        with self._write() as conn:
            paused = _PausedLookup(conn)
            if add:
                inserted = self._insert(conn, add, now, actor, paused)
                tally.added = inserted.ids
                tally.skipped.extend(f"{key}: already queued" for key in inserted.duplicates)
            for change in guarded:
                if self._change_if_unchanged(conn, change, now, actor, paused):
                    getattr(tally, change.kind).append(change.post_id)
                else:
                    tally.skipped.append(f"post {change.post_id}: changed meanwhile")
            if tally.changed:
                self._bump(conn)
        self.refresh_statistics(len(tally.added))
        return tally.result()

    def _change_if_unchanged(
        self, conn: Connection, change: _Guarded, now: datetime, actor: str, paused: _PausedLookup
    ) -> bool:
        """Make one guarded change; False (nothing changed) when the post is not as it was seen."""
        p = POSTS
        seen = p.c.updated_at == change.seen_updated_at
        if change.kind == "update":
            assert change.post is not None
            row = conn.execute(
                sa.update(p)
                .where(
                    p.c.id == change.post_id,
                    p.c.status == change.seen_status,
                    p.c.status.in_([s.value for s in PLANNABLE]),
                    seen,
                )
                .values(_update_values(change.post, now))
                .returning(p.c.id)
            ).first()
            return row is not None
        if change.kind == "readd":
            assert change.post is not None
            to, expect = paused.status_for(change.post), Status.CANCELLED
            reason, values = "back in the campaign file", _planned_values(change.post, now)
        else:
            to, expect, reason, values = Status.CANCELLED, Status(change.seen_status), change.reason, {}
        try:
            self._move(conn, change.post_id, to, expect=(expect,), now=now, actor=actor, reason=reason,
                       values=values, extra_where=(seen,))  # fmt: skip
        except (IllegalTransitionError, StoreError):
            return False
        return True

    def _insert(
        self, conn: Connection, posts: Sequence[PlannedPost], now: datetime, actor: str, paused: _PausedLookup
    ) -> _Inserted:
        """Insert new posts (skipping keys already queued) with their ``added`` events."""
        rows = [_new_row(post, paused.status_for(post), now) for post in posts]
        stmt = self._insert_ignoring_duplicates().returning(
            POSTS.c.id, POSTS.c.idempotency_key, POSTS.c.status
        )
        ids: list[int] = []
        events: list[dict[str, Any]] = []
        seen: set[str] = set()
        # SQLAlchemy batches an executemany with RETURNING into multi-row INSERTs ("insertmanyvalues").
        for start in range(0, len(rows), _INSERT_BATCH):
            for r in conn.execute(stmt, rows[start : start + _INSERT_BATCH]).all():
                ids.append(r.id)
                seen.add(r.idempotency_key)
                events.append(
                    {"post_id": r.id, "at": now, "from_status": None, "to_status": r.status, "actor": actor,
                     "reason": "added"}
                )  # fmt: skip
        if events:
            conn.execute(sa.insert(EVENTS), events)
        duplicates = [row["idempotency_key"] for row in rows if row["idempotency_key"] not in seen]
        return _Inserted(ids, duplicates)
