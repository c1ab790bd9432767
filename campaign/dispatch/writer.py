"""Group commit for the dispatcher's hot path: the state writes of many posts share one transaction.

Every post in flight writes ``sending`` before its first request and one outcome after its last
(:class:`~campaign.queue.store.Mark`). Written one by one that is three fsyncs per post; here they are
queued and flushed together (:meth:`Store.write_marks`): a ``sending`` mark at the next turn of the event
loop, outcomes within ``delay`` seconds (10 ms by default) or as soon as ``rows`` (256) are queued. A post's
request leaves only once its ``sending`` mark is committed, and an outcome is reported (logged, counted,
alerted) only once its mark is committed: a crash in between leaves the post ``sending``, which recovers
as ``unknown``, never as a second publication.

The flush timer runs on the event loop's own clock (``loop.call_at``): it batches writes and decides
nothing about any post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from campaign.errors import StoreError

if TYPE_CHECKING:
    from campaign.dispatch.ports import DispatchStore
    from campaign.queue.store import Mark

logger = logging.getLogger(__name__)


def make_mark(post_id: int, kind: str, now: datetime, reason: str = "", **kw: Any) -> Mark:
    """A :class:`~campaign.queue.store.Mark` (imported here, where a store already exists, so importing
    the dispatcher stays free of SQLAlchemy)."""
    from campaign.queue.store import Mark

    return Mark(post_id, kind, now, reason, **kw)


@dataclass
class _Queued:
    mark: Mark
    #: Resolved once the mark is committed (``sending`` marks: the request may leave only then).
    waiter: asyncio.Future[None] | None = None
    #: Called after the commit with None or the error that refused this mark (outcome marks).
    then: Callable[[StoreError | None], None] | None = None
    #: Committed (a ``sending`` waiter cancelled afterwards must give its post back).
    written: bool = False


class GroupWriter:
    """Group commit for the hot path: the state writes of many posts share one transaction (one fsync).

    ``sending`` marks are awaited: they are written at the next turn of the event loop with everything
    queued by then, and only after that commit may the post's request leave (the rule that makes a crash
    end in ``unknown``, never in a second publication). Outcome marks (sent, retry, deferred, failed,
    unknown, missed) are not awaited: they ride along with the next ``sending`` marks, or go after
    ``delay`` seconds or once ``rows`` are queued; their ``then`` runs after the commit, so an outcome is
    reported (logged, counted, alerted) only once it is durable. A crash before an outcome is written
    leaves its post ``sending``: recovered as ``unknown``, which is what it was while the request was out.

    Writes run on the event loop's thread (the :class:`Store` is used by one thread at a time). A failed
    transaction fails its ``sending`` waiters (those posts are not sent) and keeps the outcomes queued
    for the next write.
    """

    def __init__(self, store: DispatchStore, owner: str, *, delay: float, rows: int) -> None:
        self.store = store
        self.owner = owner
        self.delay = delay
        self.rows = rows
        self._queue: list[_Queued] = []
        self._handle: asyncio.Handle | None = None
        self._due = 0.0

    async def sending(self, mark: Mark, *, cancelled: Callable[[], None]) -> None:
        """Queue a ``sending`` mark and return once it is committed (raises its StoreError otherwise).

        If the caller is cancelled before the write, the mark is withdrawn (the post stays ``claimed``);
        cancelled after it (the post is ``sending`` and nothing left), ``cancelled()`` runs first.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry = _Queued(mark, waiter=waiter)
        self._queue.append(entry)
        self._schedule(loop, 0.0)
        try:
            await waiter
        except asyncio.CancelledError:
            if entry in self._queue:
                self._queue.remove(entry)
            elif entry.written:
                cancelled()
            raise

    def finish(self, mark: Mark, then: Callable[[StoreError | None], None]) -> None:
        """Queue an outcome mark; ``then(None | error)`` runs after it was written."""
        self._queue.append(_Queued(mark, then=then))
        loop = asyncio.get_running_loop()
        self._schedule(loop, 0.0 if len(self._queue) >= self.rows else self.delay)

    @property
    def pending(self) -> int:
        """Marks queued and not yet written."""
        return len(self._queue)

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        when = loop.time() + delay
        if self._handle is not None:
            if self._due <= when:
                return  # an earlier write is already due
            self._handle.cancel()
        self._due = when
        soon = delay <= 0
        self._handle = loop.call_soon(self._write_soon) if soon else loop.call_at(when, self._write_soon)

    def _write_soon(self) -> None:
        self._handle = None
        try:
            self.write()
        except StoreError as exc:
            logger.error("writing post states failed, will retry: %s", exc, extra={"action": "write"})
            if self._queue:
                self._schedule(asyncio.get_running_loop(), max(self.delay, 0.5))

    def write(self) -> None:
        """Write everything queued now, in one transaction on this thread. Raises StoreError when the
        transaction fails (the outcomes stay queued); marks the store refused go to their ``then``."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            errors = self.store.write_marks([e.mark for e in batch], owner=self.owner)
        except StoreError as exc:
            self._queue[:0] = [e for e in batch if e.waiter is None]
            for entry in batch:
                if entry.waiter is not None and not entry.waiter.done():
                    entry.waiter.set_exception(exc)
            raise
        for entry, error in zip(batch, errors, strict=True):
            entry.written = error is None
            if entry.waiter is not None:
                if entry.waiter.done():  # its task was cancelled meanwhile
                    continue
                if error is None:
                    entry.waiter.set_result(None)
                else:
                    entry.waiter.set_exception(error)
            elif entry.then is not None:
                try:
                    entry.then(error)
                except Exception:  # a bug in a report must not lose the other posts' reports
                    logger.exception("post %d: reporting its outcome failed", entry.mark.post_id)
