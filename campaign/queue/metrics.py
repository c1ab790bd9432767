"""Metrics in the queue: when each sent post is read back, claiming due readings, and the samples.

Contract. Readings are scheduled from ``post_events`` (every transition to ``sent``), in batches, by
:meth:`Metrics.schedule_sent`; the publishing hot path writes nothing extra. A cursor
(``queue_state.metrics_cursor``) remembers how far the events were scanned; it only moves past events older
than ``settle`` seconds, because on PostgreSQL an event with a smaller id can commit after one with a larger
id, and rescanning is harmless (``INSERT ... ON CONFLICT DO NOTHING``). :meth:`Metrics.claim_metrics` hands
out due readings with a lease (``next_at`` moves forward by it, so a crash mid-collection only delays a
reading; nothing is lost) and never hands out a reading of an account whose publishing is blocked.
:meth:`Metrics.record_metrics` stores the samples and plans the next reading: after the last stage, or once
the platform says the post is gone, there is none. A failed reading is retried with backoff and never counts
against publishing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from campaign.channels.base import Receipt
from campaign.queue.core import StoreCore
from campaign.queue.models import ACCOUNTS, EVENTS, METRIC_SCHEDULE, POST_METRICS, POSTS, QUEUE

#: Readings after publication when a campaign says nothing: 1 hour, 1 day, 7 days.
DEFAULT_OFFSETS: tuple[int, ...] = (3600, 86400, 7 * 86400)
#: A failed reading is retried after 5 min, 10 min, ... at most 6 hours; after this many failures in a row the
#: stage is skipped (the next one may still work: a platform outage should not end the series).
RETRY_BASE, RETRY_CAP, MAX_FAILURES = 300, 6 * 3600, 6


@dataclass(frozen=True)
class Scheduling:
    """What one :meth:`Metrics.schedule_sent` call did."""

    #: Readings newly scheduled (events scanned again are not counted twice).
    scheduled: int
    #: It read a full chunk and moved the cursor: more sent events may be waiting to be scheduled.
    more: bool


@dataclass(frozen=True)
class MetricTask:
    """One due reading of one sent post."""

    post_id: int
    campaign: str
    account: str
    channel: str
    sent_at: datetime
    stage: int
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True)
class MetricResult:
    """The outcome of one reading: values, ``gone`` (the platform says the post no longer exists), ``done``
    (the channel has no read API: nothing more to read), an error, or a deferral (not a failure)."""

    post_id: int
    values: dict[str, int] = field(default_factory=dict)
    gone: bool = False
    done: bool = False
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class SampleRow:
    post_id: int
    metric: str
    value: int
    collected_at: datetime


@dataclass(frozen=True)
class SentRow:
    """A sent post as the report needs it."""

    post_id: int
    post_key: str
    channel: str
    account: str
    sent_at: datetime
    remote_url: str | None
    parts: tuple[str, ...]
    link_url: str | None
    gone: bool
    #: The IANA zone the post's time was written in.
    zone: str


def _first_reading(row: Any, offsets_for: Callable[[str], Sequence[int]]) -> dict[str, Any]:
    """The ``metric_schedule`` row of a sent event's post (``row``: id, post_id, at, campaign, account,
    channel), its first reading at the campaign's first offset."""
    offsets = [int(x) for x in offsets_for(row.campaign)] or list(DEFAULT_OFFSETS)
    return {
        "post_id": row.post_id,
        "campaign": row.campaign,
        "account": row.account,
        "channel": row.channel,
        "sent_at": row.at,
        "offsets": offsets,
        "stage": 0,
        "next_at": row.at + timedelta(seconds=offsets[0]),
        "failures": 0,
        "gone": False,
    }


class Metrics(StoreCore):
    """The metrics part of :class:`campaign.queue.store.Store`."""

    def schedule_sent(
        self,
        now: datetime,
        offsets_for: Callable[[str], Sequence[int]],
        *,
        limit: int = 2000,
        settle: float = 300.0,
    ) -> Scheduling:
        """Schedule readings for up to ``limit`` posts sent since the last call.

        ``more`` says a full chunk was read and the cursor moved, so calling again schedules more. It is
        False once the events are caught up, and also when the whole chunk was too recent to move the cursor
        past it (calling again would read the same events)."""
        e, p, s = EVENTS, POSTS, METRIC_SCHEDULE
        with self._write() as conn:
            cursor = int(conn.execute(sa.select(QUEUE.c.metrics_cursor).where(QUEUE.c.id == 1)).scalar_one())
            rows = conn.execute(
                sa.select(e.c.id, e.c.post_id, e.c.at, p.c.campaign, p.c.account, p.c.channel)
                .join(p, p.c.id == e.c.post_id)
                .where(e.c.id > cursor, e.c.to_status == "sent")
                .order_by(e.c.id)
                .limit(limit)
            ).all()
            known = {  # rescanned events: their posts are scheduled already
                r[0]
                for r in conn.execute(
                    sa.select(s.c.post_id).where(s.c.post_id.in_([row.post_id for row in rows]))
                )
            }
            values = [_first_reading(row, offsets_for) for row in rows if row.post_id not in known]
            if values:
                conn.execute(self._insert_ignoring_duplicates(s, "post_id"), values)
            settled = [r.id for r in rows if r.at <= now - timedelta(seconds=settle)]
            if len(rows) < limit:
                # Everything up to the newest settled event was seen; newer ones are rescanned next time.
                newest = conn.execute(
                    sa.select(sa.func.max(e.c.id)).where(e.c.at <= now - timedelta(seconds=settle))
                ).scalar()
                settled.append(int(newest or 0))
            moved = bool(settled) and max(settled) > cursor
            if moved:
                conn.execute(sa.update(QUEUE).where(QUEUE.c.id == 1).values(metrics_cursor=max(settled)))
        return Scheduling(len(values), more=moved and len(rows) == limit)

    def claim_metrics(
        self,
        now: datetime,
        *,
        limit: int = 100,
        lease: float = 600.0,
        campaign: str | None = None,
        account: str | None = None,
    ) -> list[MetricTask]:
        """Due readings (oldest first; of one ``campaign`` if given), leased for ``lease`` seconds; accounts
        blocked for publishing wait."""
        s, p, a = METRIC_SCHEDULE, POSTS, ACCOUNTS
        blocked = sa.select(a.c.account).where(a.c.blocked_until > now)
        due = (
            sa.select(s.c.post_id)
            .where(s.c.next_at.is_not(None), s.c.next_at <= now, s.c.account.not_in(blocked))
            .where(sa.true() if campaign is None else s.c.campaign == campaign)
            .where(sa.true() if account is None else s.c.account == account)
            .order_by(s.c.next_at)
            .limit(limit)
        )
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        with self._write() as conn:
            ids = [r[0] for r in conn.execute(due)]
            if not ids:
                return []
            conn.execute(
                sa.update(s).where(s.c.post_id.in_(ids)).values(next_at=now + timedelta(seconds=lease))
            )
            rows = conn.execute(
                sa.select(s, p.c.remote_id, p.c.remote_url, p.c.part_receipts)
                .join(p, p.c.id == s.c.post_id)
                .where(s.c.post_id.in_(ids))
                .order_by(s.c.sent_at, s.c.post_id)
            ).all()
        return [
            MetricTask(
                post_id=r.post_id,
                campaign=r.campaign,
                account=r.account,
                channel=r.channel,
                sent_at=r.sent_at,
                stage=r.stage,
                receipts=_receipts(r.remote_id, r.remote_url, r.part_receipts),
            )
            for r in rows
        ]

    def record_metrics(self, results: Sequence[MetricResult], *, now: datetime) -> None:
        """Store samples and plan each post's next reading (one transaction)."""
        s = METRIC_SCHEDULE
        with self._write() as conn:
            samples = [
                {"post_id": r.post_id, "metric": name, "value": int(value), "collected_at": now}
                for r in results
                for name, value in sorted(r.values.items())
            ]
            if samples:
                conn.execute(sa.insert(POST_METRICS), samples)
            rows = {
                row.post_id: row
                for row in conn.execute(sa.select(s).where(s.c.post_id.in_([r.post_id for r in results])))
            }
            for r in results:
                row = rows.get(r.post_id)
                if row is not None:
                    conn.execute(sa.update(s).where(s.c.post_id == r.post_id).values(**_next(row, r, now)))

    def next_metrics_at(self) -> datetime | None:
        """When the next reading is due (None: nothing scheduled)."""
        s = METRIC_SCHEDULE
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.min(s.c.next_at)).where(s.c.next_at.is_not(None))).scalar()

    def metric_samples(self, campaign: str) -> list[SampleRow]:
        m, p = POST_METRICS, POSTS
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.c.post_id, m.c.metric, m.c.value, m.c.collected_at)
                .join(p, p.c.id == m.c.post_id)
                .where(p.c.campaign == campaign)
                .order_by(m.c.collected_at, m.c.id)
            ).all()
        return [SampleRow(r.post_id, r.metric, int(r.value), r.collected_at) for r in rows]

    def sent_rows(self, campaign: str) -> list[SentRow]:
        """The campaign's sent posts with their publication time (from the event that sent them)."""
        p, e, s = POSTS, EVENTS, METRIC_SCHEDULE
        sent_at = (
            sa.select(sa.func.max(e.c.at))
            .where(e.c.post_id == p.c.id, e.c.to_status == "sent")
            .scalar_subquery()
        )
        with self._read() as conn:
            rows = conn.execute(
                sa.select(
                    p.c.id,
                    p.c.post_key,
                    p.c.channel,
                    p.c.account,
                    p.c.remote_url,
                    p.c.parts,
                    p.c.link,
                    p.c.zone,
                    sent_at.label("sent_at"),
                    s.c.gone,
                )
                .outerjoin(s, s.c.post_id == p.c.id)
                .where(p.c.campaign == campaign, p.c.status == "sent")
                .order_by(p.c.id)
            ).all()
        return [
            SentRow(
                post_id=r.id,
                post_key=r.post_key,
                channel=r.channel,
                account=r.account,
                sent_at=r.sent_at,
                remote_url=r.remote_url,
                parts=tuple(r.parts or ()),
                link_url=(r.link or {}).get("url"),
                gone=bool(r.gone),
                zone=r.zone,
            )
            for r in rows
            if r.sent_at is not None
        ]


    def record_followers(self, account: str, count: int, *, now: datetime) -> None:
        """Store ``account``'s follower count as read at ``now``."""
        a = ACCOUNTS
        with self._write() as conn:
            self._ensure_account(conn, account, now)
            conn.execute(sa.update(a).where(a.c.account == account).values(followers=count, followers_at=now))

    def followers_read_at(self, account: str) -> datetime | None:
        """When ``account``'s follower count was last read (None: never)."""
        a = ACCOUNTS
        with self._read() as conn:
            return conn.execute(sa.select(a.c.followers_at).where(a.c.account == account)).scalar()

    def followers(self, accounts: Sequence[str]) -> dict[str, int]:
        """The last follower count read for each of ``accounts`` that has one."""
        a = ACCOUNTS
        with self._read() as conn:
            rows = conn.execute(
                sa.select(a.c.account, a.c.followers).where(
                    a.c.account.in_(list(accounts)), a.c.followers.is_not(None)
                )
            ).all()
        return {r.account: int(r.followers) for r in rows}

def _receipts(remote_id: str | None, remote_url: str | None, parts: Any) -> tuple[Receipt, ...]:
    stored = [
        Receipt(remote_id=x.get("remote_id", ""), url=x.get("url"), data=x.get("data") or {})
        for x in parts or ()
    ]
    if stored:
        return tuple(stored)
    return (Receipt(remote_id=remote_id or "", url=remote_url),) if remote_id else ()


def _next(row: Any, result: MetricResult, now: datetime) -> dict[str, Any]:
    """The schedule row's new values after ``result``."""
    offsets = list(row.offsets or DEFAULT_OFFSETS)
    if result.gone:
        return {"gone": True, "next_at": None, "last_error": None, "failures": 0}
    if result.done:
        return {"next_at": None, "last_error": None, "failures": 0}
    if result.retry_at is not None:
        return {"next_at": result.retry_at}
    if result.error is not None:
        failures = row.failures + 1
        if failures < MAX_FAILURES:
            delay = min(RETRY_CAP, RETRY_BASE * 2 ** (failures - 1))
            return {
                "failures": failures,
                "last_error": result.error,
                "next_at": now + timedelta(seconds=delay),
            }
        stage, failures = row.stage + 1, 0  # give this reading up; keep the series going
    else:
        stage, failures = row.stage + 1, 0
    later = [row.sent_at + timedelta(seconds=o) for o in offsets[stage:]]
    # Readings already overdue (the daemon was down) collapse into one: the next one in the future, or none.
    upcoming = next((t for t in later if t > now), None)
    skipped = sum(1 for t in later if t <= now)
    return {
        "stage": stage + skipped,
        "failures": failures,
        "last_error": result.error,
        "next_at": upcoming,
    }
