"""The single-daemon lock of a SQLite queue: an exclusive ``fcntl.flock`` on ``<db>.daemon.lock``, named
after the file's real path; a queue file with more than one hard link is refused.

A daemon holds it for its whole life (:mod:`campaign.dispatch.daemon`), and ``campaign db copy``
(:mod:`campaign.queue.copy`) for the whole copy. The kernel drops a flock when its process dies, however it
dies, so a crash never leaves a stale lock. PostgreSQL queues take no such lock: several daemons share one
there (their claims use ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from campaign.errors import DatabaseLockedError, StoreError

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
    """The single-daemon lock of a SQLite file queue (None for PostgreSQL and in-memory SQLite).

    Named after the file's real path (symlinks and ``..`` resolved), so a daemon started through any other
    name of the file finds the same lock. StoreError when the file has more than one hard link: a lock
    cannot be shared between names that resolve to different paths (:func:`refuse_hard_links`).
    """
    if not store.is_sqlite or not store.where or store.where == ":memory:":
        return None
    real = Path(store.where).resolve()
    refuse_hard_links(real)
    return DaemonLock(real.with_name(real.name + LOCK_SUFFIX))


def refuse_hard_links(path: Path) -> None:
    """StoreError when the queue file ``path`` has more than one hard link (nothing for a missing file).

    Every name of a hard-linked file is a real path of its own, so each would get its own lock, and SQLite
    names its ``-wal``/``-journal`` and ``-shm`` files after the name it opened: two daemons could write one
    file through two journals. SQLite's "How To Corrupt An SQLite Database File", section 2.5 "Multiple
    links to the same file" (https://www.sqlite.org/howtocorrupt.html): a database file with more than one
    link is undefined behaviour and may corrupt it.
    """
    try:
        links = os.stat(path).st_nlink
    except FileNotFoundError:
        return
    if links > 1:  # https://www.sqlite.org/howtocorrupt.html section 2.5: more than one link may corrupt it
        raise StoreError(
            f"{path}: this queue file has {links} hard links; SQLite needs one name per database file (each "
            "name would get its own lock and journal), so remove the other links or copy the file"
        )
