"""The long-running daemon: APScheduler is its clock, the posts table its queue, the dispatcher its work.

``campaign daemon`` (see :mod:`campaign.cli.daemon`) builds one :class:`Daemon`:

- **Lock**: on a SQLite queue only one daemon may run. It holds an exclusive ``fcntl.flock`` on
  ``<db>.daemon.lock`` for its whole life; the kernel drops the lock when the process dies, however it
  dies, so a crash never leaves a stale lock. A second daemon gets :class:`DatabaseLockedError` naming the
  holder's pid. (Several daemons are for PostgreSQL, whose claims use ``FOR UPDATE SKIP LOCKED``; no lock
  is taken there.)
- **Recovery** on start: expired leases go back (``claimed -> scheduled``, ``sending -> unknown``). Holding
  the SQLite lock proves every lease belongs to a dead process, so all of them are recovered at once.
- **Clock**: an ``AsyncIOScheduler`` with the default memory job store (nothing durable lives there) runs
  two jobs: a one-shot ``wake`` at the dispatcher's next wake time, re-armed after every dispatch, and a
  periodic ``tick`` (``--tick``, default 3 s) that polls :meth:`Store.queue_revision` so posts added by
  `campaign apply` from another process (or retried, resumed, cancelled) re-arm the wake-up, re-reads the
  campaign files when the queue changed, and recovers expired leases. Jobs only set an event; one loop
  runs :meth:`Dispatcher.dispatch_due`, so dispatches never overlap.
- **Signals**: SIGTERM or SIGINT stops claiming and starting parts; requests in flight get ``--grace``
  seconds (default 20) to finish, then are cancelled (a post whose request was cancelled on the wire
  becomes ``unknown``); claimed posts that never started are released to ``scheduled``. A second signal
  cancels at once. Outcomes from the stop on go to a :class:`~campaign.dispatch.summary.StopReport`; posts
  left ``unknown`` are named in a WARNING line and make ``campaign daemon`` exit 1 (0 after a clean stop).
- ``--once`` dispatches what is due now (draining any backlog), flushes alerts and exits: for cron and CI.

The HTTP client is created here, once: ``follow_redirects=False`` (a redirect could carry credentials to
another host; adapters classify 3xx), explicit timeouts, and a connection pool sized to the concurrency.
``--transport`` picks what carries its requests: ``wire`` (the default,
:class:`campaign.http.wire.WireTransport`: HTTP/1.1 on asyncio's sockets, parsed by httptools; the fastest
here), ``aiohttp`` (:class:`campaign.http.transport.AiohttpTransport`) or ``httpx`` (httpx's own pool), all
with the same "maybe received" error mapping (tests/test_faults.py runs every fault through each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign.dispatch import eventloop
from campaign.errors import StoreError
from campaign.queue.lock import LOCK_SUFFIX, DaemonLock, lock_for  # noqa: F401 (the lock lives in queue/lock.py)

if TYPE_CHECKING:
    import httpx

    from campaign.dispatch.campaigns import CampaignDirectory
    from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher
    from campaign.dispatch.metrics import MetricsCollector
    from campaign.dispatch.summary import PassSummary, PassTally, StopReport
    from campaign.queue.store import Store

logger = logging.getLogger(__name__)


def wall_clock() -> datetime:
    """The real time, aware UTC (the only clock the daemon reads)."""
    return datetime.now(UTC)


def default_owner() -> str:
    """``daemon:HOST:PID``: the lease owner and event actor of this process."""
    return f"daemon:{socket.gethostname()}:{os.getpid()}"


#: What may carry the shared client's requests (``campaign daemon --transport``), the default first.
TRANSPORTS = ("wire", "aiohttp", "httpx")


def make_client(
    concurrency: int, *, timeout: float = 30.0, transport: str = TRANSPORTS[0]
) -> httpx.AsyncClient:
    """The one shared client: no redirects, bounded pool, connect 10 s / other phases ``timeout`` s.

    ``transport``: ``wire`` (:class:`campaign.http.wire.WireTransport`), ``aiohttp``
    (:class:`campaign.http.transport.AiohttpTransport`) or ``httpx`` (its own pool).
    """
    import httpx

    from campaign import __version__

    limits = httpx.Limits(max_connections=max(4, concurrency * 2), max_keepalive_connections=concurrency)
    carrier: httpx.AsyncBaseTransport | None = None
    if transport == "wire":
        from campaign.http.wire import WireTransport

        carrier = WireTransport(limits=limits)
    elif transport == "aiohttp":
        from campaign.http.transport import AiohttpTransport

        carrier = AiohttpTransport(limits=limits)
    elif transport != "httpx":
        raise ValueError(f"unknown transport {transport!r} (one of {', '.join(TRANSPORTS)})")
    if carrier is not None:
        from campaign.http.client import DirectClient

        # The hot path's requests skip AsyncClient.send's auth/redirect/cookie machinery (the same client
        # otherwise). The httpx transport keeps the plain client: it honours proxies from the environment.
        return DirectClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=limits,
            transport=carrier,
            headers={"User-Agent": f"campaign/{__version__}"},
        )
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=limits,
        transport=carrier,
        headers={"User-Agent": f"campaign/{__version__}"},
    )


@dataclass(frozen=True)
class DaemonTiming:
    """Seconds: the safety tick, the grace period after SIGTERM, how often leases are recovered."""

    tick: float = 3.0
    grace: float = 20.0
    recover_every: float = 60.0
    #: How often newly sent posts are looked for, to schedule their metrics readings.
    metrics_every: float = 60.0


class Daemon:
    """Wakes the dispatcher at the right times until stopped (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        directory: CampaignDirectory | None = None,
        *,
        timing: DaemonTiming = DaemonTiming(),
        clock: Callable[[], datetime] = wall_clock,
        collector: MetricsCollector | None = None,
    ) -> None:
        self.store = store
        #: Reads sent posts' counts back when no post is due (None: metrics are off); its reads wait while a
        #: dispatch pass runs.
        self.collector = collector
        if collector is not None and collector.busy is None:
            collector.busy = lambda: self._current is not None
        self._metrics: asyncio.Task[None] | None = None
        self._last_metrics = datetime.min.replace(tzinfo=UTC)
        self.dispatcher = dispatcher
        self.directory = directory
        self.timing = timing
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._current: asyncio.Task[datetime | None] | None = None
        #: Why the last dispatch failed (a queue that stopped answering), or None: ``--once`` reports it.
        self.dispatch_error: StoreError | None = None
        self._revision: int | None = None
        self._armed_at: datetime | None = None
        self._last_recovery = datetime.min.replace(tzinfo=UTC)
        self._scheduler: Any = None
        #: What a signal left unknown (:meth:`run` only; ``--once`` passes report through their summary).
        self.stop_report: StopReport | None = None

    # -- control ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin a graceful stop (a second call cancels in-flight work at once)."""
        current = self._current
        if self._stopping:
            if current is not None and not current.done():
                current.cancel()
            return
        self._stopping = True
        if self.stop_report is not None:  # from now on, note what the stop cuts off (nothing is noted before)
            self.stop_report.then = self.dispatcher.reporter.on_outcome
            self.dispatcher.reporter.on_outcome = self.stop_report
        logger.info("stopping: finishing requests in flight", extra={"action": "stop"})
        self.dispatcher.request_stop()
        self._wake.set()
        if current is not None and not current.done():
            asyncio.get_running_loop().call_later(self.timing.grace, current.cancel)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)

    # -- runs ---------------------------------------------------------------------------------------------

    async def run_once(self) -> None:
        """Recover, dispatch everything due now, flush alerts, return (a failed dispatch is left in
        :attr:`dispatch_error` for the pass's summary)."""
        self._install_signals()
        self._recover(all_leases=True)
        await self._dispatch()
        if self.collector is not None:
            await self._collect()
        await self.dispatcher.alerts.flush(self.clock(), force=True)

    async def run(self) -> None:
        """Run until :meth:`stop` (SIGTERM/SIGINT)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        from campaign.dispatch.summary import StopReport

        self._install_signals()
        self.stop_report = StopReport(self.timing.grace)
        self._recover(all_leases=True)
        self._revision = self.store.queue_revision()
        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        scheduler.add_job(
            self._tick, IntervalTrigger(seconds=self.timing.tick), id="tick", misfire_grace_time=None
        )
        scheduler.start()
        self._scheduler = scheduler
        # PostgreSQL: LISTEN for `campaign apply` & co. from any machine (NOTIFY campaign_queue); SQLite has
        # one machine, and the safety tick polls its revision.
        listener = asyncio.create_task(self._listen()) if self.store.is_postgres else None
        logger.info("daemon started", extra={"action": "start", "loop": eventloop.running_loop_name()})
        self._wake.set()
        try:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    break
                when = await self._dispatch()
                self._start_metrics(when)
                self._arm(_earliest(when, self._metrics_due()))
                if not self._wake.is_set():
                    # The one signal that the daemon has caught up (tests wait for it instead of sleeping).
                    logger.debug("idle", extra={"action": "idle", "until": self._armed_at})
        finally:
            if self._metrics is not None:
                self._metrics.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._metrics
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            scheduler.shutdown(wait=False)
            self._scheduler = None
            # Anything reported but not yet delivered goes out now (one message per alert account).
            with contextlib.suppress(Exception):
                flush = self.dispatcher.alerts.flush(self.clock(), force=True)
                await asyncio.wait_for(flush, self.timing.grace)
            # Outcomes a failed write left queued: one last try, then the stop names what it could not write.
            report = self.stop_report
            report.unwritten, report.write_error = self.dispatcher.writer.last_write()
            logger.info("daemon stopped", extra={"action": "stop"})
            if report.exit_code:
                logger.warning(self.stop_report.line(), extra={"action": "stop"})

    async def _dispatch(self) -> datetime | None:
        self.dispatch_error = None
        self._current = asyncio.create_task(self.dispatcher.dispatch_due(self.clock()))
        try:
            return await self._current
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            return None
        except StoreError as exc:
            # The database was busy or unreachable: say so and try again on the next tick.
            logger.error("dispatch failed: %s", exc, extra={"action": "dispatch"})
            self.dispatch_error = exc
            return self.clock() + timedelta(seconds=self.timing.tick)
        finally:
            self._current = None

    # -- metrics (issue 15): after publishing, never instead of it ----------------------------------------

    def _start_metrics(self, next_post: datetime | None) -> None:
        """Start a metrics pass in the background when one is due and no post is due now."""
        busy = self._metrics is not None and not self._metrics.done()
        if self.collector is None or self._stopping or busy:
            return
        now = self.clock()
        if next_post is not None and next_post <= now:
            return  # posting first: the loop comes straight back for the due posts
        due = self._metrics_due()
        if self._metrics_looked_before(now) or (due is not None and due <= now):
            self._metrics = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        assert self.collector is not None
        self._last_metrics = self.clock()
        try:
            stats = await self.collector.collect_due(self._last_metrics)
        except StoreError as exc:
            logger.error("metrics: %s", exc, extra={"action": "metrics"})
            return
        except Exception as exc:  # a bug: posting goes on; the claimed readings come back after their lease
            logger.error(
                "metrics: unexpected %s", type(exc).__name__, exc_info=exc, extra={"action": "metrics"}
            )
            return
        if stats.posts:
            logger.info(
                "metrics read for %d posts in %d requests (%d gone, %d failed, %d deferred)",
                stats.posts, stats.requests, stats.gone, stats.failed, stats.deferred,
                extra={"action": "metrics", "posts": stats.posts, "requests": stats.requests},
            )
        self._wake.set()  # re-arm for the next reading

    def _metrics_looked_before(self, now: datetime) -> bool:
        """True when the last look for newly sent posts is older than ``metrics_every``."""
        return (now - self._last_metrics).total_seconds() >= self.timing.metrics_every

    def _metrics_due(self) -> datetime | None:
        if self.collector is None:
            return None
        try:
            return self.collector.next_wake()
        except StoreError:
            return None

    def _arm(self, when: datetime | None) -> None:
        """Schedule the one-shot wake-up at ``when`` (now if already past; none when nothing waits)."""
        from apscheduler.triggers.date import DateTrigger

        self._armed_at = when
        scheduler = self._scheduler
        if scheduler is None or self._stopping:
            return
        if when is None:
            with contextlib.suppress(Exception):
                scheduler.remove_job("wake")
            return
        if when <= self.clock():
            self._wake.set()
            return
        scheduler.add_job(
            self._fire, DateTrigger(run_date=when), id="wake", replace_existing=True, misfire_grace_time=None
        )

    async def _fire(self) -> None:
        # A coroutine job runs on the event loop (a plain function would run in a worker thread).
        self._wake.set()

    async def _listen(self) -> None:
        """Wake the dispatcher as soon as another process changes the queue (PostgreSQL LISTEN/NOTIFY)."""
        with self.store.watch() as watcher:
            while not self._stopping:
                try:
                    changed = await watcher.wait_async(self.timing.tick)
                except StoreError as exc:  # the watcher reconnects; the safety tick covers the gap
                    logger.error("listen: %s", exc, extra={"action": "listen"})
                    await asyncio.sleep(self.timing.tick)
                    continue
                if changed and not self._stopping:
                    try:
                        self._revision = self.store.queue_revision()
                    except StoreError as exc:  # the tick reads it again; the change is acted on all the same
                        logger.error("listen: %s", exc, extra={"action": "listen"})
                    if self.directory is not None:
                        self.directory.refresh()
                    self._wake.set()
                    self.dispatcher.wake()  # a dispatch in progress claims the new posts at once

    async def _tick(self) -> None:
        """Safety tick: notice queue changes made by other processes, recover leases, catch a lost wake-up."""
        if self._stopping:
            return
        now = self.clock()
        try:
            revision = self.store.queue_revision()
            if (now - self._last_recovery).total_seconds() >= self.timing.recover_every:
                self._recover(all_leases=False)
        except StoreError as exc:
            logger.error("tick: %s", exc, extra={"action": "tick"})
            return
        if revision != self._revision:
            self._revision = revision
            if self.directory is not None:
                self.directory.refresh()
            self._wake.set()
            self.dispatcher.wake()  # a dispatch in progress claims the new posts at once
        elif self.directory is not None and self.directory.refresh_if_changed():
            self._wake.set()  # a campaign file was fixed (or added): its waiting posts may go now
        elif self._armed_at is not None and self._armed_at <= now:
            self._wake.set()
        elif self.collector is not None and self._metrics_looked_before(now):
            self._wake.set()  # look for newly sent posts to schedule their readings

    def _recover(self, *, all_leases: bool) -> None:
        now = self.clock()
        # all_leases only where the single-daemon lock proves every lease is a dead process's.
        self.dispatcher.recover(now, all_leases=all_leases and self.store.is_sqlite)
        self._last_recovery = now


@dataclass(frozen=True)
class DaemonOptions:
    """Everything ``campaign daemon`` takes (see :func:`serve`)."""

    db: str | None = None
    campaigns: Path = Path("schedules")
    dry_run: bool = False
    once: bool = False
    timing: DaemonTiming = DaemonTiming()
    concurrency: int = 100
    #: Requests in flight per platform (None: as many as ``concurrency``).
    per_channel: int | None = None
    per_account: int = 1
    lease_seconds: float = 300.0
    max_attempts: int = 5
    alert_interval: timedelta = timedelta(minutes=15)
    owner: str | None = None
    #: What carries HTTP requests: one of :data:`TRANSPORTS`.
    transport: str = TRANSPORTS[0]
    #: Read sent posts' counts back (each campaign's ``metrics:`` schedule); off with ``--no-metrics``.
    metrics: bool = True
    #: The event loop: one of :data:`campaign.dispatch.eventloop.LOOPS` (``auto``: uvloop when installed).
    loop: str = "auto"
    #: Leave the start-up heap out of later garbage collections and collect the youngest generation less
    #: often (:func:`_tune_collector`). Process-wide, so only for a process that is the daemon: the CLI sets
    #: it when it is the program, not when called from other Python code such as a test.
    tune_collector: bool = False


def serve(options: DaemonOptions) -> PassSummary | StopReport | None:
    """Open the queue, take the lock, and run the daemon (or one pass with ``once``) to its end.

    With ``once``, returns what the pass did (:class:`~campaign.dispatch.summary.PassSummary`: its line and
    exit code); a running daemon returns its :class:`~campaign.dispatch.summary.StopReport` when stopped
    (empty after a clean stop).

    Raises DatabaseLockedError when another daemon holds a SQLite queue, StoreError for an unusable
    database, ConfigError when the campaigns folder does not exist or ``options.loop`` is ``uvloop`` and
    uvloop is not installed.
    """
    from campaign.errors import ConfigError
    from campaign.queue.store import Store

    if not options.campaigns.is_dir():
        raise ConfigError(f"campaigns folder {options.campaigns} does not exist (use --campaigns DIR)")
    factory = eventloop.loop_factory(options.loop)  # before the queue is touched (--loop uvloop, no uvloop)
    if options.dry_run:
        return _serve_dry(options, factory)
    with Store.open(options.db) as store:
        lock = lock_for(store)
        if lock is not None:
            lock.acquire()
        try:
            return eventloop.run(_serve(store, options), factory)
        finally:
            if lock is not None:
                lock.release()


def _serve_dry(
    options: DaemonOptions, factory: eventloop.LoopFactory | None
) -> PassSummary | StopReport | None:
    """A dry run works on a throwaway copy of the queue, so the real queue never records placeholder receipts
    (run on an event loop from ``factory``).

    SQLite queues are copied with SQLite's online backup (safe while a real daemon runs; a file that is not a
    queue is the StoreError a real run gives); other databases are copied into a temporary SQLite file
    through :mod:`campaign.queue.copy`. Log lines name the queue with its passwords hidden.
    """
    import tempfile

    from campaign.queue.dialect import backup_sqlite, shown_url, sqlite_file
    from campaign.queue.store import Store, resolve_url

    url = resolve_url(options.db)
    source_path = sqlite_file(url)
    with tempfile.TemporaryDirectory(prefix="campaign-dry-run-") as tmp:
        copy = Path(tmp) / "queue.db"
        if source_path is not None:
            if source_path.exists():
                backup_sqlite(source_path, copy)
        else:
            from campaign.queue.copy import copy_queue

            copy_queue(url, str(copy))
        logger.warning("dry run: nothing is sent; outcomes go to a throwaway copy of %s",
                       source_path or shown_url(url), extra={"action": "start"})
        with Store.open(str(copy)) as store:
            return eventloop.run(_serve(store, options), factory)


def dispatch_config(options: DaemonOptions) -> DispatchConfig:
    """The dispatcher settings ``campaign daemon`` runs with for ``options`` (benchmarks measure these)."""
    from campaign.dispatch.dispatcher import DispatchConfig
    from campaign.dispatch.retry import RetryPolicy

    return DispatchConfig(
        owner=options.owner or default_owner(),
        lease_seconds=options.lease_seconds,
        heartbeat_seconds=max(1.0, options.lease_seconds / 5),
        concurrency=options.concurrency,
        per_channel=options.per_channel,
        per_account=options.per_account,
        batch_size=max(8, options.concurrency * 4),
        retry=RetryPolicy(max_attempts=options.max_attempts),
        dry_run=options.dry_run,
        alert_interval=options.alert_interval,
    )


async def _serve(store: Store, options: DaemonOptions) -> PassSummary | StopReport | None:
    from campaign.dispatch.campaigns import CampaignDirectory
    from campaign.dispatch.dispatcher import Dispatcher
    from campaign.dispatch.summary import PassTally

    directory = CampaignDirectory(folder=options.campaigns, placeholder=options.dry_run, clock=wall_clock)
    if not directory.campaigns:
        logger.warning("no campaign file loaded from %s", options.campaigns, extra={"action": "load"})
    config = dispatch_config(options)
    client = None if options.dry_run else make_client(options.concurrency, transport=options.transport)
    try:
        tally = PassTally()
        on_outcome = tally if options.once else None
        dispatcher = Dispatcher(
            store, directory, config, client=client, clock=wall_clock, on_outcome=on_outcome
        )
        collector = None
        if options.metrics:
            from campaign.dispatch.metrics import MetricsCollector

            offsets = directory.metrics_offsets
            collector = MetricsCollector(
                store, directory, offsets_for=offsets, client=client, dry_run=options.dry_run
            )
        daemon = Daemon(store, dispatcher, directory, timing=options.timing, collector=collector)
        if options.tune_collector:
            _tune_collector()
        if options.once:
            await daemon.run_once()
            return _summary(store, directory, tally, failed=daemon.dispatch_error)
        await daemon.run()
        return daemon.stop_report
    finally:
        if client is not None:
            await client.aclose()


#: Net allocations of tracked objects between two collections of the youngest generation once the daemon
#: runs (CPython's default is 700; :func:`_tune_collector`).
YOUNG_THRESHOLD = 50_000


def _tune_collector() -> None:
    """Set the garbage collector for a long-running daemon, once start-up is done.

    - Leave what start-up built (modules, campaigns, templates, compiled statements: about 100,000 objects
      that live as long as the process) out of every later collection: ``gc.freeze()`` after a last full
      collection, so no start-up garbage is kept (https://docs.python.org/3/library/gc.html#gc.freeze).
      CPython's full collections hold the GIL while they walk every tracked object. In the daemon each took
      about 50 ms, and six of them fell inside a 10,000-post run: every account stood still for about 0.3 s
      of it. With the start-up heap frozen they take 5-12 ms (docs/BENCHMARKS.md, tenth pass). A ``--once``
      pass freezes it too: the TLS race (5,000 posts, one pass) ran 5.8% faster.
    - Collect the youngest generation after :data:`YOUNG_THRESHOLD` net allocations instead of 700
      (``gc.set_threshold``). Almost everything a post allocates is freed by reference counting; at 700 the
      collector ran about every 12 posts and walked what was alive at that moment, 20-25 us of CPU a post in
      all; at 50,000 it runs a few times per 5,000 posts, about 15 ms each, 6-7 us a post
      (docs/BENCHMARKS.md, eighteenth pass). The older generations keep their thresholds.

    A frozen object that is later dropped inside a reference cycle is never freed. What a running daemon
    replaces from that heap is the campaigns and adapters of a changed file, and they hold no cycles
    (``tests/test_daemon_ops.py`` reloads the example campaign with the collector off and finds nothing).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    logger.debug("start-up heap frozen", extra={
        "action": "start", "frozen": gc.get_freeze_count(), "young_threshold": gc.get_threshold()[0]})


def _summary(
    store: Store, directory: CampaignDirectory, tally: PassTally, *, failed: StoreError | None = None
) -> PassSummary:
    """What a ``--once`` pass did (the next due post is read from the queue after the pass; a queue that
    still fails then raises its StoreError instead)."""
    from campaign.dispatch.summary import PassSummary

    upcoming = store.upcoming(None, limit=1)
    due = upcoming[0] if upcoming and upcoming[0].next_attempt_at is not None else None
    next_due = (due.next_attempt_at, due.zone) if due is not None and due.next_attempt_at else None
    return PassSummary(
        tally, next_due=next_due, broken_files=dict(directory.errors), zone_of=directory.zone, failed=failed
    )


def _earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
