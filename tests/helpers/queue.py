"""Shared builders for the queue tests (store, planner, migrations)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from campaign.plan.posts import PlannedPost

T0 = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)


def planned(
    key: str = "p1",
    *,
    campaign: str = "launch",
    at: datetime = T0,
    text: str | tuple[str, ...] = "Hello",
    channel: str = "mastodon",
    account: str = "main",
    occurrence: str = "",
    send_late: bool = False,
) -> PlannedPost:
    parts = (text,) if isinstance(text, str) else text
    return PlannedPost(
        campaign=campaign,
        post_key=key,
        occurrence=occurrence,
        channel=channel,
        account=account,
        scheduled_at=at,
        zone="Europe/Berlin",
        parts=parts,
        send_late=send_late,
    )


def many(
    n: int, *, start: datetime = T0, step: timedelta = timedelta(minutes=1), **kw: object
) -> list[PlannedPost]:
    return [planned(f"p{i}", at=start + i * step, text=f"post {i}", **kw) for i in range(n)]  # type: ignore[arg-type]


def settle(path: Path) -> None:
    """Fold a SQLite queue's write-ahead log into its file (no daemon or store may have it open), so the
    file alone holds every page, ready for the hand edits below."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def drop_table(path: Path, table: str) -> None:
    """Drop ``table`` from a SQLite queue, as a careless hand or a partial restore would."""
    settle(path)
    con = sqlite3.connect(path)
    try:
        con.execute(f"DROP TABLE {table}")
        con.commit()
    finally:
        con.close()


def damage_table(path: Path, table: str) -> None:
    """Write junk over the first page of ``table`` in a SQLite queue (a disk or a copy gone wrong). The
    schema (page 1) and the Alembic revision (its own page) stay whole, so the queue still opens."""
    settle(path)
    con = sqlite3.connect(path)
    try:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    finally:
        con.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)  # pages are numbered from 1
        file.write(bytes([0xA5]) * page_size)
