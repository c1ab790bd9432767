"""The queue's tables (SQLModel): posts, their history, and state shared by every daemon.

All times are aware UTC datetimes in Python (:class:`UTCDateTime` stores naive UTC on SQLite and
``timestamptz`` on PostgreSQL, and always hands back aware UTC). The schema is created and changed only by
the Alembic migrations under ``db/migrations`` (shipped as ``campaign.migrations``); a test checks that the
migrated schema equals these models.

Invariants kept by :mod:`campaign.queue.store` (the only module that writes these tables):

- ``next_attempt_at`` is when the post is next due (UTC). For ``scheduled`` and ``retry_wait`` posts it is
  what the claim compares with ``now``; the partial index ``ix_posts_due`` covers exactly those rows.
- ``lease_owner``/``lease_expires_at`` are set only while ``claimed`` or ``sending``.
- ``idempotency_key`` is unique: one row per (campaign, post, occurrence, channel, account), forever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, processors
from sqlmodel import Field, SQLModel

from campaign.queue.states import CLAIMABLE_SQL, EMBARGOED_SQL, LEASED, sql_in

#: SQLAlchemy's default text for a SQLite DATETIME (named fields), and the same text with positional fields.
_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime. Naive values are refused: every time in the queue is explicit about its zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the queue (times must be aware)")
        # SQLite's DATETIME ignores tzinfo when formatting, so convert to UTC first on every dialect.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, :meth:`process_bind_param` and the DATETIME text format fused into one step.

        SQLAlchemy's path (this decorator's conversion, then SQLite DATETIME's ``%``-format of a dict of the
        seven fields) cost about 4 us a value, the hottest Python function the daemon ran while holding the
        GIL (several times per post: marks, events, counters; docs/BENCHMARKS.md, sixteenth pass). An
        aware ``datetime`` is written here with the same text in about a third of that; anything else
        (None, a naive value, which is refused, a subclass) takes SQLAlchemy's path. ``tests/test_models.py``
        compares both. Other dialects keep SQLAlchemy's path.
        """
        generic = super().bind_processor(dialect)
        if dialect.name != "sqlite" or generic is None:
            return generic
        if getattr(self.impl_instance.dialect_impl(dialect), "_storage_format", None) != _SQLITE_DATETIME:
            return generic  # a storage format other than SQLAlchemy's default: its own path writes it

        def process(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is not None:
                v = value.astimezone(UTC)
                return _SQLITE_TEXT % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
            return generic(value)

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the DATETIME text parsed (``datetime.fromisoformat``, what SQLAlchemy's own step
        runs) and made aware in one step, without the decorator's call per value: a claim reads three times
        a post. Equal to SQLAlchemy's path for every text (``tests/test_models.py``)."""
        generic = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or generic is None:
            return generic
        parser = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if parser is not processors.str_to_datetime:
            return generic  # a parser of its own (a custom regexp): SQLAlchemy's path runs it
        parse = datetime.fromisoformat

        def process(value: Any) -> Any:
            if value is None:
                return None
            parsed = parse(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Post(SQLModel, table=True):
    """One post on one account at one time (a thread is one post with several parts)."""

    __tablename__ = "posts"
    __table_args__ = (
        # The claim's index: due rows in the claim's order (due time, then id), only for claimable states (a
        # small index even when the table holds a million sent posts). The WHERE is the very text the claim
        # uses. The id makes PostgreSQL walk it in order and stop (migration 0004).
        sa.Index(
            "ix_posts_due",
            "next_attempt_at",
            "id",
            sqlite_where=sa.text(CLAIMABLE_SQL),
            postgresql_where=sa.text(CLAIMABLE_SQL),
        ),
        # Waiting posts due before their embargo ends (few), in embargo order: with ix_posts_due, the next due
        # time (the later of the two) is two index walks instead of a read of every waiting post (0005).
        sa.Index(
            "ix_posts_embargo",
            "not_before",
            "id",
            sqlite_where=sa.text(EMBARGOED_SQL),
            postgresql_where=sa.text(EMBARGOED_SQL),
        ),
        sa.Index(
            "ix_posts_lease",
            "lease_expires_at",
            sqlite_where=sa.text(sql_in(LEASED)),
            postgresql_where=sa.text(sql_in(LEASED)),
        ),
        sa.Index("ux_posts_idempotency_key", "idempotency_key", unique=True),
        sa.Index("ix_posts_campaign_status", "campaign", "status"),
        sa.Index("ix_posts_account_status", "account", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(sa_type=sa.String(200))
    post_key: str = Field(sa_type=sa.String(200))
    #: "" for a one-off post, else the occurrence's local ISO time.
    occurrence: str = Field(default="", sa_type=sa.String(64))
    channel: str = Field(sa_type=sa.String(64))
    account: str = Field(sa_type=sa.String(200))
    scheduled_at: datetime = _utc()
    #: IANA zone the time was written in (display only).
    zone: str = Field(default="UTC", sa_type=sa.String(64))
    #: Thread parts, JSON list of str.
    parts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    #: ``{"url", "title", "description"}`` or null.
    link: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)
    content_hash: str = Field(sa_type=sa.String(64))
    idempotency_key: str = Field(sa_type=sa.String(64))
    status: str = Field(sa_type=sa.String(16))
    #: The state before the current one (lets a set-based claim log its events: RETURNING gives new values).
    previous_status: str | None = Field(default=None, sa_type=sa.String(16))
    #: Send attempts started (incremented when a post enters ``sending``).
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(default=None)
    lease_owner: str | None = Field(default=None, sa_type=sa.String(200))
    lease_expires_at: datetime | None = _utc(default=None)
    remote_id: str | None = Field(default=None, sa_type=sa.String(500))
    remote_url: str | None = Field(default=None, sa_type=sa.String(2000))
    #: Receipts of thread parts already published: JSON list of {"remote_id", "url", "data"}, index = part.
    part_receipts: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    #: Prepared media of the first part: JSON list of {"sha256", "mime", "size", "width", "height", "alt",
    #: ...} (the files live content-addressed in the media store beside the queue).
    media: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    #: Upload results, kept so a retry or restart after an upload does not upload again: JSON list of
    #: {"key", "sha256", "remote_id", "uploaded_at", "expires_at", "data"} (``channels.base.Upload``).
    media_uploads: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    send_late: bool = False
    late_window_seconds: int = 86400
    #: Embargo: the claim never hands the post out before this time, whatever its due time says.
    not_before: datetime | None = _utc(default=None)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class PostEvent(SQLModel, table=True):
    """One status change of one post (creation has ``from_status`` null)."""

    __tablename__ = "post_events"
    __table_args__ = (sa.Index("ix_post_events_post", "post_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id")
    at: datetime = _utc()
    from_status: str | None = Field(default=None, sa_type=sa.String(16))
    to_status: str = Field(sa_type=sa.String(16))
    #: "apply", "cli", "daemon:HOST:PID", ...
    actor: str = Field(sa_type=sa.String(200))
    reason: str | None = Field(default=None, sa_type=sa.Text)


class AccountState(SQLModel, table=True):
    """Per-account state shared by every daemon: rate-limit block, pause, and today's send counter."""

    __tablename__ = "account_state"

    account: str = Field(primary_key=True, sa_type=sa.String(200))
    #: Claims skip the account until this UTC time.
    blocked_until: datetime | None = _utc(default=None)
    block_reason: str | None = Field(default=None, sa_type=sa.Text)
    paused: bool = False
    #: UTC date (YYYY-MM-DD) that ``sent_today`` counts.
    counter_day: str | None = Field(default=None, sa_type=sa.String(10))
    sent_today: int = 0
    updated_at: datetime = _utc()
    #: The account's follower count as the platform last said, and when (for engagement per follower).
    followers: int | None = None
    followers_at: datetime | None = _utc(default=None)


class CampaignState(SQLModel, table=True):
    """Per-campaign pause flag (posts `apply` adds to a paused campaign are added as paused)."""

    __tablename__ = "campaign_state"

    campaign: str = Field(primary_key=True, sa_type=sa.String(200))
    paused: bool = False
    updated_at: datetime = _utc()
    #: The (credential reference, destination host) pairs the last `apply` queued posts for, as a JSON list of
    #: pairs: `plan` shows a reviewer each pair that changes (a secret pointed at a new host).
    destinations: list[list[str]] | None = Field(default=None, sa_type=sa.JSON)


class QueueState(SQLModel, table=True):
    """A single row whose ``revision`` is bumped by every change made outside a daemon's own work."""

    __tablename__ = "queue_state"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0
    #: The last ``post_events.id`` scanned for newly sent posts to schedule metrics readings for.
    metrics_cursor: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class PostMetric(SQLModel, table=True):
    """One value read back from a platform at one moment; history is kept (a report shows growth)."""

    __tablename__ = "post_metrics"
    __table_args__ = (sa.Index("ix_post_metrics_post", "post_id", "collected_at"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id")
    #: A normalised name (campaign.report.metrics.METRICS): likes, reposts, replies, quotes, views, ...
    metric: str = Field(sa_type=sa.String(32))
    value: int = Field(sa_type=sa.BigInteger)
    collected_at: datetime = _utc()


class MetricSchedule(SQLModel, table=True):
    """When a sent post's metrics are read next. ``next_at`` is null once every reading is done (or the
    platform said the post is gone); a claim moves ``next_at`` forward by a lease, so a crash mid-collection
    only delays the reading."""

    __tablename__ = "metric_schedule"
    __table_args__ = (
        sa.Index(
            "ix_metric_schedule_due",
            "next_at",
            sqlite_where=sa.text("next_at IS NOT NULL"),
            postgresql_where=sa.text("next_at IS NOT NULL"),
        ),
    )

    post_id: int = Field(primary_key=True, foreign_key="posts.id")
    campaign: str = Field(sa_type=sa.String(200))
    account: str = Field(sa_type=sa.String(200))
    channel: str = Field(sa_type=sa.String(64))
    sent_at: datetime = _utc()
    #: Seconds after ``sent_at`` of each reading (the campaign's ``metrics:`` setting when it was scheduled).
    offsets: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    #: Readings done.
    stage: int = 0
    next_at: datetime | None = _utc(default=None)
    failures: int = 0
    gone: bool = False
    last_error: str | None = Field(default=None, sa_type=sa.Text)


POSTS: sa.Table = Post.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = PostEvent.__table__  # type: ignore[attr-defined]
ACCOUNTS: sa.Table = AccountState.__table__  # type: ignore[attr-defined]
CAMPAIGNS: sa.Table = CampaignState.__table__  # type: ignore[attr-defined]
QUEUE: sa.Table = QueueState.__table__  # type: ignore[attr-defined]
POST_METRICS: sa.Table = PostMetric.__table__  # type: ignore[attr-defined]
METRIC_SCHEDULE: sa.Table = MetricSchedule.__table__  # type: ignore[attr-defined]
METADATA = SQLModel.metadata
