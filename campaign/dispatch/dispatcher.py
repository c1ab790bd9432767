"""The dispatch core: claim what is due, send it through its adapter, record every outcome.

One core, several clocks (DECISIONS.md): :meth:`Dispatcher.dispatch_due` takes ``now``, claims due posts
with a lease, sends them and returns when it next needs to wake. It never reads the wall clock: the daemon
passes the real time and APScheduler wakes it, ``simulate`` and the tests pass a simulated clock. The one
shared ``httpx.AsyncClient`` is handed in (adapters only describe exchanges; :mod:`campaign.http.exchange`
runs
them); a dry run uses the recorder instead and needs no client.

Sending one post:

1. **Lateness**: a post due more than its lateness window ago becomes ``missed`` (unless ``send_late``;
   a thread already partly published is always finished). Within the window it goes out at once.
2. **Holds**: an account blocked by a rate limit (in this process or in the shared ``account_state``) or
   over its quota is deferred until the block ends; a deferral is not an attempt. No request goes to an
   account before its reset time, and other accounts keep flowing.
3. ``claimed -> sending`` is committed before the first byte is sent. Thread parts go strictly in order,
   each part's receipt feeding the next (``reply_to``/``root``) and stored with ``record_part`` before the
   next part is sent, so a restart resumes at the next part. The last part's receipt (a single post's
   only one) travels with the ``sent`` mark.
4. Outcomes: every part published -> ``sent``. :class:`~campaign.errors.RateLimitedError` -> account
   blocked until ``retry_at`` (or now + ``retry_after``), post deferred. Other
   :class:`~campaign.errors.TransientError` -> ``retry_wait`` after full-jitter backoff
   (:mod:`campaign.dispatch.retry`), ``failed`` once attempts are exhausted.
   :class:`~campaign.errors.PermanentError`
   -> ``failed`` with the platform's message. :class:`~campaign.errors.AmbiguousError` -> ``unknown``.
   A configuration problem found before anything was sent (no campaign file for the post, a credential
   missing from the environment) defers the post by ``config_retry`` and logs an ERROR each time: fixing
   the environment lets it go out; otherwise it ends ``missed`` once past its lateness window.

Concurrency is bounded overall, per channel and per account (asyncio semaphores; one at a time per account
by default, which keeps an account's posts in due order). Leases are extended by a heartbeat while posts
are in flight. Rate-limit headers are read from every response (``on_rate_limit``): ``remaining == 0``
blocks the account until the reset. The steps of one exchange (login, Threads' container then publish) run
to completion even if a response reports the budget exhausted: aborting between them could lose a receipt
and invite a duplicate; the block applies from the next part or post.

Unknown posts (an ambiguous error, or a post found ``sending`` after a crash) never go straight back to
sending. Each dispatch examines them:

==================================  ==========================  ======================  ==================
channel                             platform deduplicates        lookup                  unknown becomes
==================================  ==========================  ======================  ==================
mastodon                            ``Idempotency-Key``, 1 h     none                    retried with the
                                                                                         same key if the
                                                                                         last send was < 1 h
                                                                                         ago; else a person
bluesky                             record key derived from      ``getRecord``           retried with the
                                    the idempotency key                                  same key (an
                                                                                         existing record is
                                                                                         read back)
webhook                             per account                  none                    retried when the
                                    (``deduplicates: true``)                             account says so;
                                                                                         else a person
x, linkedin, facebook, threads,     no                           none                    waits for a person
telegram, slack, discord, teams                                                          (`campaign retry`)
==================================  ==========================  ======================  ==================

For an adapter with ``lookup`` and no deduplication, a found part is recorded (``sent`` when it was the
last) and an absent one is retried. An automatic retry is allowed only while attempts remain; unknown
posts that wait for a person are reported to the campaign's alert account (:mod:`campaign.dispatch.alerts`),
as are
``failed`` and ``missed`` ones.

Group commit: the hot-path state writes (``sending`` and every outcome) of all posts in flight share
transactions (:meth:`Store.write_marks`, through :class:`_GroupWriter`): a ``sending`` mark is committed
at the next turn of the event loop together with whatever else is queued by then, and the post's request
waits for that commit; outcomes ride along, or go within ``commit_delay`` seconds, and are reported only
once committed. One fsync then serves many posts instead of three per post. Crash windows stay safe: a
post whose request completed but whose outcome was not yet written is still ``sending`` and recovers as
``unknown`` (the same as a crash while its request was out): never sent twice, and retried with the same
key where the platform deduplicates. Store calls are synchronous and short (SQLite in WAL mode); they
run on the event loop's thread (a :class:`Store` serves one thread at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from campaign.channels.base import Adapter, Exchange, Part, Quota, RateLimit, Receipt
from campaign.dispatch.alerts import DEFAULT_INTERVAL, Alert, Alerts
from campaign.dispatch.retry import RetryPolicy
from campaign.errors import (
    AmbiguousError,
    CampaignError,
    ChannelError,
    ConfigError,
    PermanentError,
    RateLimitedError,
    StoreError,
    TransientError,
)
from campaign.plan.posts import part_for

if TYPE_CHECKING:
    import httpx

    from campaign.queue.store import ClaimedPost, Mark, QueuedPost, Store
    from campaign.source.config import AccountConfig, Campaign

logger = logging.getLogger(__name__)
T = TypeVar("T")

_FOREVER = datetime.max.replace(tzinfo=UTC)


class AccountDirectory(Protocol):
    """Where the dispatcher gets a ready adapter for a queued post's (campaign, account)."""

    def adapter(self, campaign: str, account: str) -> Adapter:
        """The adapter serving ``account`` of ``campaign``; ConfigError when it cannot be built."""
        ...

    def alert_adapter(self, campaign: str) -> Adapter | None:
        """The adapter of the campaign's ``alerts:`` account, or None."""
        ...


class CampaignDirectory:
    """Accounts from campaign files: built from loaded campaigns or every ``*.yaml`` of a folder.

    One adapter instance per (campaign, account) for the life of the directory (adapters may cache a
    session); :meth:`refresh` re-reads the folder and keeps the adapters whose account block is unchanged.
    ``placeholder`` credentials (dry runs) never read the environment.
    """

    def __init__(
        self,
        campaigns: Iterable[Campaign] = (),
        *,
        folder: Path | None = None,
        placeholder: bool = False,
        clock: Callable[[], datetime] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.placeholder = placeholder
        self.clock = clock
        self.environ = environ
        self.campaigns: dict[str, Campaign] = {c.name: c for c in campaigns}
        self._adapters: dict[tuple[str, str], tuple[AccountConfig, Adapter]] = {}
        #: Files that could not be loaded at the last refresh, with the error.
        self.errors: dict[str, str] = {}
        if folder is not None:
            self.refresh()

    def refresh(self) -> None:
        """Re-read every ``*.yaml`` campaign file of the folder (no-op without a folder)."""
        if self.folder is None:
            return
        from campaign.source.config import load_campaign

        found: dict[str, Campaign] = {}
        errors: dict[str, str] = {}
        for path in sorted(self.folder.glob("*.yaml")) + sorted(self.folder.glob("*.yml")):
            try:
                campaign = load_campaign(path)
            except CampaignError as exc:
                errors[str(path)] = str(exc)
                if self.errors.get(str(path)) != str(exc):
                    logger.error("campaign file skipped: %s", exc, extra={"action": "load"})
                continue
            if campaign.name in found:
                logger.warning(
                    "campaign %r is defined by more than one file; using %s",
                    campaign.name, found[campaign.name].path, extra={"action": "load"},
                )
                continue
            found[campaign.name] = campaign
        self.campaigns, self.errors = found, errors

    def _config(self, campaign: str, account: str) -> AccountConfig:
        camp = self.campaigns.get(campaign)
        if camp is None:
            where = f" in {self.folder}" if self.folder is not None else ""
            raise ConfigError(f"campaign {campaign!r} is queued but no campaign file{where} defines it")
        config = camp.accounts.get(account)
        if config is None:
            raise ConfigError(f"campaign {campaign!r} ({camp.display}) has no account {account!r}")
        return config

    def adapter(self, campaign: str, account: str) -> Adapter:
        config = self._config(campaign, account)
        cached = self._adapters.get((campaign, account))
        if cached is not None and cached[0] == config:
            return cached[1]
        from campaign import channels

        runtime = config.to_account(environ=self.environ, placeholder=self.placeholder)
        made = channels.load(config.channel)(runtime, clock=self.clock)
        self._adapters[(campaign, account)] = (config, made)
        return made

    def alert_adapter(self, campaign: str) -> Adapter | None:
        camp = self.campaigns.get(campaign)
        if camp is None or camp.alerts is None:
            return None
        return self.adapter(campaign, camp.alerts)

    def zone(self, campaign: str) -> str:
        camp = self.campaigns.get(campaign)
        return camp.zone if camp is not None else "UTC"


@dataclass(frozen=True)
class DispatchConfig:
    """Tunables of the dispatcher. Durations in seconds unless typed as timedelta."""

    #: Lease owner and event actor, e.g. ``daemon:HOST:PID``.
    owner: str
    lease_seconds: float = 300.0
    heartbeat_seconds: float = 60.0
    #: Posts in flight at once, overall / per channel / per account.
    concurrency: int = 16
    per_channel: int = 8
    per_account: int = 1
    #: Posts claimed per statement.
    batch_size: int = 64
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Wait after a rate limit that names no reset time.
    rate_limit_wait: timedelta = timedelta(seconds=60)
    #: Wait before retrying a post whose account cannot be built (missing file or credential).
    config_retry: timedelta = timedelta(minutes=5)
    #: Wait before repeating a failed lookup of an unknown post.
    lookup_retry: timedelta = timedelta(minutes=5)
    #: Quotas by channel that replace the adapters' ``default_quota`` (tests; accounts use ``daily_quota``).
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    #: Run exchanges against the adapters' fake responses (nothing leaves the machine).
    dry_run: bool = False
    #: Unknown posts examined per dispatch.
    reconcile_limit: int = 1000
    #: At most one alert message per alert account per this interval.
    alert_interval: timedelta = DEFAULT_INTERVAL
    #: Group commit: an outcome waits at most this many seconds (or until ``commit_rows`` are queued) to
    #: share a transaction with others; a ``sending`` mark waits only for the next turn of the event loop.
    commit_delay: float = 0.01
    commit_rows: int = 256


@dataclass(frozen=True)
class Outcome:
    """What one dispatch did with one post (for logs, ``simulate`` and tests)."""

    post_id: int
    campaign: str
    post_key: str
    occurrence: str
    channel: str
    account: str
    #: sent, retry, failed, unknown, missed, deferred, released, requeued, reconciled
    outcome: str
    at: datetime
    parts: int
    parts_sent: int = 0
    attempt: int = 0
    detail: str = ""
    remote_id: str | None = None
    url: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def label(self) -> str:
        occ = f"@{self.occurrence}" if self.occurrence else ""
        return f"{self.post_key}{occ}/{self.account}"




class _Tracked:
    """Counts the requests an exchange has handed out (did anything leave for this part?)."""

    def __init__(self) -> None:
        self.requests = 0

    def wrap(self, exchange: Exchange[T]) -> Exchange[T]:
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


class _Stopping(Exception):
    """Internal: the dispatcher was asked to stop before the next part."""


def _mark(post_id: int, kind: str, now: datetime, reason: str = "", **kw: Any) -> Mark:
    # Imported here: a Store (hence campaign.queue.store) exists before any dispatcher writes, and importing
    # this module stays free of SQLAlchemy.
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


class _GroupWriter:
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

    def __init__(self, store: Store, owner: str, *, delay: float, rows: int) -> None:
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


class Dispatcher:
    """Sends due posts. Create one per process; drive it with :meth:`dispatch_due`.

    ``clock`` returns aware UTC "now" for every store mark while sending (the daemon's wall clock, or a
    simulated one); ``rng`` returns floats in [0, 1) for backoff jitter; ``on_outcome`` sees every outcome.
    """

    def __init__(
        self,
        store: Store,
        accounts: AccountDirectory,
        config: DispatchConfig,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime],
        rng: Callable[[], float] = random.random,
        alerts: Alerts | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        if client is None and not config.dry_run:
            raise ValueError("a dispatcher that sends needs an httpx.AsyncClient")
        self.store = store
        self.accounts = accounts
        self.config = config
        self.client = client
        self.clock = clock
        self.rng = rng
        self.on_outcome = on_outcome
        self.alerts = alerts or Alerts(
            accounts.alert_adapter, self._send_alert, interval=config.alert_interval
        )
        self.owner = config.owner
        self._global = asyncio.Semaphore(config.concurrency)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._per_channel: dict[str, asyncio.Semaphore] = {}
        self._per_account: dict[str, asyncio.Semaphore] = {}
        #: Account -> UTC time before which nothing may be sent to it (mirrors account_state).
        self._blocked: dict[str, datetime] = {}
        #: Unknown post id -> when to look at it again (_FOREVER: waits for a person).
        self._reconcile_after: dict[int, datetime] = {}
        self._in_flight: set[int] = set()
        self._stopping = False
        self._writer = _GroupWriter(store, self.owner, delay=config.commit_delay, rows=config.commit_rows)
        #: Requests a dry run would have sent (dry runs only).
        self.dry_requests = 0

    # -- public -------------------------------------------------------------------------------------------

    async def dispatch_due(self, now: datetime) -> datetime | None:
        """Claim and send everything due at ``now``; return when to wake next (None: nothing waits).

        Loops while full batches come back, so a backlog is drained in one call. Unknown posts are
        examined first and alert batches flushed last. Raises StoreError when state writes keep failing
        (outcomes stay queued and are written first by the next call).
        """
        now = now.astimezone(UTC)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # asyncio primitives belong to the loop that first waits on them; nothing is held between calls,
            # so a dispatcher driven from successive loops (asyncio.run per step) gets fresh ones.
            self._loop = loop
            self._global = asyncio.Semaphore(self.config.concurrency)
            self._per_channel.clear()
            self._per_account.clear()
        self._writer.write()  # outcomes a failed write left queued (raises StoreError if it fails again)
        await self._reconcile(now)
        while not self._stopping:
            # per_account: the cap holds across daemons too (the store counts every daemon's in-flight posts)
            batch = self.store.claim_due(
                now, self.owner, self.config.lease_seconds, self.config.batch_size,
                per_account=self.config.per_account,
            )
            if not batch:
                break
            await self._send_batch(batch)
            # Claim again even after a short batch: the per-account cap held back posts of accounts that had
            # one in flight, and those are free now.
            now = max(now, self.clock())
        # Outcomes a failed write kept queued: raise (the daemon retries at its next tick) rather than
        # return with the queue behind what was sent.
        self._writer.write()
        await self.alerts.flush(max(now, self.clock()))
        return self.next_wake()

    def next_wake(self) -> datetime | None:
        """The earliest of: the queue's next due time (or block end), an alert flush, an unknown lookup."""
        due = self.store.next_due_at(self.clock(), per_account=self.config.per_account)
        times = [t for t in (due, self.alerts.next_flush_at()) if t]
        times.extend(t for t in self._reconcile_after.values() if t != _FOREVER)
        return min(times) if times else None

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

    # -- batches ------------------------------------------------------------------------------------------

    async def _send_batch(self, batch: list[ClaimedPost]) -> None:
        self._in_flight.update(p.id for p in batch)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await asyncio.gather(*(self._guarded(post) for post in batch))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            try:
                self._writer.write()  # every outcome of the batch, before deciding what was never started
            except StoreError as exc:
                logger.error("writing post states failed: %s", exc, extra={"action": "write"})
            leftover = self._in_flight.intersection(p.id for p in batch)
            if leftover:
                # Still claimed (never started): give them back so another run picks them up.
                released = self.store.release(leftover, owner=self.owner, now=self.clock())
                for post in batch:
                    if post.id in released:
                        self._emit(post, "released", detail="dispatcher stopping")
            self._in_flight.difference_update(p.id for p in batch)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            now = self.clock()
            try:
                self.store.heartbeat(self.owner, now + timedelta(seconds=self.config.lease_seconds), now=now)
            except StoreError as exc:
                logger.error("lease heartbeat failed: %s", exc, extra={"action": "heartbeat"})

    async def _guarded(self, post: ClaimedPost) -> None:
        try:
            channel = self._semaphore(self._per_channel, post.channel, self.config.per_channel)
            account = self._semaphore(self._per_account, post.account, self.config.per_account)
            async with self._global, channel, account:
                await self._send_post(post)
        except StoreError as exc:
            # LeaseLostError included: recovery or another daemon moved the post on; its state is theirs.
            logger.warning("post %d: %s", post.id, exc, extra=self._extra(post, outcome="store_error"))
            self._in_flight.discard(post.id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: keep the other posts going; the post's lease expires into recovery
            logger.exception("post %d: unexpected error", post.id, extra=self._extra(post, outcome="error"))
            self._in_flight.discard(post.id)

    @staticmethod
    def _semaphore(table: dict[str, asyncio.Semaphore], key: str, size: int) -> asyncio.Semaphore:
        sem = table.get(key)
        if sem is None:
            sem = table[key] = asyncio.Semaphore(size)
        return sem

    # -- one post -----------------------------------------------------------------------------------------

    async def _send_post(self, post: ClaimedPost) -> None:
        if self._stopping:
            return  # left in _in_flight: released by _send_batch
        now = self.clock()
        receipts = post.part_receipts
        if post.is_late(now) and not receipts:
            reason = (
                f"found due {_ago(now - post.due_at)} after {_when(post.due_at)}, later than its "
                f"lateness window ({_ago(post.late_window)})"
            )
            self._finish(post, _mark(post.id, "missed", now, reason), "missed", alert=True, detail=reason)
            return
        try:
            adapter = self.accounts.adapter(post.campaign, post.account)
        except CampaignError as exc:
            self._defer_config(post, exc, sending=False)
            return
        except Exception as exc:  # an adapter that cannot even be built: a bug, but keep the post safe
            logger.exception("post %d: cannot build its adapter", post.id, extra=self._extra(post))
            problem = ConfigError(f"adapter error: {type(exc).__name__}: {exc}")
            self._defer_config(post, problem, sending=False)
            return
        held = await self._held_until(post, adapter, now, first=not receipts)
        if held is not None:
            until, why = held
            mark = _mark(post.id, "defer", now, why, until=until)
            self._finish(post, mark, "deferred", detail=why, next_attempt_at=until)
            return

        # Durably `sending` before the first byte leaves (group-committed with other posts' marks).
        stopped = partial(self._defer, post, now, "daemon stopped before sending", len(receipts))
        await self._writer.sending(_mark(post.id, "sending", now), cancelled=stopped)
        attempt = post.attempts + 1
        index = len(receipts)
        tracked = _Tracked()
        try:
            while index < len(post.parts):
                if index > len(post.part_receipts):
                    if self._stopping:
                        raise _Stopping
                    block = self._blocked.get(post.account)
                    if block is not None and block > self.clock():
                        raise RateLimitedError(f"account {post.account} is rate limited", retry_at=block)
                part = part_for(post, index, receipts)
                tracked = _Tracked()
                receipt = await self._exchange(tracked.wrap(adapter.publish(part)), adapter, part)
                receipts = (*receipts, receipt)
                index += 1
                if index < len(post.parts):
                    # The next part replies to this one: its receipt is made durable first, so a crash can
                    # never make recovery send this part again. The last receipt travels with `sent`.
                    self.store.record_part(post.id, index - 1, receipt, now=self.clock())
                    if self._stopping:
                        raise _Stopping
        except _Stopping:
            self._defer(post, self.clock(), "daemon stopped between thread parts", len(receipts))
            return
        except asyncio.CancelledError:
            # The daemon's grace period ran out with a request in flight: nobody knows whether it landed.
            now = self.clock()
            if tracked.requests:
                self._unknown(post, "daemon stopped while a request was in flight", len(receipts), 0)
            else:
                self._defer(post, now, "daemon stopped", len(receipts))
            raise
        except RateLimitedError as exc:
            until = self._rate_limited(post.account, exc)
            self._defer(post, until, f"rate limited: {exc}", len(receipts))
            return
        except TransientError as exc:
            self._transient(post, attempt, exc, len(receipts))
            return
        except PermanentError as exc:
            self._failed(post, attempt, _message(exc), len(receipts))
            return
        except AmbiguousError as exc:
            self._unknown(post, _message(exc), len(receipts), attempt)
            return
        except CampaignError as exc:
            if tracked.requests:
                self._unknown(post, f"{exc} (after a request was sent)", len(receipts), attempt)
            else:
                self._defer_config(post, exc, sending=True, parts_sent=len(receipts))
            return
        except Exception as exc:
            if tracked.requests:
                reason = f"internal error after a request was sent: {type(exc).__name__}: {exc}"
                self._unknown(post, reason, len(receipts), attempt)
            else:
                self._failed(post, attempt, f"internal error: {type(exc).__name__}: {exc}", len(receipts))
            logger.exception("post %d: unexpected error while sending", post.id, extra=self._extra(post))
            return
        first = receipts[0]
        self._finish(
            post, _mark(post.id, "sent", self.clock(), receipts=receipts), "sent",
            parts_sent=len(receipts), attempt=attempt, remote_id=first.remote_id, url=first.url,
        )

    async def _held_until(
        self, post: ClaimedPost, adapter: Adapter, now: datetime, *, first: bool
    ) -> tuple[datetime, str] | None:
        """Why and until when ``post`` may not be sent now (rate-limit block or quota), or None."""
        block = self._blocked.get(post.account)
        if block is not None and block > now:
            return block, f"account {post.account} rate limited until {_when(block)}"
        quota = self._quota(post.channel, adapter)
        if quota is None or not first:
            return None
        self._writer.write()  # the quota counts sends: the ones still queued must be in the table
        times = self.store.sent_times(post.account, now - quota.window)
        if len(times) < quota.limit:
            return None
        until = times[len(times) - quota.limit] + quota.window
        reason = f"quota of {quota.limit} posts per {_ago(quota.window)} reached for {post.account}"
        self._block(post.account, until, reason)
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

    def _finish(self, post: ClaimedPost, mark: Mark, outcome: str, *, alert: bool = False, **kw: Any) -> None:
        """Queue ``mark`` with the group writer; once it is committed, report ``outcome`` (and alert)."""

        def then(error: StoreError | None) -> None:
            if error is not None:
                # LeaseLostError included: recovery or another daemon moved the post on; its state is theirs.
                logger.warning("post %d: %s", post.id, error, extra=self._extra(post, outcome="store_error"))
                self._in_flight.discard(post.id)
                return
            self._done(post, outcome, **kw)
            if alert:
                self._alert(post, mark.kind, mark.reason)

        self._writer.finish(mark, then)

    def _defer(self, post: ClaimedPost, until: datetime, reason: str, parts_sent: int) -> None:
        mark = _mark(post.id, "defer", self.clock(), reason, until=until)
        self._finish(post, mark, "deferred", detail=reason, parts_sent=parts_sent, next_attempt_at=until)

    def _defer_config(
        self, post: ClaimedPost, exc: CampaignError, *, sending: bool, parts_sent: int = 0
    ) -> None:
        now = self.clock()
        until = now + self.config.config_retry
        reason = f"cannot send: {exc}"
        logger.error(
            "post %d deferred: %s", post.id, reason,
            extra=self._extra(post, outcome="deferred", next_attempt_at=until),
        )
        mark = _mark(post.id, "defer", now, reason, until=until)
        self._finish(
            post, mark, "deferred", detail=reason, parts_sent=parts_sent, next_attempt_at=until, log=False
        )

    def _transient(self, post: ClaimedPost, attempt: int, exc: TransientError, parts_sent: int) -> None:
        policy = self.config.retry
        message = _message(exc)
        if policy.exhausted(attempt):
            self._failed(post, attempt, f"gave up after {attempt} attempts: {message}", parts_sent)
            return
        now = self.clock()
        until = policy.next_attempt_at(now, attempt, self.rng)
        self._finish(
            post, _mark(post.id, "retry", now, message, until=until), "retry",
            detail=message, parts_sent=parts_sent, attempt=attempt, next_attempt_at=until,
        )

    def _failed(self, post: ClaimedPost, attempt: int, reason: str, parts_sent: int) -> None:
        self._finish(
            post, _mark(post.id, "failed", self.clock(), reason), "failed", alert=True,
            detail=reason, parts_sent=parts_sent, attempt=attempt,
        )

    def _unknown(self, post: ClaimedPost, reason: str, parts_sent: int, attempt: int) -> None:
        self._finish(
            post, _mark(post.id, "unknown", self.clock(), reason), "unknown",
            detail=reason, parts_sent=parts_sent, attempt=attempt,
        )

    def _done(self, post: ClaimedPost, outcome: str, *, log: bool = True, **kw: Any) -> None:
        self._in_flight.discard(post.id)
        self._emit(post, outcome, log=log, **kw)

    def _emit(
        self,
        post: ClaimedPost | QueuedPost,
        outcome: str,
        *,
        log: bool = True,
        detail: str = "",
        parts_sent: int = 0,
        attempt: int = 0,
        remote_id: str | None = None,
        url: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        result = Outcome(
            post_id=post.id,
            campaign=post.campaign,
            post_key=post.post_key,
            occurrence=post.occurrence,
            channel=post.channel,
            account=post.account,
            outcome=outcome,
            at=self.clock(),
            parts=len(post.parts),
            parts_sent=parts_sent,
            attempt=attempt,
            detail=detail,
            remote_id=remote_id,
            url=url,
            next_attempt_at=next_attempt_at,
        )
        if log:
            quiet = ("sent", "deferred", "released", "requeued", "reconciled")
            level = logging.INFO if outcome in quiet else logging.WARNING
            text = f"post {post.id} {result.label} {outcome}" + (f": {detail}" if detail else "")
            logger.log(
                level, text,
                extra=self._extra(post, outcome=outcome, attempt=attempt or None, remote_id=remote_id,
                                  next_attempt_at=next_attempt_at),
            )
        if self.on_outcome is not None:
            self.on_outcome(result)

    @staticmethod
    def _extra(post: ClaimedPost | QueuedPost, **kw: Any) -> dict[str, Any]:
        return {
            "post_id": post.id,
            "campaign": post.campaign,
            "channel": post.channel,
            "account": post.account,
            **{k: v for k, v in kw.items() if v is not None},
        }

    def _alert(self, post: ClaimedPost | QueuedPost, status: str, reason: str) -> None:
        occ = f"@{post.occurrence}" if post.occurrence else ""
        self.alerts.report(
            Alert(
                campaign=post.campaign,
                post_id=post.id,
                label=f"{post.post_key}{occ}/{post.account}",
                channel=post.channel,
                status=status,
                reason=reason,
                at=self.clock(),
            )
        )

    # -- rate limits ----------------------------------------------------------------------------------

    def _block(self, account: str, until: datetime, reason: str) -> None:
        until = until.astimezone(UTC)
        current = self._blocked.get(account)
        if current is not None and current >= until:
            return
        self._blocked[account] = until
        self.store.block_account(account, until, now=self.clock(), reason=reason)
        logger.warning(
            "account %s held until %s: %s", account, _when(until), reason,
            extra={"account": account, "until": until, "outcome": "blocked"},
        )

    def _rate_limited(self, account: str, exc: RateLimitedError) -> datetime:
        now = self.clock()
        if exc.retry_at is not None:
            until = exc.retry_at
        elif exc.retry_after is not None:
            until = now + timedelta(seconds=exc.retry_after)
        else:
            until = now + self.config.rate_limit_wait
        until = max(until.astimezone(UTC), self._blocked.get(account, now), now)
        self._block(account, until, f"rate limited: {exc}")
        return until

    def _rate_sink(self, account: str) -> Callable[[RateLimit], None]:
        def sink(limit: RateLimit) -> None:
            exhausted = limit.remaining is not None and limit.remaining <= 0
            if exhausted and limit.reset_at is not None and limit.reset_at > self.clock():
                self._block(account, limit.reset_at, "rate-limit budget exhausted")

        return sink

    # -- running exchanges --------------------------------------------------------------------------------

    async def _exchange(self, exchange: Exchange[T], adapter: Adapter, part: Part | None) -> T:
        if self.config.dry_run:
            from campaign.http.exchange import Recording, run_dry

            recording = Recording()
            try:
                return run_dry(exchange, adapter, part, recording)
            finally:
                self.dry_requests += len(recording.requests)
        from campaign.http.exchange import run

        assert self.client is not None
        sink = self._rate_sink(adapter.account.name)
        return await run(exchange, self.client, adapter, on_rate_limit=sink, now=self.clock)

    async def _send_alert(self, adapter: Adapter, part: Part) -> Receipt:
        return await self._exchange(adapter.publish(part), adapter, part)

    # -- unknown posts ------------------------------------------------------------------------------------

    async def _reconcile(self, now: datetime) -> None:
        """Resolve unknown posts that can be resolved safely (see the module docstring's table)."""
        try:
            posts = self.store.unknown_posts(self.config.reconcile_limit)
        except StoreError as exc:
            logger.error("cannot list unknown posts: %s", exc, extra={"action": "reconcile"})
            return
        live = {p.id for p in posts}
        for stale in [i for i in self._reconcile_after if i not in live]:
            del self._reconcile_after[stale]
        for post in posts:
            if self._stopping:
                return
            if self._reconcile_after.get(post.id, now) > now:
                continue
            block = self._blocked.get(post.account)
            if block is not None and block > now:
                self._reconcile_after[post.id] = block
                continue
            try:
                await self._resolve(post, now)
            except StoreError as exc:
                extra = self._extra(post, action="reconcile")
                logger.warning("unknown post %d: %s", post.id, exc, extra=extra)

    async def _resolve(self, post: QueuedPost, now: datetime) -> None:
        try:
            adapter = self.accounts.adapter(post.campaign, post.account)
        except CampaignError as exc:
            self._reconcile_after[post.id] = now + self.config.config_retry
            logger.error("unknown post %d cannot be reconciled: %s", post.id, exc, extra=self._extra(post))
            return
        index = len(post.part_receipts)
        if index >= len(post.parts):  # every receipt arrived (late): it was sent
            self.store.mark_sent(post.id, post.part_receipts[0], owner=self.owner, now=now)
            self._emit(post, "reconciled", detail="every part has a receipt", parts_sent=index)
            return
        if self.config.retry.exhausted(post.attempts):
            self._needs_person(post, f"no attempts left ({post.attempts}) for an automatic retry")
            return
        part = part_for(post, index, post.part_receipts)
        if adapter.deduplicates:  # an instance property: the webhook adapter answers per account
            window = adapter.dedup_window
            if window is not None:
                sent_at = self._last_sending(post.id)
                if sent_at is None or now - sent_at > window:
                    self._needs_person(
                        post, f"{post.channel} deduplicates only for {_ago(window)}, and the last attempt "
                        f"started {_when(sent_at) if sent_at else 'at an unknown time'}",
                    )
                    return
            reason = f"{post.channel} deduplicates by idempotency key: safe automatic retry"
            self.store.requeue_unknown(post.id, now=now, actor=self.owner, reason=reason)
            self._emit(post, "requeued", detail=reason, parts_sent=index)
            return
        exchange = adapter.lookup(part)
        if exchange is None:
            self._needs_person(post, f"{post.channel} neither deduplicates nor can be searched")
            return
        try:
            found = await self._exchange(exchange, adapter, part)
        except ChannelError as exc:
            if isinstance(exc, RateLimitedError):
                self._rate_limited(post.account, exc)
            self._reconcile_after[post.id] = now + self.config.lookup_retry
            logger.warning(
                "lookup of unknown post %d failed: %s", post.id, _message(exc), extra=self._extra(post)
            )
            return
        if found is None:
            reason = f"lookup: part {index + 1} is not on {post.channel}; safe to send again"
            self.store.requeue_unknown(post.id, now=now, actor=self.owner, reason=reason)
            self._emit(post, "requeued", detail=reason, parts_sent=index)
            return
        self.store.record_part(post.id, index, found, now=now)
        receipts = (*post.part_receipts, found)
        if len(receipts) == len(post.parts):
            self.store.mark_sent(post.id, receipts[0], owner=self.owner, now=now)
            self._emit(
                post, "reconciled", detail="lookup found it published", parts_sent=len(receipts),
                remote_id=receipts[0].remote_id, url=receipts[0].url,
            )
            return
        reason = f"lookup found part {index + 1} published; resuming at part {index + 2}"
        self.store.requeue_unknown(post.id, now=now, actor=self.owner, reason=reason)
        self._emit(post, "requeued", detail=reason, parts_sent=len(receipts))

    def _needs_person(self, post: QueuedPost, why: str) -> None:
        self._reconcile_after[post.id] = _FOREVER
        reason = (
            f"{post.last_error or 'outcome unknown'}; {why}: "
            f"check the platform, then `campaign retry {post.id}`"
        )
        self._emit(post, "unknown", detail=reason, parts_sent=len(post.part_receipts))
        self._alert(post, "unknown", reason)

    def _last_sending(self, post_id: int) -> datetime | None:
        times = [e.at for e in self.store.history(post_id) if e.to_status == "sending"]
        return times[-1] if times else None


def _message(exc: ChannelError) -> str:
    text = str(exc)
    if exc.platform_message and exc.platform_message not in text:
        text += f" ({exc.platform_message})"
    return text


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60}m"
    return f"{seconds}s"
