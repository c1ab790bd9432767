"""No head-of-line blocking (issue 12): one account's hung request never slows the other accounts.

The platform is an ``httpx.MockTransport`` with an async handler on the dispatcher's own event loop that
answers Mastodon's status shape, and holds the requests of one account until the test releases them. What
is compared are counts of sends completed while the request is held, signalled by the handler; no test
waits for time to pass (a generous guard only bounds a hang of broken code).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import Adapter
from campaign.dispatch.dispatcher import DUE_REREAD, DispatchConfig, Dispatcher
from campaign.dispatch.pool import SendPool, Slots
from campaign.queue.store import Store
from tests.helpers.clock import Clock
from tests.helpers.queue import T0, planned
from tests.test_dispatcher import OWNER, Directory, mastodon, queue, status_ok

ACCOUNTS = 10
PER_ACCOUNT = 10
#: Bounds a hang of broken code (the held request is then released so the test can report its counts).
GUARD = 30.0


class HoldingPlatform:
    """Answers every status request on a later turn of the loop; holds the first request of ``hung``.

    ``done`` counts answered requests per account, and ``while_held`` those answered while the held request
    was waiting. ``released`` is set by :meth:`release`, or by ``release_when`` returning True after an
    answer (an event the code under test caused).
    """

    def __init__(self, hung: str | None, release_when: Callable[[HoldingPlatform], bool]) -> None:
        self.hung = hung
        self.release_when = release_when
        self.done: Counter[str] = Counter()
        self.while_held = 0
        self.holding = False
        self.held_once = False
        self.released = asyncio.Event()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        account = request.headers["Authorization"].removeprefix("Bearer tok-")
        if account == self.hung and not self.held_once:
            self.held_once = self.holding = True
            await self.released.wait()
            self.holding = False
        else:
            await asyncio.sleep(0)  # answered on a later turn of the loop, as over a network
            if self.holding:
                self.while_held += 1
        self.done[account] += 1
        if self.release_when(self):
            self.release()
        return status_ok(request)

    def release(self) -> None:
        self.released.set()

    def others(self) -> int:
        """Requests answered for every account but m0 (the one held in the hung runs)."""
        return sum(n for account, n in self.done.items() if account != "m0")


def accounts(clock: Clock) -> dict[str, Adapter]:
    return {f"m{i}": mastodon(f"m{i}", clock, token=f"tok-m{i}") for i in range(ACCOUNTS)}


def fill(store: Store) -> list[int]:
    return queue(store, *(
        planned(f"p{i}-{n}", account=f"m{i}", at=T0, text=f"post {n} of m{i}")
        for n in range(PER_ACCOUNT) for i in range(ACCOUNTS)
    ))


async def dispatch(store: Store, platform: HoldingPlatform, clock: Callable[[], datetime],
                   config: DispatchConfig) -> Dispatcher:
    d = Dispatcher(store, Directory(accounts(Clock())), config, client=platform.client, clock=clock)

    async def guard() -> None:
        try:
            await asyncio.wait_for(platform.released.wait(), GUARD)
        except TimeoutError:
            platform.release()

    watchdog = asyncio.create_task(guard())
    await d.dispatch_due(clock())
    watchdog.cancel()
    return d


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_hung_account_does_not_slow_the_others(tmp_path: Path, concurrency: int) -> None:
    others_total = (ACCOUNTS - 1) * PER_ACCOUNT
    config = DispatchConfig(owner=OWNER, concurrency=concurrency)

    # Without the hang: how many of the other accounts' posts one dispatch sends.
    with Store.open(str(tmp_path / "free.db")) as store:
        fill(store)
        free = HoldingPlatform(None, lambda p: False)
        asyncio.run(dispatch(store, free, Clock(), config))
        baseline = free.others()
        assert baseline == others_total

    # With m0's first request held until every other post was answered (or the guard gives up).
    with Store.open(str(tmp_path / "hung.db")) as store:
        ids = fill(store)
        hung = HoldingPlatform("m0", lambda p: p.others() >= others_total)
        asyncio.run(dispatch(store, hung, Clock(), config))
        # Every other account's posts went out while m0's request was held: within 0.8x of the free run.
        assert hung.while_held >= 0.8 * baseline, (hung.while_held, baseline)
        assert hung.while_held == others_total
        # m0 held only its own slot: once released, its posts went out in due order too.
        assert {store.get_post(i).status for i in ids} == {"sent"}
        assert hung.done["m0"] == PER_ACCOUNT


def test_a_post_due_later_goes_out_at_its_time_while_another_request_hangs(tmp_path: Path) -> None:
    """The pool claims at the next due time by itself, not when the hung request ends."""
    with Store.open(str(tmp_path / "q.db")) as store:
        queue(store, planned("stuck", account="m0", at=T0))
        (later,) = queue(store, planned("later", account="m1", at=T0 + timedelta(milliseconds=200)))
        platform = HoldingPlatform("m0", lambda p: p.done["m1"] >= 1)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            started = loop.time()

            def clock() -> datetime:  # the daemon's clock: real time passing, from T0
                return T0 + timedelta(seconds=loop.time() - started)

            await dispatch(store, platform, clock, DispatchConfig(owner=OWNER))

        asyncio.run(main())
        assert platform.while_held == 1  # m1's post was sent while m0's request was still held
        assert store.get_post(later).status == "sent"


def test_wake_claims_a_post_added_while_another_request_hangs(tmp_path: Path) -> None:
    """The daemon calls wake() when the queue changed (apply from another process): claimed at once."""
    with Store.open(str(tmp_path / "q.db")) as store:
        queue(store, planned("stuck", account="m0", at=T0))
        platform = HoldingPlatform("m0", lambda p: p.done["m1"] >= 1)
        clock = Clock()
        added: list[int] = []

        async def main() -> None:
            d = Dispatcher(store, Directory(accounts(clock)), DispatchConfig(owner=OWNER),
                           client=platform.client, clock=clock)
            run = asyncio.create_task(d.dispatch_due(clock.now))
            while not platform.holding:  # the first request is out and held
                await asyncio.sleep(0)
            added.extend(queue(store, planned("new", account="m1", at=T0)))
            d.wake()
            await asyncio.wait_for(run, GUARD)

        asyncio.run(main())
        assert platform.while_held == 1
        assert store.get_post(added[0]).status == "sent"


def test_slots_pass_over_a_full_channel_or_account_without_waiting_behind_it() -> None:
    class Post:
        def __init__(self, channel: str, account: str) -> None:
            self.channel, self.account = channel, account

    slots = Slots(total=3, per_channel=2, per_account=1)
    a, b, c, d = Post("x", "a"), Post("x", "b"), Post("x", "c"), Post("m", "d")
    for post in (a, b):
        assert slots.can_start(post)  # type: ignore[arg-type]
        slots.take(post)  # type: ignore[arg-type]
    assert not slots.can_start(c)  # type: ignore[arg-type]  # channel x is full
    assert slots.can_start(d)  # type: ignore[arg-type]  # ... which does not hold channel m back
    assert not slots.can_start(Post("m", "a"))  # type: ignore[arg-type]  # account a is busy
    slots.give(a)  # type: ignore[arg-type]
    assert slots.can_start(c) and slots.free == 2  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Slots(total=0, per_channel=1, per_account=1)


def test_a_pool_busy_on_one_channel_keeps_only_its_prefetch_claimed(tmp_path: Path) -> None:
    """With every slot on one channel (the channel at its cap only because the pool is full), ready posts
    still count as waiting for a slot: the pool keeps ``prefetch`` posts claimed, not one per free account
    (it used to claim again at every wake-up: hundreds of posts leased while 16 were being sent)."""
    concurrency, many = 4, 120
    config = DispatchConfig(owner=OWNER, concurrency=concurrency)
    prefetch = max(config.batch_size - concurrency, concurrency)
    with Store.open(str(tmp_path / "q.db")) as store:
        ids = queue(store, *(planned(f"p{i}", account=f"m{i}", at=T0) for i in range(many)))
        leased: list[int] = []

        class Counting(HoldingPlatform):
            async def handle(self, request: httpx.Request) -> httpx.Response:
                counts = store.counts()
                leased.append(counts.get("claimed", 0) + counts.get("sending", 0))
                return await super().handle(request)

        platform = Counting(None, lambda p: False)
        directory = Directory({f"m{i}": mastodon(f"m{i}", Clock(), token=f"tok-m{i}") for i in range(many)})
        clock = Clock()
        asyncio.run(Dispatcher(store, directory, config, client=platform.client, clock=clock)
                    .dispatch_due(clock.now))
        assert {store.get_post(i).status for i in ids} == {"sent"}
        assert max(leased) <= prefetch + 2 * concurrency, max(leased)


class CountingStore(Store):
    """A store that counts its reads of the queue's next due time."""

    due_reads = 0

    def next_due_at(
        self, now: datetime, *, per_account: int | None = None, ahead: int = 0, owner: str = ""
    ) -> datetime | None:
        self.due_reads += 1
        return super().next_due_at(now, per_account=per_account, ahead=ahead, owner=owner)


def test_the_next_due_time_is_read_once_per_interval_while_sends_are_in_flight(tmp_path: Path) -> None:
    """While sends are in flight and a claim found nothing, the pool asks for the next due time before each
    wait. Read from the queue every time (a scan of the claimable posts on the loop's thread) that took 18%
    of the loop's time in the TLS race; the dispatcher reads it at most once per DUE_REREAD of its clock,
    and again as soon as the daemon reports another process's change. A wait never outlasts its read."""
    clock = Clock()
    with CountingStore.open(str(tmp_path / "q.db")) as store:
        queue(store, planned("later", account="m1", at=T0 + timedelta(seconds=30)))
        config = DispatchConfig(owner=OWNER, dry_run=True)
        d = Dispatcher(store, Directory(accounts(clock)), config, clock=clock)
        wait = d._new_pool(clock.now)._next_due
        period = DUE_REREAD.total_seconds()
        # The post is 30 s away: each wait ends when the read expires, and fifty waits read the queue once.
        assert [wait() for _ in range(50)] == [pytest.approx(period)] * 50
        assert store.due_reads == 1
        clock.advance(seconds=period / 2)
        assert (wait(), store.due_reads) == (pytest.approx(period / 2), 1)
        clock.advance(seconds=period / 2)
        assert (wait(), store.due_reads) == (pytest.approx(period), 2)  # expired: read again
        queue(store, planned("now", account="m2", at=clock.now))  # another process adds a post due now
        assert (wait(), store.due_reads) == (pytest.approx(period), 2)  # unseen until the daemon says so
        d.wake()
        assert (wait(), store.due_reads) == (pytest.approx(0.0), 3)


class _Post:
    """What the pool reads of a claimed post."""

    def __init__(self, name: str, account: str, channel: str = "mastodon") -> None:
        self.name, self.account, self.channel = name, account, channel


class _Run:
    """A :class:`SendPool` over scripted claims; each send waits until the test ends it."""

    def __init__(self, slots: Slots, claims: list[list[_Post]], gate: asyncio.Event | None = None) -> None:
        self.claims = claims
        #: The second claim waits for this (None: it returns at once).
        self.gate = gate
        self.claimed = 0
        self.started: list[str] = []
        self.ends: dict[str, asyncio.Event] = {}
        self.change = asyncio.Event()
        self.pool = SendPool(
            slots, prefetch=slots.total, claim=self.claim, send=self.send,  # type: ignore[arg-type]
            release=lambda posts: None, next_due=lambda: None, on_turn=lambda: None, stopping=lambda: False,
        )

    async def claim(self, limit: int) -> list[_Post]:
        self.claimed += 1
        self.change.set()
        if self.claimed == 2 and self.gate is not None:
            await self.gate.wait()
        return self.claims.pop(0) if self.claims else []

    async def send(self, post: _Post) -> None:
        self.started.append(post.name)
        self.change.set()
        await self.ends.setdefault(post.name, asyncio.Event()).wait()

    def end(self, name: str) -> None:
        self.ends.setdefault(name, asyncio.Event()).set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait for the pool's claims and sends until ``check()`` holds (GUARD bounds broken code)."""
        async def watch() -> None:
            while not check():
                self.change.clear()
                await self.change.wait()

        await asyncio.wait_for(watch(), GUARD)


def test_a_post_held_ahead_starts_the_moment_its_accounts_send_ends_without_a_claim() -> None:
    """The store lets the dispatcher hold an account's next post (``ahead``): it starts as soon as the
    account's slot frees, while the pool's next claim has not even returned."""
    a1, a2 = _Post("a1", "a"), _Post("a2", "a")

    async def main() -> None:
        gate = asyncio.Event()
        run = _Run(Slots(total=4, per_channel=4, per_account=1), [[a1, a2]], gate)
        task = asyncio.create_task(run.pool.run())
        await run.until(lambda: run.started == ["a1"] and run.claimed == 2)
        assert [p.name for p in run.pool.ready] == ["a2"]  # one post of account a at a time
        run.end("a1")
        await run.until(lambda: run.started == ["a1", "a2"])
        assert not gate.is_set() and run.claimed == 2  # a2 did not wait for the claim in flight
        gate.set()
        run.end("a2")
        await asyncio.wait_for(task, GUARD)

    asyncio.run(main())


def test_a_free_slot_is_claimed_for_while_only_busy_accounts_posts_are_ready() -> None:
    """A ready post whose account is at its cap cannot take a free slot: the pool claims for other
    accounts instead of waiting for that account's send to end."""
    a1, a2, b1 = _Post("a1", "a"), _Post("a2", "a"), _Post("b1", "b")

    async def main() -> None:
        run = _Run(Slots(total=2, per_channel=2, per_account=1), [[a1, a2], [b1]])
        task = asyncio.create_task(run.pool.run())
        await run.until(lambda: "b1" in run.started)
        assert run.started == ["a1", "b1"]  # b1 went out while a1 was still in flight
        for name in ("a1", "b1", "a2"):
            run.end(name)
        await asyncio.wait_for(task, GUARD)
        assert run.started == ["a1", "b1", "a2"]

    asyncio.run(main())
