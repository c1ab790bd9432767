"""Reading back what sent posts achieved, on the dispatcher's clock, with publishing always first.

Contract. :meth:`MetricsCollector.collect_due` (given ``now``; it never reads the wall clock) schedules
readings for every post sent since the last pass (a chunk at a time, posting first in between), claims due
readings (never for an account whose publishing is blocked), asks each adapter's ``metrics`` exchange for up
to ``adapter.metrics_batch`` posts per request, and records samples. It has its own small concurrency
(``concurrency`` requests in flight, default 2), so it can never take a publishing slot; the daemon runs it
only when no post is due. A platform error while reading is logged once and the reading retried later with
backoff (no alert: a metrics outage is not a failed post); a rate limit, or a response that says the
account's budget is nearly spent (below ``reserve`` of its limit), defers that account's readings to the
reset time without touching the account's publishing state. Channels without a read API are marked done
at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from campaign.channels.base import Adapter, PostMetrics, RateLimit, Receipt
from campaign.dispatch.decide import decide_read
from campaign.errors import CampaignError
from campaign.http import exchange as runner

if TYPE_CHECKING:
    import httpx

    from campaign.queue.metrics import MetricResult, MetricTask, Scheduling

logger = logging.getLogger(__name__)

#: How long to wait after a rate limit that names no reset time (seconds).
DEFAULT_WAIT = 900
#: How often a read waiting for publishing to finish looks again (seconds).
BUSY_POLL = 0.05
#: How often an account's follower count is read (with its posts' readings, never on its own).
FOLLOWERS_EVERY = timedelta(hours=24)


class MetricsStore(Protocol):
    def schedule_sent(
        self, now: datetime, offsets_for: Callable[[str], Sequence[int]], *, limit: int = ...
    ) -> Scheduling: ...
    def claim_metrics(
        self,
        now: datetime,
        *,
        limit: int = 100,
        lease: float = 600.0,
        campaign: str | None = None,
        account: str | None = None,
    ) -> list[MetricTask]: ...
    def record_metrics(self, results: Sequence[MetricResult], *, now: datetime) -> None: ...
    def next_metrics_at(self) -> datetime | None: ...
    def record_followers(self, account: str, count: int, *, now: datetime) -> None: ...
    def followers_read_at(self, account: str) -> datetime | None: ...


class Adapters(Protocol):
    def adapter(self, campaign: str, account: str) -> Adapter: ...


@dataclass
class CollectStats:
    """What one pass did."""

    posts: int = 0
    requests: int = 0
    gone: int = 0
    failed: int = 0
    deferred: int = 0


class MetricsCollector:
    def __init__(
        self,
        store: MetricsStore,
        adapters: Adapters,
        *,
        offsets_for: Callable[[str], Sequence[int]],
        client: httpx.AsyncClient | None = None,
        dry_run: bool = False,
        concurrency: int = 2,
        claim_limit: int = 200,
        reserve: float = 0.2,
        fake: FakeEngagement | None = None,
        busy: Callable[[], bool] | None = None,
        schedule_chunk: int | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.offsets_for = offsets_for
        self.client = client
        self.dry_run = dry_run
        self.claim_limit = claim_limit
        self.reserve = reserve
        #: Rehearsals (``simulate``): invented counts instead of any exchange.
        self.fake = fake
        #: True while publishing has work (the daemon's dispatch pass): reads wait for it to end.
        self.busy = busy
        #: Sent posts scheduled per store call (None: the store's default).
        self.schedule_chunk = schedule_chunk
        self._slots = asyncio.Semaphore(concurrency)

    async def collect_due(self, now: datetime, *, campaign: str | None = None) -> CollectStats:
        """One pass: schedule new readings, read what is due (of one ``campaign`` if given), record it."""

        stats = CollectStats()
        await self._wait_for_posting()
        await self._schedule(now)
        tasks = self.store.claim_metrics(now, limit=self.claim_limit, campaign=campaign)
        if not tasks:
            return stats
        by_account: dict[tuple[str, str], list[MetricTask]] = defaultdict(list)
        for task in tasks:
            by_account[(task.campaign, task.account)].append(task)
        outcomes = await asyncio.gather(
            *(self._account(key, group, now, stats) for key, group in by_account.items())
        )
        results: list[MetricResult] = [r for batch in outcomes for r in batch]
        self.store.record_metrics(results, now=now)
        stats.posts = len(results)
        stats.gone = sum(1 for r in results if r.gone)
        stats.failed = sum(1 for r in results if r.error)
        stats.deferred = sum(1 for r in results if r.retry_at)
        return stats

    async def _schedule(self, now: datetime) -> None:
        """Schedule readings for every post sent since the last pass, one chunk at a time, so the claim sees
        each account's whole backlog and a batched read is full (a daemon back from a long stop has thousands
        of sent posts to catch up on: scheduled a chunk per pass, X read 40 ids a request instead of 100).
        Posting goes first between chunks."""
        chunk = {} if self.schedule_chunk is None else {"limit": self.schedule_chunk}
        while self.store.schedule_sent(now, self.offsets_for, **chunk).more:
            await asyncio.sleep(0)  # a dispatch pass that fell due starts here; the next chunk waits for it
            await self._wait_for_posting()

    async def _account(
        self, key: tuple[str, str], tasks: list[MetricTask], now: datetime, stats: CollectStats
    ) -> list[MetricResult]:
        from campaign.queue.metrics import MetricResult

        try:
            adapter = self.adapters.adapter(*key)
        except CampaignError as exc:
            return [MetricResult(t.post_id, error=f"account {key[1]}: {exc}") for t in tasks]
        if not adapter.has_metrics:
            return [MetricResult(t.post_id, done=True) for t in tasks]
        results: list[MetricResult] = []
        batch = max(1, adapter.metrics_batch)
        if batch > 1 and len(tasks) % batch:  # fill the last request: the claim spread its rows over accounts
            more = self.store.claim_metrics(now, limit=batch - len(tasks) % batch, account=key[1])
            tasks = tasks + [t for t in more if t.campaign == key[0]]
            results += [MetricResult(t.post_id, retry_at=now) for t in more if t.campaign != key[0]]
        if adapter.has_followers and self.fake is None:
            await self._followers(adapter, key[1], now, stats)
        for start in range(0, len(tasks), batch):
            outcome, wait_until = await self._read(adapter, tasks[start : start + batch], now, stats)
            results += outcome
            if wait_until is not None:  # the account's budget is (nearly) spent: the rest waits for its reset
                results += [MetricResult(t.post_id, retry_at=wait_until) for t in tasks[start + batch :]]
                break
        return results

    async def _read(
        self, adapter: Adapter, tasks: list[MetricTask], now: datetime, stats: CollectStats
    ) -> tuple[list[MetricResult], datetime | None]:
        """One metrics exchange for ``tasks``; also when the account's remaining reads must wait until."""
        from campaign.queue.metrics import MetricResult

        if self.fake is not None:  # a rehearsal: invented counts, no exchange at all
            fake = self.fake
            invented = [MetricResult(t.post_id, values=fake.counts(t.post_id, t.sent_at, now)) for t in tasks]
            return invented, None
        roots = {t.post_id: t.receipts[0] for t in tasks if t.receipts}
        results = [MetricResult(t.post_id, gone=True) for t in tasks if not t.receipts]
        if not roots:
            return results, None
        await self._wait_for_posting()
        limits: list[RateLimit] = []
        try:
            async with self._slots:
                stats.requests += 1
                found = await self._exchange(adapter, list(roots.values()), now, limits)
        except CampaignError as exc:
            decision = decide_read(exc, now=now, wait=timedelta(seconds=DEFAULT_WAIT))
            if decision.until is not None:
                return results + [MetricResult(pid, retry_at=decision.until) for pid in roots], decision.until
            logger.warning(
                "metrics of %d posts of %s not read: %s",
                len(roots),
                adapter.account.name,
                decision.error,
                extra={"action": "metrics_failed", "account": adapter.account.name},
            )
            return results + [MetricResult(pid, error=decision.error) for pid in roots], None
        except Exception as exc:  # a bug in an adapter (a third party's too): these posts only, not the pass
            logger.error(
                "metrics of %d posts of %s not read: unexpected %s",
                len(roots),
                adapter.account.name,
                type(exc).__name__,
                exc_info=exc,
                extra={"action": "metrics_failed", "account": adapter.account.name},
            )
            # Only the type is stored: the queue never holds an exception's text, which may quote a secret.
            error = f"unexpected {type(exc).__name__} while reading (see the daemon's log)"
            return results + [MetricResult(pid, error=error) for pid in roots], None
        results += [_result(pid, receipt, found) for pid, receipt in roots.items()]
        low = next((lim for lim in limits if self._nearly_spent(lim)), None)
        return results, (low.reset_at if low is not None else None)

    async def _exchange(
        self, adapter: Adapter, receipts: list[Receipt], now: datetime, limits: list[RateLimit]
    ) -> PostMetrics:
        exchange = adapter.metrics(receipts)
        if self.dry_run or self.client is None:
            return runner.run_dry(exchange, adapter, None, runner.Recording())
        return await runner.run(exchange, self.client, adapter, on_rate_limit=limits.append, now=lambda: now)

    async def _followers(self, adapter: Adapter, account: str, now: datetime, stats: CollectStats) -> None:
        """Read the account's follower count when the last reading is older than a day (failures: logged)."""
        last = self.store.followers_read_at(account)
        if last is not None and now - last < FOLLOWERS_EVERY:
            return
        try:
            async with self._slots:
                stats.requests += 1
                if self.dry_run or self.client is None:
                    count = runner.run_dry(adapter.followers(), adapter, None, runner.Recording())
                else:
                    count = await runner.run(adapter.followers(), self.client, adapter, now=lambda: now)
        except CampaignError as exc:
            logger.warning(
                "followers of %s not read: %s",
                account,
                exc,
                extra={"action": "metrics_failed", "account": account},
            )
            return
        except Exception as exc:  # a bug in an adapter: the posts' readings go on
            logger.error(
                "followers of %s not read: unexpected %s",
                account,
                type(exc).__name__,
                exc_info=exc,
                extra={"action": "metrics_failed", "account": account},
            )
            return
        if count is not None:
            self.store.record_followers(account, count, now=now)

    async def _wait_for_posting(self) -> None:
        """Posting first: while a dispatch pass runs, reads (and their SQL) wait."""
        while self.busy is not None and self.busy():
            await asyncio.sleep(BUSY_POLL)

    def _nearly_spent(self, limit: RateLimit) -> bool:
        if limit.remaining is None:
            return False
        floor = max(1, int((limit.limit or 0) * self.reserve))
        return limit.remaining < floor

    def next_wake(self) -> datetime | None:
        return self.store.next_metrics_at()


def _result(post_id: int, receipt: Receipt, found: Mapping[str, Mapping[str, int] | None]) -> MetricResult:
    from campaign.queue.metrics import MetricResult

    if receipt.remote_id not in found:
        return MetricResult(post_id, error="the platform's answer did not mention this post")
    values = found[receipt.remote_id]
    if values is None:
        return MetricResult(post_id, gone=True)
    return MetricResult(post_id, values=dict(values))


class FakeEngagement:
    """Invented, plausible counts for rehearsals (``campaign simulate``): deterministic per post, growing with
    the post's age like real engagement does (fast at first, then levelling off). Only a rehearsal's throwaway
    queue ever holds them, and its report says the engagement is simulated."""

    def __init__(self, seed: str = "campaign") -> None:
        self.seed = seed

    def counts(self, post_id: int, sent_at: datetime, now: datetime) -> dict[str, int]:
        import hashlib
        import math

        digest = hashlib.sha256(f"{self.seed}:{post_id}".encode()).digest()
        hours = max(0.0, (now - sent_at).total_seconds() / 3600)
        grown = 1 - math.exp(-hours / 18)  # about two thirds after 18 hours
        reach = 200 + int.from_bytes(digest[:2], "big") % 4000
        return {
            "views": int(reach * grown),
            "likes": int(reach * grown * (0.01 + digest[2] / 255 * 0.04)),
            "reposts": int(reach * grown * (0.002 + digest[3] / 255 * 0.01)),
            "replies": int(reach * grown * (0.001 + digest[4] / 255 * 0.005)),
        }
