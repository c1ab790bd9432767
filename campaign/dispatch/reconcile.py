"""Re-examining ``unknown`` posts: sent or not? Resolved only where a retry cannot publish twice.

An ``unknown`` post (an ambiguous answer, or found ``sending`` after a crash) never goes straight back to
sending. Each dispatch looks at it again, using only what its adapter declares (the per-platform facts are
in docs/PLATFORMS.md, column "retry after an unknown outcome"):

=====================================  =====================================================================
the adapter declares                   the unknown post
=====================================  =====================================================================
(every part already has a receipt)     ``sent``
``deduplicates``, no ``dedup_window``  requeued with the same idempotency key (the platform drops a repeat)
``deduplicates`` and ``dedup_window``  requeued when the last attempt started within the window; else a
                                       person decides
a ``lookup`` exchange                  looked up: a found part is recorded (``sent`` when it was the last),
                                       an absent one is requeued; a failed lookup is tried again after
                                       ``lookup_retry`` (a rate limit holds the account)
neither                                a person decides (``campaign retry``)
=====================================  =====================================================================

An automatic retry is allowed only while attempts remain. A post left to a person is reported once to the
campaign's alert account and not examined again by this process. When a deduplicating adapter's window has
passed (the daemon was down for two hours), its ``lookup`` decides if it has one; else a person does: never
a blind retry.

**When** (nothing outside the daemon needs to happen): a post is examined :func:`recheck_delay` after its
last attempt (its last ``sending`` event, so every daemon and a restarted one agree): the retry floor (1 s)
after a first attempt, then the retry policy's backoff ceiling for the attempts before (30 s, 60 s, 120 s,
...), never more than a quarter of the adapter's ``dedup_window`` nor ``RECHECK_CAP``. The dispatcher that
marks a post ``unknown`` schedules that look itself (:meth:`Reconciler.expect`), and its next wake-up
(:meth:`Reconciler.next_look`) includes it; the mark also bumps the queue revision, so other daemons learn
of it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from campaign.dispatch.decide import Action, Policy, decide, describe
from campaign.dispatch.outcomes import ago, extra, when
from campaign.errors import CampaignError, ChannelError, IllegalTransitionError, StoreError
from campaign.plan.posts import part_for

if TYPE_CHECKING:
    from campaign.channels.base import Adapter, Exchange, Part
    from campaign.dispatch.holds import AccountHolds
    from campaign.dispatch.outcomes import Reporter
    from campaign.dispatch.ports import AccountDirectory, Behind, DispatchStore
    from campaign.queue.store import ClaimedPost, QueuedPost

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: "Never by itself": the post waits for a person.
FOREVER = datetime.max.replace(tzinfo=UTC)
#: The longest wait before an unknown post is examined again (well inside the shortest dedup window an
#: adapter in this tree declares: one hour, docs/PLATFORMS.md).
RECHECK_CAP = timedelta(minutes=5)


def recheck_delay(attempts: int, policy: Policy, window: timedelta | None = None) -> timedelta:
    """How long after becoming ``unknown`` (after attempt ``attempts``) a post is examined again.

    The retry floor after a first attempt (a prompt second try with the same key), else the backoff
    ceiling of the attempt before (no jitter: every daemon computes the same time from the queue), capped
    by ``RECHECK_CAP`` and a quarter of ``window`` (the adapter's dedup window), so a safe retry happens
    well inside it.
    """
    retry = policy.retry
    delay = timedelta(seconds=retry.floor if attempts <= 1 else retry.ceiling(attempts - 1))
    delay = min(delay, RECHECK_CAP)
    if window is not None:
        delay = min(delay, window / 4)
    return delay


class Settings(Policy, Protocol):
    """The settings reconciliation reads (:class:`~campaign.dispatch.dispatcher.DispatchConfig` has them)."""

    @property
    def lookup_retry(self) -> timedelta: ...

    @property
    def reconcile_limit(self) -> int: ...


class Runner(Protocol):
    """Runs one exchange for an adapter (the dispatcher's HTTP client or its dry-run recorder)."""

    def __call__(self, exchange: Exchange[T], adapter: Adapter, part: Part | None) -> Awaitable[T]: ...


class Reconciler:
    """Examines the queue's unknown posts; remembers which to look at when (and which wait for a person)."""

    def __init__(
        self,
        store: DispatchStore,
        accounts: AccountDirectory,
        settings: Settings,
        *,
        owner: str,
        holds: AccountHolds,
        reporter: Reporter,
        run: Runner,
        clock: Callable[[], datetime],
        stopping: Callable[[], bool],
        behind: Behind,
    ) -> None:
        self.store = store
        #: Where its writes run: behind the queued marks, in the group writer's thread. On the event loop's
        #: thread a write waited for the writer's transaction, and every account with it.
        self.behind = behind
        self.accounts = accounts
        self.settings = settings
        self.owner = owner
        self.holds = holds
        self.reporter = reporter
        self.run = run
        self.clock = clock
        self.stopping = stopping
        #: Unknown post id -> when to look at it again (FOREVER: waits for a person).
        self.after: dict[int, datetime] = {}

    def next_look(self) -> datetime | None:
        """The earliest time an unknown post is to be examined again, or None."""
        times = [t for t in self.after.values() if t != FOREVER]
        return min(times) if times else None

    def expect(self, post: ClaimedPost, attempts: int, became: datetime) -> datetime:
        """``post`` became ``unknown`` at ``became`` after attempt ``attempts``: schedule its examination
        (the dispatcher's next wake-up includes it) and return when that is."""
        at = self._look_at(post, attempts, became)
        if self.after.get(post.id) != FOREVER:  # a post already left to a person stays so
            self.after[post.id] = at
        return at

    def first_look(self, post: QueuedPost) -> datetime:
        """When ``post`` (unknown, not yet looked at by this process) is first examined: counted from its
        last attempt's start (its last ``sending``; a post recovered after a crash is due at once)."""
        last = self._last_sending(post.id) or post.updated_at
        return self._look_at(post, post.attempts, last if last.tzinfo else last.replace(tzinfo=UTC))

    def _look_at(self, post: ClaimedPost | QueuedPost, attempts: int, became: datetime) -> datetime:
        window = None
        # No adapter: examined at the default time; _resolve reports the configuration problem.
        with contextlib.suppress(CampaignError):
            window = self.accounts.adapter(post.campaign, post.account).dedup_window
        return became + recheck_delay(attempts, self.settings, window)

    async def reconcile(self, now: datetime) -> None:
        """Resolve the unknown posts that can be resolved safely (see the module docstring's table)."""
        try:
            posts = self.store.unknown_posts(self.settings.reconcile_limit)
        except StoreError as exc:
            logger.error("cannot list unknown posts: %s", exc, extra={"action": "reconcile"})
            return
        live = {p.id for p in posts}
        for stale in [i for i in self.after if i not in live]:
            del self.after[stale]
        for post in posts:
            # One post per turn of the event loop: a pass over a thousand posts (after an outage) held every
            # account's sends for 0.7 s per 500 posts when it ran in one.
            await asyncio.sleep(0)
            if self.stopping():
                return
            look = self.after.get(post.id)
            if look is None:
                look = self.after[post.id] = self.first_look(post)
            if look > now:
                continue
            block = self.holds.until(post.account)
            if block is not None and block > now:
                self.after[post.id] = block
                continue
            try:
                await self._resolve(post, now)
            except IllegalTransitionError as exc:  # another daemon resolved it meanwhile
                logger.info("unknown post %d: %s", post.id, exc, extra=extra(post, action="reconcile"))
            except StoreError as exc:
                logger.warning("unknown post %d: %s", post.id, exc, extra=extra(post, action="reconcile"))
            except Exception as exc:  # a bug: this post waits, the pass goes on (else each pass fails alike)
                self.after[post.id] = now + self.settings.lookup_retry
                logger.error(
                    "unknown post %d not examined: unexpected %s", post.id, type(exc).__name__,
                    exc_info=exc, extra=extra(post, action="reconcile"),
                )

    async def _resolve(self, post: QueuedPost, now: datetime) -> None:
        try:
            adapter = self.accounts.adapter(post.campaign, post.account)
        except CampaignError as exc:
            self.after[post.id] = now + self.settings.config_retry
            logger.error("unknown post %d cannot be reconciled: %s", post.id, exc, extra=extra(post))
            return
        index = len(post.part_receipts)
        if index >= len(post.parts):  # every receipt arrived (late): it was sent
            await self.behind(partial(self.store.mark_sent, post.id, post.part_receipts[0], owner=self.owner,
                                      now=now))
            self.reporter.emit(post, "reconciled", detail="every part has a receipt", parts_sent=index)
            return
        if self.settings.retry.exhausted(post.attempts):
            self._needs_person(post, f"no attempts left ({post.attempts}) for an automatic retry")
            return
        if adapter.deduplicates:  # an instance property: an adapter may answer per account
            expired = self._window_passed(post, adapter, now)
            if expired is None:
                await self._requeue(
                    post, f"{post.channel} deduplicates by idempotency key: safe automatic retry", now,
                    len(post.part_receipts),
                )
                return
            # The platform may have forgotten the key: only its lookup (or a person) may decide now.
            await self._look_up(post, adapter, now, unsearchable=expired)
            return
        await self._look_up(post, adapter, now)

    def _window_passed(self, post: QueuedPost, adapter: Adapter, now: datetime) -> str | None:
        """Why a retry with the same key is no longer safe (the dedup window has passed), or None."""
        window = adapter.dedup_window
        if window is None:
            return None
        sent_at = self._last_sending(post.id)
        if sent_at is not None and now - sent_at <= window:
            return None
        return (
            f"{post.channel} deduplicates only for {ago(window)}, and the last attempt started "
            f"{when(sent_at) if sent_at else 'at an unknown time'}"
        )

    async def _look_up(
        self, post: QueuedPost, adapter: Adapter, now: datetime, *, unsearchable: str = ""
    ) -> None:
        """Search the platform for the first part without a receipt and act on what is found.

        ``unsearchable``: why a person must decide when the adapter has no lookup (default: it neither
        deduplicates nor can be searched).
        """
        index = len(post.part_receipts)
        part = part_for(post, index, post.part_receipts)
        exchange = adapter.lookup(part)
        if exchange is None:
            why = unsearchable or f"{post.channel} neither deduplicates nor can be searched"
            self._needs_person(post, why)
            return
        try:
            found = await self.run(exchange, adapter, part)
        except ChannelError as exc:
            # A lookup changes no post state: whatever the error, look again later; a rate limit also
            # holds the account (the same decision a send would make).
            at = self.clock()
            decision = decide(exc, requests_sent=True, attempt=post.attempts, now=at, policy=self.settings)
            if decision.action is Action.RATE_LIMITED and decision.until is not None:
                self.holds.extend(post.account, decision.until, decision.reason, at)
            self.after[post.id] = now + self.settings.lookup_retry
            logger.warning("lookup of unknown post %d failed: %s", post.id, describe(exc), extra=extra(post))
            return
        except Exception as exc:  # a bug in the adapter (a third party's too): this post's lookup only
            self.after[post.id] = now + self.settings.lookup_retry
            logger.error(
                "lookup of unknown post %d failed: unexpected %s", post.id, type(exc).__name__,
                exc_info=exc, extra=extra(post),
            )
            return
        if found is None:
            await self._requeue(
                post, f"lookup: part {index + 1} is not on {post.channel}; safe to send again", now, index
            )
            return
        await self.behind(partial(self.store.record_part, post.id, index, found, now=now))
        receipts = (*post.part_receipts, found)
        if len(receipts) == len(post.parts):
            await self.behind(partial(self.store.mark_sent, post.id, receipts[0], owner=self.owner, now=now))
            self.reporter.emit(
                post, "reconciled", detail="lookup found it published", parts_sent=len(receipts),
                remote_id=receipts[0].remote_id, url=receipts[0].url,
            )
            return
        await self._requeue(
            post, f"lookup found part {index + 1} published; resuming at part {index + 2}", now, len(receipts)
        )

    async def _requeue(self, post: QueuedPost, reason: str, now: datetime, parts_sent: int) -> None:
        await self.behind(
            partial(self.store.requeue_unknown, post.id, now=now, actor=self.owner, reason=reason)
        )
        self.reporter.emit(post, "requeued", detail=reason, parts_sent=parts_sent)

    def _needs_person(self, post: QueuedPost, why: str) -> None:
        self.after[post.id] = FOREVER
        reason = (
            f"{post.last_error or 'outcome unknown'}; {why}: "
            f"check the platform, then `campaign retry {post.id}`"
        )
        self.reporter.emit(post, "unknown", detail=reason, parts_sent=len(post.part_receipts))
        self.reporter.alert(post, "unknown", reason)

    def _last_sending(self, post_id: int) -> datetime | None:
        times = [e.at for e in self.store.history(post_id) if e.to_status == "sending"]
        return times[-1] if times else None
