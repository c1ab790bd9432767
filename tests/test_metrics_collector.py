"""The metrics collector on a simulated clock (issue 15): readings at 1 h, 24 h and 7 d after publication,
batched per platform, deferred by a rate limit without touching publishing, nothing lost to a crash.

Real parts: a real SQLite queue, real adapters, real HTTP exchanges over ``httpx.MockTransport`` answering
with the platforms' documented shapes; the "platform" counts grow with the simulated time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from campaign import channels
from campaign.channels.base import Adapter, Receipt
from campaign.dispatch.metrics import FakeEngagement, MetricsCollector
from campaign.queue.metrics import DEFAULT_OFFSETS
from campaign.queue.store import Store
from tests.helpers.channels import make_account
from tests.helpers.queue import T0, many

OWNER = "daemon:c:1"
HOUR = timedelta(hours=1)


class Platform:
    """A loopback-free fake of Mastodon's and X's read endpoints: counts grow with the clock it is given."""

    def __init__(self) -> None:
        self.now = T0
        self.requests: list[httpx.Request] = []
        self.limited_until: datetime | None = None
        self.gone: set[str] = set()
        self.follower_reads = 0

    def reads(self) -> list[httpx.Request]:
        """The requests for posts' counts (not the account's followers)."""
        return [r for r in self.requests if not r.url.path.endswith(("/verify_credentials", "/users/me"))]

    def likes(self, remote_id: str) -> int:
        return int((self.now - T0) / HOUR) + int(remote_id.lstrip("r"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.limited_until is not None and self.now < self.limited_until:
            reset = self.limited_until.isoformat()
            headers = {"x-ratelimit-reset": reset}
            return httpx.Response(429, json={"error": "Too many requests"}, headers=headers)
        if request.url.path.endswith(("/verify_credentials", "/users/me")):
            self.follower_reads += 1
            if request.url.host == "api.x.com":
                me = {"id": "1", "public_metrics": {"followers_count": 900}}
                return httpx.Response(200, json={"data": me})
            return httpx.Response(200, json={"id": "1", "followers_count": 250})
        if request.url.host == "api.x.com":
            ids = request.url.params["ids"].split(",")
            data = [
                {"id": i, "text": "", "public_metrics": {"like_count": self.likes(i), "retweet_count": 0}}
                for i in ids
                if i not in self.gone
            ]
            return httpx.Response(200, json={"data": data})
        status_id = request.url.path.rsplit("/", 1)[-1]
        if status_id in self.gone:
            return httpx.Response(404, json={"error": "Record not found"})
        return httpx.Response(200, json={"id": status_id, "favourites_count": self.likes(status_id)})


class Directory:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.built: dict[str, Adapter] = {}

    def adapter(self, campaign: str, account: str) -> Adapter:
        if account not in self.built:
            channel = "x" if account.startswith("x") else "mastodon"
            settings = {} if channel == "x" else {"instance": "https://mastodon.example"}
            made = channels.load(channel)(make_account(channel, settings, {"token": "tok1"}, name=account))
            made.clock = lambda: self.platform.now
            self.built[account] = made
        return self.built[account]

    def alert_adapter(self, campaign: str) -> Adapter | None:
        return None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(str(tmp_path / "q.db")) as s:
        yield s


def send(store: Store, n: int, account: str) -> None:
    channel = "x" if account.startswith("x") else "mastodon"
    posts = many(n, account=account, channel=channel, step=timedelta(0), campaign="c")
    store.apply_changes(add=posts, now=T0 - HOUR)
    for claimed in store.claim_due(T0, OWNER, 90, n):
        store.mark_sending(claimed.id, owner=OWNER, now=T0)
        store.mark_sent(claimed.id, Receipt(remote_id=f"r{claimed.id}"), owner=OWNER, now=T0)


def collector(store: Store, platform: Platform) -> tuple[MetricsCollector, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(platform))
    made = MetricsCollector(store, Directory(platform), offsets_for=lambda c: DEFAULT_OFFSETS, client=client)
    return made, client


def collect(store: Store, platform: Platform, at: datetime) -> int:
    platform.now = at

    async def go() -> int:
        made, client = collector(store, platform)
        async with client:
            return (await made.collect_due(at)).posts

    return asyncio.run(go())


def likes(store: Store) -> list[tuple[int, int]]:
    return [(s.post_id, s.value) for s in store.metric_samples("c") if s.metric == "likes"]


def test_readings_at_one_hour_one_day_and_one_week(store: Store) -> None:
    send(store, 2, "mastodon_main")
    platform = Platform()
    assert collect(store, platform, T0 + timedelta(minutes=59)) == 0
    assert collect(store, platform, T0 + HOUR) == 2
    assert collect(store, platform, T0 + 2 * HOUR) == 0  # nothing due until a day has passed
    assert collect(store, platform, T0 + timedelta(days=1)) == 2
    assert collect(store, platform, T0 + timedelta(days=7)) == 2
    assert collect(store, platform, T0 + timedelta(days=30)) == 0  # the series is over
    assert likes(store) == [(1, 2), (2, 3), (1, 25), (2, 26), (1, 169), (2, 170)]
    assert store.next_metrics_at() is None


def test_x_reads_a_hundred_posts_per_request(store: Store) -> None:
    send(store, 150, "x_main")
    platform = Platform()
    assert collect(store, platform, T0 + HOUR) == 150
    assert [len(r.url.params["ids"].split(",")) for r in platform.reads()] == [100, 50]
    assert store.followers(["x_main"]) == {"x_main": 900}


def test_a_backlog_of_sent_posts_is_read_in_full_batches(store: Store) -> None:
    """A daemon back from a long stop finds more sent posts than one store call schedules (here 20 a call,
    2,000 as shipped): the pass schedules them all, a chunk at a time, before it claims, so X still reads
    100 ids a request (``bench_metrics``: 5,124 requests for 10,000 posts instead of 5,050 before this)."""
    send(store, 250, "x_main")
    send(store, 30, "mastodon_main")
    platform = Platform()
    platform.now = T0 + HOUR

    async def go() -> int:
        client = httpx.AsyncClient(transport=httpx.MockTransport(platform))
        made = MetricsCollector(
            store, Directory(platform), offsets_for=lambda c: DEFAULT_OFFSETS, client=client,
            schedule_chunk=20,
        )
        async with client:
            total = 0
            while read := (await made.collect_due(T0 + HOUR)).posts:
                total += read
            return total

    assert asyncio.run(go()) == 280
    sizes = [len(r.url.params["ids"].split(",")) for r in platform.reads() if r.url.host == "api.x.com"]
    assert sorted(sizes, reverse=True) == [100, 100, 50]
    assert sum(1 for r in platform.reads() if r.url.host != "api.x.com") == 30


def test_catching_up_lets_posting_go_first_between_chunks(store: Store) -> None:
    """Between two chunks of scheduling the collector asks whether publishing is busy and waits while it is;
    each chunk is one short store call."""
    send(store, 5, "mastodon_main")
    seen: list[str] = []
    busy_answers = iter([False, True, True])  # before the first chunk; then publishing starts after it

    class Watched:
        def __init__(self, inner: Store) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def schedule_sent(self, *args: object, **kw: object) -> object:
            seen.append("chunk")
            return self.inner.schedule_sent(*args, **kw)  # type: ignore[arg-type]

    def busy() -> bool:
        answer = next(busy_answers, False)
        seen.append("busy" if answer else "free")
        return answer

    platform = Platform()
    platform.now = T0 + HOUR

    async def go() -> int:
        client = httpx.AsyncClient(transport=httpx.MockTransport(platform))
        made = MetricsCollector(
            Watched(store), Directory(platform), offsets_for=lambda c: DEFAULT_OFFSETS,  # type: ignore[arg-type]
            client=client, busy=busy, schedule_chunk=2,
        )
        async with client:
            return (await made.collect_due(T0 + HOUR)).posts

    assert asyncio.run(go()) == 5
    assert seen[:6] == ["free", "chunk", "busy", "busy", "free", "chunk"]
    assert seen.count("chunk") == 3  # 2 + 2 + 1: the last, short chunk ends the catch-up


def test_a_rate_limited_read_defers_metrics_but_never_publishing(store: Store) -> None:
    send(store, 3, "mastodon_main")
    platform = Platform()
    platform.limited_until = T0 + 2 * HOUR
    assert collect(store, platform, T0 + HOUR) == 3
    assert len(platform.requests) == 2  # followers, then the first 429 stops the account's reads
    state = store.account_state("mastodon_main")
    assert state is None or state.blocked_until is None  # publishing was never held back
    assert likes(store) == []
    assert collect(store, platform, T0 + HOUR + timedelta(minutes=30)) == 0  # still waiting for the reset
    assert collect(store, platform, T0 + 2 * HOUR) == 3
    assert len(likes(store)) == 3


def test_a_deleted_post_is_recorded_as_gone_and_never_read_again(store: Store) -> None:
    send(store, 2, "mastodon_main")
    platform = Platform()
    platform.gone = {"r1"}
    collect(store, platform, T0 + HOUR)
    rows = {r.post_id: r.gone for r in store.sent_rows("c")}
    assert rows == {1: True, 2: False}
    platform.requests.clear()
    collect(store, platform, T0 + timedelta(days=1))
    assert [r.url.path.rsplit("/", 1)[-1] for r in platform.reads()] == ["r2"]


def test_a_crash_mid_collection_loses_nothing(store: Store) -> None:
    send(store, 2, "mastodon_main")
    store.schedule_sent(T0 + HOUR, lambda c: DEFAULT_OFFSETS)
    store.claim_metrics(T0 + HOUR)  # a collector claimed the readings, then died before recording them
    platform = Platform()
    assert collect(store, platform, T0 + HOUR + timedelta(minutes=5)) == 0  # still leased
    assert collect(store, platform, T0 + HOUR + timedelta(minutes=10)) == 2  # the lease ran out
    assert len(likes(store)) == 2


def test_channels_without_a_read_api_are_finished_at_once(store: Store) -> None:
    class NoApi(Directory):
        def adapter(self, campaign: str, account: str) -> Adapter:
            cls = channels.load("slack")
            return cls(make_account("slack", {}, {"webhook_url": "https://hooks.slack.com/services/T/B/x"}))

    send(store, 1, "mastodon_main")
    platform = Platform()

    async def go() -> None:
        made = MetricsCollector(store, NoApi(platform), offsets_for=lambda c: DEFAULT_OFFSETS, dry_run=True)
        await made.collect_due(T0 + HOUR)

    asyncio.run(go())
    assert platform.requests == [] and store.next_metrics_at() is None


def test_a_rehearsal_invents_growing_counts_without_any_request(store: Store) -> None:
    send(store, 1, "mastodon_main")
    platform = Platform()
    fake = FakeEngagement()

    async def go(at: datetime) -> None:
        made = MetricsCollector(store, Directory(platform), offsets_for=lambda c: DEFAULT_OFFSETS, fake=fake)
        await made.collect_due(at)

    asyncio.run(go(T0 + HOUR))
    asyncio.run(go(T0 + timedelta(days=1)))
    values = [s.value for s in store.metric_samples("c") if s.metric == "views"]
    assert platform.requests == [] and len(values) == 2 and 0 < values[0] < values[1]


def test_a_rate_limited_metrics_read_never_holds_back_a_due_post(store: Store) -> None:
    """The platform refuses reads (429) while posts fall due: the posts go out on time, the reads wait."""
    from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher

    send(store, 2, "mastodon_main")
    due = T0 + HOUR
    later = many(3, account="mastodon_main", channel="mastodon", start=due, step=timedelta(0), campaign="c")
    store.apply_changes(
        add=[p.__class__(**{**p.__dict__, "post_key": "later-" + p.post_key}) for p in later], now=T0
    )
    platform = Platform()
    platform.limited_until = due + HOUR

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":  # publishing is never limited here
            platform.requests.append(request)
            return httpx.Response(200, json={"id": f"s{len(platform.requests)}", "url": "https://m/1"})
        return platform(request)

    async def go() -> None:
        platform.now = due
        directory = Directory(platform)
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            config = DispatchConfig(owner=OWNER)
            dispatcher = Dispatcher(store, directory, config, client=client, clock=lambda: due)
            made = MetricsCollector(store, directory, offsets_for=lambda c: DEFAULT_OFFSETS, client=client)
            collecting = asyncio.create_task(made.collect_due(due))
            await dispatcher.dispatch_due(due)
            await collecting

    asyncio.run(go())
    assert store.counts("c").get("sent") == 5  # the three due posts went out at their time
    state = store.account_state("mastodon_main")
    assert state is None or state.blocked_until is None or state.blocked_until <= due
    assert likes(store) == [] and store.next_metrics_at() == due + HOUR  # the reads wait for the reset


def test_followers_are_read_at_most_daily_with_the_posts_readings(store: Store) -> None:
    send(store, 1, "mastodon_main")
    platform = Platform()
    collect(store, platform, T0 + HOUR)
    collect(store, platform, T0 + 2 * HOUR)  # nothing due: no followers read either
    assert platform.follower_reads == 1 and store.followers(["mastodon_main"]) == {"mastodon_main": 250}
    collect(store, platform, T0 + timedelta(days=1, hours=1))
    assert platform.follower_reads == 2


def test_counts_read_from_the_loopback_fake_platform_grow_over_time(store: Store) -> None:
    """The same collector over real HTTP: the loopback fake Mastodon's counts grow with its (simulated)
    clock, and each reading sees them grown; the daemon's own client carries the requests."""
    from campaign.dispatch.daemon import make_client
    from tests.fakeplatform.server import FakePlatform, ServerThread
    from tests.helpers.clock import Clock

    clock = Clock(T0)
    with ServerThread(FakePlatform(clock=clock.epoch)) as server:
        with httpx.Client() as c:  # publish two statuses on the fake platform, as the dispatcher would
            ids = [
                c.post(
                    f"{server.url}/api/v1/statuses",
                    json={"status": f"p{i}"},
                    headers={"Authorization": "Bearer t"},
                ).json()["id"]
                for i in range(2)
            ]
        store.apply_changes(
            add=many(2, account="mastodon_main", channel="mastodon", step=timedelta(0), campaign="c"),
            now=T0 - HOUR,
        )
        for claimed, remote in zip(store.claim_due(T0, OWNER, 90, 2), ids, strict=True):
            store.mark_sending(claimed.id, owner=OWNER, now=T0)
            store.mark_sent(claimed.id, Receipt(remote_id=remote), owner=OWNER, now=T0)

        class Loopback(Directory):
            def adapter(self, campaign: str, account: str) -> Adapter:
                made = channels.load("mastodon")(
                    make_account(
                        "mastodon", {"instance": server.url}, {"token": "tok1"}, name=account, allow_http=True
                    )
                )
                made.clock = clock
                return made

        async def read(at: datetime) -> int:
            clock.now = at
            client = make_client(4)
            async with client:
                made = MetricsCollector(
                    store, Loopback(Platform()), offsets_for=lambda c: DEFAULT_OFFSETS, client=client
                )
                return (await made.collect_due(at)).posts

        assert asyncio.run(read(T0 + HOUR)) == 2
        assert asyncio.run(read(T0 + timedelta(days=1))) == 2
    likes_by_post: dict[int, list[int]] = {}
    for post_id, value in likes(store):
        likes_by_post.setdefault(post_id, []).append(value)
    assert all(values == [6, 144] for values in likes_by_post.values())  # one like per 10 minutes of age


def test_an_adapter_that_raises_a_bug_fails_its_own_readings_only(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An adapter's ``metrics`` that raises something other than a CampaignError (a bug, a third party's
    adapter meeting an answer it did not expect) used to end the whole pass, every pass: no account's counts
    were read again. Now its posts' readings fail (retried later, like any failed read) with one error line
    and its traceback, the other accounts are read, and the queue stores only the exception's type, never
    its text (which may quote a secret)."""
    import sqlite3

    send(store, 2, "mastodon_main")
    send(store, 2, "x_main")
    platform = Platform()
    canary = "canary-secret-in-a-message"

    def broken(self: Adapter, receipts: object) -> object:
        raise KeyError(canary)

    mastodon = channels.load("mastodon")
    monkeypatch.setattr(mastodon, "metrics", broken)
    assert collect(store, platform, T0 + HOUR) == 4
    read = {post_id for post_id, _ in likes(store)}
    x_posts = {r.post_id for r in store.sent_rows("c") if r.channel == "x"}
    assert read == x_posts and len(read) == 2
    assert "metrics of 1 posts of mastodon_main not read: unexpected KeyError" in caplog.text
    assert "Traceback" in caplog.text
    with sqlite3.connect(tmp_path / "q.db") as raw:
        stored = raw.execute("SELECT last_error FROM metric_schedule WHERE last_error IS NOT NULL")
        errors = {e for (e,) in stored}
    assert errors == {"unexpected KeyError while reading (see the daemon's log)"}
    monkeypatch.undo()
    assert collect(store, platform, T0 + 2 * HOUR) == 2  # retried later, and read once the adapter works
    assert {post_id for post_id, _ in likes(store)} == x_posts | {
        r.post_id for r in store.sent_rows("c") if r.channel == "mastodon"
    }


class Boastful(Platform):
    """Answers X's reads with a count no signed 64-bit integer holds, and a negative follower count."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "api.x.com":
            return super().__call__(request)
        self.requests.append(request)
        if request.url.path.endswith("/users/me"):
            return httpx.Response(200, json={"data": {"id": "1", "public_metrics": {"followers_count": -3}}})
        ids = request.url.params["ids"].split(",")
        counts = {"like_count": 2**63, "retweet_count": 10**30, "reply_count": 4}
        return httpx.Response(200, json={"data": [{"id": i, "public_metrics": counts} for i in ids]})


def test_a_count_no_database_column_holds_is_left_out_and_the_pass_goes_on(store: Store) -> None:
    """A count above 2**63 - 1 made the pass's one write fail (SQLite: OverflowError), so no account's
    readings were recorded, every pass. Now such a count, like a negative one, is not a count at all."""
    send(store, 2, "mastodon_main")
    send(store, 2, "x_main")
    assert collect(store, Boastful(), T0 + HOUR) == 4
    samples = {(s.post_id, s.metric, s.value) for s in store.metric_samples("c")}
    x_posts = {r.post_id for r in store.sent_rows("c") if r.channel == "x"}
    mastodon_posts = {r.post_id for r in store.sent_rows("c") if r.channel == "mastodon"}
    assert {(p, m) for p, m, _ in samples if p in x_posts} == {(p, "replies") for p in x_posts}
    assert {(p, m) for p, m, _ in samples if p in mastodon_posts} == {(p, "likes") for p in mastodon_posts}
    assert store.followers(["x_main", "mastodon_main"]) == {"mastodon_main": 250}
