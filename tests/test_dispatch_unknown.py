"""Unknown posts are re-examined by the daemon on its own (issue 12), on a simulated clock.

The daemon's only inputs here are the wake-up times :meth:`Dispatcher.dispatch_due` returns: nothing
else (no `campaign retry`, no queue change by another process) happens between two dispatches. A post
whose retry is safe (the adapter deduplicates and we are inside its ``dedup_window``) is retried promptly
with the same key, well inside the window; once the window has passed, the adapter's ``lookup`` decides,
or a person does; never a blind retry.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from campaign.channels.base import Account, Adapter, Exchange, Part, Receipt
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher, Outcome
from campaign.dispatch.reconcile import RECHECK_CAP, recheck_delay
from campaign.dispatch.retry import RetryPolicy
from campaign.queue.store import Store
from campaign.secrets import Credentials
from tests.helpers.channels import timeout_then_lookup
from tests.helpers.clock import Clock
from tests.helpers.queue import T0, planned
from tests.test_dispatcher import OWNER, Platform, Searchable, make, mastodon, queue, run, status_ok

WINDOW = timedelta(hours=1)  # Mastodon's Idempotency-Key window (docs/PLATFORMS.md)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def failing(times: int, status: int = 500) -> Callable[[httpx.Request], httpx.Response]:
    """Answer the first ``times`` status requests with ``status`` (ambiguous: 500, 504), then succeed."""
    left = {"n": times}

    def handler(request: httpx.Request) -> httpx.Response:
        if left["n"] > 0:
            left["n"] -= 1
            return httpx.Response(status, json={"error": "We're sorry, but something went wrong"})
        return status_ok(request)

    return handler


def follow_wakes(d: Dispatcher, clock: Clock, first: datetime | None, done: Callable[[], bool],
                 steps: int = 20) -> list[datetime]:
    """Drive ``d`` like the daemon: dispatch at each wake-up it asks for, until ``done()``; the wake times."""
    wakes: list[datetime] = []
    wake = first
    while not done():
        assert wake is not None, "nothing scheduled: the post would wait for an outside event"
        assert len(wakes) < steps
        wakes.append(wake)
        clock.now = max(clock.now, wake)
        wake = run(d.dispatch_due(clock.now))
    return wakes


def test_an_unknown_post_is_retried_with_the_same_key_promptly_without_any_outside_event(
    store: Store,
) -> None:
    clock = Clock()
    platform = Platform(clock, failing(1))
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    revision = store.queue_revision()

    wake = run(d.dispatch_due(clock.now))

    assert store.get_post(pid).status == "unknown"
    assert store.queue_revision() > revision  # other daemons learn of it too
    # The dispatcher's next wake-up includes it: the retry floor after a first attempt.
    assert wake == T0 + RetryPolicy().floor * timedelta(seconds=1)
    follow_wakes(d, clock, wake, lambda: store.get_post(pid).status == "sent")
    assert clock.now - T0 <= timedelta(seconds=1)  # promptly, well inside Mastodon's hour
    keys = {r.headers["Idempotency-Key"] for _, r in platform.requests}
    assert keys == {store.get_post(pid).idempotency_key} and len(platform.requests) == 2
    assert [o.outcome for o in outcomes] == ["unknown", "requeued", "sent"]


def test_repeated_unknown_outcomes_back_off_inside_the_window_then_wait_for_a_person(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, failing(99, status=504))
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    config = DispatchConfig(owner=OWNER)
    policy = config.retry

    first = run(d.dispatch_due(clock.now))
    follow_wakes(d, clock, first, lambda: store.get_post(pid).attempts >= policy.max_attempts)
    sent_at = [t for t, _ in platform.requests]
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    # Each retry waited what recheck_delay says for the attempt before it: 1 s, 30 s, 60 s, 120 s.
    assert gaps == [recheck_delay(n, config, WINDOW) for n in range(1, policy.max_attempts)]
    assert sent_at[-1] - sent_at[0] < WINDOW / 4
    assert max(gaps) <= RECHECK_CAP
    # Attempts spent: a person decides (alerted once), and nothing is sent again by itself.
    run(d.dispatch_due(clock.advance(hours=3)))
    assert store.get_post(pid).status == "unknown"
    assert len(platform.requests) == policy.max_attempts
    assert outcomes[-1].outcome == "unknown" and "campaign retry" in outcomes[-1].detail
    assert d.next_wake() is None


def test_after_the_window_a_post_without_lookup_waits_for_a_person(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, failing(1, status=504))
    (pid,) = queue(store, planned("p", account="m1"))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"
    # The daemon was down for two hours: a new one starts.
    outcomes: list[Outcome] = []
    d2 = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    run(d2.dispatch_due(clock.advance(hours=2)))
    assert store.get_post(pid).status == "unknown" and len(platform.requests) == 1  # no blind retry
    assert "deduplicates only for 1h" in outcomes[-1].detail


class WindowedSearchable(Searchable):
    """Deduplicates for an hour, and can be searched: after the window its lookup decides."""

    name = "windowed"
    dedup_by_key: ClassVar[bool] = True
    dedup_window: ClassVar[timedelta | None] = WINDOW


@pytest.mark.parametrize("published", [True, False])
def test_after_the_window_the_adapters_lookup_decides(store: Store, published: bool) -> None:
    clock = Clock()
    handler, _ = timeout_then_lookup(published)
    platform = Platform(clock, handler)
    (pid,) = queue(store, planned("p", account="s1", channel="windowed"))
    adapter = WindowedSearchable(Account("s1", "windowed", {}, Credentials({}, account="s1")), clock=clock)
    run(make(store, clock, {"s1": adapter}, platform).dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"

    d2 = make(store, clock, {"s1": adapter}, platform)  # two hours later
    run(d2.dispatch_due(clock.advance(hours=2)))
    post = store.get_post(pid)
    methods = [r.method for _, r in platform.requests]
    assert methods == (["POST", "GET"] if published else ["POST", "GET", "POST"])
    assert post.status == "sent" and post.remote_id == ("found" if published else "new")


class BuggyLookup(Searchable):
    """A third party's adapter whose lookup has a bug: it raises KeyError before its request is built.
    (A lookup that cannot read its answer is a ChannelError: tests/test_hostile_answers.py.)"""

    def lookup(self, part: Part) -> Exchange[Receipt | None]:
        raise KeyError("id")
        yield  # a generator, as every exchange is


def test_a_lookup_that_raises_a_bug_holds_back_only_its_own_post(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A lookup that raises something other than a ChannelError is a failed lookup of that post: logged with
    its traceback and tried again after ``lookup_retry``. Before, it ended the re-examination pass, a new pass
    started at the pool's next turn and failed the same way, and the dispatch never returned; the other
    unknown posts were not examined."""
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow", request=request)  # every first attempt: unknown
        return httpx.Response(200, json={"id": "found"})

    platform = Platform(clock, handler)
    broken, fine = queue(store, planned("a", account="s1", channel="searchable"),
                         planned("b", account="s2", channel="searchable"))
    adapters = {
        name: kind(Account(name, "searchable", {}, Credentials({}, account=name)), clock=clock)
        for name, kind in (("s1", BuggyLookup), ("s2", Searchable))
    }
    run(make(store, clock, adapters, platform).dispatch_due(clock.now))
    assert {store.get_post(i).status for i in (broken, fine)} == {"unknown"}

    d2 = make(store, clock, adapters, platform)  # later, a new daemon examines both at once
    now = clock.advance(minutes=10)
    wake = run(asyncio.wait_for(d2.dispatch_due(now), 30))  # the bound only turns a hang into a failure
    assert store.get_post(fine).status == "sent" and store.get_post(fine).remote_id == "found"
    assert store.get_post(broken).status == "unknown"
    assert f"lookup of unknown post {broken} failed: unexpected KeyError" in caplog.text
    assert "Traceback" in caplog.text
    assert wake is not None and wake >= now + DispatchConfig(owner=OWNER).lookup_retry
    lookups = [r for _, r in platform.requests if r.method == "GET"]
    assert len(lookups) == 1  # the fine one's; the broken one waits for lookup_retry


def test_any_bug_while_examining_one_unknown_post_leaves_the_others_examined(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever raises while one unknown post is examined (here an adapter's ``lookup`` that fails when it
    is called, before any request), that post waits ``lookup_retry`` and the pass goes on to the next."""

    class Raising(Searchable):
        def lookup(self, part: Part) -> Exchange[Receipt | None]:
            raise RuntimeError("not implemented yet")

    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"id": "found"})

    platform = Platform(clock, handler)
    broken, fine = queue(store, planned("a", account="s1", channel="searchable"),
                         planned("b", account="s2", channel="searchable"))
    credentials = {name: Credentials({}, account=name) for name in ("s1", "s2")}
    adapters: dict[str, Adapter] = {
        "s1": Raising(Account("s1", "searchable", {}, credentials["s1"]), clock=clock),
        "s2": Searchable(Account("s2", "searchable", {}, credentials["s2"]), clock=clock),
    }
    run(make(store, clock, adapters, platform).dispatch_due(clock.now))
    now = clock.advance(minutes=10)
    later = make(store, clock, adapters, platform)
    wake = run(asyncio.wait_for(later.dispatch_due(now), 30))  # the bound only turns a hang into a failure
    assert store.get_post(fine).status == "sent" and store.get_post(broken).status == "unknown"
    assert f"unknown post {broken} not examined: unexpected RuntimeError" in caplog.text
    assert wake is not None and wake >= now + DispatchConfig(owner=OWNER).lookup_retry


def test_an_unknown_post_found_after_a_restart_is_examined_at_once(store: Store) -> None:
    """Recovered ``sending -> unknown`` after a crash: its last attempt is long past, so no wait."""
    clock = Clock()
    (pid,) = queue(store, planned("p", account="m1"))
    store.claim_due(clock.now, "daemon:dead:9", 60, 10)
    store.mark_sending(pid, owner="daemon:dead:9", now=clock.now)
    platform = Platform(clock, status_ok)
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    clock.advance(minutes=2)
    d.recover(clock.now)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "sent" and len(platform.requests) == 1


def test_a_pass_over_many_unknown_posts_writes_off_the_event_loop_and_lets_the_others_go_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an outage a pass may find hundreds of unknown posts. Its writes ran on the event loop's thread,
    each waiting for the group writer's transaction, and the whole pass ran in one turn of the loop: every
    account stood still 0.7 s per 500 posts. Its writes now go behind the queued marks in the writer's
    thread, and it yields to the loop between posts: the sends of other posts go on meanwhile."""
    import asyncio
    import threading

    clock = Clock()
    ids = queue(store, *(planned(f"u{i}", account=f"m{i % 4}") for i in range(40)))
    for c in store.claim_due(clock.now, "daemon:dead:9", 60, 40):
        store.mark_sending(c.id, owner="daemon:dead:9", now=clock.now)
    clock.advance(minutes=2)  # the dead daemon's leases expired: recovered as unknown, well inside the hour
    store.recover_expired(clock.now)
    assert {store.get_post(i).status for i in ids} == {"unknown"}
    others = queue(store, *(planned(f"o{i}", account=f"m{4 + i % 4}") for i in range(8)))
    events: list[str] = []
    writers: list[threading.Thread] = []
    requeue = store.requeue_unknown

    def requeued(*args: object, **kw: object) -> None:
        writers.append(threading.current_thread())
        events.append("requeue")
        requeue(*args, **kw)  # type: ignore[arg-type]

    def sent(request: httpx.Request) -> httpx.Response:
        events.append("send")
        return status_ok(request)

    async def later(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return sent(request)

    monkeypatch.setattr(store, "requeue_unknown", requeued)
    platform = Platform(clock, sent)
    platform.client = httpx.AsyncClient(transport=httpx.MockTransport(later))
    accounts = {f"m{i}": mastodon(f"m{i}", clock) for i in range(8)}
    run(make(store, clock, accounts, platform, concurrency=8).dispatch_due(clock.now))
    assert {store.get_post(i).status for i in ids + others} == {"sent"}
    assert len(writers) == 40 and threading.main_thread() not in writers
    first, last = events.index("requeue"), len(events) - 1 - events[::-1].index("requeue")
    assert "send" in events[first:last]  # other posts went out while the pass was under way
