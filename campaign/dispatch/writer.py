"""Group commit for the dispatcher's hot path: the state writes of many posts share one transaction.

Every post in flight writes ``sending`` before its first request and one outcome after its last
(:class:`~campaign.queue.values.Mark`). Written one by one that is three fsyncs per post; here they are
queued and flushed together (:meth:`Store.write_marks`): a ``sending`` mark at the next turn of the event
loop, outcomes within ``delay`` seconds (10 ms by default) or as soon as ``rows`` (256) are queued. A post's
request leaves only once its ``sending`` mark is committed, and an outcome is reported (logged, counted,
alerted) only once its mark is committed: a crash in between leaves the post ``sending``, which recovers
as ``unknown``, never as a second publication.

The flush timer runs on the event loop's own clock (``loop.call_at``): it batches writes and decides
nothing about any post.

**Commits beside the loop.** On a SQLite file or PostgreSQL (``store.commits_off_thread``) a batch is written
in one worker thread while the event loop goes on reading answers and building requests; the marks queued
meanwhile form the next batch, written as soon as the one in flight is committed (one transaction at a time,
in order). With ``synchronous=FULL`` a SQLite commit waits for an fsync, and a PostgreSQL one for its round
trips, which used to stop every send for that long (docs/BENCHMARKS.md). A claim queued behind the marks
(:meth:`GroupWriter.after_marks`) runs in the same thread right after their COMMIT, in a transaction of its
own; the marks are handed back to the loop first, so their posts' requests leave while the claim runs (in
one transaction with the claim, every ``sending`` mark of the batch waited for it: a 10,000-post burst
waited 10-35% longer for its marks). Starting the thread sets the process's GIL switch interval to at
most 0.5 ms (with CPython's 5 ms every batch's result waited for the loop to be preempted). Nothing about
durability changes: a waiter is resolved, and an outcome reported, only after its transaction's COMMIT
returned. Callers that need the queue written before they go on (a claim, a quota count, the end of a
dispatch) call :meth:`GroupWriter.write`, which waits for the batch in flight and writes the rest on the
calling thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from campaign.errors import StoreError
from campaign.queue.values import Mark

if TYPE_CHECKING:
    from campaign.dispatch.ports import DispatchStore

logger = logging.getLogger(__name__)
T = TypeVar("T")
#: The GIL switch interval (seconds) once a commit thread runs beside the loop (the module docstring).
SWITCH_INTERVAL = 0.0005


def make_mark(post_id: int, kind: str, now: datetime, reason: str = "", **kw: Any) -> Mark:
    """A :class:`~campaign.queue.values.Mark`."""
    return Mark(post_id, kind, now, reason, **kw)


@dataclass
class _Queued:
    mark: Mark
    #: Resolved once the mark is committed (``sending`` marks: the request may leave only then).
    waiter: asyncio.Future[None] | None = None
    #: Called after the commit with None or the error that refused this mark (outcome marks).
    then: Callable[[StoreError | None], None] | None = None
    #: Committed (a ``sending`` waiter cancelled afterwards must give its post back).
    written: bool = False
    #: For a ``sending`` mark: what to do when its caller was cancelled while the mark was being written
    #: (the post is ``sending`` and nothing left: give it back).
    on_cancel: Callable[[], None] | None = None
    #: Records what already happened (a thread part's receipt): written even when its caller is gone, and
    #: queued again when its transaction fails (:meth:`GroupWriter.durable`).
    keep: bool = False


#: A job run right after a batch's marks are committed (a claim), with the future awaiting its result.
_Job = tuple[Callable[[], Any], "asyncio.Future[Any]"]
#: How a batch of marks was written: per-mark errors, or the error that failed its transaction.
_Written: TypeAlias = list[StoreError | None] | StoreError
#: What the worker thread returns: how the marks were written, and per job (True, result) or (False,
#: exception).
_Done = tuple[_Written, list[tuple[bool, Any]]]


@dataclass
class _Flight:
    """A batch being written in the worker thread, and the jobs that run after it."""

    batch: list[_Queued]
    jobs: list[_Job]
    #: The worker thread's result (set as soon as the flight is submitted).
    future: concurrent.futures.Future[_Done] | None = None
    #: Its marks are settled: the worker hands them back before it runs the jobs.
    settled: bool = False


class GroupWriter:
    """Group commit for the hot path: the state writes of many posts share one transaction (one fsync).

    ``sending`` marks are awaited: they are written at the next turn of the event loop with everything
    queued by then (or, while a batch is being committed, right after it), and only after that commit may
    the post's request leave (the rule that makes a crash end in ``unknown``, never in a second
    publication); so are ``part`` marks (:meth:`durable`). Outcome marks (sent, retry, deferred, failed,
    unknown, missed) are not awaited: they ride along with the next ``sending`` marks, or go after ``delay``
    seconds or once ``rows`` are queued; their ``then`` runs after the commit, so an outcome is reported
    (logged, counted, alerted) only once it is durable. A crash before an outcome is written leaves its
    post ``sending``: recovered as ``unknown``, which is what it was while the request was out.

    Batches are written one at a time: in a worker thread when the store allows it
    (``commits_off_thread``, see the module docstring), else on the event loop's thread. Waiters and
    ``then`` callbacks always run on the loop's thread. A failed transaction fails its ``sending``
    waiters (those posts are not sent) and keeps the outcomes queued for the next write.
    """

    def __init__(self, store: DispatchStore, owner: str, *, delay: float, rows: int) -> None:
        self.store = store
        self.owner = owner
        self.delay = delay
        self.rows = rows
        self._queue: list[_Queued] = []
        self._handle: asyncio.Handle | None = None
        self._due = 0.0
        self._flight: _Flight | None = None
        self._jobs: list[_Job] = []
        self._thread = bool(getattr(store, "commits_off_thread", False))
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def sending(self, mark: Mark, *, cancelled: Callable[[], None]) -> None:
        """Queue a ``sending`` mark and return once it is committed (raises its StoreError otherwise).

        If the caller is cancelled before the write, the mark is withdrawn (the post stays ``claimed``);
        cancelled after it, or while it is being written (the post is ``sending`` and nothing left),
        ``cancelled()`` runs once the write is known to have succeeded.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry = _Queued(mark, waiter=waiter, on_cancel=cancelled)
        self._queue.append(entry)
        self._schedule(loop, 0.0)
        try:
            await waiter
        except asyncio.CancelledError:
            if entry in self._queue:
                self._queue.remove(entry)
            elif entry.written:
                cancelled()
            # else: in the batch being written; _settle() calls `cancelled` if that write succeeds.
            raise

    async def durable(self, mark: Mark) -> None:
        """Queue ``mark``, which records what already happened (a ``part`` mark: a thread part's receipt,
        which must be durable before the next part is sent), and return once it is committed; raises the
        StoreError that refused it or failed its transaction. Written with the other posts' marks, so the
        event loop never waits for the database (a write of its own on the loop waited for the commit
        thread's transaction: 100 ms stalls of every send with thread posts, docs/BENCHMARKS.md).

        Unlike :meth:`sending`, the mark is never withdrawn: a caller cancelled meanwhile leaves it to be
        written with the next batch, and a failed transaction queues it again (its caller still gets the
        error and sends no further part), so the receipt reaches the queue before the post's outcome."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append(_Queued(mark, waiter=waiter, keep=True))
        self._schedule(loop, 0.0)
        await waiter

    def finish(self, mark: Mark, then: Callable[[StoreError | None], None]) -> None:
        """Queue an outcome mark; ``then(None | error)`` runs after it was written."""
        self._queue.append(_Queued(mark, then=then))
        loop = asyncio.get_running_loop()
        self._schedule(loop, 0.0 if len(self._queue) >= self.rows else self.delay)

    async def after_marks(self, job: Callable[[], T]) -> T:
        """Run ``job`` (a store call: the dispatcher's claim) once every mark queued before it is committed,
        in the same worker thread as the marks when there is one (so it stops the loop neither; the marks'
        waiters are resolved before it starts), and return its result or raise its exception. It runs even
        when writing those marks failed (that failure is logged and retried as usual). Never cancel the
        caller while it waits: the job's result (claimed posts) would be lost."""
        if not self._thread:
            self.write()
            return job()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.append((job, future))
        self._schedule(loop, 0.0)
        return await future

    @property
    def pending(self) -> int:
        """Marks queued (or being written) and not yet committed."""
        return len(self._queue) + (len(self._flight.batch) if self._flight is not None else 0)

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        if self._flight is not None:
            return  # the batch in flight schedules the next one when it is committed
        when = loop.time() + delay
        if self._handle is not None:
            if self._due <= when:
                return  # an earlier write is already due
            self._handle.cancel()
        self._due = when
        soon = delay <= 0
        self._handle = loop.call_soon(self._write_soon) if soon else loop.call_at(when, self._write_soon)

    def _write_soon(self) -> None:
        self._handle = None
        if self._thread and self._flight is None:
            self._launch()
            return
        try:
            self.write()
        except StoreError as exc:
            self._failed(exc)

    def _failed(self, exc: StoreError) -> None:
        logger.error("writing post states failed, will retry: %s", exc, extra={"action": "write"})
        if self._queue:
            self._schedule(asyncio.get_running_loop(), max(self.delay, 0.5))

    def _launch(self) -> None:
        """Start writing everything queued, then the jobs, in the worker thread; :meth:`_landed` takes the
        result."""
        batch, self._queue = self._queue, []
        jobs, self._jobs = self._jobs, []
        if not batch and not jobs:
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="campaign-commit")
            # CPython hands the GIL to a waiting thread only every switch interval (5 ms by default): the
            # commit thread's result, and the loop's turn after the thread's SQL, would wait that long.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        loop = asyncio.get_running_loop()
        flight = self._flight = _Flight(batch, jobs)
        # The worker thread's work item and future hold their callbacks until the thread lets go of them,
        # which may be after the loop is done with the flight: they name it weakly, so nothing of a written
        # batch outlives its settling (:meth:`_settle_flight`).
        ref = weakref.ref(flight)
        flight.future = self._executor.submit(
            self._work, [e.mark for e in batch], [job for job, _ in jobs],
            partial(_on_loop, loop, self._marks_landed, ref),
        )
        flight.future.add_done_callback(partial(_on_loop, loop, self._landed, ref))

    def _work(
        self, marks: list[Mark], jobs: list[Callable[[], Any]], marks_written: Callable[[_Written], None]
    ) -> _Done:
        """In the worker thread: the marks in one transaction (one fsync), then each job (a claim) in a
        transaction of its own. When jobs follow, the marks' result goes back to the loop as soon as they
        are committed (``marks_written``): their posts' requests leave while the claim runs, instead of
        waiting for it (a claim takes longer than the marks it follows; docs/BENCHMARKS.md). The claim
        still sees every mark before it committed."""
        written: _Written = []
        if marks:
            try:
                written = self.store.write_marks(marks, owner=self.owner)
            except StoreError as exc:  # nothing of the marks was written
                written = exc
            if jobs:
                marks_written(written)
        return written, _run_jobs(jobs)

    def _marks_landed(self, ref: weakref.ref[_Flight], written: _Written) -> None:
        """A flight's marks are committed (or failed) and its jobs still run: settle the marks now (on the
        loop's thread; a no-op if :meth:`join` already settled the flight). A failure is reported when the
        flight lands."""
        flight = ref()
        if flight is not None and self._flight is flight and not flight.settled:
            flight.settled = True
            # Settled marks are committed: let them (their posts, callbacks and waiters) go while the claim
            # behind them runs, instead of holding them until the flight lands.
            batch, flight.batch = flight.batch, []
            self._settle(batch, written)

    def _landed(self, ref: weakref.ref[_Flight], _: object = None) -> None:
        """The worker thread finished the flight ``ref`` names (on the loop's thread; a no-op if :meth:`join`
        took it)."""
        flight = ref()
        if flight is None or self._flight is not flight:
            return
        self._flight = None
        try:
            self._settle_flight(flight)
        except StoreError as exc:
            self._failed(exc)
            return
        if self._queue or self._jobs:
            waiting = any(e.waiter is not None for e in self._queue) or len(self._queue) >= self.rows
            self._schedule(asyncio.get_running_loop(), 0.0 if waiting or self._jobs else self.delay)

    def _settle_flight(self, flight: _Flight) -> None:
        """Resolve a finished flight's marks and jobs; raises the StoreError that failed its marks."""
        assert flight.future is not None
        # The future keeps its done callback, which holds the flight: without this the two (and the whole
        # batch's marks, callbacks and waiters) would wait for a garbage collection (docs/BENCHMARKS.md).
        future, flight.future = flight.future, None
        try:
            written, results = future.result()
        except Exception as exc:  # a bug below the store's errors: fail the flight, or its waiters would hang
            logger.error("writing post states failed unexpectedly", exc_info=exc, extra={"action": "write"})
            written = StoreError(f"writing post states failed: {type(exc).__name__}: {exc}")
            results = [(False, written)] * len(flight.jobs)
        if not flight.settled:
            flight.settled = True
            self._settle(flight.batch, written)
        _resolve(flight.jobs, results)
        if isinstance(written, StoreError):
            raise written

    def join(self) -> None:
        """Wait (blocking) for the batch being written in the worker thread, if any, and settle it. Its
        failure is handled as on the loop (logged; outcomes queued again), not raised: it is not the
        caller's write. Marks queued since stay queued."""
        flight, self._flight = self._flight, None
        if flight is None:
            return
        try:
            self._settle_flight(flight)
        except StoreError as exc:
            logger.error("writing post states failed, will retry: %s", exc, extra={"action": "write"})

    def last_write(self) -> tuple[list[int], StoreError | None]:
        """For a stopping daemon: write what is queued one last time; the posts whose outcomes are still not
        written (they stay ``sending`` and the next start recovers them as ``unknown``), and the error."""
        try:
            self.write()
        except StoreError as exc:
            return list(dict.fromkeys(e.mark.post_id for e in self._queue if e.then is not None)), exc
        return [], None

    def write(self) -> None:
        """Write everything queued now, on this thread, after the batch in flight (if any) is committed.

        Raises StoreError when a transaction fails (the outcomes stay queued); marks the store refused go
        to their ``then``.
        """
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.join()
        batch, self._queue = self._queue, []
        jobs, self._jobs = self._jobs, []
        try:
            errors = self.store.write_marks([e.mark for e in batch], owner=self.owner) if batch else []
        except StoreError as exc:
            self._settle(batch, exc)
            _resolve(jobs, _run_jobs([job for job, _ in jobs]))
            raise
        self._settle(batch, errors)
        # Jobs queued behind these marks (claims) run now, on this thread.
        _resolve(jobs, _run_jobs([job for job, _ in jobs]))

    def _settle(self, batch: list[_Queued], result: list[StoreError | None] | StoreError) -> None:
        """Resolve ``batch`` with the write's result: per-mark errors, or the error that failed it all
        (then the outcomes go back to the front of the queue and the waiters fail)."""
        if isinstance(result, StoreError):
            # Outcomes and records of what happened go back to the front, in order, without their waiters.
            self._queue[:0] = [
                _Queued(e.mark, then=e.then, keep=True) if e.keep else e
                for e in batch if e.waiter is None or e.keep
            ]
            for entry in batch:
                if entry.waiter is not None and not entry.waiter.done():
                    entry.waiter.set_exception(result)
            return
        for entry, error in zip(batch, result, strict=True):
            entry.written = error is None
            if entry.waiter is not None:
                if entry.waiter.done():  # its task was cancelled while the mark was being written
                    if error is None and entry.on_cancel is not None:
                        entry.on_cancel()
                    continue
                if error is None:
                    entry.waiter.set_result(None)
                else:
                    entry.waiter.set_exception(error)
            elif entry.then is not None:
                try:
                    entry.then(error)
                except Exception:  # a bug in a report must not lose the other posts' reports
                    logger.exception("post %d: reporting its outcome failed", entry.mark.post_id)


def _on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """From the worker thread: ``callback(*args)`` at the loop's next turn. (A thread's future wrapped with
    ``asyncio.wrap_future`` took two turns to reach its callbacks, and the next batch waited for both.) A
    loop already closed has nobody left to tell."""
    with contextlib.suppress(RuntimeError):  # the loop is closed
        loop.call_soon_threadsafe(callback, *args)


def _run_jobs(jobs: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    """Run each job; (True, result) or (False, the exception for its caller). A job runs even when the
    marks before it failed: a claim then sees those posts still in flight, which only claims less."""
    results: list[tuple[bool, Any]] = []
    for job in jobs:
        try:
            results.append((True, job()))
        except Exception as exc:  # handed to the job's caller
            results.append((False, exc))
    return results


def _resolve(jobs: list[_Job], results: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(jobs, results, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
