"""The queue's schema: which Alembic revision a database holds, and bringing it to :data:`SCHEMA_HEAD`.

:func:`ensure_schema` runs when a store opens. Its fast path is one read: a database at the head revision
is used as it is, and Alembic is not even imported. Otherwise the decision is taken again under a lock
that every opener takes, so processes opening one database at once migrate it exactly once:

- SQLite: the write transaction itself (``BEGIN IMMEDIATE``) is the lock.
- PostgreSQL: ``pg_advisory_xact_lock`` (released at commit,
  https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS). Before the lock,
  the read is not trusted to say "a foreign database": in READ COMMITTED each statement sees what was
  committed before it began, so the look for ``alembic_version`` and the list of tables may straddle
  another opener's migration commit and see tables without a version. Under the lock no migration can
  commit between them, so the re-check there is the one that may refuse the database.

A database newer than this code (a revision it does not know) raises :class:`SchemaVersionError` and is
left untouched; one with other tables but no Alembic version is refused with :class:`StoreError`.

The revision says which migrations ran, not that the file is whole: :func:`check_usable` (``campaign db
upgrade``) also looks for every table and column of the models, and on SQLite runs ``PRAGMA quick_check``.

Alembic logs at INFO on its own loggers (each plugin it sets up, each migration step): under a daemon's INFO
logging that is a screen of lines before the one that matters, so they are held below WARNING while this
module uses Alembic (:func:`_quiet_alembic`); ours says what happens ("migrating queue database").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from campaign.errors import SchemaVersionError, StoreError
from campaign.queue.dialect import enable_wal

if TYPE_CHECKING:
    from campaign.queue.core import StoreCore

logger = logging.getLogger(__name__)

#: The newest Alembic revision this code knows (tests check it equals the migrations' head).
SCHEMA_HEAD = "0005"
#: pg_advisory_xact_lock key taken around the check and the migration (any bigint unique to campaign).
MIGRATE_LOCK = 0x63616D7061696702


def migrations_dir() -> Path:
    """The Alembic script directory shipped as ``campaign.migrations`` (``db/migrations`` in the source)."""
    from importlib.resources import files

    return Path(str(files("campaign.migrations")))


def stored_revision(conn: Connection) -> tuple[str | None, bool]:
    """(the Alembic revision stored, whether the database has any table at all)."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("alembic_version"):
        return None, bool(inspector.get_table_names())
    revisions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) != 1:
        return ("+".join(sorted(revisions)) or None), True
    return str(revisions[0]), True


def alembic_config(conn: Connection | None = None) -> Any:
    """An Alembic ``Config`` on the shipped scripts; ``conn`` is the connection migrations run on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic's INFO lines held back (its warnings and errors pass) while the block runs; the level it had
    is restored after, and no other logger changes."""
    alembic_logger = logging.getLogger("alembic")
    before = alembic_logger.level
    if alembic_logger.getEffectiveLevel() < logging.WARNING:
        alembic_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_logger.setLevel(before)


def known_revisions() -> set[str]:
    """Every revision of the shipped migrations."""
    with _quiet_alembic():
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config())
        return {rev.revision for rev in script.walk_revisions()}


def run_migrations(conn: Connection, target: str = "head") -> None:
    """Upgrade to ``target`` inside the caller's transaction on ``conn`` (db/migrations/env.py)."""
    with _quiet_alembic():
        from alembic import command

        command.upgrade(alembic_config(conn), target)


#: How many problems ``PRAGMA quick_check`` reports at most (the first is enough to refuse the file).
_QUICK_CHECK_ROWS = 3


def check_usable(store: StoreCore, *, pages: bool = True) -> None:
    """Raise :class:`StoreError` when the queue cannot be used as it is: a table or column of the models
    missing (dropped by hand, a partial restore), or with ``pages`` on SQLite, damaged pages (``PRAGMA
    quick_check``, https://www.sqlite.org/pragma.html#pragma_quick_check). Nothing is changed.

    ``quick_check`` reads the whole file (without matching indexes to their tables, which
    ``integrity_check`` does at far greater cost), so it runs where asked (``db upgrade``), not at every
    open; a damaged page the other commands meet is still their one-line error.
    """
    from campaign.queue.models import METADATA

    damaged = f"{store.where}: the queue database is damaged, file left as it is"
    with store._read() as conn:
        if pages and store.is_sqlite:
            pragma = f"PRAGMA quick_check({_QUICK_CHECK_ROWS})"
            rows = [str(row[0]) for row in conn.exec_driver_sql(pragma)]
            if rows != ["ok"]:
                found = [" ".join(line.split()) for row in rows for line in row.splitlines()]
                found = [line for line in found if line and not line.startswith("*** in database")] or ["?"]
                raise StoreError(f"{damaged} (quick_check: {'; '.join(found)}); restore it from a backup")
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        missing = [f"table {name}" for name in METADATA.tables if name not in present]
        for table in METADATA.tables.values():
            if table.name in present:
                columns = {column["name"] for column in inspector.get_columns(table.name)}
                missing += [f"column {table.name}.{c.name}" for c in table.columns if c.name not in columns]
    if missing:
        raise StoreError(
            f"{damaged} (missing at schema revision {SCHEMA_HEAD}: {', '.join(missing)}); restore it from a "
            "backup"
        )


def _refuse(where: str, revision: str | None, has_tables: bool, *, settled: bool) -> None:
    """Raise when the database may not be migrated by this code; ``settled``: the reading was consistent
    (taken under the migration lock, or in one SQLite snapshot), so "tables without a version" is true."""
    if revision is not None and revision not in known_revisions():
        raise SchemaVersionError(
            f"{where}: schema revision {revision!r} is newer than this campaign understands "
            f"(newest known: {SCHEMA_HEAD}); upgrade campaign. The database was not changed."
        )
    if settled and revision is None and has_tables:
        raise StoreError(f"{where}: not a campaign queue database (it has other tables)")


def ensure_schema(store: StoreCore, *, create: bool = True) -> None:
    """Check the schema revision (fast path: one read) and migrate when it is older than ours.

    Without ``create``, a database that holds no queue yet (no Alembic version) is a StoreError and is
    left as it is: commands that only read a queue never create one.
    """
    with store._read() as conn:
        revision, has_tables = stored_revision(conn)
    if revision == SCHEMA_HEAD:
        enable_wal(store.engine, store.where)
        return
    if revision is None and not create:
        raise StoreError(f"{store.where}: holds no campaign queue (check --db; `campaign apply` creates one)")
    # A SQLite read transaction is one snapshot; a PostgreSQL READ COMMITTED one is not (docstring).
    _refuse(store.where, revision, has_tables, settled=store.is_sqlite)
    enable_wal(store.engine, store.where)
    with store._write() as conn:
        if store.is_postgres:
            # SQLite's BEGIN IMMEDIATE is the write lock; PostgreSQL needs one to migrate only once.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATE_LOCK)))
        # Re-read under the lock: another process may have migrated meanwhile.
        revision, has_tables = stored_revision(conn)
        if revision == SCHEMA_HEAD:
            return
        _refuse(store.where, revision, has_tables, settled=True)
        logger.info("migrating queue database", extra={"action": "migrate", "from": revision})
        run_migrations(conn)
