"""What the dispatch core needs from the outside, as protocols: the queue store and the account directory.

The core depends on these, never on the concrete :class:`campaign.queue.store.Store` or on campaign files
(:mod:`campaign.dispatch.campaigns` is the directory built from them). Every method listed is one the
dispatcher, its group writer, its account holds or its reconciler calls; nothing else. Times are aware UTC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from campaign.channels.base import Adapter, Receipt, Upload
    from campaign.errors import StoreError
    from campaign.queue.store import ClaimedPost, Mark, PostEventView, QueuedPost, Recovered


T = TypeVar("T")


class Behind(Protocol):
    """Runs a store call behind the dispatcher's queued marks, in its group writer's thread, and waits for
    it (:meth:`~campaign.dispatch.writer.GroupWriter.after_marks`): a store call on the event loop's thread
    waited for the writer's transaction, and every account with it."""

    def __call__(self, job: Callable[[], T]) -> Awaitable[T]: ...


class DispatchStore(Protocol):
    """The queue as the dispatcher uses it (:class:`campaign.queue.store.Store` documents each method)."""

    def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, limit: int, *,
        per_account: int | None = None, ahead: int = 0,
    ) -> list[ClaimedPost]:
        """Lease up to ``limit`` due posts for ``owner``."""
        ...

    def write_marks(self, marks: Sequence[Mark], *, owner: str) -> list[StoreError | None]:
        """Apply hot-path state changes in one transaction (group commit)."""
        ...

    def record_part(self, post_id: int, index: int, receipt: Receipt, *, now: datetime) -> None:
        """Store the receipt of thread part ``index`` (reconciliation; the dispatcher uses ``part`` marks)."""
        ...

    def record_uploads(self, post_id: int, uploads: Sequence[Upload], *, owner: str, now: datetime) -> None:
        """Store finished media uploads with the post before the request that uses them is sent."""
        ...

    def recorded_uploads(self, post_id: int) -> list[Upload]:
        """The media uploads recorded with the post."""
        ...

    def release(self, post_ids: Iterable[int], *, owner: str, now: datetime) -> list[int]:
        """Give claimed posts back (never started); returns the ids released."""
        ...

    def heartbeat(
        self, owner: str, until: datetime, *, now: datetime, ids: Collection[int] | None = None
    ) -> int:
        """Extend the leases ``owner`` holds (only those of ``ids`` when given)."""
        ...

    def recover_expired(
        self, now: datetime, *, actor: str = "recovery", expired_before: datetime | None = None
    ) -> Recovered:
        """Expired leases: claimed -> scheduled, sending -> unknown."""
        ...

    def next_due_at(
        self, now: datetime, *, per_account: int | None = None, ahead: int = 0, owner: str = ""
    ) -> datetime | None:
        """When a claim could next succeed."""
        ...

    def sent_times(self, account: str, since: datetime) -> list[datetime]:
        """When each post of ``account`` sent since ``since`` was sent (quotas)."""
        ...

    def block_account(
        self, account: str, until: datetime, *, now: datetime, reason: str | None = None
    ) -> None:
        """Hold every claim for ``account`` until ``until`` (shared between daemons)."""
        ...

    def unknown_posts(self, limit: int = 100) -> list[QueuedPost]:
        """Posts in ``unknown``, oldest change first."""
        ...

    def mark_sent(self, post_id: int, receipt: Receipt, *, owner: str, now: datetime) -> None:
        """unknown -> sent, with the post's receipt (reconciliation found it published)."""
        ...

    def requeue_unknown(self, post_id: int, *, now: datetime, actor: str, reason: str) -> None:
        """unknown -> scheduled, due ``now``: a retry proven safe."""
        ...

    def history(self, post_id: int) -> list[PostEventView]:
        """The post's status changes, oldest first."""
        ...


class AccountDirectory(Protocol):
    """Where the dispatcher gets a ready adapter for a queued post's (campaign, account)."""

    def adapter(self, campaign: str, account: str) -> Adapter:
        """The adapter serving ``account`` of ``campaign``; ConfigError when it cannot be built."""
        ...

    def alert_adapter(self, campaign: str) -> Adapter | None:
        """The adapter of the campaign's ``alerts:`` account, or None."""
        ...
