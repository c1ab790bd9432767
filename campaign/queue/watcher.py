"""Waking daemons when another process changes the queue: LISTEN/NOTIFY on PostgreSQL, polling on SQLite."""

from __future__ import annotations

import logging
from typing import Any

from campaign.queue.core import NOTIFY_CHANNEL, StoreCore

logger = logging.getLogger(__name__)


class ChangeWatcher:
    """Notices queue changes made by any process (apply, cancel, retry, pause, resume, release, recovery).

    Every such change bumps ``queue_state.revision`` (:meth:`Store.queue_revision`); on PostgreSQL the same
    transaction sends ``NOTIFY campaign_queue``, which this watcher LISTENs for on a dedicated autocommit
    connection, so a daemon on another machine wakes within milliseconds of the commit. On SQLite (one
    machine) it compares the revision, reading it at most every ``poll_seconds`` while waiting.

    For a daemon's event loop, either ``await watcher.wait_async(timeout)`` in a task, or register
    :meth:`fileno` with ``loop.add_reader`` and call :meth:`changed` when it is readable (re-read
    :meth:`fileno` afterwards: it changes when a lost connection is re-opened). Keep the safety tick: a
    notification sent while the watcher was reconnecting is lost (then :meth:`changed` reports a change,
    so nothing is missed, only noticed later).

    A spurious True (a change that needs nothing from the caller) is possible; a missed change is not,
    as long as the caller looks at the queue after every True. Not thread-safe. Raises nothing but
    :class:`StoreError` (a SQLite revision read that fails).
    """

    def __init__(self, store: StoreCore, *, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._conn: Any = None  # psycopg.Connection (PostgreSQL only)
        self._revision: int | None = None
        if store.is_postgres:
            self._listen()
        else:
            self._revision = store.queue_revision()

    def _listen(self) -> None:
        # Through the engine's pool (same URL and connect arguments), detached: it lives outside the pool.
        raw = self.store.engine.raw_connection()
        conn: Any = raw.driver_connection  # read before detach(), which clears it
        raw.detach()
        try:
            conn.autocommit = True  # NOTIFY is delivered between transactions; LISTEN must not sit in one
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except Exception:
            raw.close()
            raise
        self._conn = conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to release
                logger.debug("closing a broken LISTEN connection failed", exc_info=True)

    def fileno(self) -> int | None:
        """A descriptor that becomes readable when a notification may be waiting (None on SQLite, or while
        the PostgreSQL connection is lost: then poll :meth:`changed`)."""
        if self._conn is None:
            return None
        return int(self._conn.fileno())

    def changed(self) -> bool:
        """Never blocks: True when the queue changed since the last call (or the watcher was created)."""
        if not self.store.is_postgres:
            revision = self.store.queue_revision()
            seen, self._revision = self._revision, revision
            return revision != seen
        return self._drain(0.0)

    def _drain(self, timeout: float) -> bool:
        if self._conn is None:
            try:
                self._listen()
            except Exception as exc:
                logger.warning("cannot LISTEN for queue changes: %s", exc, extra={"action": "listen"})
                return False
            # Changes made while the connection was down were not announced to us: report one.
            return True
        try:
            got = list(self._conn.notifies(timeout=timeout, stop_after=1))
            if got:  # take whatever else arrived in the same packets, without waiting
                got.extend(self._conn.notifies(timeout=0))
        except Exception as exc:
            logger.warning("lost the LISTEN connection: %s", exc, extra={"action": "listen"})
            self._drop()
            return True
        return bool(got)

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True as soon as a change is seen."""
        if self.store.is_postgres:
            return self._drain(max(0.0, timeout))
        import time

        deadline = time.monotonic() + timeout
        while True:
            if self.changed():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.poll_seconds, left))

    async def wait_async(self, timeout: float) -> bool:
        """Like :meth:`wait` without blocking the running event loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.changed():
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            fd = self.fileno()
            if fd is None:
                await asyncio.sleep(min(self.poll_seconds, left))
                continue
            ready: asyncio.Future[None] = loop.create_future()

            def readable(future: asyncio.Future[None] = ready) -> None:
                if not future.done():
                    future.set_result(None)

            loop.add_reader(fd, readable)
            try:
                await asyncio.wait_for(ready, left)
            except TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> ChangeWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
