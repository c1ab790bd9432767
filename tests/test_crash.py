"""Crash tests: the real daemon as a subprocess, SIGKILLed at random moments, against the fake platform.

1,000 Mastodon posts over five accounts are due at once. The daemon (``campaign daemon``) is killed with
SIGKILL a few times at seeded random points of its progress and restarted (the whole run once per
``--transport``); at the end no post may be lost (each is ``sent``, or ``unknown`` with a reason) and none may
be published twice (the fake platform, which honours ``Idempotency-Key`` like Mastodon and runs in its own
process for the whole test, counts statuses created per key). A second test checks that SIGTERM ends the
daemon within a bound and leaves no post leased.

No step waits for a guessed time: the fake platform holds requests (a ``hang`` fault from a seeded request
on) and the test kills when the platform reports that it holds them, so every kill lands mid-request however
slow the machine is.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign.queue.store import Store
from tests.conftest import RELEASE
from tests.fakeplatform.accounts import mastodon_posts, token_env, write_campaign
from tests.fakeplatform.server import STATUSES_PATH, ServerProcess, read_log
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
POSTS = 1000
ACCOUNTS = 5
KILLS = 4
SEED = 20270118
#: Statuses still in the daemon's hands (or waiting for it); a settled queue has none of them.
PENDING = ("scheduled", "claimed", "sending", "retry_wait")
#: Bound on any one wait (a hang), seconds: far above the slowest run seen on a loaded machine.
HANG = 300.0


def daemon_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    env.update(token_env(ACCOUNTS))
    return env


def start_daemon(db: Path, campaigns: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "campaign.cli", "daemon", "--db", str(db), "--campaigns", str(campaigns)]
    cmd += ["--tick", "0.2", "--lease", "30", "--log-format", "json", *extra]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=daemon_env(), stdout=out, stderr=subprocess.STDOUT)


def counts(db: Path) -> dict[str, int]:
    with Store.open(str(db)) as store:
        return store.counts()


def wait_settled(db: Path, daemon: subprocess.Popen[bytes], log: Path) -> dict[str, int]:
    """The queue's counts once no post is pending any more (the daemon must keep running meanwhile)."""

    def settled() -> dict[str, int] | None:
        assert daemon.poll() is None, f"the daemon exited: {log.read_text(errors='replace')[-2000:]}"
        now = counts(db)
        return None if any(now.get(s) for s in PENDING) else now

    return wait_until(settled, what="the queue to settle", timeout=HANG, interval=0.2)


def wait_for_platform(
    server: ServerProcess, daemon: subprocess.Popen[bytes], log: Path, **at_least: int
) -> dict[str, Any]:
    """The platform's stats once its counters reach ``at_least``, failing early if the daemon dies."""
    deadline = time.monotonic() + HANG
    while True:
        try:
            return server.wait_for(5.0, **at_least)
        except TimeoutError:
            assert daemon.poll() is None, f"the daemon exited: {log.read_text(errors='replace')[-2000:]}"
            if time.monotonic() > deadline:
                raise


@pytest.fixture
def parts() -> int:
    """Parts per post (a test parametrized with ``parts`` overrides it)."""
    return 1


@pytest.fixture
def world(tmp_path: Path, parts: int) -> Iterator[tuple[ServerProcess, Path, Path]]:
    """The fake platform process (its log in tmp), a campaigns folder, and a queue with 1,000 due posts of
    ``parts`` parts each."""
    with ServerProcess(log=tmp_path / "platform.jsonl") as server:
        campaigns = tmp_path / "campaigns"
        campaigns.mkdir()
        write_campaign(campaigns, server.url, name="crash", accounts=ACCOUNTS, release=RELEASE)
        db = tmp_path / "queue.db"
        now = datetime.now(UTC)
        posts = [
            dataclasses.replace(p, parts=tuple(f"{p.parts[0]} ({i + 1}/{parts})" for i in range(parts)))
            for p in mastodon_posts(POSTS, accounts=ACCOUNTS, at=now, campaign="crash")
        ]
        with Store.open(str(db)) as store:
            store.apply_changes(add=posts, now=now - timedelta(minutes=1))
        yield server, campaigns, db


@pytest.mark.parametrize(
    ("transport", "parts"), [("wire", 1), ("aiohttp", 1), ("httpx", 1), ("wire", 3)],
    ids=["wire", "aiohttp", "httpx", "wire-threads"],
)
def test_sigkill_at_random_moments_loses_nothing_and_publishes_nothing_twice(
    world: tuple[ServerProcess, Path, Path], tmp_path: Path, transport: str, parts: int
) -> None:
    """Threads (``parts`` 3): every part's receipt is committed before the next part leaves, so a kill
    between parts resumes at the next one, each part published once under its own key."""
    server, campaigns, db = world
    rng = random.Random(SEED)
    log = tmp_path / "daemon.log"
    killed_while_sending = 0
    for _ in range(KILLS):
        # The seeded moment: from a random status request of this run on, the platform holds each request
        # unanswered (having created the status first, or not: both halves of "maybe received"); the kill
        # comes as soon as it holds one, while other accounts' requests are at whatever stage they reached.
        after, held, create = rng.randint(0, 60), 1, rng.random() < 0.5
        hang = {"kind": "hang", "path": STATUSES_PATH, "after": after, "times": None, "create": create}
        before = server.control(faults=[hang])["hung"]
        daemon = start_daemon(db, campaigns, log, "--transport", transport)
        try:
            wait_for_platform(server, daemon, log, hung=before + held)
        finally:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(10)
        killed_while_sending += server.stats()["hung"] >= before + held
    assert killed_while_sending == KILLS, "a kill did not happen while the daemon was sending"
    interrupted = counts(db)
    print("after the kills:", interrupted, "kills while sending:", killed_while_sending)
    # At most 61 statuses are answered per run: plenty of posts are left for the restarted daemon.
    assert interrupted.get("sent", 0) < POSTS, "every post went out before the last kill"

    server.control(faults=[])
    daemon = start_daemon(db, campaigns, log, "--transport", transport)
    try:
        final = wait_settled(db, daemon, log)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(15)

    assert sum(final.values()) == POSTS
    assert set(final) <= {"sent", "unknown"}, final
    with Store.open(str(db)) as store:
        posts = store.campaign_posts("crash")
        # Posts a kill caught mid-request: recovered to unknown, then retried under the same key.
        recovered = sum(1 for p in posts if "unknown" in [e.to_status for e in store.history(p.id)])
    assert all(p.last_error for p in posts if p.status == "unknown")  # unknown always says why
    stats = server.stats()
    print(f"final: {final}; requests {stats['requests']}, created {stats['created']}, recovered {recovered}")
    assert stats["duplicates"] == [], f"published twice: {stats['duplicates'][:5]}"
    created = {r.idempotency_key: r.status_id for r in read_log(tmp_path / "platform.jsonl") if r.created}
    for post in posts:
        if post.status == "sent" and parts == 1:
            # Published exactly once, and the receipt names that one status.
            assert created.get(post.idempotency_key) == post.remote_id, post.label
        elif post.status == "sent":  # each part once, under its own key, and its receipt names it
            keys = [f"{post.idempotency_key}-{i}" for i in range(parts)]
            assert [created.get(k) for k in keys] == [r.remote_id for r in post.part_receipts], post.label


def test_sigterm_ends_the_daemon_within_a_bound_and_leaves_nothing_leased(
    world: tuple[ServerProcess, Path, Path], tmp_path: Path
) -> None:
    server, campaigns, db = world
    # No answer ever comes: when SIGTERM comes, requests are in flight and posts are claimed but unstarted.
    server.control(faults=[{"kind": "hang", "times": None}])
    log = tmp_path / "daemon.log"
    daemon = start_daemon(db, campaigns, log, "--grace", "1")
    # One request per account (the per-account cap) is held: the daemon can start nothing more.
    wait_for_platform(server, daemon, log, hung=ACCOUNTS)
    stopped_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(10)  # the bound: grace (1 s) plus shutdown, far below 10 s
    took = time.monotonic() - stopped_at
    assert code == 1 and took < 10  # 1: the stop left posts unknown (their requests were cut off)
    final = counts(db)
    print(f"SIGTERM: exit {code} after {took:.2f} s; {final}")
    assert not final.get("claimed") and not final.get("sending"), final
    in_flight = server.stats()["requests"]  # none can finish: no answer ever comes
    assert in_flight == ACCOUNTS
    # Posts whose request was cut off are unknown (with a reason); every other one went back to scheduled.
    assert final == {"unknown": in_flight, "scheduled": POSTS - in_flight}
