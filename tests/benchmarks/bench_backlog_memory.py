"""Daemon memory while it drains a backlog: does its resident memory grow with the posts it has sent?

Run: ``.venv/bin/python tests/benchmarks/bench_backlog_memory.py [--quick]``. ``--quick`` (CI) sends 20,000
posts; the full run 60,000. Every post is due when the daemon starts (500 accounts), so one dispatch call
sends them all, as it would a backlog after an outage, or a stream of posts that never lets it go idle.

What is measured is the daemon as shipped: ``campaign daemon`` in its own process with its default options
(SQLite queue, INFO log to a file), against the loopback fake platform (tests/fakeplatform, its own
process). Its resident memory (``VmRSS`` in ``/proc/<pid>/status``) is read once a fifth of the posts are
sent (the working set is built by then: claims, connections, every account's adapter) and again when all
are. Target: at most 1.10x between the two, in the same run (a few MB of allocator noise, nothing per
post). A dispatch call once kept every post it had
sent until the call ended: about 1 KB each, 1.6x over 60,000 posts (docs/BENCHMARKS.md, twelfth pass).

The same is measured for ``campaign daemon --once`` (cron and CI run it on a backlog), read the second time
when all but the last two posts per account are sent, since the pass exits after its last post. Its
summary once kept every outcome: about 0.7 KB a post (twenty-first pass).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run as a script: `tests.*` and `helpers` importable

from bench_burst import proc_kb  # noqa: E402  (beside this file)
from targets import report, target  # noqa: E402  (tests/benchmarks/targets.py, beside this file)

from campaign.queue.store import Store  # noqa: E402
from tests.conftest import RELEASE  # noqa: E402
from tests.fakeplatform.accounts import mastodon_posts, token_env, write_campaign  # noqa: E402
from tests.fakeplatform.server import ServerProcess  # noqa: E402

ACCOUNTS = 500
#: Resident memory after every post is sent, against after a fifth of them, in the same run.
TARGET_GROWTH = 1.10


def second_reading(posts: int, once: bool) -> int:
    """Posts sent when the RSS is read the second time: all of them, but a ``--once`` pass exits after its
    last post, so it is read while the last two posts of each account are still on their way."""
    return posts - 2 * ACCOUNTS if once else posts


def drain(tmp: Path, posts: int, once: bool) -> tuple[int, float, float, str]:
    """One daemon (``--once`` or not) draining ``posts`` due posts on a fresh queue and fake platform: posts
    sent, its RSS (MB) after a fifth of them and near the end (0.0: not read), and its log's tail."""
    early, late = posts // 5, second_reading(posts, once)
    with ServerProcess(log=tmp / "platform.jsonl", keep_log=False) as server:
        campaigns = tmp / "campaigns"
        campaigns.mkdir()
        write_campaign(campaigns, server.url, name="bench", accounts=ACCOUNTS, release=RELEASE)
        now = datetime.now(UTC)
        db = str(tmp / "queue.db")
        with Store.open(db) as store:
            due = mastodon_posts(posts, accounts=ACCOUNTS, at=now - timedelta(seconds=1))
            store.apply_changes(add=due, now=now - timedelta(minutes=1))
        env = {**os.environ, **token_env(ACCOUNTS)}
        env.pop("CAMPAIGN_DB", None)
        cmd = [sys.executable, "-m", "campaign.cli", "daemon", "--db", db, "--campaigns", str(campaigns)]
        log = tmp / "daemon.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen(cmd + (["--once"] if once else []), cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=out)  # fmt: skip
        try:
            server.created_while(daemon, early, bound=600)
            first = proc_kb(daemon.pid, "VmRSS") / 1024 if daemon.poll() is None else 0.0
            server.created_while(daemon, late, bound=1200)
            last = proc_kb(daemon.pid, "VmRSS") / 1024 if daemon.poll() is None else 0.0
            sent = server.created_while(daemon, posts, bound=1200)
        finally:
            if daemon.poll() is None and not once:
                daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        return sent, first, last, log.read_text(errors="replace")[-2000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 posts (CI)")
    parser.add_argument("--posts", type=int)
    args = parser.parse_args(argv)
    posts = args.posts or (20_000 if args.quick else 60_000)
    for once in (False, True):
        mode = "daemon --once" if once else "daemon"
        name = f"{mode} RSS after a backlog vs after a fifth of it"
        with tempfile.TemporaryDirectory(prefix="bench-backlog-") as folder:
            sent, first, last, tail = drain(Path(folder), posts, once)
        if sent < posts or not first or not last:
            print(f"{mode} sent {sent} of {posts} (RSS read: {first:.0f}, {last:.0f} MB); its log:\n{tail}")
            report(name, False, f"{sent} of {posts} sent, RSS read {bool(first)}/{bool(last)}",
                   f"<= {TARGET_GROWTH:.2f}x")  # fmt: skip
            continue
        late = second_reading(posts, once)
        per_10k = (last - first) / (late - posts // 5) * 10_000
        print(f"{mode}, {posts:,} posts over {ACCOUNTS} accounts in one dispatch call: RSS {first:.0f} MB "
              f"after {posts // 5:,} sent, {last:.0f} MB after {late:,} ({per_10k:+.1f} MB per 10,000 posts)")
        target(name, last / first, "<=", TARGET_GROWTH, unit="x", note="the same run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
