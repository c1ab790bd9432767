"""The queue's value types, apart from SQL: what the store hands out and takes in, and their JSON forms.

Times are aware datetimes (UTC when they come from the store). Nothing here imports SQLAlchemy, so the
planner, the dispatcher and previews can use these types without loading the database layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign.channels.base import LinkCard, Receipt
from campaign.media.model import PreparedMedia, media_to_json
from campaign.plan.posts import PlannedPost

#: Actor of changes made by `apply` (the planner tells its own cancels from a person's by it).
APPLY_ACTOR = "apply"


def post_label(post_key: str, occurrence: str, account: str) -> str:
    """How logs and messages name a post to a person: ``post_key[@occurrence]/account``."""
    return f"{post_key}@{occurrence}/{account}" if occurrence else f"{post_key}/{account}"


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
    #: Prepared media of the first part, its link thumbnail and the campaign's media_base_url.
    media: tuple[PreparedMedia, ...] = ()
    link_image: PreparedMedia | None = None
    media_base_url: str | None = None
    #: A ``send_late`` occurrence found past its lateness window while a later occurrence of the same post
    #: on the same account is due too: that one's occurrence key (the dispatcher marks this one missed).
    superseded_by: str = ""

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
    media: tuple[PreparedMedia, ...] = ()
    link_image: PreparedMedia | None = None
    media_base_url: str | None = None

    @property
    def ident(self) -> tuple[str, str, str, str, str]:
        return (self.campaign, self.post_key, self.occurrence, self.channel, self.account)

    @property
    def label(self) -> str:
        return post_label(self.post_key, self.occurrence, self.account)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "campaign": self.campaign,
            "post_key": self.post_key,
            "occurrence": self.occurrence,
            "channel": self.channel,
            "account": self.account,
            "scheduled_at": iso(self.scheduled_at),
            "zone": self.zone,
            "parts": list(self.parts),
            "link": link_json(self.link),
            "content_hash": self.content_hash,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "lease_owner": self.lease_owner,
            "lease_expires_at": iso(self.lease_expires_at),
            "remote_id": self.remote_id,
            "remote_url": self.remote_url,
            "part_receipts": [receipt_json(r) for r in self.part_receipts],
            "last_error": self.last_error,
            "send_late": self.send_late,
            "late_window_seconds": int(self.late_window.total_seconds()),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "media": media_to_json(self.media, self.link_image, self.media_base_url),
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
            "at": iso(self.at),
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
MARK_KINDS = ("sending", "part", "sent", "retry", "defer", "failed", "unknown", "missed")


@dataclass(frozen=True)
class Mark:
    """One hot-path state change for :meth:`Store.write_marks`; ``kind`` names the single-post method it
    batches: ``sending`` (:meth:`Store.mark_sending`), ``part`` (:meth:`Store.record_part` of the last of
    ``receipts``, the thread's receipts so far), ``sent`` (:meth:`Store.mark_sent` with
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
        if self.kind in ("sent", "part") and not self.receipts:
            raise ValueError(f"a {self.kind} mark needs the receipts")


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


# ---------------------------------------------------------------------------------------------- JSON helpers


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (None stays None)."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def link_json(link: LinkCard | None) -> dict[str, str] | None:
    """A link card as stored in the ``link`` JSON column."""
    if link is None:
        return None
    return {"url": link.url, "title": link.title, "description": link.description}


def link_from(raw: Any) -> LinkCard | None:
    """The inverse of :func:`link_json`."""
    if not raw:
        return None
    return LinkCard(url=raw["url"], title=raw.get("title", ""), description=raw.get("description", ""))


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """A receipt as stored in the ``part_receipts`` JSON column."""
    return {"remote_id": receipt.remote_id, "url": receipt.url, "data": dict(receipt.data)}


def receipts_from(raw: Any) -> tuple[Receipt, ...]:
    """The inverse of :func:`receipt_json`, for a whole list."""
    return tuple(
        Receipt(remote_id=r["remote_id"], url=r.get("url"), data=dict(r.get("data") or {})) for r in raw or ()
    )


def aware(value: datetime, name: str = "now") -> datetime:
    """``value`` in UTC; ValueError (naming the argument ``name``) for a naive datetime."""
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def from_db(value: Any) -> datetime:
    """Aggregates (min) bypass the column type on SQLite and come back as text; normalise to aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    """Compact JSON as the CLI prints it."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)
