"""The dispatch core on a real SQLite queue, with httpx.MockTransport platforms and an injected clock."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from campaign import channels
from campaign.channels.base import Account, Adapter, Exchange, Part, Quota, Receipt, fake_json
from campaign.channels.mastodon import MastodonAdapter
from campaign.channels.webhook import WebhookAdapter
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher, Outcome
from campaign.dispatch.retry import RetryPolicy
from campaign.errors import ConfigError, DatabaseLockedError, StoreError
from campaign.plan.posts import PlannedPost
from campaign.queue.store import Store
from campaign.secrets import Credentials, SecretRef
from campaign.text.counting import codepoints
from campaign.text.rules import TextRules
from tests.helpers.channels import timeout_then_lookup
from tests.helpers.clock import Clock
from tests.helpers.queue import T0, planned

OWNER = "daemon:test:1"


def mastodon(name: str, clock: Clock, token: str = "tok-mastodon-1234") -> MastodonAdapter:
    creds = Credentials({"token": SecretRef(env="TOK")}, account=name, environ={"TOK": token})
    return MastodonAdapter(Account(name, "mastodon", {"instance": "https://m.example"}, creds), clock=clock)


def webhook(
    name: str, clock: Clock, *, dedup: bool = False, url: str = "https://hook.example/in"
) -> WebhookAdapter:
    settings: dict[str, Any] = {"url": url, "deduplicates": dedup}
    return WebhookAdapter(Account(name, "webhook", settings, Credentials({}, account=name)), clock=clock)


class Searchable(Adapter):
    """A tiny adapter whose platform can be searched by idempotency key (no deduplication)."""

    name = "searchable"
    title = "Searchable"
    rules = TextRules(limit=1000, unit="characters", measure=codepoints)
    base = "https://search.example"
    published: ClassVar[dict[str, str]] = {}

    def publish(self, part: Part) -> Exchange[Receipt]:
        body = {"key": part.idempotency_key}
        response = yield self.json_request("POST", f"{self.base}/posts", json_body=body)
        self.raise_for_status(response)
        return Receipt(remote_id=response.json()["id"])

    def lookup(self, part: Part) -> Exchange[Receipt | None]:
        response = yield self.json_request("GET", f"{self.base}/posts/{part.idempotency_key}")
        if response.status_code == 404:
            return None
        self.raise_for_status(response)
        return Receipt(remote_id=response.json()["id"])

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        return fake_json(request, {"id": "dry-run-1"})


class Directory:
    def __init__(self, adapters: dict[str, Adapter], alert: Adapter | None = None) -> None:
        self.adapters = adapters
        self.alert = alert

    def adapter(self, campaign: str, account: str) -> Adapter:
        if account not in self.adapters:
            raise ConfigError(f"no account {account!r}")
        return self.adapters[account]

    def alert_adapter(self, campaign: str) -> Adapter | None:
        return self.alert


Handler = Callable[[httpx.Request], httpx.Response]


class Platform:
    """A MockTransport that records every request with the simulated time it was sent at."""

    def __init__(self, clock: Clock, handler: Handler) -> None:
        self.clock = clock
        self.handler = handler
        self.requests: list[tuple[datetime, httpx.Request]] = []
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((self.clock(), request))
        return self.handler(request)

    def bodies(self, host: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(r.content) for _, r in self.requests if host is None or r.url.host == host]


def status_ok(request: httpx.Request) -> httpx.Response:
    """Mastodon-like success: a new status id per request (or the same one for a repeated key)."""
    body = json.loads(request.content) if request.content else {}
    key = request.headers.get("idempotency-key", "x")
    sid = f"s-{key[-6:]}"
    return httpx.Response(200, json={"id": sid, "url": f"https://m.example/@a/{sid}", "echo": body})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def queue(store: Store, *posts: PlannedPost) -> list[int]:
    return list(store.apply_changes(add=posts, now=T0 - timedelta(days=1)).added)


def make(
    store: Store,
    clock: Clock,
    adapters: dict[str, Adapter],
    platform: Platform | None,
    *,
    alert: Adapter | None = None,
    outcomes: list[Outcome] | None = None,
    rng: Callable[[], float] = lambda: 0.5,
    **config: Any,
) -> Dispatcher:
    sink = outcomes.append if outcomes is not None else None
    return Dispatcher(
        store,
        Directory(adapters, alert),
        DispatchConfig(owner=OWNER, **config),
        client=platform.client if platform else None,
        clock=clock,
        rng=rng,
        on_outcome=sink,
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------- success


def test_due_posts_are_sent_with_receipts_and_idempotency_keys(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, status_ok)
    a, b = queue(store, planned("p1", account="m1"), planned("p2", account="m1", at=T0 + timedelta(hours=1)))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)

    wake = run(d.dispatch_due(clock.now))

    assert store.get_post(a).status == "sent"
    assert store.get_post(a).remote_id and store.get_post(a).remote_url
    assert store.get_post(b).status == "scheduled"
    assert wake == T0 + timedelta(hours=1)
    (_, request), = platform.requests
    assert request.headers["Idempotency-Key"] == store.get_post(a).idempotency_key
    assert request.headers["Authorization"] == "Bearer tok-mastodon-1234"
    assert store.account_state("m1").sent_today == 1  # type: ignore[union-attr]


def test_thread_parts_go_in_order_each_replying_to_the_previous(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("t", account="m1", text=("one", "two", "three")))
    run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))

    post = store.get_post(pid)
    assert post.status == "sent"
    bodies = platform.bodies()
    assert [b["status"] for b in bodies] == ["one", "two", "three"]
    ids = [r.remote_id for r in post.part_receipts]
    assert "in_reply_to_id" not in bodies[0]
    assert [b["in_reply_to_id"] for b in bodies[1:]] == ids[:2]
    keys = [r.headers["Idempotency-Key"] for _, r in platform.requests]
    assert keys == [f"{post.idempotency_key}-{i}" for i in range(3)]
    assert post.remote_id == ids[0]


def test_a_crash_mid_thread_resumes_at_the_next_part(store: Store) -> None:
    clock = Clock()
    (pid,) = queue(store, planned("t", account="m1", text=("one", "two", "three")))
    # A daemon claimed it, published part 1, recorded it, then died.
    (_claimed,) = store.claim_due(clock.now, "daemon:dead:9", 60, 10)
    store.mark_sending(pid, owner="daemon:dead:9", now=clock.now)
    store.record_part(pid, 0, Receipt(remote_id="first", url="https://m.example/@a/first"), now=clock.now)

    clock.advance(minutes=2)
    platform = Platform(clock, status_ok)
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    d.recover(clock.now)  # lease expired: sending -> unknown
    assert store.get_post(pid).status == "unknown"
    run(d.dispatch_due(clock.now))  # Mastodon deduplicates: requeued, then resumed

    post = store.get_post(pid)
    assert post.status == "sent"
    bodies = platform.bodies()
    assert [b["status"] for b in bodies] == ["two", "three"]
    assert bodies[0]["in_reply_to_id"] == "first"
    assert bodies[1]["in_reply_to_id"] == post.part_receipts[1].remote_id
    assert post.remote_id == "first"


# ---------------------------------------------------------------------------------------------- failures


def test_transient_errors_back_off_with_full_jitter_then_fail(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(503, json={"error": "maintenance"}))
    (pid,) = queue(store, planned("p", account="m1"))
    policy = RetryPolicy(base=60, cap=600, max_attempts=3)
    draws = iter([0.999, 0.0])
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, retry=policy, rng=lambda: next(draws),
             outcomes=outcomes)

    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "retry_wait" and post.attempts == 1
    assert post.next_attempt_at is not None
    wait = (post.next_attempt_at - clock.now).total_seconds()
    assert 59 < wait <= 60  # draw 0.999 of the first ceiling (base)
    assert "maintenance" in (post.last_error or "")

    clock.now = post.next_attempt_at
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "retry_wait" and post.attempts == 2
    assert post.next_attempt_at == clock.now + timedelta(seconds=1)  # draw 0.0: the 1 s floor

    clock.now = post.next_attempt_at
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "failed" and post.attempts == 3
    assert "gave up after 3 attempts" in (post.last_error or "")
    assert [o.outcome for o in outcomes] == ["retry", "retry", "failed"]
    assert len(platform.requests) == 3


def test_permanent_error_fails_at_once_with_the_platform_message(store: Store) -> None:
    clock = Clock()
    answer = httpx.Response(422, json={"error": "Validation failed: Text too long"})
    platform = Platform(clock, lambda r: answer)
    (pid,) = queue(store, planned("p", account="m1"))
    run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "failed" and post.attempts == 1
    assert "Validation failed: Text too long" in (post.last_error or "")


def test_rate_limit_blocks_the_account_until_reset_while_others_flow(store: Store) -> None:
    clock = Clock()
    reset = T0 + timedelta(minutes=10)
    limited = {"on": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "m.example" and limited["on"]:
            limited["on"] = False
            return httpx.Response(
                429,
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()},
                json={"error": "Too many requests"},
            )
        if request.url.host == "hook.example":
            return httpx.Response(200, json={"id": "h1"})
        return status_ok(request)

    platform = Platform(clock, handler)
    a1, a2, b1 = queue(
        store,
        planned("a1", account="m1"),
        planned("a2", account="m1", at=T0 + timedelta(seconds=1)),
        planned("b1", account="w1", channel="webhook", at=T0 + timedelta(seconds=2)),
    )
    d = make(store, clock, {"m1": mastodon("m1", clock), "w1": webhook("w1", clock)}, platform)
    clock.advance(seconds=5)
    wake = run(d.dispatch_due(clock.now))

    assert store.get_post(b1).status == "sent"  # the other account kept flowing
    assert store.get_post(a1).status == "retry_wait"
    # a2 was held ahead of a1 (one to send, one ready per account) and deferred by the block, never sent;
    # claims skip the blocked account until the reset
    assert store.get_post(a2).status == "retry_wait" and store.get_post(a2).next_attempt_at == reset
    assert store.get_post(a2).attempts == 0
    assert store.get_post(a1).attempts == 0  # a rate limit is not an attempt
    assert store.get_post(a1).next_attempt_at == reset
    assert store.account_state("m1").blocked_until == reset  # type: ignore[union-attr]
    assert wake == reset
    assert sum(1 for _, r in platform.requests if r.url.host == "m.example") == 1

    clock.now = reset - timedelta(seconds=1)
    run(d.dispatch_due(clock.now))
    assert sum(1 for _, r in platform.requests if r.url.host == "m.example") == 1

    clock.now = reset
    run(d.dispatch_due(clock.now))
    assert store.get_post(a1).status == "sent" and store.get_post(a2).status == "sent"
    times = [t for t, r in platform.requests if r.url.host == "m.example"]
    assert times[0] == T0 + timedelta(seconds=5)
    assert all(t >= reset for t in times[1:])


def test_budget_exhausted_on_a_success_holds_the_next_post(store: Store) -> None:
    clock = Clock()
    reset = T0 + timedelta(minutes=5)

    def handler(request: httpx.Request) -> httpx.Response:
        response = status_ok(request)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = reset.isoformat()
        return response

    platform = Platform(clock, handler)
    first, second = queue(store, planned("a", account="m1"), planned("b", account="m1"))
    run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    assert store.get_post(first).status == "sent"
    # the second, held ready behind the first (per-account cap 1), was deferred to the reset, never sent
    held = store.get_post(second)
    assert (held.status, held.next_attempt_at, held.attempts) == ("retry_wait", reset, 0)
    assert store.account_state("m1").blocked_until == reset  # type: ignore[union-attr]
    assert d.next_wake() == reset
    assert len(platform.requests) == 1


def test_quota_holds_the_account_for_a_moving_window(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(200, json={"id": "ok"}))
    ids = queue(store, *(planned(f"p{i}", account="w1", channel="webhook", at=T0) for i in range(3)))
    d = make(store, clock, {"w1": webhook("w1", clock)}, platform, quotas={"webhook": Quota(2)})
    run(d.dispatch_due(clock.now))
    statuses = [store.get_post(i).status for i in ids]
    assert statuses.count("sent") == 2 and statuses.count("retry_wait") == 1
    held = next(store.get_post(i) for i in ids if store.get_post(i).status == "retry_wait")
    assert held.next_attempt_at == T0 + timedelta(hours=24)
    assert len(platform.requests) == 2


def test_the_quota_is_read_in_the_writers_thread_not_on_the_event_loop(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading an account's sends (behind the sends still queued) on the loop's thread waited for the commit
    thread's transaction: every account stood still 85-110 ms per post of an account with a quota (a
    Threads account, any `daily_quota`). The read runs behind the queued marks in the writer's thread."""
    import threading

    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(200, json={"id": "ok"}))
    ids = queue(store, *(planned(f"p{i}", account=f"w{i % 3}", channel="webhook") for i in range(6)))
    readers: list[threading.Thread] = []
    sent_times = store.sent_times

    def reading(*args: Any, **kw: Any) -> Any:
        readers.append(threading.current_thread())
        return sent_times(*args, **kw)

    monkeypatch.setattr(store, "sent_times", reading)
    adapters: dict[str, Adapter] = {f"w{i}": webhook(f"w{i}", clock) for i in range(3)}
    run(make(store, clock, adapters, platform, quotas={"webhook": Quota(10)}).dispatch_due(clock.now))
    assert {store.get_post(i).status for i in ids} == {"sent"}
    assert len(readers) == 6 and threading.main_thread() not in readers


# ---------------------------------------------------------------------------------------------- unknown


def test_ambiguous_outcome_goes_unknown_and_waits_for_a_person(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(500, text="oops"))
    (pid,) = queue(store, planned("p", account="w1", channel="webhook"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"w1": webhook("w1", clock)}, platform, outcomes=outcomes)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"
    clock.advance(hours=1)
    run(d.dispatch_due(clock.now))
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"  # never straight back to sending
    assert len(platform.requests) == 1
    assert [o.outcome for o in outcomes] == ["unknown", "unknown"]  # the second: "needs a person"
    assert "campaign retry" in outcomes[-1].detail


def test_deduplicating_platform_is_retried_with_the_same_key(store: Store) -> None:
    clock = Clock()
    answers = iter([httpx.Response(504, text="gateway timeout")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or status_ok(request)

    platform = Platform(clock, handler)
    (pid,) = queue(store, planned("p", account="m1"))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"
    clock.advance(minutes=1)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "sent"
    keys = {r.headers["Idempotency-Key"] for _, r in platform.requests}
    assert keys == {store.get_post(pid).idempotency_key} and len(platform.requests) == 2


def test_webhook_dedup_is_read_from_the_instance(store: Store) -> None:
    clock = Clock()
    answers = iter([httpx.Response(500, text="?")])
    platform = Platform(clock, lambda r: next(answers, None) or httpx.Response(200, json={"id": "ok"}))
    (pid,) = queue(store, planned("p", account="w1", channel="webhook"))
    d = make(store, clock, {"w1": webhook("w1", clock, dedup=True)}, platform)
    run(d.dispatch_due(clock.now))
    run(d.dispatch_due(clock.advance(seconds=1)))
    assert store.get_post(pid).status == "sent"
    assert len({r.headers["Idempotency-Key"] for _, r in platform.requests}) == 1


def test_mastodon_dedup_window_passed_waits_for_a_person(store: Store) -> None:
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(504, text="timeout"))
    (pid,) = queue(store, planned("p", account="m1"))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    run(d.dispatch_due(clock.now))
    d2 = make(store, clock, {"m1": mastodon("m1", clock)}, platform)  # e.g. a restart 2 h later
    clock.advance(hours=2)
    run(d2.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"
    assert len(platform.requests) == 1


@pytest.mark.parametrize("published", [True, False])
def test_lookup_reconciles_an_unknown_post(store: Store, published: bool) -> None:
    clock = Clock()
    handler, state = timeout_then_lookup(published)
    platform = Platform(clock, handler)
    (pid,) = queue(store, planned("p", account="s1", channel="searchable"))
    adapter = Searchable(Account("s1", "searchable", {}, Credentials({}, account="s1")), clock=clock)
    d = make(store, clock, {"s1": adapter}, platform)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"
    run(d.dispatch_due(clock.advance(minutes=1)))
    post = store.get_post(pid)
    assert post.status == "sent"
    assert post.remote_id == ("found" if published else "new")
    assert state["posts"] == (1 if published else 2)


def test_a_rate_limited_lookup_holds_the_account_and_looks_again_after_the_hold(store: Store) -> None:
    clock = Clock()
    lookups: list[datetime] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow", request=request)
        lookups.append(clock.now)
        if len(lookups) == 1:
            return httpx.Response(429, headers={"Retry-After": "600"}, json={"error": "slow down"})
        return httpx.Response(200, json={"id": "found"})

    platform = Platform(clock, handler)
    (pid,) = queue(store, planned("p", account="s1", channel="searchable"))
    adapter = Searchable(Account("s1", "searchable", {}, Credentials({}, account="s1")), clock=clock)
    d = make(store, clock, {"s1": adapter}, platform)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == "unknown"

    run(d.dispatch_due(clock.advance(minutes=1)))  # the lookup is rate limited: the post stays unknown
    held = clock.now + timedelta(seconds=600)
    assert store.get_post(pid).status == "unknown" and len(lookups) == 1
    assert store.account_state("s1").blocked_until == held  # type: ignore[union-attr]
    run(d.dispatch_due(clock.advance(minutes=5)))  # lookup_retry has passed, the hold has not
    assert len(lookups) == 1
    clock.now = held
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert lookups == [T0 + timedelta(minutes=1), held]
    assert post.status == "sent" and post.remote_id == "found"


class Broken(Searchable):
    """An adapter with a bug: it raises a KeyError, after its request left or before any did."""

    name = "broken"
    after_request = True

    def publish(self, part: Part) -> Exchange[Receipt]:
        if self.after_request:
            yield self.json_request("POST", f"{self.base}/posts", json_body={"key": part.idempotency_key})
        raise KeyError("id")


@pytest.mark.parametrize(("after_request", "expected"), [(True, "unknown"), (False, "failed")])
def test_a_bug_in_an_adapter_is_contained(
    store: Store, caplog: pytest.LogCaptureFixture, after_request: bool, expected: str
) -> None:
    """Raised before any request left: a bug, ``failed``, logged with its traceback. Raised while reading
    an answer: the answer could not be read (a platform's undocumented shape looks the same as a bug
    here), so the post is ``unknown`` (it may have been published), in one line; the traceback is for
    the DEBUG log (tests/test_hostile_answers.py)."""
    caplog.set_level(logging.INFO)
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(200, json={"id": "1"}))
    (pid,) = queue(store, planned("p", account="b1", channel="broken"))
    adapter = Broken(Account("b1", "broken", {}, Credentials({}, account="b1")), clock=clock)
    adapter.after_request = after_request
    outcomes: list[Outcome] = []
    run(make(store, clock, {"b1": adapter}, platform, outcomes=outcomes).dispatch_due(clock.now))
    assert store.get_post(pid).status == expected
    assert [o.outcome for o in outcomes] == [expected] and "KeyError" in outcomes[0].detail
    assert len(platform.requests) == (1 if after_request else 0)
    if after_request:
        assert "HTTP 200 answer to POST" in outcomes[0].detail and "unreadable" in outcomes[0].detail
        assert "Traceback" not in caplog.text
    else:
        assert "unexpected error while sending" in caplog.text and "Traceback" in caplog.text


def test_an_adapter_that_cannot_be_built_defers_the_post(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(Directory):
        def adapter(self, campaign: str, account: str) -> Adapter:
            raise RuntimeError("boom")

    clock = Clock()
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = Dispatcher(store, Exploding({}), DispatchConfig(owner=OWNER, dry_run=True), clock=clock,
                   on_outcome=outcomes.append)
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "retry_wait" and post.attempts == 0  # a deferral, not an attempt
    assert post.next_attempt_at == clock.now + timedelta(minutes=5)
    assert [o.outcome for o in outcomes] == ["deferred"]
    assert "adapter error: RuntimeError: boom" in outcomes[0].detail
    assert "cannot build its adapter" in caplog.text


# ---------------------------------------------------------------------------------------------- lateness


@pytest.mark.parametrize(
    ("late_by", "send_late", "expected"),
    [
        (timedelta(hours=23), False, "sent"),
        (timedelta(hours=25), False, "missed"),
        (timedelta(hours=25), True, "sent"),
    ],
)
def test_lateness_window(store: Store, late_by: timedelta, send_late: bool, expected: str) -> None:
    clock = Clock(T0 + late_by)
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("p", account="m1", send_late=send_late))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    run(d.dispatch_due(clock.now))
    assert store.get_post(pid).status == expected
    assert len(platform.requests) == (0 if expected == "missed" else 1)
    if expected == "missed":
        assert "lateness window" in outcomes[0].detail


def test_after_downtime_send_late_sends_only_the_latest_due_occurrence(store: Store) -> None:
    """A daily ``send_late`` post whose daemon was down three days: the latest due occurrence goes out, the
    two before it are missed (named, alerted), the next one waits for its day."""
    clock = Clock(T0 + timedelta(days=2, hours=1))
    platform = Platform(clock, status_ok)
    ids = queue(store, *(
        planned("daily", account="m1", at=T0 + timedelta(days=day), occurrence=f"day{day}", send_late=True)
        for day in range(4)
    ))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    run(d.dispatch_due(clock.now))
    assert [store.get_post(pid).status for pid in ids] == ["missed", "missed", "sent", "scheduled"]
    assert len(platform.requests) == 1
    details = sorted(o.detail for o in outcomes if o.outcome == "missed")
    assert details == sorted(
        f"found due {ago} after {day} 09:00:00 UTC, and the later occurrence day2 is due too: "
        "send_late sends only the latest"
        for ago, day in (("49h", "2027-01-18"), ("25h", "2027-01-19"))
    )


def test_lateness_counts_real_hours_across_a_dst_change(store: Store) -> None:
    """09:00 New York the day before the spring change, found at 09:30 local the next day: 23.5 h late."""
    ny = ZoneInfo("America/New_York")
    due = datetime(2027, 3, 13, 9, 0, tzinfo=ny).astimezone(UTC)
    found = datetime(2027, 3, 14, 9, 30, tzinfo=ny).astimezone(UTC)
    assert found - due == timedelta(hours=23, minutes=30)
    clock = Clock(found)
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("p", account="m1", at=due))
    run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))
    assert store.get_post(pid).status == "sent"


def test_missing_account_config_defers_instead_of_dropping(store: Store) -> None:
    clock = Clock()
    (pid,) = queue(store, planned("p", account="ghost"))
    d = make(store, clock, {}, Platform(clock, status_ok))
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "retry_wait" and post.attempts == 0
    assert post.next_attempt_at == T0 + timedelta(minutes=5)
    assert "no account 'ghost'" in (post.last_error or "")


# ---------------------------------------------------------------------------------------------- alerts


def test_alerts_are_batched_and_an_alert_failure_never_alerts(store: Store) -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "alerts.example":
            return httpx.Response(200, json={"id": "alert"})
        return httpx.Response(403, json={"error": "forbidden"})

    platform = Platform(clock, handler)
    ids = queue(store, planned("a", account="m1"), planned("b", account="m1"),
                planned("c", account="m1", at=T0 + timedelta(minutes=1)))
    alert = webhook("alerts", clock, url="https://alerts.example/hook")
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, alert=alert)
    run(d.dispatch_due(clock.now))
    alerts = [json.loads(r.content) for _, r in platform.requests if r.url.host == "alerts.example"]
    assert len(alerts) == 1  # both failures of this round in one message
    assert "2 posts need attention" in alerts[0]["text"]
    assert f"#{ids[0]}" in alerts[0]["text"] and f"#{ids[1]}" in alerts[0]["text"]

    clock.advance(minutes=1)
    run(d.dispatch_due(clock.now))  # c fails; within 15 minutes: held back
    assert sum(1 for _, r in platform.requests if r.url.host == "alerts.example") == 1
    clock.advance(minutes=15)
    run(d.dispatch_due(clock.now))
    sent = [json.loads(r.content)["text"] for _, r in platform.requests if r.url.host == "alerts.example"]
    assert len(sent) == 2 and f"#{ids[2]}" in sent[1]
    assert d.alerts.delivered == 2

    # The alert account itself fails: logged, retried later, never reported as an alert.
    platform.handler = lambda r: httpx.Response(500 if r.url.host == "alerts.example" else 403, text="down")
    (pid,) = queue(store, planned("d", account="m1", at=clock.now))
    clock.advance(minutes=16)
    run(d.dispatch_due(clock.now))
    clock.advance(minutes=16)
    run(d.dispatch_due(clock.now))
    alert_requests = [r for _, r in platform.requests if r.url.host == "alerts.example"]
    assert len(alert_requests) == 4  # one try per interval, nothing more
    assert d.alerts.delivered == 2  # failed tries are not deliveries
    assert store.get_post(pid).status == "failed"
    assert next(iter(d.alerts._batches.values())).failures == 2


def test_an_alert_account_whose_adapter_raises_a_bug_fails_like_any_failed_alert(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An alert adapter's publish that raises something other than a CampaignError (a third party's adapter)
    used to end the dispatch with it, and the daemon with the dispatch, again after every restart while the
    alert stayed pending. Now it is a failed alert: logged with its traceback, tried at the next interval."""
    clock = Clock()
    platform = Platform(clock, lambda r: httpx.Response(403, json={"error": "forbidden"}))
    (pid,) = queue(store, planned("a", account="m1"))
    alert = webhook("alerts", clock, url="https://alerts.example/hook")

    def broken(part: Part) -> Exchange[Receipt]:
        raise RuntimeError("not implemented yet")

    monkeypatch.setattr(alert, "publish", broken)
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, alert=alert)
    run(d.dispatch_due(clock.now))  # did not raise
    assert store.get_post(pid).status == "failed"
    assert "alert to webhook:alerts failed unexpectedly" in caplog.text and "RuntimeError" in caplog.text
    assert d.alerts.delivered == 0 and next(iter(d.alerts._batches.values())).failures == 1


# ---------------------------------------------------------------------------------------------- shutdown


def test_stop_between_thread_parts_defers_without_losing_receipts(store: Store) -> None:
    clock = Clock()
    (pid,) = queue(store, planned("t", account="m1", text=("one", "two")))
    holder: dict[str, Dispatcher] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        holder["d"].request_stop()  # SIGTERM arrives while part 1 is on the wire
        return status_ok(request)

    platform = Platform(clock, handler)
    holder["d"] = d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "retry_wait" and len(post.part_receipts) == 1 and post.attempts == 0
    d2 = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    platform.handler = status_ok
    run(d2.dispatch_due(clock.now))
    assert store.get_post(pid).status == "sent"
    assert [b["status"] for b in platform.bodies()] == ["one", "two"]


def test_dry_run_sends_nothing(store: Store) -> None:
    clock = Clock()
    (pid,) = queue(store, planned("t", account="m1", text=("one", "two")))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, None, dry_run=True)
    run(d.dispatch_due(clock.now))
    post = store.get_post(pid)
    assert post.status == "sent" and post.remote_id and post.remote_id.startswith("dry-run")
    assert d.dry_requests == 2


# ---------------------------------------------------------------------------------------------- group commit


def test_state_writes_are_group_committed_and_sending_is_durable_before_each_request(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    accounts = [f"m{i}" for i in range(20)]
    ids = queue(store, *(planned(f"p{i}", account=a) for i, a in enumerate(accounts)),
                planned("t", account="m0", text=("one", "two", "three")))
    seen_at_request: list[tuple[str, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        post = next(store.get_post(i) for i in ids if key.startswith(store.get_post(i).idempotency_key))
        seen_at_request.append((post.status, len(post.part_receipts)))
        return status_ok(request)

    async def later(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # answers arrive on a later turn of the loop, as over a network
        return handler(request)

    platform = Platform(clock, handler)
    platform.client = httpx.AsyncClient(transport=httpx.MockTransport(later))
    transactions: list[int] = []
    write_marks = store.write_marks
    monkeypatch.setattr(store, "write_marks", lambda marks, **kw: transactions.append(len(marks)) or
                        write_marks(marks, **kw))
    monkeypatch.setattr(store, "mark_sending", None)  # the hot path no longer writes post by post
    monkeypatch.setattr(store, "mark_sent", None)
    monkeypatch.setattr(store, "record_part", None)  # nor thread parts (a write on the loop's thread)
    adapters: dict[str, Adapter] = {a: mastodon(a, clock) for a in accounts}
    d = make(store, clock, adapters, platform, concurrency=20, per_channel=20)

    run(d.dispatch_due(clock.now))

    assert {store.get_post(i).status for i in ids} == {"sent"}
    # 21 posts, 23 requests: every request found its post durably `sending`, and each thread part found
    # the receipts of the parts before it stored.
    assert len(seen_at_request) == 23 and {s for s, _ in seen_at_request} == {"sending"}
    assert sorted(n for _, n in seen_at_request)[-3:] == [0, 1, 2]
    assert sum(transactions) == 2 * 21 + 2  # one sending and one outcome mark per post, two thread parts ...
    assert len(transactions) <= 8  # ... in a handful of transactions, not 44
    thread = store.get_post(ids[-1])
    assert len(thread.part_receipts) == 3 and thread.remote_id == thread.part_receipts[0].remote_id
    single = store.get_post(ids[0])
    assert single.part_receipts and single.part_receipts[0].remote_id == single.remote_id


def test_sending_marks_go_on_before_the_claim_behind_them_ends(store: Store) -> None:
    """The worker thread commits a batch's marks, hands them back to the loop, then runs the claim queued
    behind them in a transaction of its own: a post whose `sending` mark is written may leave while the
    claim still runs, and the claim sees that mark committed."""
    import threading

    from campaign.dispatch.writer import GroupWriter, make_mark

    first, second = queue(store, planned("a", account="m1"), planned("b", account="m2"))
    store.claim_due(T0, "d1", 60, 1)
    writer = GroupWriter(store, "d1", delay=0.01, rows=256)
    release = threading.Event()
    seen: list[str] = []

    def claim() -> list[int]:
        with Store.open(store.url) as other:  # another connection: what is committed
            seen.append(other.get_post(first).status)
        assert release.wait(30), "the test never released the claim"
        return [p.id for p in store.claim_due(T0, "d1", 60, 1)]

    async def go() -> list[int]:
        mark = make_mark(first, "sending", T0)
        sending = asyncio.ensure_future(writer.sending(mark, cancelled=lambda: None))
        claimed = asyncio.ensure_future(writer.after_marks(claim))
        await asyncio.wait_for(sending, 30)  # returns while the claim is still held
        assert not claimed.done()
        release.set()
        return await claimed

    try:
        assert asyncio.run(go()) == [second]
    finally:
        release.set()
    assert seen == ["sending"]
    assert store.get_post(first).status == "sending"


def test_a_written_batch_is_freed_at_once_not_by_the_garbage_collector(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of a batch the worker thread wrote stays in a reference cycle: its marks, callbacks and
    waiters go as soon as the loop is done with them. Kept in a cycle (the thread's future holding its
    done callback, which held the batch), they waited for a garbage collection, which stops every account
    while it runs (docs/BENCHMARKS.md, tenth pass)."""
    import gc
    import weakref
    from functools import partial

    from campaign.dispatch import writer as writer_module
    from campaign.dispatch.writer import GroupWriter, make_mark

    first, second = queue(store, planned("a", account="m1"), planned("b", account="m2"))
    store.claim_due(T0, "d1", 60, 1)
    writer = GroupWriter(store, "d1", delay=0.01, rows=256)
    flights: list[weakref.ref[Any]] = []
    launch = writer_module.GroupWriter._launch

    def launched(self: GroupWriter) -> None:
        launch(self)
        if self._flight is not None:
            flights.append(weakref.ref(self._flight))

    monkeypatch.setattr(writer_module.GroupWriter, "_launch", launched)

    async def go() -> list[int]:
        await asyncio.wait_for(writer.sending(make_mark(first, "sending", T0), cancelled=lambda: None), 30)
        claim = partial(store.claim_due, T0, "d1", 60, 1)
        return [p.id for p in await asyncio.wait_for(writer.after_marks(claim), 30)]

    gc.collect()
    gc.disable()
    try:
        assert asyncio.run(go()) == [second]
        assert len(flights) == 2 and [ref() for ref in flights] == [None, None]
    finally:
        gc.enable()


def test_a_call_that_drains_a_backlog_lets_each_post_go_once_it_is_done(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One dispatch call lasts while posts keep coming due, so it may drain a backlog of any size or run for
    days: a post whose outcome is committed is let go at once, not when the call ends. Kept until then,
    every post sent stayed in memory (about 1 KB each: a daemon's RSS grew from 86 to 138 MB over 60,000
    posts in one call; docs/BENCHMARKS.md, twelfth pass)."""
    import gc
    import weakref

    from campaign.queue.values import ClaimedPost

    clock = Clock()
    queue(store, *(planned(f"p{i}", at=T0 - timedelta(minutes=i), account=f"m{i % 3}") for i in range(60)))
    claimed: dict[int, weakref.ref[ClaimedPost]] = {}
    claim_due = store.claim_due

    def recording(*args: Any, **kw: Any) -> list[ClaimedPost]:
        posts = claim_due(*args, **kw)
        claimed.update((p.id, weakref.ref(p)) for p in posts)
        return posts

    monkeypatch.setattr(store, "claim_due", recording)
    outcomes: list[Outcome] = []
    looks: list[tuple[int, list[int]]] = []  # (posts reported sent so far, those of them still in memory)

    def handler(request: httpx.Request) -> httpx.Response:
        if len(platform.requests) in (20, 40, 59):  # mid-call
            gc.collect()
            looks.append((len(outcomes), [o.post_id for o in outcomes if claimed[o.post_id]() is not None]))
        return status_ok(request)

    platform = Platform(clock, handler)
    adapters = {f"m{i}": mastodon(f"m{i}", clock) for i in range(3)}
    run(make(store, clock, adapters, platform, outcomes=outcomes).dispatch_due(clock.now))

    assert [o.outcome for o in outcomes] == ["sent"] * 60
    # A post's request leaves once its `sending` mark is committed, with the `sent` mark of its account's
    # post before it: by the nth request at least n - 3 posts (3 accounts) were reported.
    seen = [(reported >= at - 3, held) for at, (reported, held) in zip((20, 40, 59), looks, strict=True)]
    assert seen == [(True, [])] * 3


def test_a_bug_in_the_commit_thread_fails_its_batch_instead_of_hanging_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception while writing (not a StoreError) fails the batch like a failed transaction:
    the waiting `sending` mark raises StoreError (its post is not sent) instead of waiting forever, and the
    next batch is written."""
    from campaign.dispatch.writer import GroupWriter, make_mark
    from campaign.errors import StoreError

    first, second = queue(store, planned("a", account="m1"), planned("b", account="m2"))
    store.claim_due(T0, "d1", 60, 2)
    write_marks = store.write_marks
    calls: list[int] = []

    def buggy(marks: Any, **kw: Any) -> Any:
        calls.append(len(marks))
        if len(calls) == 1:
            raise ZeroDivisionError("division by zero")
        return write_marks(marks, **kw)

    monkeypatch.setattr(store, "write_marks", buggy)
    writer = GroupWriter(store, "d1", delay=0.01, rows=256)

    def sending(post_id: int) -> Any:
        return asyncio.wait_for(writer.sending(make_mark(post_id, "sending", T0), cancelled=lambda: None), 30)

    async def go() -> None:
        with pytest.raises(StoreError, match="ZeroDivisionError"):
            await sending(first)
        await sending(second)

    asyncio.run(go())
    assert calls == [1, 1]
    assert [store.get_post(i).status for i in (first, second)] == ["claimed", "sending"]


def test_a_bug_in_a_claim_ends_the_dispatch_with_one_error_instead_of_claiming_forever(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception from a claim (a bug, a row the code cannot read) is not a StoreError. It used
    to end the pool's claim task unhandled (only asyncio's "Task exception was never retrieved" said so),
    and the pool claimed again at every wake-up: with a claim that always failed, `daemon --once` spun until
    it was killed. Now it is logged with its traceback, no further claim is made, the sends in flight
    finish, and the dispatch raises a StoreError naming it (the daemon logs it and tries at its next tick).
    Nothing was claimed, so nothing is lost: the next dispatch sends the post once."""
    from campaign.errors import StoreError

    clock = Clock()
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    claim_due = store.claim_due
    calls: list[int] = []

    def buggy(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("division by zero")
        return claim_due(*args, **kw)

    monkeypatch.setattr(store, "claim_due", buggy)
    with pytest.raises(StoreError, match="claiming due posts failed: ZeroDivisionError: division by zero"):
        run(asyncio.wait_for(d.dispatch_due(clock.now), 30))  # the bound only turns a hang into a failure
    assert calls == [1] and platform.requests == [] and store.get_post(pid).status == "scheduled"
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text
    run(d.dispatch_due(clock.advance(seconds=1)))
    assert store.get_post(pid).status == "sent" and len(platform.requests) == 1
    assert [o.outcome for o in outcomes] == ["sent"]


def test_a_thread_parts_receipt_is_written_even_when_its_sender_is_gone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `part` mark records what already happened (a part is published): unlike a `sending` mark it is
    never withdrawn. Its caller cancelled before the write, it is written with the next batch; its
    transaction failed, it is queued again (the caller still hears of the failure and sends nothing more)."""
    from campaign.dispatch.writer import GroupWriter, make_mark
    from campaign.errors import StoreError

    first, second = queue(store, planned("a", account="m1", text=("one", "two")),
                          planned("b", account="m2", text=("one", "two")))
    store.claim_due(T0, "d1", 60, 2)
    for pid in (first, second):
        store.mark_sending(pid, owner="d1", now=T0)
    write_marks = store.write_marks
    calls: list[list[str]] = []

    def failing_once(marks: Any, **kw: Any) -> Any:
        calls.append([m.kind for m in marks])
        if len(calls) == 2:
            raise DatabaseLockedError("q.db: database is locked by another process")
        return write_marks(marks, **kw)

    monkeypatch.setattr(store, "write_marks", failing_once)
    writer = GroupWriter(store, "d1", delay=0.01, rows=256)

    def part(pid: int) -> Any:
        return make_mark(pid, "part", T0, receipts=(Receipt(remote_id=f"r{pid}"),))

    async def go() -> None:
        cancelled = asyncio.ensure_future(writer.durable(part(first)))
        await asyncio.sleep(0)
        assert writer._queue and writer._flight is None  # queued, not yet written
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        writer.write()  # the next batch: the cancelled caller's receipt is in it
        assert [r.remote_id for r in store.get_post(first).part_receipts] == [f"r{first}"]
        with pytest.raises(StoreError, match="locked"):
            await asyncio.wait_for(writer.durable(part(second)), 30)
        assert store.get_post(second).part_receipts == ()
        writer.write()  # queued again after the failed transaction: written now
        assert [r.remote_id for r in store.get_post(second).part_receipts] == [f"r{second}"]

    asyncio.run(go())
    assert calls == [["part"], ["part"], ["part"]]


def test_an_outcome_whose_write_failed_is_written_by_the_next_dispatch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    write_marks = store.write_marks
    calls = {"n": 0}

    def flaky(marks: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if any(m.kind == "sent" for m in marks) and calls["n"] < 4:
            raise DatabaseLockedError("q.db: database is locked by another process")
        return write_marks(marks, **kw)

    monkeypatch.setattr(store, "write_marks", flaky)
    with pytest.raises(DatabaseLockedError):
        run(d.dispatch_due(clock.now))  # the daemon logs this and tries again at its next tick
    assert store.get_post(pid).status == "sending" and outcomes == []  # reported only once durable
    run(d.dispatch_due(clock.advance(seconds=3)))
    assert store.get_post(pid).status == "sent" and [o.outcome for o in outcomes] == ["sent"]
    assert len(platform.requests) == 1


@pytest.mark.parametrize(
    "error",
    [
        DatabaseLockedError("q.db: database is locked by another process"),
        StoreError("postgresql+psycopg://u@db/q: lost the connection to the database server (shutdown)"),
    ],
)
def test_a_failed_sending_write_sends_nothing_and_gives_the_post_back(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: StoreError
) -> None:
    """The queue fails while the post's ``sending`` mark is written: nothing is sent, the post is deferred
    by ``store_retry`` (the mark waits in the group writer until the queue answers), then sent once. Before,
    it stayed leased to the dispatcher, whose heartbeats renewed it for as long as the daemon ran."""
    clock = Clock()
    platform = Platform(clock, status_ok)
    (pid,) = queue(store, planned("p", account="m1"))
    outcomes: list[Outcome] = []
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, outcomes=outcomes)
    write_marks = store.write_marks
    broken = {"on": True}

    def failing(marks: Any, **kw: Any) -> Any:
        if broken["on"]:
            raise error
        return write_marks(marks, **kw)

    monkeypatch.setattr(store, "write_marks", failing)
    with pytest.raises(type(error)):
        run(d.dispatch_due(clock.now))  # the deferral is kept queued: the daemon retries at its next tick
    assert platform.requests == [] and store.get_post(pid).status == "claimed"
    assert f"post {pid} not sent, the queue failed: {error}; deferred by 10s" in caplog.text
    broken["on"] = False
    run(d.dispatch_due(clock.advance(seconds=1)))  # the queue answers again: the deferral is written
    post = store.get_post(pid)
    assert post.status == "retry_wait" and post.attempts == 0 and post.lease_owner is None
    assert post.next_attempt_at == T0 + timedelta(seconds=10)
    assert platform.requests == [] and [o.outcome for o in outcomes] == ["deferred"]  # once durable
    assert outcomes[0].detail == f"not sent, the queue failed: {error}"
    run(d.dispatch_due(clock.advance(seconds=10)))
    assert store.get_post(pid).status == "sent" and len(platform.requests) == 1
    assert [o.outcome for o in outcomes] == ["deferred", "sent"]


def test_heartbeats_renew_only_the_posts_in_hand_so_a_dropped_one_expires(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat names the posts the dispatcher is handling. A post leased to the same owner that it
    has no record of (dropped after a bug) is not renewed: its lease runs out and recovery takes it back
    while the daemon goes on. The beat is written behind the queued marks, in the writer's thread (on the
    event loop's thread it waited for the writer's transaction, and every account with it)."""
    import threading

    clock = Clock()
    beats: list[frozenset[int]] = []
    writers: list[threading.Thread] = []
    beaten = threading.Event()  # set in the writer's thread

    async def answer_after_a_heartbeat(request: httpx.Request) -> httpx.Response:
        # The request is out until a heartbeat has run while the post is in hand.
        assert await asyncio.to_thread(beaten.wait, 60), "no heartbeat named the post in hand"
        return status_ok(request)

    platform = Platform(clock, answer_after_a_heartbeat)  # type: ignore[arg-type]
    orphan, live = queue(
        store, planned("orphan", account="m2", at=T0 - timedelta(minutes=1)), planned("live", account="m1")
    )
    assert [p.id for p in store.claim_due(T0, OWNER, 60, 1)] == [orphan]  # leased, then forgotten
    heartbeat = store.heartbeat

    def recording(owner: str, until: datetime, **kw: Any) -> int:
        beats.append(kw["ids"])
        writers.append(threading.current_thread())
        done = heartbeat(owner, until, **kw)
        if live in kw["ids"]:  # a beat may come before the claim: the one that counts names the live post
            beaten.set()
        return done

    monkeypatch.setattr(store, "heartbeat", recording)
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, heartbeat_seconds=0.01)
    run(d.dispatch_due(clock.now))
    assert {live} in beats and not any(orphan in ids for ids in beats)
    assert threading.main_thread() not in writers
    assert store.get_post(live).status == "sent"
    assert store.get_post(orphan).lease_expires_at == T0 + timedelta(seconds=60)  # not renewed
    d.recover(clock.advance(seconds=61))
    assert store.get_post(orphan).status == "scheduled"


def test_a_bug_in_one_heartbeat_does_not_stop_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A beat that raises something other than a StoreError is logged with its traceback, and the beats go
    on: before, it ended the heartbeat task (raised only when the dispatch ended), no beat ran meanwhile, and
    a send longer than the lease (a backlog, a slow platform) could lose its post to recovery while its
    request was out."""
    import threading

    clock = Clock()
    renewed = threading.Event()  # set in the writer's thread by the beat after the failed one
    calls: list[int] = []

    async def answer_after_a_second_beat(request: httpx.Request) -> httpx.Response:
        assert await asyncio.to_thread(renewed.wait, 60), "no heartbeat after the one that raised"
        return status_ok(request)

    platform = Platform(clock, answer_after_a_second_beat)  # type: ignore[arg-type]
    (pid,) = queue(store, planned("p", account="m1"))
    heartbeat = store.heartbeat

    def buggy_once(owner: str, until: datetime, **kw: Any) -> int:
        if pid not in kw["ids"]:
            return heartbeat(owner, until, **kw)  # a beat before the claim
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("division by zero")
        done = heartbeat(owner, until, **kw)
        renewed.set()
        return done

    monkeypatch.setattr(store, "heartbeat", buggy_once)
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform, heartbeat_seconds=0.01)
    run(d.dispatch_due(clock.now))
    assert len(calls) >= 2 and store.get_post(pid).status == "sent"
    assert "lease heartbeat failed unexpectedly" in caplog.text and "ZeroDivisionError" in caplog.text


# ---------------------------------------------------------------------------------------------- layering


def test_the_dispatch_package_names_no_platform() -> None:
    """Platform facts are declared by adapters; the dispatcher and its helpers know no platform by name."""
    package = Path(__file__).resolve().parent.parent / "campaign" / "dispatch"
    # One-letter names (x) are skipped: they match variables, not prose about a platform.
    names = [n for n in channels.names() if len(n) > 1]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b", re.IGNORECASE)
    for path in sorted(package.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = pattern.search(line)
            assert found is None, f"{path.name}:{number} names a platform ({found.group(0)}): {line.strip()}"


def test_the_core_imports_neither_campaign_files_nor_the_concrete_store() -> None:
    """Only campaigns.py reads campaign files; the core reaches the queue through its store protocol."""
    package = Path(__file__).resolve().parent.parent / "campaign" / "dispatch"
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        if path.name != "campaigns.py":
            assert "campaign.source.config" not in modules, f"{path.name} imports campaign files"
    core = ast.parse((package / "dispatcher.py").read_text(encoding="utf-8"))
    store_names = {
        alias.name for node in ast.walk(core)
        if isinstance(node, ast.ImportFrom) and node.module == "campaign.queue.store" for alias in node.names
    }
    assert "Store" not in store_names
