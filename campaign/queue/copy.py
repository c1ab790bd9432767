"""``campaign db copy``: move a whole queue between databases (SQLite to PostgreSQL, or back).

What is copied: every post (ids, statuses, attempts, leases, receipts, errors, times), its whole history
(``post_events``, ids kept), the shared account state (blocks, pauses, daily counters), campaign pauses and
the queue revision. Both ends are opened with :meth:`Store.open`, so both are at the current schema first.

Rules:

- The source must be an existing queue (:meth:`Store.open` with ``create=False``): a mistyped source is
  an error, never an empty queue that ``force`` would copy over the target. Both ends must have every
  table and column of the models (:func:`campaign.queue.schema.check_usable`); an error reading the source
  names the source, never the target being written meanwhile.
- The target must hold no queue data (posts, events, account or campaign state) unless ``force``; then its
  contents are replaced. Nothing is merged: ids are the source's.
- Source and target must be two databases: a SQLite file is the same under any of its names (a symlink, a
  path through ``..``, a hard link).
- A SQLite end must not be in use by a daemon: its single-daemon lock (:func:`campaign.queue.lock.lock_for`)
  is taken for the whole copy, so a running daemon makes the copy fail with :class:`DatabaseLockedError`, and
  no daemon can start on it meanwhile. A PostgreSQL end has no such lock: stop its daemons first.
- The source is read in one snapshot and the target written in one transaction: a failed copy leaves the
  target as it was. Afterwards the row counts of both are compared, and a PostgreSQL target's planner
  statistics are refreshed (:meth:`campaign.queue.core.StoreCore.refresh_statistics`).

Posts that were ``claimed`` or ``sending`` in the source keep that status and lease; the target's daemons
recover them like any lease of a dead daemon (``claimed -> scheduled``, ``sending -> unknown``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from campaign.errors import StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopyReport:
    """Rows copied per table, and where from and to (passwords hidden)."""

    source: str
    target: str
    rows: dict[str, int]

    def summary(self) -> str:
        r = self.rows
        return (
            f"Copied {r.get('posts', 0)} posts, {r.get('post_events', 0)} history events, "
            f"{r.get('account_state', 0)} account states and {r.get('campaign_state', 0)} campaign states "
            f"from {self.source} to {self.target}."
        )


def copy_queue(source_url: str, target_url: str, *, force: bool = False) -> CopyReport:
    """Copy the queue at ``source_url`` into ``target_url`` (paths or URLs, as ``--db`` takes them).

    Raises :class:`StoreError` when both name the same database (a SQLite file under any of its names:
    :func:`campaign.queue.dialect.same_database`), when the target holds data and ``force`` is not given,
    when a SQLite end has a second hard link, or when the copy does not verify; :class:`DatabaseLockedError`
    when a daemon holds a SQLite end. The source is never changed (beyond a schema upgrade by opening it).
    """
    from campaign.queue.dialect import same_database, shown_url
    from campaign.queue.lock import lock_for
    from campaign.queue.schema import check_usable
    from campaign.queue.store import Store, resolve_url

    if same_database(resolve_url(source_url), resolve_url(target_url)):
        raise StoreError(f"{shown_url(source_url)}: source and target are the same database")
    with contextlib.ExitStack() as stack:
        # The source must be an existing queue: a typo must not "copy" an empty queue over a real one.
        source = stack.enter_context(Store.open(source_url, create=False))
        check_usable(source, pages=False)  # a dropped table is named before the target is even opened
        target = stack.enter_context(Store.open(target_url))
        check_usable(target, pages=False)
        for store in (source, target):
            lock = lock_for(store)
            if lock is not None:
                lock.acquire()  # DatabaseLockedError naming the daemon's pid
                stack.callback(lock.release)
        if not force and target.holds_queue_data():
            counts = target.row_counts()
            raise StoreError(
                f"{target.where}: the target already holds a queue ({counts['posts']} posts, "
                f"{counts['post_events']} events); use --force to replace it"
            )
        copied: dict[str, int] = {}
        with source.snapshot() as rows:

            def counted(name: str) -> Iterator[list[dict[str, Any]]]:
                copied.setdefault(name, 0)
                for batch in rows(name):
                    copied[name] += len(batch)
                    yield batch

            target.replace_all(counted)
        target.refresh_statistics(copied.get("posts", 0))
        found = target.row_counts()
        if found != copied:
            raise StoreError(f"{target.where}: copy did not verify (copied {copied}, target has {found})")
        report = CopyReport(source=source.where, target=target.where, rows=copied)
    logger.info(report.summary(), extra={"action": "copy", **{f"rows_{k}": v for k, v in copied.items()}})
    return report
