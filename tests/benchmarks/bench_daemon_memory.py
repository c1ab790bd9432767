"""Daemon memory with a large queue: peak resident memory of ``campaign daemon`` with 1,000,000 queued posts.

Run: ``.venv/bin/python tests/benchmarks/bench_daemon_memory.py [--quick]`` (``--quick``: 100,000 posts).
Target (issue 5): < 200 MB RSS with 1,000,000 queued posts.

The queue is built fast with raw ``executemany`` into the store's own schema (created by ``Store.open``);
every post is scheduled a day or more ahead, so the daemon has nothing to send: what is measured is what a
large queue costs an idle daemon (startup recovery, next-due queries, the queue-revision tick). The daemon
runs as a subprocess (default options but ``--tick 0.5``) until it logs "daemon started" (recovery done),
then for a few seconds more (several ticks), then gets SIGTERM; its peak RSS is the kernel's
high-water mark (``VmHWM`` in /proc/<pid>/status, sampled while it runs, and ``ru_maxrss`` from
``wait4``). The same daemon on an empty queue is measured in the same run, so the difference is what the
queue's size costs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from targets import target  # tests/benchmarks/targets.py, beside this script

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: make `tests.helpers.waiting` importable

from tests.helpers.waiting import wait_until  # noqa: E402

FMT = "%Y-%m-%d %H:%M:%S.%f"  # how the store's UTCDateTime columns are written on SQLite


def build_queue(path: Path, rows: int) -> float:
    """``rows`` scheduled Mastodon posts over 50 accounts, due from tomorrow on; returns seconds taken."""
    from campaign.queue.store import Store

    start = time.perf_counter()
    Store.open(str(path)).close()  # schema and migrations exactly as the daemon expects them
    now = datetime.now(UTC)
    created = now.strftime(FMT)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=OFF")  # building only; the daemon uses the store's settings
    raw.execute("BEGIN")
    sql = (
        "INSERT INTO posts (campaign, post_key, occurrence, channel, account, scheduled_at, zone, parts, "
        "link, content_hash, idempotency_key, status, attempts, next_attempt_at, part_receipts, send_late, "
        "late_window_seconds, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    def row(i: int) -> tuple[object, ...]:
        at = (now + timedelta(days=1, seconds=i)).strftime(FMT)
        text = f'["Post {i}: a typical launch announcement of about a hundred characters #launch"]'
        return ("memory", f"p{i}", "", "mastodon", f"acct{i % 50}", at, "UTC", text, None, "h", f"key{i:08d}",
                "scheduled", 0, at, "[]", 0, 86400, created, created)  # fmt: skip

    step = 50_000
    for first in range(0, rows, step):
        raw.executemany(sql, (row(i) for i in range(first, min(rows, first + step))))
    raw.execute("COMMIT")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return time.perf_counter() - start


def vm_hwm_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def daemon_peak_rss(db: Path, campaigns: Path, seconds: float) -> tuple[float, float, str]:
    """Run the daemon ``seconds`` past its start; returns (VmHWM MB, ru_maxrss MB, its last log line)."""
    cmd = [sys.executable, "-m", "campaign.cli", "daemon", "--db", str(db), "--campaigns", str(campaigns),
           "--tick", "0.5", "--log-level", "INFO"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    log_path = db.with_suffix(".log")
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    # The window starts once start-up (imports, lease recovery over the whole queue) is over, however
    # long a loaded machine takes for it: a window that ended before would measure too little.
    wait_until(lambda: "daemon started" in log_path.read_text(errors="replace") or proc.poll() is not None,
               what="the daemon to log 'daemon started'", timeout=600, interval=0.1)  # fmt: skip
    hwm = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        hwm = max(hwm, vm_hwm_mb(proc.pid) or 0.0)
        time.sleep(0.1)
    hwm = max(hwm, vm_hwm_mb(proc.pid) or 0.0)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped by wait4; keep Popen from waiting again
    log = log_path.read_text(errors="replace")
    if not running:
        raise SystemExit(f"the daemon exited early:\n{log[-2000:]}")
    return hwm, usage.ru_maxrss / 1024, log.strip().splitlines()[-1] if log.strip() else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 posts instead of 1,000,000")
    parser.add_argument("--posts", type=int)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds the daemon runs after it started")
    args = parser.parse_args(argv)
    rows = args.posts or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        tmp = Path(folder)
        campaigns = tmp / "campaigns"
        campaigns.mkdir()  # no campaign file: nothing is due, so no account is ever needed
        empty, full = tmp / "empty.db", tmp / "full.db"
        build_queue(empty, 0)
        took = build_queue(full, rows)
        size = sum(p.stat().st_size for p in tmp.glob("full.db*")) / 2**20
        print(f"queue of {rows:,} posts built in {took:.1f} s ({size:.0f} MB on disk)")
        base_hwm, base_max, _ = daemon_peak_rss(empty, campaigns, args.seconds)
        hwm, maxrss, last = daemon_peak_rss(full, campaigns, args.seconds)
    print(f"daemon peak RSS, empty queue:          VmHWM {base_hwm:6.1f} MB, ru_maxrss {base_max:6.1f} MB")
    print(f"daemon peak RSS, {rows:>9,} queued:  VmHWM {hwm:6.1f} MB, ru_maxrss {maxrss:6.1f} MB")
    note = "" if rows == 1_000_000 else "the target is stated for 1,000,000 queued posts"
    target(f"daemon peak RSS with {rows:,} queued posts", max(hwm, maxrss), "<", 200, unit=" MB", digits=1,
           note=note)  # fmt: skip
    print(f"the queue adds {maxrss - base_max:+.1f} MB ({maxrss / base_max:.2f}x the empty queue's peak)")
    print(f"daemon's last log line: {last[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
