"""Metrics collection (issue 15): reading back 10,000 sent posts over 50 accounts, and whether due posts stay
on time while it runs.

Run: ``.venv/bin/python tests/benchmarks/bench_metrics.py [--quick]`` (``--quick``: 2,000 posts over 20
accounts, CI). Everything talks to a loopback HTTP server (aiohttp) standing in for Mastodon (one read per
post) and X (100 posts per read), through the daemon's own client (``make_client``, the aiohttp transport) and
the code as shipped: ``MetricsCollector`` with its default slots, the dispatcher with the daemon's settings.

Reports:
- requests issued and wall time of a full collection pass (requests must equal what the platforms' batch sizes
  allow: a check of batching, not a speed target);
- the p99 lateness of a burst of due posts dispatched alone, and with a collection pass running at the same
  time: the ratio must stay at most 1.25x (posting first: "burst lateness unchanged").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web

from campaign import channels
from campaign.channels.base import Account, Adapter
from campaign.dispatch.daemon import DaemonOptions, dispatch_config, make_client
from campaign.dispatch.dispatcher import Dispatcher
from campaign.dispatch.metrics import MetricsCollector
from campaign.plan.posts import PlannedPost
from campaign.queue.store import Store
from campaign.secrets import Credentials, SecretRef
from tests.benchmarks.targets import report, target

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Platform:
    """Loopback stand-in: Mastodon statuses (GET counts, POST publish) and X's batched GET /2/tweets."""

    def __init__(self) -> None:
        self.reads = 0
        self.arrivals: dict[str, float] = {}

    async def status(self, request: web.Request) -> web.Response:
        self.reads += 1
        sid = request.match_info["sid"]
        return web.json_response({"id": sid, "favourites_count": 3, "reblogs_count": 1, "replies_count": 0})

    async def publish(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        self.arrivals.setdefault(key, time.monotonic())
        return web.json_response({"id": key[:16], "url": f"https://m.example/{key[:16]}"})

    async def tweets(self, request: web.Request) -> web.Response:
        self.reads += 1
        ids = request.query["ids"].split(",")
        data = [{"id": i, "text": "", "public_metrics": {"like_count": 2, "retweet_count": 1}} for i in ids]
        return web.json_response({"data": data})

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"id": "1", "followers_count": 100, "data": {"id": "1"}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/statuses/{sid}", self.status)
        app.router.add_post("/api/v1/statuses", self.publish)
        app.router.add_get("/2/tweets", self.tweets)
        app.router.add_get("/api/v1/accounts/verify_credentials", self.me)
        app.router.add_get("/2/users/me", self.me)
        return app


class Directory:
    """Accounts pointing at the loopback platform (X's API host is rewritten to it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.built: dict[str, Adapter] = {}

    def adapter(self, campaign: str, account: str) -> Adapter:
        if account not in self.built:
            channel = "x" if account.startswith("x") else "mastodon"
            refs = {"token": SecretRef(env="BENCH_TOKEN")}
            made = channels.load(channel)(
                Account(
                    name=account,
                    channel=channel,
                    settings={"instance": self.base},
                    credentials=Credentials(refs, account=account, environ={"BENCH_TOKEN": "bench-token"}),
                    allow_http=True,
                )
            )
            if channel == "x":  # send X's reads to the loopback server too
                import campaign.channels.x as xmod

                xmod.TWEETS_URL = f"{self.base}/2/tweets"
                xmod.ME_URL = f"{self.base}/2/users/me"
            self.built[account] = made
        return self.built[account]

    def alert_adapter(self, campaign: str) -> Adapter | None:
        return None


def sent_queue(path: str, n: int, accounts: int) -> None:
    """``n`` posts already sent (bulk SQL: setting up is not what is measured), over ``accounts`` accounts."""
    with Store.open(path) as store:
        posts = [
            PlannedPost(
                campaign="bench",
                post_key=f"p{i}",
                occurrence="",
                channel="x" if (i % accounts) % 2 else "mastodon",
                account=f"{'x' if (i % accounts) % 2 else 'm'}{i % accounts}",
                scheduled_at=T0,
                zone="UTC",
                parts=(f"post {i}",),
            )
            for i in range(n)
        ]
        store.apply_changes(add=posts, now=T0 - timedelta(hours=1))
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE posts SET status = 'sent', remote_id = 'r' || id")
            conn.exec_driver_sql(
                "INSERT INTO post_events (post_id, at, from_status, to_status, actor) "
                "SELECT id, '2030-01-01 00:00:00.000000', 'sending', 'sent', 'bench' FROM posts"
            )


def due_queue(store: Store, n: int, accounts: int, due: datetime) -> None:
    posts = [
        PlannedPost(
            campaign="burst",
            post_key=f"b{i}",
            occurrence="",
            channel="mastodon",
            account=f"m{(i % accounts) * 2}",
            scheduled_at=due,
            zone="UTC",
            parts=(f"burst {i}",),
        )
        for i in range(n)
    ]
    store.apply_changes(add=posts, now=due - timedelta(hours=1))


async def collect_all(
    store: Store, directory: Directory, client: object, now: datetime, busy: Callable[[], bool] | None = None
) -> int:
    collector = MetricsCollector(
        store, directory, offsets_for=lambda c: (3600,), client=client, busy=busy  # type: ignore[arg-type]
    )
    total = 0
    while True:
        stats = await collector.collect_due(now)
        total += stats.posts
        if not stats.posts:
            return total


async def burst(path: str, base: str, platform: Platform, n: int, accounts: int, with_metrics: bool) -> float:
    """p99 lateness (s) of ``n`` posts due at once, dispatched as the daemon would (optionally while a
    collection pass reads every sent post)."""
    directory = Directory(base)
    client = make_client(16)
    with Store.open(path) as store:
        now = datetime.now(UTC)
        due = now + timedelta(seconds=0.5)
        due_queue(store, n, accounts, due)
        config = dispatch_config(DaemonOptions())
        dispatcher = Dispatcher(store, directory, config, client=client, clock=lambda: datetime.now(UTC))
        platform.arrivals.clear()
        start = time.monotonic() + (due - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        posting = True  # as in the daemon: reads wait while dispatch passes run

        async def dispatch_all() -> None:
            nonlocal posting
            while len(platform.arrivals) < n:
                await dispatcher.dispatch_due(datetime.now(UTC))
            posting = False

        tasks = [asyncio.create_task(dispatch_all())]
        if with_metrics:
            reads = collect_all(store, directory, client, T0 + timedelta(hours=2), busy=lambda: posting)
            tasks.append(asyncio.create_task(reads))
        await asyncio.gather(*tasks)
    await client.aclose()
    late = sorted(max(0.0, t - start) for t in platform.arrivals.values())
    return late[min(len(late) - 1, math.ceil(0.99 * len(late)) - 1)] if late else math.inf


async def run(quick: bool) -> int:
    n, accounts = (2_000, 20) if quick else (10_000, 50)
    burst_n = 300 if quick else 1_000
    platform = Platform()
    runner = web.AppRunner(platform.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "q.db")
            sent_queue(path, n, accounts)
            directory = Directory(base)
            client = make_client(16)
            with Store.open(path) as store:
                began = time.perf_counter()
                read = await collect_all(store, directory, client, T0 + timedelta(hours=2))
                took = time.perf_counter() - began
            await client.aclose()
            mastodon = sum(1 for i in range(n) if (i % accounts) % 2 == 0)
            x_accounts = accounts // 2
            x_posts = n - mastodon
            per_x = [len(range(a, n, accounts)) for a in range(1, accounts, 2)]
            expected = mastodon + sum(math.ceil(k / 100) for k in per_x)
            print(json.dumps({"posts": read, "requests": platform.reads, "seconds": round(took, 2),
                              "x_accounts": x_accounts, "x_posts": x_posts}))
            report("metrics-batching", platform.reads == expected and read == n,
                   f"{platform.reads} requests for {read} posts", f"== {expected} requests for {n} posts")
            target("metrics-readings-per-second", read / took, ">", 0.0, unit=" posts/s", digits=0,
                   note="reported, no bound given")
            alone: list[float] = []
            together: list[float] = []
            for _ in range(3):  # alternate, so drift on a busy machine hits both alike
                for with_metrics, sink in ((False, alone), (True, together)):
                    path2 = str(Path(tmp) / f"burst-{len(alone)}-{with_metrics}.db")
                    sent_queue(path2, n, accounts)
                    sink.append(await burst(path2, base, platform, burst_n, accounts, with_metrics))
            p_alone, p_together = statistics.median(alone), statistics.median(together)
            print(json.dumps({"burst": burst_n, "p99_alone_s": round(p_alone, 3),
                              "p99_with_metrics_s": round(p_together, 3)}))
            target("burst-p99-with-metrics-vs-alone", p_together / max(p_alone, 1e-3), "<=", 1.25, unit="x")
    finally:
        await runner.cleanup()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    return asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    sys.exit(main())
