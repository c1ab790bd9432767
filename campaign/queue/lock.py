"""The single-daemon lock of a SQLite queue: an exclusive ``fcntl.flock`` on ``<db>.daemon.lock``.

A daemon holds it for its whole life (:mod:`campaign.dispatch.daemon`), and ``campaign db copy``
(:mod:`campaign.queue.copy`) for the whole copy. The kernel drops a flock when its process dies, however it
dies, so a crash never leaves a stale lock. PostgreSQL queues take no such lock: several daemons share one
there (their claims use ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from campaign.errors import DatabaseLockedError

if TYPE_CHECKING:
    from campaign.queue.core import StoreCore

LOCK_SUFFIX = ".daemon.lock"


class DaemonLock:
    """An exclusive, non-blocking ``flock`` on ``path``, held until :meth:`release` or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DatabaseLockedError naming the pid that holds it."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DatabaseLockedError(
                f"another campaign daemon (pid {holder}) is already running on this queue "
                f"(lock {self.path}); only one daemon may use a SQLite queue"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_for(store: StoreCore) -> DaemonLock | None:
    """The single-daemon lock of a SQLite file queue (None for PostgreSQL and in-memory SQLite)."""
    if not store.is_sqlite or not store.where or store.where == ":memory:":
        return None
    return DaemonLock(Path(store.where + LOCK_SUFFIX))
