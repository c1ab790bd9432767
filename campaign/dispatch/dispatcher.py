"""The dispatch core: claim what is due, send it through its adapter, record every outcome.

One core, several clocks (DECISIONS.md): :meth:`Dispatcher.dispatch_due` takes ``now``, claims due posts
with a lease, sends them and returns when it next needs to wake. It never reads the wall clock: the daemon
passes the real time and APScheduler wakes it, ``simulate`` and the tests pass a simulated clock. The one
shared ``httpx.AsyncClient`` is handed in (adapters only describe exchanges; :mod:`campaign.http.exchange`
runs them); a dry run uses the recorder instead and needs no client. The core sees the queue and the
accounts only through :mod:`campaign.dispatch.ports` (campaign files are read by
:mod:`campaign.dispatch.campaigns`), and knows no platform: what a platform does is declared by its adapter.

Sending one post:

1. **Lateness** (:func:`~campaign.dispatch.outcomes.missed_because`): a post due more than its lateness
   window ago becomes ``missed`` unless ``send_late``, and then only a recurrence's latest due occurrence
   goes out (the claim names it on the earlier ones, ``superseded_by``). A thread already partly published
   is always finished. Within the window a post goes out at once.
2. **Holds**: an account blocked by a rate limit (in this process or in the shared ``account_state``) or
   over its quota (the account's ``daily_quota``, else the adapter's ``default_quota``) is deferred until
   the block ends; a deferral is not an attempt. No request goes to an account before its reset time, and
   other accounts keep flowing (:mod:`campaign.dispatch.holds`).
3. ``claimed -> sending`` is committed before the first byte is sent. Thread parts go strictly in order,
   each part's receipt feeding the next (``reply_to``/``root``) and committed (a ``part`` mark, group-
   committed like ``sending``) before the next part is sent, so a restart resumes at the next part. The
   last part's receipt (a single post's only one) travels with the ``sent`` mark.
4. **Outcome**: what ended the exchange is turned into a decision by one pure function,
   :func:`campaign.dispatch.decide.decide` (its docstring holds the table): ``sent``; a rate limit holds
   the account and defers the post; other transient errors -> ``retry_wait`` after full-jitter backoff
   (:mod:`campaign.dispatch.retry`), ``failed`` once attempts are exhausted; permanent errors ->
   ``failed`` with the platform's message; ambiguous ones -> ``unknown``. A configuration problem found
   before anything was sent (no campaign file for the post, a credential missing from the environment)
   defers the post by ``config_retry`` and logs an ERROR each time: fixing the environment lets it go out;
   otherwise it ends ``missed`` once past its lateness window.

Sends run in a pool (:mod:`campaign.dispatch.pool`): each post's send is its own task, a finished one frees
its slot at once and the next claimed post starts, whatever the others are doing; claims refill the pool.
Concurrency is bounded overall, per channel and per account (one at a time per account by default, which
keeps an account's posts in due order); a hung request holds only its own slots. Claims also hand over up to
``per_account`` more posts of an account than it may send at once (``claim_due(..., ahead=per_account)``,
while no other daemon holds any of its posts): they wait in the pool and the next starts the moment one of
the account's sends ends, without waiting for that outcome's commit and a claim. Leases are extended by a
heartbeat while posts are in flight. Rate-limit headers are read from every response: ``remaining == 0``
blocks the account until the reset. The steps of one exchange (login, container then publish) run to
completion even if a response reports the budget exhausted: aborting between them could lose a receipt and
invite a duplicate; the block applies from the next part or post.

Unknown posts (an ambiguous error, or a post found ``sending`` after a crash) never go straight back to
sending: each dispatch first examines them (:mod:`campaign.dispatch.reconcile`), retrying only where the
adapter declares that a retry cannot publish twice (``deduplicates``, within its ``dedup_window``) or a
``lookup`` shows the post absent; the others wait for a person (`campaign retry`) and are reported to the
campaign's alert account (:mod:`campaign.dispatch.alerts`), as are ``failed`` and ``missed`` posts.

Group commit (:mod:`campaign.dispatch.writer`): the hot-path state writes (``sending`` and every outcome)
of all posts in flight share transactions; a post's request waits for its ``sending`` commit, and an
outcome is reported only once committed. A post whose request completed but whose outcome was not yet
written is still ``sending`` and recovers as ``unknown`` (the same as a crash while its request was out):
never sent twice. A post whose ``sending`` write fails because the queue does (a lost connection, a locked
database; not a lost lease) had nothing sent and is deferred by ``store_retry``, the deferral waiting in the
group writer until the queue answers. Heartbeats renew the leases of the posts in hand only. Store calls
are synchronous and short (SQLite in WAL mode); they run on the event loop's thread (a store serves one
thread at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from campaign.channels.base import Adapter, Exchange, Part, Quota, Receipt
from campaign.dispatch.alerts import Alerts
from campaign.dispatch.config import DispatchConfig
from campaign.dispatch.decide import Action, Decision, Stopping, decide, is_queue_failure, queue_failed
from campaign.dispatch.holds import AccountHolds
from campaign.dispatch.outcomes import Outcome, Reporter, ago, extra, missed_because, when
from campaign.dispatch.pool import SendPool, Slots, seconds_until
from campaign.dispatch.ports import AccountDirectory, DispatchStore
from campaign.dispatch.reconcile import Reconciler
from campaign.dispatch.uploads import UploadRecorder, with_uploads
from campaign.dispatch.writer import GroupWriter, make_mark
from campaign.errors import CampaignError, ConfigError, RateLimitedError, StoreError
from campaign.http.exchange import Recording, run, run_dry
from campaign.plan.posts import part_for
from campaign.secrets import redact_resolved

if TYPE_CHECKING:
    import httpx

    from campaign.queue.store import ClaimedPost, Mark

__all__ = [
    "AccountDirectory", "DispatchConfig", "DispatchStore", "Dispatcher", "Outcome",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")
#: While sends are in flight and a claim found nothing, the pool sleeps until the queue's next due time;
#: that read is reused this long (it scans the claimable posts: 4-9 ms at 5,000 queued, and read after
#: every empty claim it took 18% of the loop's samples in the TLS race). Another process's change
#: (:meth:`Dispatcher.wake`) and an outcome that may requeue a post (any but ``sent``) forget it.
DUE_REREAD = timedelta(seconds=1)


class _Progress:
    """How far one send got: the receipts so far, and the requests the current part has handed out."""

    def __init__(self, receipts: tuple[Receipt, ...]) -> None:
        self.receipts = receipts
        self.requests = 0

    def track(self, exchange: Exchange[T]) -> Exchange[T]:
        """``exchange``, counting each request it hands out (did anything leave for this part?)."""
        self.requests = 0
        return self._count(exchange)

    def _count(self, exchange: Exchange[T]) -> Exchange[T]:
        try:
            request = next(exchange)
            while True:
                self.requests += 1
                response = yield request
                request = exchange.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            exchange.close()


class Dispatcher:
    """Sends due posts. Create one per process; drive it with :meth:`dispatch_due`.

    ``clock`` returns aware UTC "now" for every store mark while sending (the daemon's wall clock, or a
    simulated one); ``rng`` returns floats in [0, 1) for backoff jitter; ``on_outcome`` sees every outcome.
    """

    def __init__(
        self,
        store: DispatchStore,
        accounts: AccountDirectory,
        config: DispatchConfig,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime],
        rng: Callable[[], float] = random.random,
        alerts: Alerts | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if client is None and not config.dry_run:
            raise ValueError("a dispatcher that sends needs an httpx.AsyncClient")
        self.store = store
        self.accounts = accounts
        self.config = config
        self.client = client
        self.clock = clock
        self.rng = rng
        #: Waits before a status poll (``campaign.delay``): a test's clock may advance instead of sleeping.
        self.sleep = sleep
        self.alerts = alerts or Alerts(
            accounts.alert_adapter, self._send_alert, interval=config.alert_interval
        )
        self.owner = config.owner
        self.reporter = Reporter(self.alerts, clock, on_outcome)
        self.holds = AccountHolds(store, clock)
        self.writer = GroupWriter(store, self.owner, delay=config.commit_delay, rows=config.commit_rows)
        self.reconciler = Reconciler(
            store, accounts, config, owner=self.owner, holds=self.holds, reporter=self.reporter,
            run=self._exchange, clock=clock, stopping=lambda: self._stopping, behind=self.writer.after_marks,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: SendPool | None = None
        #: A claim (or due-time read) that failed during the current call: raised once its sends are done.
        self._store_error: StoreError | None = None
        #: A claim of this call raised something other than a StoreError (a bug, a row this code cannot
        #: read): no more claims in the call, which raises it once the sends in flight are done. Retried
        #: claims would fail the same way, and the pool would claim again at every wake-up.
        self._claim_bug: StoreError | None = None
        self._reconciling: asyncio.Task[None] | None = None
        #: When to start the next pass over unknown posts during a dispatch (None: when one is due).
        self._reconcile_at: datetime | None = None
        self._in_flight: set[int] = set()
        #: Posts claimed by the current :meth:`dispatch_due` call and not yet let go (outcome committed,
        #: released or dropped), by id. One call may drain a backlog of any size: nothing per post is kept.
        self._claimed: dict[int, ClaimedPost] = {}
        #: Posts whose outcome mark is queued with the group writer and not yet committed.
        self._concluded: set[int] = set()
        self._stopping = False
        #: The queue's next due time as last read (when, what), reused for :data:`DUE_REREAD`.
        self._due_read: tuple[datetime, datetime | None] | None = None
        #: Requests a dry run would have sent (dry runs only).
        self.dry_requests = 0

    # -- public -------------------------------------------------------------------------------------------

    async def dispatch_due(self, now: datetime) -> datetime | None:
        """Claim and send everything due at ``now``; return when to wake next (None: nothing waits).

        Sends run in a pool (:class:`~campaign.dispatch.pool.SendPool`): each post's send is independent,
        a finished one frees its slot at once and claims refill the pool, so a backlog is drained in one
        call and a hung request holds only its own slots. Posts that come due while sends are in flight
        are claimed at their time. Unknown posts are re-examined when due (also during a long call), alert
        batches flushed last. Raises StoreError when state writes keep failing (outcomes stay queued and
        are written first by the next call).
        """
        now = now.astimezone(UTC)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # asyncio primitives belong to the loop that first waits on them; nothing is held between calls,
            # so a dispatcher driven from successive loops (asyncio.run per step) gets fresh ones.
            self._loop = loop
        self._store_error = self._claim_bug = None
        self.writer.write()  # outcomes a failed write left queued (raises StoreError if it fails again)
        self._reconcile_at = now  # examine the unknown posts that are due at the start of every call
        self._pool = pool = self._new_pool(now)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await pool.run()
        except BaseException:
            # Cancelled (the grace period ran out): every cancelled send queued its outcome; write them.
            with contextlib.suppress(StoreError):
                self.writer.write()
            raise
        finally:
            self._pool = None
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._release_leftovers()
        # Outcomes a failed write kept queued: raise (the daemon retries at its next tick) rather than
        # return with the queue behind what was sent; so does a claim that failed.
        self.writer.write()
        failed = self._store_error or self._claim_bug
        self._store_error = self._claim_bug = None
        if failed is not None:
            raise failed
        await self.alerts.flush(max(now, self.clock()))
        return self.next_wake()

    def wake(self) -> None:
        """The queue changed (the daemon saw another process apply, retry or resume): claim again now."""
        self._due_read = None
        if self._pool is not None:
            self._pool.wake()

    def _new_pool(self, now: datetime) -> SendPool:
        config = self.config
        slots = Slots(config.concurrency, config.per_channel or config.concurrency, config.per_account)
        start, self._due_read = now, None

        async def claim(limit: int) -> list[ClaimedPost]:
            if self._claim_bug is not None:
                return []  # none again in this call: send what is in hand, then raise (the next tick tries)
            # Outcomes first: the store counts a post `sending` (its account at the cap) until its outcome
            # is committed, so the claim runs right behind the marks queued before it (in the writer's
            # thread on a SQLite file: the loop goes on sending meanwhile). per_account: the cap holds
            # across daemons too (the store counts every daemon's in-flight posts). The claim's "now" never
            # goes back before the call's.
            job = partial(
                self.store.claim_due, max(start, self.clock()), self.owner, config.lease_seconds,
                min(limit, config.batch_size), per_account=config.per_account, ahead=self._ahead,
            )
            try:
                batch = await self.writer.after_marks(job)
            except StoreError as exc:
                # Sends in flight go on; the error is raised once they are done (the daemon retries later).
                logger.error("claiming due posts failed: %s", exc, extra={"action": "claim"})
                self._store_error = exc
                return []
            except Exception as exc:  # a bug, or a row this code cannot read: the pool must not claim again
                logger.error(
                    "claiming due posts failed unexpectedly", exc_info=exc, extra={"action": "claim"}
                )
                self._claim_bug = StoreError(f"claiming due posts failed: {type(exc).__name__}: {exc}")
                return []
            self._in_flight.update(p.id for p in batch)
            self._claimed.update((p.id, p) for p in batch)
            return batch

        def next_due() -> float | None:
            now = self.clock()
            known = self._due_read
            if known is None or now - known[0] >= DUE_REREAD:
                try:
                    due = self._queue_due_at(now)
                except StoreError as exc:
                    self._store_error = exc
                    return None
                known = self._due_read = (now, due)
            look = self.reconciler.next_look()
            times = [t for t in (known[1], look, known[0] + DUE_REREAD) if t is not None]
            return seconds_until(min(times), self.clock)

        return SendPool(
            slots, prefetch=max(config.batch_size - config.concurrency, config.concurrency),
            claim=claim, send=self._guarded, release=self._release, next_due=next_due,
            on_turn=self._maybe_reconcile, stopping=lambda: self._stopping,
        )

    def _maybe_reconcile(self) -> None:
        """Start re-examining unknown posts (one pass at a time, beside the sends) when one is due."""
        pool = self._pool
        if pool is None or (self._reconciling is not None and not self._reconciling.done()):
            return
        now = self.clock()
        look = self._reconcile_at if self._reconcile_at is not None else self.reconciler.next_look()
        if look is None or look > now:
            return
        self._reconcile_at = None
        self._reconciling = task = asyncio.create_task(self.reconciler.reconcile(max(now, look)))
        pool.track(task)

    def _release(self, posts: list[ClaimedPost]) -> None:
        """Give claimed posts that never started back to the queue (the dispatcher is stopping)."""
        try:
            released = set(self.store.release([p.id for p in posts], owner=self.owner, now=self.clock()))
        except StoreError as exc:
            logger.error("releasing claimed posts failed: %s", exc, extra={"action": "release"})
            released = set()
        for post in posts:
            if post.id in released:
                self._let_go(post.id)
                self.reporter.emit(post, "released", detail="dispatcher stopping")

    def _release_leftovers(self) -> None:
        """After the pool: posts claimed by this call that have no outcome (never started, or cancelled
        before their ``sending`` commit) go back to ``scheduled`` (``sending`` ones are left alone)."""
        self.writer.join()  # a batch still being written decides which posts are sending
        pending = self._in_flight - self._concluded
        leftover = [post for pid, post in self._claimed.items() if pid in pending]
        if leftover:
            self._release(leftover)
        self._in_flight.difference_update(self._claimed)
        self._claimed.clear()

    def next_wake(self) -> datetime | None:
        """The earliest of: the queue's next due time (or block end), an alert flush, an unknown lookup."""
        due = self._queue_due_at(self.clock())
        times = [t for t in (due, self.alerts.next_flush_at(), self.reconciler.next_look()) if t]
        return min(times) if times else None

    @property
    def _ahead(self) -> int:
        """Posts of an account claimed beyond those it may send at once: one turn of its sends."""
        return self.config.per_account

    def _queue_due_at(self, now: datetime) -> datetime | None:
        """When this dispatcher's claims (their per-account cap and posts held ahead) could next succeed."""
        cap = self.config.per_account
        return self.store.next_due_at(now, per_account=cap, ahead=self._ahead, owner=self.owner)

    def request_stop(self) -> None:
        """Start no new post or part; in-flight requests finish (the daemon bounds how long)."""
        self._stopping = True

    @property
    def in_flight(self) -> frozenset[int]:
        """Ids of posts this dispatcher holds right now."""
        return frozenset(self._in_flight)

    def recover(self, now: datetime, *, all_leases: bool = False) -> None:
        """Recover expired leases (all leases with ``all_leases``: a lone SQLite daemon holding the lock)."""
        cutoff = now + timedelta(days=36500) if all_leases else None
        done = self.store.recover_expired(now, actor=self.owner, expired_before=cutoff)
        if done.requeued or done.unknown:
            logger.warning(
                "recovered leases: %d back to scheduled, %d unknown (were sending)",
                len(done.requeued), len(done.unknown), extra={"action": "recover"},
            )

    # -- sends ------------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            now = self.clock()
            try:
                # Only the posts this dispatcher is handling: one it dropped (a bug) expires into recovery.
                # Behind the queued marks, in the writer's thread (on the loop's it waited for the writer).
                until = now + timedelta(seconds=self.config.lease_seconds)
                ids = frozenset(self._in_flight)
                await self.writer.after_marks(partial(self.store.heartbeat, self.owner, until, now=now,
                                                       ids=ids))
            except StoreError as exc:
                logger.error("lease heartbeat failed: %s", exc, extra={"action": "heartbeat"})
            except Exception as exc:  # a bug: the next beat may succeed, and without beats leases run out
                logger.error(
                    "lease heartbeat failed unexpectedly", exc_info=exc, extra={"action": "heartbeat"}
                )

    async def _guarded(self, post: ClaimedPost) -> None:
        """Send ``post`` (the pool holds its slots); contain every error so the others go on."""
        try:
            await self._send_post(post)
        except StoreError as exc:
            if is_queue_failure(exc):  # the queue failed; the post is still ours
                self._give_back(post, exc)
            else:  # a lost lease or the like: recovery or another daemon moved the post on; it is theirs
                logger.warning("post %d: %s", post.id, exc, extra=extra(post, outcome="store_error"))
                self._let_go(post.id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: keep the other posts going; the post's lease expires into recovery
            logger.exception("post %d: unexpected error", post.id, extra=extra(post, outcome="error"))
            self._let_go(post.id)

    def _let_go(self, post_id: int) -> None:
        """This dispatcher is done with ``post_id``: no heartbeat renews its lease, no release touches it."""
        self._in_flight.discard(post_id)
        self._claimed.pop(post_id, None)

    def _give_back(self, post: ClaimedPost, error: StoreError) -> None:
        """``post`` could not start because the queue failed (reading its quota, or writing its ``sending``
        mark): nothing was sent for it, and it is still ours, ``claimed`` (or ``sending``, when the commit
        went through but its answer was lost with the connection). Defer it by ``store_retry`` through the
        group writer, which keeps the mark queued and writes it once the queue answers again. Dropped
        instead, it would stay leased to this daemon, its lease renewed by every heartbeat, until a
        restart."""
        until = self.clock() + self.config.store_retry
        reason = queue_failed(error)
        logger.warning(
            "post %d %s; deferred by %s", post.id, reason, ago(self.config.store_retry),
            extra=extra(post, outcome="store_error", next_attempt_at=until),
        )
        self._defer(post, until, reason, len(post.part_receipts), log=False)

    # -- one post -----------------------------------------------------------------------------------------

    async def _send_post(self, post: ClaimedPost) -> None:
        if self._stopping:
            return  # left in _in_flight: released when the pool ends
        now = self.clock()
        reason = None if post.part_receipts else missed_because(post, now)
        if reason is not None:
            self._finish(post, make_mark(post.id, "missed", now, reason), "missed", alert=True, detail=reason)
            return
        adapter = self._adapter(post)
        if adapter is None:
            return
        held = await self._held_until(post, adapter, now, first=not post.part_receipts)
        if held is not None:
            until, why = held
            mark = make_mark(post.id, "defer", now, why, until=until)
            self._finish(post, mark, "deferred", detail=why, next_attempt_at=until)
            return

        # Durably `sending` before the first byte leaves (group-committed with other posts' marks).
        progress = _Progress(post.part_receipts)
        stopped = partial(self._defer, post, now, "daemon stopped before sending", len(progress.receipts))
        await self.writer.sending(make_mark(post.id, "sending", now), cancelled=stopped)
        attempt = post.attempts + 1
        error: Exception | None = None
        try:
            await self._publish_parts(post, adapter, progress)
        except asyncio.CancelledError as exc:
            # The daemon's grace period ran out: unknown if a request was in flight, else deferred.
            self._conclude(post, exc, progress, attempt)
            raise
        except Exception as exc:  # every error is classified by decide(), a bug included
            error = exc
        self._conclude(post, error, progress, attempt)

    def _adapter(self, post: ClaimedPost) -> Adapter | None:
        """The post's adapter, or None after deferring a post whose adapter cannot be built."""
        try:
            return self.accounts.adapter(post.campaign, post.account)
        except CampaignError as exc:
            problem = exc
        except Exception as exc:  # an adapter that cannot even be built: a bug, but keep the post safe
            logger.exception("post %d: cannot build its adapter", post.id, extra=extra(post))
            problem = ConfigError(f"adapter error: {type(exc).__name__}: {redact_resolved(str(exc))}")
        self._conclude(post, problem, _Progress(post.part_receipts), 0)
        return None

    async def _publish_parts(self, post: ClaimedPost, adapter: Adapter, progress: _Progress) -> None:
        """Publish the parts without a receipt, in order; ``progress`` tells how far it got if this raises."""
        index = len(progress.receipts)
        while index < len(post.parts):
            if index > len(post.part_receipts):
                if self._stopping:
                    raise Stopping
                block = self.holds.until(post.account)
                if block is not None and block > self.clock():
                    raise RateLimitedError(f"account {post.account} is rate limited", retry_at=block)
            part, hook = part_for(post, index, progress.receipts), None
            if (part.media or part.link_image is not None) and not self.config.dry_run:
                # Uploads a platform keeps are recorded and reused (dispatch/uploads.py).
                part, hook = with_uploads(post, part, adapter, self.store, owner=self.owner, clock=self.clock,
                                          behind=self.writer.after_marks)
            receipt = await self._exchange(progress.track(adapter.publish(part)), adapter, part, hook)
            progress.receipts = (*progress.receipts, receipt)
            index += 1
            if index < len(post.parts):
                # The next part replies to this one: its receipt is made durable first, so a crash can
                # never make recovery send this part again (group-committed with other posts' marks: a
                # write of its own here stalled the event loop). The last receipt travels with `sent`.
                part_mark = make_mark(post.id, "part", self.clock(), receipts=progress.receipts)
                await self.writer.durable(part_mark)
                if self._stopping:
                    raise Stopping

    async def _held_until(
        self, post: ClaimedPost, adapter: Adapter, now: datetime, *, first: bool
    ) -> tuple[datetime, str] | None:
        """Why and until when ``post`` may not be sent now (rate-limit block or quota), or None."""
        block = self.holds.until(post.account)
        if block is not None and block > now:
            return block, f"account {post.account} rate limited until {when(block)}"
        quota = self._quota(post.channel, adapter)
        if quota is None or not first:
            return None
        # The quota counts sends: the ones still queued must be in the table. So the read runs behind them,
        # in the writer's thread (a flush and a read on the loop's thread waited for the commit thread's
        # transaction: 85-110 ms stalls of every send, a third of the throughput, docs/BENCHMARKS.md).
        read = partial(self.store.sent_times, post.account, now - quota.window)
        times = await self.writer.after_marks(read)
        if len(times) < quota.limit:
            return None
        until = times[len(times) - quota.limit] + quota.window
        reason = f"quota of {quota.limit} posts per {ago(quota.window)} reached for {post.account}"
        self.holds.hold(post.account, until, reason)
        return until, reason

    def _quota(self, channel: str, adapter: Adapter) -> Quota | None:
        raw = adapter.account.settings.get("daily_quota")
        if raw is not None:
            try:
                return Quota(int(raw))
            except (TypeError, ValueError):
                logger.error("account %s: daily_quota %r is not a number", adapter.account.name, raw)
        return self.config.quotas.get(channel, adapter.default_quota)

    # -- outcomes -----------------------------------------------------------------------------------------

    def _conclude(
        self, post: ClaimedPost, error: BaseException | None, progress: _Progress, attempt: int
    ) -> None:
        """Decide what ``error`` (None: every part published) means for ``post`` and record it."""
        now = self.clock()
        sent = progress.requests > 0
        decision = decide(error, requests_sent=sent, attempt=attempt, now=now, policy=self.config)
        if decision.bug:
            logger.error(
                "post %d: unexpected error while sending", post.id, extra=extra(post), exc_info=error
            )
        self._record(post, decision, progress.receipts, now)

    def _record(
        self, post: ClaimedPost, decision: Decision, receipts: tuple[Receipt, ...], now: datetime
    ) -> None:
        """Queue the mark ``decision`` stands for; its outcome is reported once committed."""
        parts, reason, attempt = len(receipts), decision.reason, decision.attempt
        if decision.action is Action.SENT:
            first = receipts[0]
            self._finish(
                post, make_mark(post.id, "sent", now, receipts=receipts), "sent",
                parts_sent=parts, attempt=attempt, remote_id=first.remote_id, url=first.url,
            )
        elif decision.action is Action.RETRY:
            until = self.config.retry.next_attempt_at(now, attempt, self.rng)
            self._finish(
                post, make_mark(post.id, "retry", now, reason, until=until), "retry",
                detail=reason, parts_sent=parts, attempt=attempt, next_attempt_at=until,
            )
        elif decision.action is Action.FAILED:
            self._finish(
                post, make_mark(post.id, "failed", now, reason), "failed", alert=True,
                detail=reason, parts_sent=parts, attempt=attempt,
            )
        elif decision.action is Action.UNKNOWN:
            # Its re-examination is scheduled once the mark is durable (reconcile.py says when).
            self._finish(
                post, make_mark(post.id, "unknown", now, reason), "unknown",
                detail=reason, parts_sent=parts, attempt=attempt,
                committed=partial(self.reconciler.expect, post, post.attempts + 1, now),
            )
        else:  # DEFER, RATE_LIMITED: not an attempt
            assert decision.until is not None
            until = decision.until
            if decision.action is Action.RATE_LIMITED:
                until = self.holds.extend(post.account, until, reason, now)
            if decision.config_problem:
                logger.error(
                    "post %d deferred: %s", post.id, reason,
                    extra=extra(post, outcome="deferred", next_attempt_at=until),
                )
            self._defer(post, until, reason, parts, config_problem=decision.config_problem)

    def _defer(
        self, post: ClaimedPost, until: datetime, reason: str, parts_sent: int, *, log: bool = True,
        config_problem: bool = False,  # logged as an ERROR already; it waits for a person's fix
    ) -> None:
        mark = make_mark(post.id, "defer", self.clock(), reason, until=until)
        self._finish(post, mark, "deferred", detail=reason, parts_sent=parts_sent, next_attempt_at=until,
                     log=log and not config_problem, needs_a_person=config_problem)

    def _finish(
        self, post: ClaimedPost, mark: Mark, outcome: str, *, alert: bool = False,
        committed: Callable[[], object] | None = None, **kw: Any,
    ) -> None:
        """Queue ``mark`` with the group writer; once it is committed, run ``committed`` and report
        ``outcome`` (and alert)."""

        def then(error: StoreError | None) -> None:
            self._concluded.discard(post.id)
            self._let_go(post.id)
            if error is not None:
                # LeaseLostError included: recovery or another daemon moved the post on; its state is theirs.
                logger.warning("post %d: %s", post.id, error, extra=extra(post, outcome="store_error"))
                return
            if committed is not None:
                committed()
            if mark.kind != "sent":  # it may have put a post back in the queue, due sooner than known
                self._due_read = None
            if self._pool is not None:
                self._pool.wake()  # the store no longer counts this post in flight: its account may go on
            self.reporter.emit(post, outcome, **kw)
            if alert:
                self.reporter.alert(post, mark.kind, mark.reason)

        self._concluded.add(post.id)
        self.writer.finish(mark, then)

    # -- running exchanges --------------------------------------------------------------------------------

    async def _exchange(
        self, exchange: Exchange[T], adapter: Adapter, part: Part | None, hook: UploadRecorder | None = None
    ) -> T:
        if self.config.dry_run:
            recording = Recording()
            try:
                return run_dry(exchange, adapter, part, recording)
            finally:
                self.dry_requests += len(recording.requests)
        assert self.client is not None
        sink = self.holds.sink(adapter.account.name)
        return await run(
            exchange, self.client, adapter, on_rate_limit=sink, now=self.clock, sleep=self.sleep,
            before_send=hook,
        )

    async def _send_alert(self, adapter: Adapter, part: Part) -> Receipt:
        return await self._exchange(adapter.publish(part), adapter, part)
