"""The daemon: single-daemon lock, `daemon --once` and SIGTERM as real subprocesses, APScheduler wake-ups."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from campaign.dispatch.campaigns import CampaignDirectory
from campaign.dispatch.daemon import Daemon, DaemonLock, DaemonTiming, lock_for
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher, Outcome
from campaign.errors import DatabaseLockedError, StoreError
from campaign.queue.store import Store
from campaign.queue.values import Mark
from tests.helpers.queue import planned
from tests.helpers.waiting import HANG, wait_until

CAMPAIGN = """\
campaign: hooks
zone: Europe/London
start: "2030-03-02 09:00"
accounts:
  w1:
    channel: webhook
    url: {url}
posts:
  - key: hello
    text: "Hello"
    when: "+0d 09:00"
    accounts: [w1]
"""


def write_campaign(folder: Path, url: str = "http://127.0.0.1:9/in") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hooks.yaml").write_text(CAMPAIGN.format(url=url), encoding="utf-8")
    return folder


def queue_due(db: Path, *keys: str, at: datetime | None = None) -> list[int]:
    at = at or datetime.now(UTC) - timedelta(minutes=1)
    posts = [planned(k, campaign="hooks", account="w1", channel="webhook", at=at + timedelta(seconds=i))
             for i, k in enumerate(keys)]
    with Store.open(str(db)) as store:
        return list(store.apply_changes(add=posts, now=at - timedelta(days=1)).added)


def campaign_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from campaign.cli import main; sys.exit(main())", *args]


Record = dict[str, object]


def daemon_until(done: Callable[[Record], bool], *args: str) -> tuple[int, list[Record]]:
    """Run ``campaign daemon ARGS --log-format json`` until it logs a record ``done`` accepts (or exits),
    then SIGTERM it; its exit code and the records it logged. A hang past HANG kills it."""
    proc = subprocess.Popen(
        campaign_cmd("daemon", *args, "--log-format", "json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(HANG, proc.kill)  # a hang fails the test instead of stalling the suite
    watchdog.start()
    records: list[Record] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the daemon's log, as it writes it
            if line.startswith("{"):
                records.append(json.loads(line))
                if done(records[-1]):
                    break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, records


def statuses(db: Path, ids: list[int]) -> list[str]:
    with Store.open(str(db)) as store:
        return [store.get_post(i).status for i in ids]


# ---------------------------------------------------------------------------------------------- lock


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    path = tmp_path / "q.db.daemon.lock"
    with DaemonLock(path), pytest.raises(DatabaseLockedError, match=f"pid {os.getpid()}"):
        DaemonLock(path).acquire()
    DaemonLock(path).acquire()  # released: can be taken again


def test_lock_only_for_sqlite_files(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "q.db")) as store:
        lock = lock_for(store)
        assert lock is not None and lock.path == tmp_path / "q.db.daemon.lock"


def test_second_daemon_process_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    Store.open(str(db)).close()
    with DaemonLock(Path(str(db) + ".daemon.lock")):
        result = subprocess.run(
            campaign_cmd("daemon", "--once", "--db", str(db), "--campaigns", str(campaigns)),
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert "another campaign daemon" in result.stderr and f"pid {os.getpid()}" in result.stderr


def other_name(db: Path, how: str) -> Path:
    """A second name for the queue file ``db``: a symlink beside it, or a path through a ``..``."""
    if how == "symlink":
        link = db.with_name("link.db")
        link.symlink_to(db.name)
        return link
    (db.parent / "sub").mkdir()
    return db.parent / "sub" / ".." / db.name


@pytest.mark.parametrize("how", ["symlink", "dotdot"])
def test_the_lock_is_named_after_the_real_file(tmp_path: Path, how: str) -> None:
    db = tmp_path / "q.db"
    Store.open(str(db)).close()
    with Store.open(str(other_name(db, how))) as store:
        lock = lock_for(store)
        assert lock is not None and lock.path == tmp_path / "q.db.daemon.lock"


@pytest.mark.parametrize("how", ["symlink", "dotdot"])
def test_a_second_daemon_through_another_name_of_the_file_is_refused(tmp_path: Path, how: str) -> None:
    """A daemon on the file (its lock held here) and one started through a symlink or a ``..`` path: the
    second is refused, and the first one's lease is left alone (before, the second took a lock of its
    own name and recovered the lease of a live daemon)."""
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    (post,) = queue_due(db, "a")
    with Store.open(str(db)) as store:
        assert [c.id for c in store.claim_due(datetime.now(UTC), "first", 300, 10)] == [post]
    with DaemonLock(Path(str(db) + ".daemon.lock")):
        result = subprocess.run(
            campaign_cmd("daemon", "--once", "--db", str(other_name(db, how)), "--campaigns", str(campaigns)),
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert "another campaign daemon" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert statuses(db, [post]) == ["claimed"]


def test_a_queue_file_with_two_hard_links_is_refused(tmp_path: Path) -> None:
    """Each hard link is a real path of its own, so no lock name can be shared between them: refused
    (https://www.sqlite.org/howtocorrupt.html, section 2.5)."""
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    (post,) = queue_due(db, "a")
    os.link(db, tmp_path / "hard.db")
    result = subprocess.run(
        campaign_cmd("daemon", "--once", "--db", str(db), "--campaigns", str(campaigns)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("campaign: error:")]
    assert f"{db}: this queue file has 2 hard links" in line and "Traceback" not in result.stderr
    assert statuses(db, [post]) == ["scheduled"]


# ---------------------------------------------------------------------------------------------- --once


def test_daemon_once_dry_run_subprocess(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    due = queue_due(db, "a", "b")
    (later,) = queue_due(db, "c", at=datetime.now(UTC) + timedelta(days=1))
    result = subprocess.run(
        campaign_cmd("daemon", "--once", "--dry-run", "--db", str(db), "--campaigns", str(campaigns),
                     "--log-format", "json"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # the dry run worked on a throwaway copy: the real queue records nothing
    assert statuses(db, [*due, later]) == ["scheduled", "scheduled", "scheduled"]
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    sent = [r for r in records if r.get("outcome") == "sent"]
    assert {r["post_id"] for r in sent} == set(due)
    assert all(r["campaign"] == "hooks" and r["channel"] == "webhook" for r in sent)


@pytest.mark.parametrize("name", ["we#ird.db", "pct%41.db", "q?mode=rwc.db"])
def test_a_dry_run_reads_the_queue_its_file_name_names(tmp_path: Path, name: str) -> None:
    """``#``, ``%`` and ``?`` in the file name are part of it (before, the dry run's ``file:`` URI cut the
    name or decoded it: it read another file, or created a stray one, or failed as a bug)."""
    db = tmp_path / name
    campaigns = write_campaign(tmp_path / "schedules")
    due = queue_due(db, "a")
    result = subprocess.run(
        campaign_cmd("daemon", "--once", "--dry-run", "--db", str(db), "--campaigns", str(campaigns),
                     "--log-format", "json"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {r["post_id"] for r in records if r.get("outcome") == "sent"} == set(due)
    beside = {p.name for p in tmp_path.iterdir()} - {"schedules", name, f"{name}-wal", f"{name}-shm"}
    assert not beside  # no stray file
    assert statuses(db, due) == ["scheduled"]


def test_a_running_daemon_leaves_its_start_up_heap_out_of_garbage_collections(tmp_path: Path) -> None:
    """``gc.freeze()`` once start-up is done: full collections then skip the roughly 100,000 objects
    that start-up built (a 50 ms pause each before, docs/BENCHMARKS.md, tenth pass); and the youngest
    generation is collected after YOUNG_THRESHOLD allocations (eighteenth pass)."""
    from campaign.dispatch.daemon import YOUNG_THRESHOLD

    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    queue_due(db, "a", at=datetime.now(UTC) + timedelta(days=1))
    code, records = daemon_until(
        lambda record: record.get("message") == "daemon started",
        "--db", str(db), "--campaigns", str(campaigns), "--no-metrics", "--log-level", "DEBUG",
    )
    assert code == 0
    frozen = [r for r in records if r.get("message") == "start-up heap frozen"]
    assert len(frozen) == 1 and int(str(frozen[0]["frozen"])) > 50_000, frozen
    assert frozen[0]["young_threshold"] == YOUNG_THRESHOLD


@pytest.mark.usefixtures("root_logging_restored")
def test_a_once_pass_freezes_its_heap_only_when_it_is_the_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``daemon --once`` as a program freezes its start-up heap and sets the youngest generation's threshold
    too; called from Python code (a test, a tool embedding the CLI) it leaves the caller's garbage collector
    alone."""
    import gc

    from campaign.cli import main

    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    queue_due(db, "a", at=datetime.now(UTC) + timedelta(days=1))
    args = ["daemon", "--once", "--db", str(db), "--campaigns", str(campaigns), "--no-metrics"]
    debug = ["--log-level", "DEBUG", "--log-format", "json"]
    result = subprocess.run(campaign_cmd(*args, *debug), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"message": "start-up heap frozen"' in result.stderr
    before = gc.get_freeze_count(), gc.get_threshold()
    assert main(args) == 0
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
    assert "daemon --once:" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- SIGTERM


class Hanging(NamedTuple):
    url: str
    #: Set once a request's first bytes have arrived.
    received: threading.Event


@pytest.fixture
def hanging_server() -> Iterator[Hanging]:
    """A loopback HTTP server that reads requests and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)  # how often the thread looks at `stop`
    stop = threading.Event()
    received = threading.Event()
    conns: list[socket.socket] = []

    def read_one(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        while not stop.is_set():
            try:
                if conn.recv(65536):
                    received.set()
                return
            except TimeoutError:
                continue
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conns.append(conn)
            read_one(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield Hanging(f"http://127.0.0.1:{server.getsockname()[1]}/in", received)
    stop.set()
    thread.join(5)
    for conn in conns:
        conn.close()
    server.close()


def test_sigterm_settles_in_flight_posts_within_the_grace_period(
    tmp_path: Path, hanging_server: Hanging
) -> None:
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules", url=hanging_server.url)
    first, second = queue_due(db, "a", "b")
    proc = subprocess.Popen(
        campaign_cmd("daemon", "--db", str(db), "--campaigns", str(campaigns),
                     "--grace", "1", "--tick", "0.2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The request is on the wire (the server has its bytes) and its post is marked sending.
        wait_until(lambda: hanging_server.received.is_set() or proc.poll() is not None, what="a request")
        assert proc.poll() is None, proc.communicate()[1]
        wait_until(lambda: statuses(db, [first])[0] == "sending", what="post a to be sending")
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        elapsed = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The request on the wire may have landed: unknown. The post that never started goes back to the queue.
    assert statuses(db, [first, second]) == ["unknown", "scheduled"]
    # A stop that left a post unknown is not a clean one: one line naming it, and exit code 1.
    assert proc.returncode == 1, err
    assert (
        f"campaign: daemon stopped with 1 post unknown (id {first}): its request was in flight when it "
        "stopped (--grace 1 s) and may have published; the next start re-examines it"
    ) in err
    assert [line for line in err.splitlines() if line.startswith("campaign:")] == [
        next(line for line in err.splitlines() if line.startswith("campaign: daemon stopped"))
    ]
    assert elapsed < 10
    with Store.open(str(db)) as store:
        assert store.get_post(second).lease_owner is None


# ---------------------------------------------------------------------------------------------- in process


class Signals(logging.Handler):
    """What an in-process daemon signals, as events: its "idle" log record, and each post it sent."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.idle = asyncio.Event()
        #: The wake-up the daemon had armed when it first said it was idle.
        self.idle_until: datetime | None = None
        self.sent: dict[int, asyncio.Event] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "action", None) == "idle" and not self.idle.is_set():
            self.idle_until = getattr(record, "until", None)
            self.idle.set()

    def outcome(self, outcome: Outcome) -> None:
        if outcome.outcome == "sent":
            self.sent_event(outcome.post_id).set()

    def sent_event(self, post_id: int) -> asyncio.Event:
        return self.sent.setdefault(post_id, asyncio.Event())


@pytest.fixture
def signals() -> Iterator[Signals]:
    handler = Signals()
    logger = logging.getLogger("campaign.dispatch.daemon")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _daemon(db: Path, campaigns: Path, signals: Signals, *, tick: float) -> tuple[Daemon, Store]:
    store = Store.open(str(db))
    directory = CampaignDirectory(folder=campaigns, placeholder=True)
    dispatcher = Dispatcher(store, directory, DispatchConfig(owner="daemon:test", dry_run=True),
                            clock=lambda: datetime.now(UTC), on_outcome=signals.outcome)
    return Daemon(store, dispatcher, directory, timing=DaemonTiming(tick=tick, grace=1)), store


async def _until(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), HANG)
    except TimeoutError:
        raise AssertionError(f"waited {HANG:.0f} s for {what}") from None


def test_wake_job_fires_at_the_due_time(tmp_path: Path, signals: Signals) -> None:
    """A long tick: only the one-shot APScheduler wake-up can send the post on time."""
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    due_at = datetime.now(UTC) + timedelta(seconds=1)
    (pid,) = queue_due(db, "a", at=due_at)
    daemon, store = _daemon(db, campaigns, signals, tick=60)

    async def scenario() -> datetime:
        task = asyncio.create_task(daemon.run())
        await _until(signals.sent_event(pid), "the post to be sent")
        daemon.stop()
        await task
        return store.get_post(pid).updated_at

    sent_at = asyncio.run(scenario())
    store.close()
    assert due_at <= sent_at < due_at + timedelta(seconds=5)


def test_a_stop_names_the_posts_whose_outcome_the_queue_did_not_take(
    tmp_path: Path, signals: Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The post was sent, but every write of its outcome fails (a full disk, a queue that stopped answering):
    the stop tries once more, then names the post, which stays ``sending`` (recovered as ``unknown`` by the
    next start), and exits 1. Before, the stop said nothing and exited 0."""
    db = tmp_path / "q.db"
    (pid,) = queue_due(db, "a")
    daemon, store = _daemon(db, write_campaign(tmp_path / "schedules"), signals, tick=60)
    write_marks, attempts = store.write_marks, []

    async def scenario() -> None:
        loop, refused = asyncio.get_running_loop(), asyncio.Event()

        def failing(marks: list[Mark], **kw: Any) -> list[StoreError | None]:
            if all(mark.kind == "sending" for mark in marks):
                return write_marks(marks, **kw)
            attempts.append(len(marks))
            loop.call_soon_threadsafe(refused.set)  # the writer may run in its commit thread
            raise StoreError("database disk image is malformed")

        monkeypatch.setattr(store, "write_marks", failing)
        task = asyncio.create_task(daemon.run())
        await _until(refused, "the outcome's write to fail")
        tried = len(attempts)
        daemon.stop()
        await task
        assert len(attempts) > tried  # the stop tried once more

    asyncio.run(scenario())
    report = daemon.stop_report
    status = store.get_post(pid).status
    store.close()
    assert status == "sending"
    assert report is not None and report.unwritten == [pid] and report.unknown == [] and report.exit_code == 1
    assert report.line() == (
        f"daemon stopped with 1 post whose outcome the queue did not take (id {pid}; database disk image is "
        "malformed): it stays sending, and the next start re-examines it as unknown"
    )


class BrokenCollector:
    """A metrics collector with a bug: every pass raises."""

    busy: Callable[[], bool] | None = None
    passes = 0

    async def collect_due(self, now: datetime, *, campaign: str | None = None) -> None:
        self.passes += 1
        raise RuntimeError("a bug in the collector")

    def next_wake(self) -> datetime | None:
        return None


def test_a_bug_in_the_metrics_collector_is_one_logged_error_and_posting_goes_on(
    tmp_path: Path, signals: Signals, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, the exception ended the collector's task unseen (a running daemon) or the whole pass
    (``--once``); now it is one error with its traceback, and the post is sent either way."""
    db = tmp_path / "q.db"
    (pid,) = queue_due(db, "a")
    daemon, store = _daemon(db, write_campaign(tmp_path / "schedules"), signals, tick=60)
    collector = BrokenCollector()
    daemon.collector = collector  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="campaign.dispatch.daemon"):
        asyncio.run(daemon.run_once())
    status = store.get_post(pid).status
    store.close()
    assert collector.passes == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["metrics: unexpected RuntimeError"]
    assert errors[0].exc_info is not None
    assert status == "sent"


def test_posts_applied_by_another_process_are_noticed(tmp_path: Path, signals: Signals) -> None:
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    Store.open(str(db)).close()
    daemon, store = _daemon(db, campaigns, signals, tick=0.1)
    ids: list[int] = []

    async def scenario() -> None:
        task = asyncio.create_task(daemon.run())
        await _until(signals.idle, "the daemon to be idle")  # nothing queued, no wake-up armed
        assert signals.idle_until is None
        ids.extend(queue_due(db, "late"))  # another connection, like `campaign apply`
        await _until(signals.sent_event(ids[0]), "the late post to be sent")
        assert store.get_post(ids[0]).status == "sent"
        daemon.stop()
        await task

    asyncio.run(scenario())
    store.close()


def test_a_failed_revision_read_after_a_notification_does_not_end_the_listener(
    tmp_path: Path, signals: Signals, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's LISTEN loop reads the queue's revision after each notification. When that read failed
    (the server restarting), the error ended the listener for the daemon's life, and every later change
    waited for the safety tick. Now it is one error line, the dispatcher is woken all the same, and the next
    notification is heard. (The loop is driven here by a stand-in watcher on a SQLite queue.)"""
    from campaign.errors import StoreError

    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    Store.open(str(db)).close()
    daemon, store = _daemon(db, campaigns, signals, tick=60)

    class Watcher:
        """Answers "changed" each time a notification is queued; "no change" after its timeout."""

        def __init__(self) -> None:
            self.notes: asyncio.Queue[bool] = asyncio.Queue()

        def __enter__(self) -> Watcher:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        async def wait_async(self, timeout: float) -> bool:
            try:
                return await asyncio.wait_for(self.notes.get(), timeout)
            except TimeoutError:
                return False

    reads: list[int] = []
    revision = store.queue_revision

    def failing_once() -> int:
        reads.append(1)
        if len(reads) == 1:
            raise StoreError("q.db: lost the connection to the database server (restarting)")
        return revision()

    async def scenario() -> None:
        watcher = Watcher()
        woken = asyncio.Queue[None]()
        monkeypatch.setattr(store, "watch", lambda **kw: watcher)
        monkeypatch.setattr(store, "queue_revision", failing_once)
        monkeypatch.setattr(daemon.dispatcher, "wake", lambda: woken.put_nowait(None))
        listener = asyncio.create_task(daemon._listen())
        for _ in range(2):
            watcher.notes.put_nowait(True)
            await asyncio.wait_for(woken.get(), HANG)
        assert not listener.done() and len(reads) == 2
        daemon._stopping = True
        watcher.notes.put_nowait(False)
        await asyncio.wait_for(listener, HANG)

    asyncio.run(scenario())
    store.close()
    assert "listen: q.db: lost the connection to the database server (restarting)" in caplog.text


# ---------------------------------------------------------------------------------------------- event loop


@pytest.fixture
def answering_url() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback webhook receiver answering every POST ``200 {}``; yields its URL and the bodies it got."""
    import http.server

    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/in", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("flags", "loop"), [
    ((), "uvloop"),  # the default, auto: uvloop is a dependency wherever CI runs
    (("--loop", "uvloop"), "uvloop"),
    (("--loop", "asyncio"), "asyncio"),
])
def test_the_daemon_sends_on_the_event_loop_its_loop_option_names(
    tmp_path: Path, answering_url: tuple[str, list[bytes]], flags: tuple[str, ...], loop: str
) -> None:
    url, bodies = answering_url
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules", url=url)
    (post_id,) = queue_due(db, "a")
    code, records = daemon_until(
        lambda record: record.get("outcome") == "sent",
        "--db", str(db), "--campaigns", str(campaigns), "--no-metrics", *flags,
    )
    assert code == 0, records
    started = [r for r in records if r.get("message") == "daemon started"]
    assert len(started) == 1 and started[0]["loop"] == loop, started
    assert statuses(db, [post_id]) == ["sent"]
    assert len(bodies) == 1


@pytest.mark.usefixtures("root_logging_restored")
def test_loop_uvloop_without_uvloop_is_one_line_and_touches_no_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from campaign.cli import main

    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now raises ImportError
    db = tmp_path / "q.db"
    campaigns = write_campaign(tmp_path / "schedules")
    code = main(["daemon", "--loop", "uvloop", "--db", str(db), "--campaigns", str(campaigns)])
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--loop uvloop" in lines[0] and "--loop asyncio" in lines[0], err
    assert "Traceback" not in err
    assert not db.exists()


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    from campaign.dispatch import eventloop

    async def which() -> str:
        return eventloop.running_loop_name()

    assert eventloop.run(which(), eventloop.loop_factory("auto")) == "uvloop"
    assert eventloop.run(which(), eventloop.loop_factory("asyncio")) == "asyncio"
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert eventloop.loop_factory("auto") is None
    assert eventloop.run(which(), eventloop.loop_factory("auto")) == "asyncio"
    with pytest.raises(ValueError, match="unknown event loop"):
        eventloop.loop_factory("trio")


def test_the_cli_offers_exactly_the_loops_and_transports_the_daemon_knows() -> None:
    """The CLI spells its ``--loop`` and ``--transport`` choices out (importing the daemon's modules to read
    them would slow every command's start-up): they must stay the daemon's, default first."""
    import click

    from campaign.cli.daemon import daemon
    from campaign.dispatch.daemon import TRANSPORTS
    from campaign.dispatch.eventloop import LOOPS

    options = {p.name: p for p in daemon.params if isinstance(p, click.Option)}
    for name, known in (("loop", LOOPS), ("transport", TRANSPORTS)):
        choice = options[name].type
        assert isinstance(choice, click.Choice) and tuple(choice.choices) == known
        assert options[name].default == known[0]
