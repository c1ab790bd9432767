"""The pool of sends in flight: each post's send is independent, and a freed slot is refilled at once.

:class:`SendPool` replaces "claim a batch, wait for every post of it, claim again": a post that finishes
frees its slot and the next claimed post starts in the same turn of the event loop, whatever the others are
doing. A request that hangs holds only its own slots (one overall, one of its channel's, one of its
account's); every other account keeps moving.

How the pool is fed:

- **Claims refill a local ready list** of posts claimed but not started, in due order. The pool claims when
  the ready posts that could start no longer cover the free slots, or fall below half a turnover of the
  slots, asking for enough to fill the free slots and ``prefetch`` more; so slots are refilled without
  waiting for the database, and a claim (one transaction) serves many posts. A claim runs as its own task
  (the dispatcher runs it behind the queued marks, beside the event loop: :mod:`campaign.dispatch.writer`),
  one at a time; sends go on meanwhile, and its posts start as soon as it returns. While a slot is free,
  ready posts whose channel or account is at its cap do not count: they wait without keeping other channels
  from being claimed (their number is bounded by the store's per-account cap, which counts claimed posts).
  While every slot is busy, every ready post counts: all of them wait for a slot.
- **Slots** (:class:`Slots`): ``concurrency`` posts in flight overall, ``per_channel`` per channel,
  ``per_account`` per account. A ready post whose channel or account is full is passed over, never waited
  behind.
- **Wake-ups**: a finished send, a committed outcome (its account may be claimed again: the store counts
  ``sending`` posts until their outcome is durable), :meth:`SendPool.wake` (the daemon saw the queue change),
  and, while sends are in flight and the last claim found nothing, the next time something comes due
  (``next_due``, converted into a delay with the dispatcher's own clock; the dispatcher reuses its read of
  the queue for up to a second, so the delay may end sooner, at that read's expiry).

:meth:`SendPool.run` returns once nothing is in flight, nothing is ready and a claim found nothing (or the
dispatcher is stopping: ready posts are then handed back through ``release``). If it is cancelled (the
daemon's grace period ran out), every send in flight is cancelled and awaited, so each records its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campaign.queue.store import ClaimedPost

logger = logging.getLogger(__name__)

#: Shortest self-set wake-up while waiting for something to come due (seconds): a due time at or before
#: "now" that a claim could not take (another daemon holds it) is looked at again after this, not in a loop.
MIN_WAIT = 0.05


class Slots:
    """Counts of posts in flight overall, per channel and per account, against their caps."""

    def __init__(self, total: int, per_channel: int, per_account: int) -> None:
        if min(total, per_channel, per_account) < 1:
            raise ValueError("concurrency, per-channel and per-account caps must be at least 1")
        self.total = total
        self.per_channel = per_channel
        self.per_account = per_account
        self.busy = 0
        self.channels: Counter[str] = Counter()
        self.accounts: Counter[str] = Counter()

    @property
    def free(self) -> int:
        """Slots free overall."""
        return self.total - self.busy

    def channel_full(self, channel: str) -> bool:
        return self.channels[channel] >= self.per_channel

    def can_start(self, post: ClaimedPost) -> bool:
        """True when ``post`` may start now under all three caps."""
        return (
            self.busy < self.total
            and not self.channel_full(post.channel)
            and self.accounts[post.account] < self.per_account
        )

    def take(self, post: ClaimedPost) -> None:
        self.busy += 1
        self.channels[post.channel] += 1
        self.accounts[post.account] += 1

    def give(self, post: ClaimedPost) -> None:
        self.busy -= 1
        self.channels[post.channel] -= 1
        self.accounts[post.account] -= 1


class SendPool:
    """Sends claimed posts, each in its own task, refilling slots from claims as they free up.

    ``claim(limit)`` leases up to ``limit`` due posts (due order; awaited in a task of its own, never
    cancelled: it must not raise); ``send(post)`` sends one and records its
    outcome (it must not raise); ``release(posts)`` gives back posts never started; ``next_due()`` returns
    how many seconds until something may come due (None: nothing waits); ``on_turn()`` runs at every
    wake-up before claiming (the dispatcher starts a re-examination of unknown posts there when one is due,
    through :meth:`track`). ``stopping()`` says the dispatcher was asked to stop.
    """

    def __init__(
        self,
        slots: Slots,
        *,
        prefetch: int,
        claim: Callable[[int], Awaitable[list[ClaimedPost]]],
        send: Callable[[ClaimedPost], Coroutine[object, object, None]],
        release: Callable[[list[ClaimedPost]], None],
        next_due: Callable[[], float | None],
        on_turn: Callable[[], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.slots = slots
        self.prefetch = max(1, prefetch)
        self._claim = claim
        self._send = send
        self._release = release
        self._next_due = next_due
        self._on_turn = on_turn
        self._stopping = stopping
        self.ready: list[ClaimedPost] = []
        self.running: dict[asyncio.Task[None], ClaimedPost] = {}
        self._others: set[asyncio.Task[None]] = set()
        self._event = asyncio.Event()
        #: The last claim found nothing and nothing finished since (claiming again would find nothing).
        self._dry = False
        #: The claim running now (one at a time), and the wake-ups counted (a claim that found nothing
        #: proves the queue dry only if nothing woke the pool while it ran).
        self._claiming: asyncio.Task[None] | None = None
        self._wakes = 0
        #: Claim statements run (benchmarks, tests).
        self.claims = 0

    # -- signals --------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look again now: claim (a slot, an account or the queue may have changed) and start what can."""
        self._dry = False
        self._wakes += 1
        self._event.set()

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep :meth:`run` going until ``task`` (side work such as reconciliation) ends; wakes it then."""
        self._others.add(task)
        task.add_done_callback(self._other_done)

    @property
    def busy(self) -> bool:
        """True while anything is in flight, ready or tracked."""
        return bool(self.running or self.ready or self._others or self._claiming)

    # -- the loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until nothing is in flight and nothing more can be claimed (see the module docstring)."""
        try:
            while True:
                self._event.clear()
                if self._stopping():
                    self._give_back()
                else:
                    self._on_turn()
                    self._start()
                    self._fill()
                if not self.busy and (self._dry or self._stopping()):
                    return
                await self._wait()
        finally:
            await self._drain()

    def _fill(self) -> None:
        """Claim while a slot is free, or while fewer posts are ready than half a turnover of the slots;
        ask for enough to fill the free slots plus ``prefetch``, so a claim serves many posts.

        Runs right after :meth:`_start`, so a slot still free is one no ready post could take (its channel
        or account is at its cap: a post held ahead of its account's send waits for that account, never for
        a claim), and the claim is for other channels and accounts."""
        if self._dry or self._claiming is not None:
            return
        if self.slots.free > 0:
            want = self.slots.free + self.prefetch
        else:
            # Every slot is busy: a ready post of a channel at its cap waits for a slot like any other, so
            # every ready post counts. (Counting only posts of channels below their cap, a pool whose slots
            # were all on one channel saw nothing startable and claimed again at every wake-up: hundreds of
            # posts leased and waiting, and a claim per few posts sent.)
            ready = len(self.ready)
            if ready >= max(1, min(self.slots.total, self.prefetch) // 2):
                return
            want = self.prefetch - ready
        self.claims += 1
        self._claiming = asyncio.ensure_future(self._claim_into_ready(want))

    async def _claim_into_ready(self, want: int) -> None:
        wakes = self._wakes
        try:
            batch = await self._claim(want)
        finally:
            self._claiming = None
            self._event.set()
        if not batch:
            self._dry = self._wakes == wakes
            return
        self.ready.extend(batch)

    def _start(self) -> None:
        """Start every ready post the slots allow, in due order; the others keep their place."""
        if not self.ready or self.slots.free <= 0:
            return
        waiting: list[ClaimedPost] = []
        for post in self.ready:
            if self.slots.can_start(post):
                self.slots.take(post)
                task = asyncio.create_task(self._send(post))
                self.running[task] = post
                task.add_done_callback(self._sent)
            else:
                waiting.append(post)
        self.ready = waiting

    async def _wait(self) -> None:
        """Until a wake-up, or (while the queue looked empty) until the next due time."""
        timeout: float | None = None
        if self._dry and not self._stopping():
            due = self._next_due()
            if due is not None:
                timeout = max(due, MIN_WAIT)
        if timeout is None:
            await self._event.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._dry = False  # something came due (or a wake-up said so): claim again

    # -- endings --------------------------------------------------------------------------------------

    def _sent(self, task: asyncio.Task[None]) -> None:
        post = self.running.pop(task, None)
        if post is not None:
            self.slots.give(post)
        if not task.cancelled() and task.exception() is not None:  # send() must not raise: a bug
            logger.error("post send task failed", exc_info=task.exception())
        self.wake()

    def _other_done(self, task: asyncio.Task[None]) -> None:
        self._others.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("dispatch side task failed", exc_info=task.exception())
        self.wake()

    def _give_back(self) -> None:
        ready, self.ready = self.ready, []
        if ready:
            self._release(ready)

    async def _drain(self) -> None:
        """On the way out (a return, or cancellation): cancel what still runs, await it, give back the rest.

        Each cancelled send records its own outcome (``unknown`` when a request was out, else deferred).
        """
        tasks = [*self.running, *self._others]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._claiming is not None:  # not cancelled: its posts are claimed, and given back below
            await asyncio.gather(self._claiming, return_exceptions=True)
        self._give_back()


def seconds_until(when: datetime | None, clock: Callable[[], datetime]) -> float | None:
    """Seconds from ``clock()`` to ``when`` (None stays None; a past time gives 0)."""
    if when is None:
        return None
    return max(0.0, (when - clock()).total_seconds())
