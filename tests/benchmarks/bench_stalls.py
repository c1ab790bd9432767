"""Every account keeps moving: thread posts and accounts with a quota, against plain posts, in one run.

Run: ``.venv/bin/python tests/benchmarks/bench_stalls.py [--quick]`` (``--quick``: 1,000 posts a row for CI,
else 3,000). Three rows, each a fresh SQLite queue of posts due at once over 50 accounts, sent by the
dispatcher in-process with the daemon's defaults (:func:`campaign.dispatch.daemon.dispatch_config`, its
client and transport) to the loopback fake platform (tests/fakeplatform, its own process):

- plain: one-part posts;
- threads: three-part threads (each part's receipt must be committed before the next part leaves);
- quota: one-part posts of accounts with a ``daily_quota`` (as every Threads account has), so each post's
  first request waits for a read of the account's sends.

A ticker task on the event loop measures how long the loop goes without running it (its largest gaps, in
ms): a store call on the loop's own thread that waits for the commit thread's transaction stops every
account for that long. Until the thirteenth pass a thread part's receipt and the quota read were such calls:
p99 gaps of 85-112 ms against 13-18 ms for plain posts (docs/BENCHMARKS.md). Targets, each against the plain
row of the same run: the p99 gap of threads and of quota at most 2x the plain one's. The rates are printed,
not targeted: a thread's parts go one after the other, each behind a commit, so a row of threads is paced
by each account's chain of parts as much as by the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: make `tests.fakeplatform` importable

from targets import target  # noqa: E402  (tests/benchmarks/targets.py, beside this file)

from campaign.dispatch.daemon import DaemonOptions, dispatch_config, make_client, wall_clock  # noqa: E402
from campaign.dispatch.dispatcher import Dispatcher  # noqa: E402
from campaign.queue.store import Store  # noqa: E402
from tests.fakeplatform.accounts import FakeDirectory, mastodon_posts  # noqa: E402
from tests.fakeplatform.server import ServerProcess  # noqa: E402

ACCOUNTS = 50
PARTS = 3


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    posts: int
    requests: int
    seconds: float
    gaps_ms: list[float]

    def gap(self, q: float) -> float:
        return self.gaps_ms[min(len(self.gaps_ms) - 1, int(len(self.gaps_ms) * q))]

    def line(self) -> str:
        rates = f"{self.posts / self.seconds:7,.0f} posts/s, {self.requests / self.seconds:7,.0f} requests/s"
        gaps = f"p50 {self.gap(0.5):.1f} ms, p99 {self.gap(0.99):.1f} ms, max {self.gaps_ms[-1]:.1f} ms"
        return f"{self.name:8} {rates}; event loop gaps {gaps}"


async def _send(url: str, db: Path, settings: dict[str, Any]) -> tuple[float, list[float]]:
    options = DaemonOptions(owner="bench")
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)  # the instrument: how much later than 1 ms the loop comes back
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now

    with Store.open(str(db)) as store:
        client = make_client(options.concurrency, transport=options.transport)
        directory = FakeDirectory(url, wall_clock, settings=settings)
        dispatcher = Dispatcher(store, directory, dispatch_config(options), client=client, clock=wall_clock)
        ticking = asyncio.create_task(ticker())
        start = time.perf_counter()
        try:
            await dispatcher.dispatch_due(wall_clock())
        finally:
            took = time.perf_counter() - start
            done.set()
            await ticking
            await client.aclose()
        counts = store.counts()
    if set(counts) != {"sent"}:
        raise SystemExit(f"wrong result: {counts}")
    return took, sorted(gaps)


def run(name: str, url: str, folder: Path, n: int, *, parts: int = 1, quota: bool = False) -> Row:
    now = datetime.now(UTC)
    db = folder / f"{name}.db"
    posts = [dataclasses.replace(p, parts=tuple(f"{p.parts[0]} ({k + 1}/{parts})" for k in range(parts)))
             for p in mastodon_posts(n, accounts=ACCOUNTS, at=now)]
    with Store.open(str(db)) as store:
        store.apply_changes(add=posts, now=now - timedelta(minutes=1))
    settings: dict[str, Any] = {"daily_quota": 1_000_000} if quota else {}
    seconds, gaps = asyncio.run(_send(url, db, settings))
    return Row(name, n, n * parts, seconds, gaps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 posts a row (CI)")
    args = parser.parse_args(argv)
    n = 1_000 if args.quick else 3_000
    with tempfile.TemporaryDirectory(prefix="bench_stalls_") as tmp, ServerProcess(keep_log=False) as server:
        folder = Path(tmp)
        plain = run("plain", server.url, folder, n)
        threads = run("threads", server.url, folder, n, parts=PARTS)
        quota = run("quota", server.url, folder, n, quota=True)
    print(f"{n:,} posts over {ACCOUNTS} accounts, due at once; the dispatcher with the daemon's defaults:")
    for row in (plain, threads, quota):
        print("  " + row.line())
    for row in (threads, quota):
        target(f"event loop p99 gap, {row.name} vs plain posts", row.gap(0.99) / plain.gap(0.99), "<=", 2.0,
               unit="x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
