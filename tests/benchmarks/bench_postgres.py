"""PostgreSQL queue benchmarks: daemon throughput with 1, 2 and 3 daemons against one daemon on SQLite, and
claim latency with a large queue.

Run: ``.venv/bin/python tests/benchmarks/bench_postgres.py [--quick]`` with ``CAMPAIGN_TEST_PG_URL`` set
(scripts/provision.sh starts a server). ``--quick`` (CI) uses 1,000 posts per run and 100,000 queued rows;
the full run 10,000 posts and 1,000,000 rows. Without a server it says so (a ``SKIP`` line,
tests/benchmarks/targets.py) and exits 0 (1 under CI=true, where a missing server is a broken setup). It
states no targets: its numbers are reported for comparison.

Throughput: each configuration gets a fresh queue and a fresh fake platform process (tests/fakeplatform),
100 accounts, real ``campaign daemon`` processes (default options, the INFO log level included, but
``--tick 0.5``; started first, then the posts are queued, all due at once, through ``apply_changes`` as
``campaign apply`` queues them, statistics refresh included), and is timed from the first
claim to the last send as recorded in the queue's history (process start-up excluded). Ratios are to one
PostgreSQL daemon, measured in the same run (PERFORMANCE.md: absolute numbers drift 15-30% between
sessions); one SQLite daemon and one PostgreSQL daemon run in :data:`ROUNDS` interleaved rounds and are
compared by their medians, since single runs of either moved by 15-30% on the same machine.
On a 2-core machine the daemons, the server and PostgreSQL share the cores, so more daemons
mostly add contention; the numbers say how much.

Claim latency: ``claim_due`` of 64 posts (then marking them sent, as a daemon does) against a queue of
N due posts inserted with one ``INSERT ... SELECT generate_series``, with and without the per-account cap,
compared with the same on a queue of 10,000.

Target (issue 12): one PostgreSQL daemon at least as fast as one SQLite daemon in the same run. Each
throughput line also gives the CPU milliseconds per post of every daemon, of the PostgreSQL backends serving
the run's database (the server runs on this machine) and of the fake platform: on 2 cores, when their sum
approaches 2 x the wall milliseconds per post, the machine is saturated and more daemons cannot help.
Under the medians, :func:`cpu_bound` reads the two one-daemon runs that way: how busy they kept the cores,
and the ratio of rates their CPU per post predicts if the cores are the limit.

Each round also runs that pair with the server on a core of its own (:func:`own_core`,
``tests.helpers.pg.ServerOnOwnCore``: the server's processes on the last core, this process, its daemons and
the fake platform on the others), as on a host of its own. That pair is reported, not judged: the target is
the shared machine above. A ``SKIP`` line says why when it cannot run (one core, a server elsewhere, no
permission to move the server's processes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from targets import skip, target  # tests/benchmarks/targets.py, beside this file

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402

from campaign.channels.base import Receipt  # noqa: E402
from campaign.queue.store import Store  # noqa: E402

T0 = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)
OWNER = "bench"
ACCOUNTS = 100


def server() -> str | None:
    url = os.environ.get("CAMPAIGN_TEST_PG_URL")
    if not url:
        skip("bench_postgres", "CAMPAIGN_TEST_PG_URL is not set (scripts/provision.sh starts a server)")
        if os.environ.get("CI", "").lower() == "true":
            sys.exit(1)
    return url


@dataclass
class Cpu:
    """CPU seconds spent during one throughput run, by process kind (``/proc/<pid>/stat``)."""

    daemons: list[float]
    server: float  # the PostgreSQL backends serving this run's database (0 on SQLite: in the daemon)
    platform: float

    def line(self, posts: int) -> str:
        each = "/".join(f"{1000 * c / posts:.2f}" for c in self.daemons)
        return (
            f"CPU ms per post: daemon{'s' if len(self.daemons) > 1 else ''} {each} "
            f"(sum {1000 * sum(self.daemons) / posts:.2f}), PostgreSQL {1000 * self.server / posts:.2f}, "
            f"fake platform {1000 * self.platform / posts:.2f}"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def backends(db: str) -> list[int]:
    """Process ids of the server backends connected to ``db`` (other than the one asking)."""
    if not db.startswith("postgresql"):
        return []
    engine = sa.create_engine(db, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = (
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return list(conn.execute(sa.text(query)).scalars())
    finally:
        engine.dispose()


def idle(procs: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> list[float]:
    """Each process's CPU seconds once none of them used CPU for 0.5 s (start-up over: they wait for work)."""
    deadline = time.monotonic() + timeout
    last = [cpu_seconds(p.pid) for p in procs]
    while time.monotonic() < deadline:
        # The condition is "no CPU used for one sampling period": the period is the thing measured (daemons
        # run at WARNING, so nothing is logged when start-up ends), not a guess at how long start-up takes.
        time.sleep(0.5)
        now = [cpu_seconds(p.pid) for p in procs]
        if now == last:
            break
        last = now
    return last


def throughput(db: str, daemons: int, posts: int, workdir: Path) -> tuple[float, Cpu]:
    """Posts per second sent by ``daemons`` daemons draining ``posts`` posts from ``db``, and the CPU time
    the daemons, their PostgreSQL backends and the fake platform spent (from start-up to the last send:
    start-up, a few hundred ms per daemon, is included; the server is on this machine)."""
    from tests.helpers.pg import Fleet

    # 100 accounts: with one post in flight per account (the default cap), 20 accounts would cap the
    # fleet at 20 requests in flight whatever the number of daemons (--concurrency 100 each).
    fleet = Fleet(db, workdir, accounts=ACCOUNTS)
    fleet.start_platform()
    try:
        for _ in range(daemons):
            # The fleet's daemons log at WARNING (tests read their logs); the daemon as shipped logs at INFO.
            fleet.start_daemon("--tick", "0.5", "--log-level", "INFO")
        started = idle(fleet.daemons)  # start-up CPU (imports, recovery) is not per-post work
        server0 = {pid: cpu_seconds(pid) for pid in backends(db)}
        platform0 = cpu_seconds(fleet.platform.pid)
        # Due now: the daemons see them at once (NOTIFY on PostgreSQL, the revision poll on SQLite).
        fleet.enqueue(posts)
        fleet.wait_for(posts, timeout=1800, poll=0.25)
        server = sum(cpu_seconds(pid) - server0.get(pid, 0.0) for pid in backends(db))
        cpu = Cpu([cpu_seconds(d.pid) - c for d, c in zip(fleet.daemons, started, strict=True)], server,
                  cpu_seconds(fleet.platform.pid) - platform0)  # fmt: skip
    finally:
        fleet.stop()
    with Store.open(db) as store, store.engine.connect() as conn:
        first, last = conn.execute(
            sa.text(
                "SELECT MIN(CASE WHEN to_status = 'claimed' THEN at END), "
                "MAX(CASE WHEN to_status = 'sent' THEN at END) FROM post_events"
            )
        ).one()
    span = (_aware(last) - _aware(first)).total_seconds()
    return posts / span, cpu


def _aware(value: datetime | str) -> datetime:
    # MIN/MAX bypass the column type on SQLite and come back as text (naive UTC).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fill(store: Store, rows: int, accounts: int = 50) -> None:
    """``rows`` due posts spread over ``accounts`` accounts, written by the server itself."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO posts (campaign, post_key, occurrence, channel, account, scheduled_at, zone, "
                "parts, link, content_hash, idempotency_key, status, attempts, next_attempt_at, "
                "part_receipts, send_late, late_window_seconds, created_at, updated_at) "
                "SELECT 'big', 'p' || g, '', 'mastodon', 'acct' || (g % :accounts), "
                ":t0 + g * interval '1 second', 'UTC', '[\"text\"]'::json, NULL, 'h', md5(g::text), "
                "'scheduled', 0, :t0 + g * interval '1 second', '[]'::json, true, 86400, :t0, :t0 "
                "FROM generate_series(1, :rows) AS g"
            ),
            {"rows": rows, "accounts": accounts, "t0": T0},
        )
        conn.execute(sa.text("ANALYZE posts"))


def claim_latency(store: Store, rounds: int, per_account: int | None) -> float:
    """Median milliseconds of one claim of 64 due posts (each round's posts are then sent and gone)."""
    now = T0 + timedelta(days=365)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        batch = store.claim_due(now, OWNER, 300, 64, per_account=per_account)
        times.append((time.perf_counter() - start) * 1000)
        for post in batch:
            store.mark_sending(post.id, owner=OWNER, now=now)
            store.mark_sent(post.id, Receipt(str(post.id)), owner=OWNER, now=now)
    return statistics.median(times)


#: Interleaved rounds of one SQLite daemon and one PostgreSQL daemon; the target compares their medians (one
#: run of each moved by 15-30% between runs on this machine: PERFORMANCE.md, docs/BENCHMARKS.md).
ROUNDS = 3


def _run(template: str, url: str, daemons: int, posts: int, work: Path) -> tuple[float, Cpu]:
    """:func:`throughput` on a fresh queue: a SQLite file when ``daemons`` is 0 (one daemon), else a fresh
    PostgreSQL database drained by that many daemons."""
    from tests.helpers.pg import drop_database, new_database

    work.mkdir()
    if daemons == 0:
        return throughput(str(work / "q.db"), 1, posts, work)
    name, db = new_database(template, url)
    try:
        return throughput(db, daemons, posts, work)
    finally:
        drop_database(name, url)


def compare_daemons(template: str, url: str, posts: int, tmp: Path) -> None:
    """Throughput of one SQLite daemon and one PostgreSQL daemon in :data:`ROUNDS` interleaved rounds, then
    of two and three PostgreSQL daemons once; prints every run, the medians and the target. Where this
    machine allows it, each round also runs the pair with the server on a core of its own
    (:func:`own_core`)."""
    from tests.helpers.pg import CannotPin, ServerOnOwnCore

    runs: dict[str, list[tuple[float, Cpu]]] = {"sqlite x1": [], "postgres x1": []}
    pin: ServerOnOwnCore | None = None
    why = ""
    try:
        pin = ServerOnOwnCore(url)
    except CannotPin as exc:
        why = str(exc)
    own: dict[str, list[tuple[float, Cpu]]] = {"sqlite x1": [], "postgres x1": []}
    for i in range(ROUNDS):
        runs["sqlite x1"].append(_run(template, url, 0, posts, tmp / f"sqlite-{i}"))
        runs["postgres x1"].append(_run(template, url, 1, posts, tmp / f"pg1-{i}"))
        if pin is not None:
            with pin:
                own["sqlite x1"].append(_run(template, url, 0, posts, tmp / f"own-sqlite-{i}"))
                own["postgres x1"].append(_run(template, url, 1, posts, tmp / f"own-pg1-{i}"))
    for daemons in (2, 3):
        runs[f"postgres x{daemons}"] = [_run(template, url, daemons, posts, tmp / f"pg{daemons}")]
    medians = {label: statistics.median(rate for rate, _ in done) for label, done in runs.items()}
    base = medians["postgres x1"]
    print(f"daemon throughput, {posts} posts each, x1: medians of {ROUNDS} interleaved rounds (ratio to one "
          f"PostgreSQL daemon); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}:")  # fmt: skip
    for label, done in runs.items():
        print(_run_line(label, done, posts, base))
    sqlite_run = _median_run(runs["sqlite x1"])
    postgres_run = _median_run(runs["postgres x1"])
    print(cpu_bound(sqlite_run, postgres_run, posts))
    target("one PostgreSQL daemon vs one SQLite daemon", base / medians["sqlite x1"], ">=", 1.0, unit="x",
           note=f"medians of {ROUNDS} interleaved rounds")  # fmt: skip
    if pin is None:
        skip("one PostgreSQL daemon vs one SQLite daemon, the server on a core of its own", why)
    else:
        print(own_core(own, pin.core, posts))


def own_core(runs: dict[str, list[tuple[float, Cpu]]], core: int, posts: int) -> str:
    """The lines for the pair run with the server on core ``core`` and the daemon with the fake platform on
    the others (:class:`tests.helpers.pg.ServerOnOwnCore`): a host of its own for the server, as README's
    "Several daemons on PostgreSQL" advises. Both daemons get the same cores; the PostgreSQL daemon's queue
    work moves partly to the server's core, the SQLite daemon's stays in the daemon. Reported beside the
    target, which is judged with the cores shared."""
    lines = [f"with the server on core {core} of its own and the daemon with the fake platform on the others "
             f"(as on a host of its own; reported, not the target), medians of {ROUNDS} rounds:"]
    lines += [_run_line(label, done, posts) for label, done in runs.items()]
    rates = {label: statistics.median(rate for rate, _ in done) for label, done in runs.items()}
    ratio = rates["postgres x1"] / rates["sqlite x1"]
    lines.append(f"  one PostgreSQL daemon vs one SQLite daemon, the server on its own core: {ratio:.2f}x")
    return "\n".join(lines)


def _run_line(label: str, done: list[tuple[float, Cpu]], posts: int, base: float | None = None) -> str:
    """One configuration's line: the median rate (and its ratio to ``base``), the CPU per post of the median
    run, and every run's rate when there were several."""
    rate = statistics.median(r for r, _ in done)
    ratio = "" if base is None else f"  {rate / base:5.2f}x"
    each = "" if len(done) == 1 else " (" + ", ".join(f"{r:.0f}" for r, _ in done) + ")"
    return f"  {label:<12} {rate:8.0f} posts/s{ratio}  {_median_run(done)[1].line(posts)}{each}"


def _median_run(done: list[tuple[float, Cpu]]) -> tuple[float, Cpu]:
    """The run with the median rate."""
    return sorted(done, key=lambda run: run[0])[len(done) // 2]


def cpu_bound(sqlite: tuple[float, Cpu], postgres: tuple[float, Cpu], posts: int) -> str:
    """A line reading two runs (rate, CPU) as bound by the cores: CPU per post, how busy the cores were,
    and the ratio of the rates that their CPU per post predicts.

    The daemon, the server and the fake platform share this machine's cores. Where they keep the cores
    busy, each run's rate is about the cores over its CPU time per post, so the ratio of the two rates
    is about the inverse ratio of their CPU per post, whatever the code does with its waits: one
    PostgreSQL daemon can then pass one SQLite daemon only with less CPU per post for the daemon and its
    server together than the SQLite daemon spends with SQLite inside it."""
    cores = os.cpu_count() or 1

    def per_post(cpu: Cpu) -> float:  # CPU ms per post: daemons, their server sessions, the fake platform
        return 1000 * (sum(cpu.daemons) + cpu.server + cpu.platform) / posts

    def busy(rate: float, cpu: Cpu) -> float:  # share of the cores they used while sending
        return per_post(cpu) / 1000 * rate / cores

    (sq_rate, sq_cpu), (pg_rate, pg_cpu) = sqlite, postgres
    sq_ms, pg_ms = per_post(sq_cpu), per_post(pg_cpu)
    if not sq_ms or not pg_ms:  # no /proc (not Linux): nothing was counted
        return "  CPU-bound reading: no CPU time could be read on this system"
    return (
        f"  CPU-bound reading (median runs): the daemon, its server sessions and the fake "
        f"platform used {sq_ms:.2f} ms of CPU per post "
        f"with SQLite and {pg_ms:.2f} with PostgreSQL, keeping the {cores} cores "
        f"{100 * busy(sq_rate, sq_cpu):.0f}% and {100 * busy(pg_rate, pg_cpu):.0f}% busy; at equal use of "
        f"the cores the rates would stand at {sq_ms / pg_ms:.2f}x (measured: {pg_rate / sq_rate:.2f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    args = parser.parse_args()
    url = server()
    if url is None:
        return 0
    from tests.helpers.pg import create_template, drop_database, new_database

    posts = 1_000 if args.quick else 10_000
    big = 100_000 if args.quick else 1_000_000
    template = create_template(url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            compare_daemons(template, url, posts, Path(tmp))
            print(f"claim of 64 posts, median ms (then each marked sent), {big:,} vs 10,000 queued:")
            for cap in (None, 1):
                results = []
                for size in (10_000, big):
                    name, db = new_database(template, url)
                    try:
                        with Store.open(db) as store:
                            start = time.perf_counter()
                            fill(store, size)
                            filled = time.perf_counter() - start
                            results.append(claim_latency(store, 20, cap))
                    finally:
                        drop_database(name, url)
                label = "uncapped" if cap is None else f"per_account={cap}"
                print(
                    f"  {label:<15} {results[0]:7.2f} ms at 10,000  {results[1]:7.2f} ms at {big:,} "
                    f"({results[1] / results[0]:.2f}x; filling took {filled:.1f} s)"
                )
    finally:
        drop_database(template, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
