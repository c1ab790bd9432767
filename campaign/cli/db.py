"""Database commands: ``campaign db copy`` and ``campaign db upgrade``.

Importing this module is light (Click only); the store is imported inside the commands. Database arguments
are file paths (SQLite) or SQLAlchemy URLs such as ``postgresql+psycopg://user@host/dbname``.
"""

from __future__ import annotations

import click

from campaign.cli.options import db_option


@click.group("db")
def db() -> None:
    """Manage the queue database (copy it between SQLite and PostgreSQL, upgrade its schema)."""


@db.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="The queue to copy (path or URL).")
@click.option("--to", "target", required=True, metavar="URL", help="Where to copy it (path or URL).")
@click.option("--force", is_flag=True, help="Replace a target that already holds a queue.")
def copy(source: str, target: str, force: bool) -> None:
    """Copy a whole queue (posts, history, account and campaign state; ids kept) to another database.

    Refuses a target that already holds a queue (unless --force) and a SQLite queue a daemon is running on.
    """
    from campaign.queue.copy import copy_queue

    click.echo(copy_queue(source, target, force=force).summary())


@db.command("upgrade")
@db_option
def upgrade(db: str) -> None:
    """Create the queue database or bring its schema to this version (every command also does this), then
    check that it is usable: every table and column there, and on SQLite no damaged page (quick_check).
    Exit 1 with one line naming the fault otherwise."""
    from campaign.queue.schema import check_usable
    from campaign.queue.store import SCHEMA_HEAD, Store

    with Store.open(db) as store:
        check_usable(store)
        click.echo(f"{store.where}: schema at revision {SCHEMA_HEAD}, checked")
