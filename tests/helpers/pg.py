"""PostgreSQL for tests: a fresh, migrated database per test, cloned from a template made once per session.

The server comes from ``$CAMPAIGN_TEST_PG_URL`` (scripts/provision.sh starts one on loopback and exports it).
Without it, tests that need the server skip with a message saying so; under ``CI=true`` they fail instead
(DECISIONS.md: a real-server test that skips in CI is a failure).

Use: ``from pg import pg_url`` in a test module (pytest finds fixtures imported into it), and mark the tests
``@pytest.mark.postgres``. ``CREATE DATABASE ... TEMPLATE`` copies the template's files
(https://www.postgresql.org/docs/current/manage-ag-templatedbs.html), so a migrated database costs tens of
milliseconds instead of a migration run.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]

ENV = "CAMPAIGN_TEST_PG_URL"
_counter = itertools.count()


def server_url() -> str:
    """The server URL, or skip (fail under CI=true) when none is configured."""
    url = os.environ.get(ENV)
    if not url:
        message = f"needs a PostgreSQL server: set {ENV} (scripts/provision.sh starts one)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; under CI=true a skipped real-server test is a failure")
        pytest.skip(message)
    return url


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str) -> sa.Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_template(url: str) -> str:
    """Create a database migrated to the current schema head on the server of ``url``; returns its name."""
    from campaign.queue.store import Store

    name = f"campaign_tmpl_{os.getpid()}"
    with _admin(url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    Store.open(_with_database(url, name)).close()  # migrates; close() disposes every connection
    return name


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a database migrated to the current schema head (dropped at the end of the session)."""
    url = server_url()
    name = create_template(url)
    yield name
    drop_database(name, url)


def new_database(template: str, url: str | None = None) -> tuple[str, str]:
    """(name, URL) of a fresh database cloned from ``template`` (on the server of ``url``, default the
    test server)."""
    url = url or server_url()
    name = f"campaign_t{os.getpid()}_{next(_counter)}"
    with _admin(url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return name, _with_database(url, name)


def drop_database(name: str, url: str | None = None) -> None:
    # WITH (FORCE) (PostgreSQL 13+) ends sessions a test left open, e.g. a daemon it killed.
    with _admin(url or server_url()).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a fresh, migrated, empty queue database (dropped afterwards)."""
    name, url = new_database(pg_template)
    yield url
    drop_database(name)


def end_sessions(url: str) -> int:
    """End every other session of the database at ``url`` from the server side (what a restart or a
    failover does to its clients' connections); how many were ended."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            ended = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar_one()  # fmt: skip
            conn.commit()
    finally:
        engine.dispose()
    return int(ended)


def explain_analyze(driver: Any, sql: str, arguments: Any) -> list[dict[str, Any]]:
    """Every node (CTEs and subplans included) of ``EXPLAIN (ANALYZE, FORMAT JSON)`` of ``sql`` run with
    ``arguments`` on the psycopg connection ``driver``, inside whatever transaction it is in: the statement
    really runs, so roll back what it did unless the test wants it."""
    with driver.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, arguments)
        (plan,) = cursor.fetchone()[0]
    return explain_nodes_under(plan["Plan"])


def explain_nodes_under(top: dict[str, Any]) -> list[dict[str, Any]]:
    """``top`` and every plan node below it."""
    nodes, todo = [], [top]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", ()))
    return nodes


def rows_read(node: dict[str, Any]) -> int:
    """Rows a plan node looked at: those it returned and those its filters dropped, over all its loops
    (EXPLAIN gives both counts per loop: ``show_instrumentation_count`` in PostgreSQL's explain.c)."""
    loops = int(node.get("Actual Loops", 1))
    return loops * (int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0)))


# ------------------------------------------------------------------------------------- the server's own core


class CannotPin(Exception):
    """Why :class:`ServerOnOwnCore` cannot give the server a core of its own here (one line)."""


_LOOPBACK = {None, "", "localhost", "127.0.0.1", "::1"}


def _parent(pid: int) -> int:
    """The parent process id of ``pid`` (Linux ``/proc``; OSError when it is gone or there is no /proc)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _children(parent: int) -> list[int]:
    """The live processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _parent(int(entry.name)) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):  # gone while we looked
                continue
    return found


class ServerOnOwnCore:
    """Gives the PostgreSQL server at ``url`` one core of its own while the block runs, as if it ran on a
    host of its own: the server's postmaster and its processes (backends forked later inherit the postmaster's
    CPU set) go to the last core this process may use, and this process, with every daemon and fake
    platform it starts in the block, to the others. Afterwards the server's processes get their CPU sets
    back, and this process its own.

    The constructor raises :class:`CannotPin` (with the reason) when that cannot be done: fewer than two
    cores, no ``/proc`` or no CPU affinity (not Linux), a server not on this machine, or no permission to
    move the server's processes (they belong to another user and this process is not root).
    """

    def __init__(self, url: str) -> None:
        if not hasattr(os, "sched_setaffinity") or not Path("/proc/self/stat").exists():
            raise CannotPin("needs Linux (CPU affinity and /proc)")
        self._mine = os.sched_getaffinity(0)
        if len(self._mine) < 2:
            raise CannotPin(f"needs two cores; this process may use {len(self._mine)}")
        if sa.engine.make_url(url).host not in _LOOPBACK:
            raise CannotPin("the server is not on this machine")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                backend = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
                self.postmaster = _parent(backend)
        except OSError as exc:
            raise CannotPin(f"cannot find the server's processes: {exc}") from exc
        finally:
            engine.dispose()
        if Path(f"/proc/{self.postmaster}/comm").read_text().strip() not in ("postgres", "postmaster"):
            raise CannotPin(f"process {self.postmaster} is not a PostgreSQL postmaster")
        self.core = max(self._mine)
        self.rest = self._mine - {self.core}
        try:  # a no-op move: does this process have the right to move the server's processes?
            os.sched_setaffinity(self.postmaster, os.sched_getaffinity(self.postmaster))
        except PermissionError as exc:
            raise CannotPin(f"no permission to move the server's processes: {exc}") from exc
        self._saved: dict[int, set[int]] = {}

    def __enter__(self) -> ServerOnOwnCore:
        # The postmaster first, so a backend forked from here on inherits the one core.
        for pid in (self.postmaster, *_children(self.postmaster)):
            try:
                self._saved[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, {self.core})
            except ProcessLookupError:  # a backend that ended meanwhile
                continue
        os.sched_setaffinity(0, self.rest)
        return self

    def __exit__(self, *exc: object) -> None:
        os.sched_setaffinity(0, self._mine)
        server = self._saved.get(self.postmaster, self._mine)
        for pid in (self.postmaster, *_children(self.postmaster)):
            try:  # processes forked in the block get the postmaster's own set back
                os.sched_setaffinity(pid, self._saved.get(pid, server))
            except ProcessLookupError:
                continue
        self._saved.clear()


# ---------------------------------------------------------------------------------------------- daemon fleets


class Fleet:
    """A queue, the loopback fake platform in its own process, and ``campaign daemon`` processes.

    The campaign file ``load.yaml`` in ``workdir/campaigns`` defines ``accounts`` Mastodon accounts on the
    fake platform (account ``acctN`` authenticates with token ``token-acctN``, so the platform's per-account
    bookkeeping follows the queue's). Posts are queued straight through :meth:`Store.apply_changes`.
    """

    def __init__(self, db: str, workdir: Path, *, accounts: int = 20) -> None:
        self.db = db
        self.workdir = workdir
        self.accounts = [f"acct{i}" for i in range(accounts)]
        self.platform: Any = None
        self.daemons: list[subprocess.Popen[bytes]] = []
        self.keys: list[str] = []

    def start_platform(self) -> None:
        from tests.fakeplatform.server import ServerProcess

        self.platform = ServerProcess(log=self.workdir / "platform.jsonl").start()
        folder = self.workdir / "campaigns"
        folder.mkdir(exist_ok=True)
        lines = ["campaign: load", "zone: UTC", 'start: "2030-01-01 09:00"', "accounts:"]
        for name in self.accounts:
            lines += [
                f"  {name}:",
                "    channel: mastodon",
                f"    instance: {self.platform.url}",
                "    credentials:",
                f"      token: CAMPAIGN_LOAD_TOKEN_{name.upper()}",
            ]
        lines += ["posts:", "  - key: hello", '    when: "+0d 09:00"', "    text: Hello"]
        (folder / "load.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def enqueue(self, n: int, *, now: datetime | None = None) -> None:
        """Queue ``n`` one-part posts, round-robin over the accounts, all due now."""
        from campaign.plan.posts import PlannedPost
        from campaign.queue.store import Store

        now = now or datetime.now(UTC)
        posts = [
            PlannedPost(
                campaign="load",
                post_key=f"p{len(self.keys) + i}",
                occurrence="",
                channel="mastodon",
                account=self.accounts[i % len(self.accounts)],
                scheduled_at=now,
                zone="UTC",
                parts=(f"Load post {len(self.keys) + i}",),
            )
            for i in range(n)
        ]
        with Store.open(self.db) as store:
            result = store.apply_changes(add=posts, now=now)
        assert len(result.added) == n, result.skipped[:3]
        self.keys += [p.idempotency_key for p in posts]

    def start_daemon(self, *args: str) -> subprocess.Popen[bytes]:
        assert self.platform is not None
        env = {**os.environ, **{f"CAMPAIGN_LOAD_TOKEN_{a.upper()}": f"token-{a}" for a in self.accounts}}
        env.pop("CAMPAIGN_DB", None)
        log = (self.workdir / f"daemon{len(self.daemons)}.log").open("wb")
        cmd = [
            sys.executable, "-m", "campaign.cli", "daemon", "--db", self.db,
            "--campaigns", str(self.workdir / "campaigns"), "--log-level", "WARNING", *args,
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        self.daemons.append(proc)
        return proc

    def counts(self) -> dict[str, int]:
        from campaign.queue.store import Store

        with Store.open(self.db) as store:
            return store.counts()

    def wait_for(self, sent: int, *, timeout: float, poll: float = 0.2) -> dict[str, int]:
        """Poll until ``sent`` posts are sent; past ``timeout``, AssertionError with the daemons' logs."""
        from campaign.queue.store import Store

        deadline = time.monotonic() + timeout
        with Store.open(self.db) as store:
            while True:
                counts = store.counts()
                if counts.get("sent", 0) >= sent:
                    return counts
                if time.monotonic() > deadline:
                    files = sorted(self.workdir.glob("daemon*.log"))
                    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in files)
                    raise AssertionError(f"only {counts} after {timeout} s; daemon logs:\n{logs}")
                time.sleep(poll)

    def stop(self) -> None:
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.daemons:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.platform is not None:
            self.platform.stop()
            self.platform = None
