"""What differs between SQLite and PostgreSQL below the store: URLs, engines, pragmas and driver errors.

URLs: a queue path is opened under its real path (:func:`resolve_url`, :func:`sqlite_file`), so one file has
one name, lock and journal; a URL is named for people by :func:`shown_url` alone (passwords as ``***``); a
URL that cannot be used (bad host or port, another SQLite driver, query arguments on SQLite) is one
StoreError, never a bug or a warning.

SQLite settings and why:

- ``journal_mode=WAL``: readers (``campaign status``) never block the daemon's writes, and vice versa.
- every write transaction is ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe: the driver's own
  BEGIN is disabled on connect and ours is emitted by :class:`campaign.queue.core.StoreCore`,
  https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl),
  so two writers queue on the busy timeout instead of one failing with "database is locked" when it
  upgrades a read lock (https://www.sqlite.org/lang_transaction.html). Reads use a deferred BEGIN.
- ``busy_timeout`` (default 5 s): how long a writer waits for another; past it,
  :class:`DatabaseLockedError` names the file.
- ``synchronous=FULL``: in WAL mode, NORMAL may lose the last commits on power loss or OS crash
  (https://www.sqlite.org/pragma.html#pragma_synchronous). Losing a committed ``sending`` mark could roll a
  post back to ``claimed``, and lease recovery would then send it again: a duplicate public post. FULL
  fsyncs the WAL at every commit; the cost (a few hundred microseconds to milliseconds per commit) is small
  next to an HTTP request per post. One exception: a claim commits at NORMAL
  (:meth:`campaign.queue.core.StoreCore._hot_write`). Losing a claim only returns its posts to
  ``scheduled``; the WAL is one sequence, so the FULL commit of a claimed post's ``sending`` mark, which
  comes before its request, makes the claim durable too.

PostgreSQL engines use the server's default READ COMMITTED and ``pool_pre_ping`` (a daemon outlives
server restarts). Their sessions name the process (``application_name`` ``campaign[PID]``, unless the URL
sets one), so an operator can tell in ``pg_stat_activity`` which daemon holds a lock or runs a query.
``synchronous_commit`` is left at the server's setting (``on`` by default) on purpose:
with ``off`` a COMMIT returns before its WAL is flushed, and a server crash may lose the last commits
(https://www.postgresql.org/docs/current/wal-async-commit.html). Losing a committed ``sending`` mark after
the request left would put the post back to ``claimed``, and lease recovery would send it again: a
duplicate public post, the one outcome the queue exists to prevent. Group commit already shares one
flush among many posts, so the daemon needs few commits rather than cheap ones (docs/BENCHMARKS.md). Claims
are the exception, as on SQLite: ``SET LOCAL synchronous_commit TO OFF``. The next synchronous COMMIT
flushes the WAL up to its own record, and so flushes every earlier commit with it.
:func:`translate_error` is the single point where driver errors of either database
become the exception tree of :mod:`campaign.errors`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from campaign.errors import DatabaseLockedError, StoreError

#: Where the queue lives unless ``--db`` or ``CAMPAIGN_DB`` says otherwise (relative to the working dir).
DEFAULT_DB = "db/campaign.db"
ENV_DB = "CAMPAIGN_DB"


def resolve_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$CAMPAIGN_DB``, else ``db/campaign.db``.

    A plain path means SQLite: ``sqlite:///`` and the file's real path (``~`` expanded, symlinks and ``..``
    resolved, so every name of one file opens it under one name, which its lock and ``-wal`` file follow),
    percent-escaped so that ``#``, ``?`` and ``%`` in a file name stay part of it. A URL (``://``) is
    returned as written. StoreError for a path that cannot be resolved (``~nosuchuser``, a symlink loop).
    """
    raw = url or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in raw:
        return raw
    return "sqlite:///" + quote(str(_real_path(raw)), safe="/")


def _real_path(path: str) -> Path:
    try:
        expanded = Path(path).expanduser()
    except RuntimeError:
        raise StoreError(f"{path}: cannot expand '~' (no such user, or no home folder)") from None
    try:
        return expanded.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop
        raise StoreError(f"{path}: cannot resolve this queue path ({exc})") from None


def sqlite_file(full_url: str) -> Path | None:
    """The real path of the SQLite file a URL from :func:`resolve_url` names (it may not exist yet); None
    for another database or an in-memory one. StoreError for a URL that does not parse, and for a SQLite
    URL with query arguments or another driver than Python's sqlite3 (``sqlite+aiosqlite://``), which the
    store cannot run on (a ``?mode=ro`` would also be ignored, with a warning, unless ``uri=true``)."""
    sa_url = _parse_url(full_url)
    if sa_url.get_backend_name() != "sqlite":
        return None
    if sa_url.get_driver_name() != "pysqlite" or sa_url.query:
        raise StoreError(
            f"{shown_url(full_url)}: a SQLite queue is a file opened with Python's sqlite3 alone: name it by "
            "its path (or sqlite:///PATH), without another driver or query arguments"
        )
    if sa_url.database in (None, "", ":memory:"):
        return None
    return _real_path(sa_url.database)


def same_database(a_url: str, b_url: str) -> bool:
    """True when two URLs from :func:`resolve_url` name one database: one SQLite file under any of its
    names (symlinks, ``..``, hard links: ``os.path.samefile`` when both exist), or one database of one
    server (backend, host, port and database alike; users and passwords aside)."""
    a_file, b_file = sqlite_file(a_url), sqlite_file(b_url)
    if a_file is not None and b_file is not None:
        if a_file.exists() and b_file.exists():
            return os.path.samefile(a_file, b_file)
        return a_file == b_file
    if a_file is not None or b_file is not None:
        return False
    return _server_database(_parse_url(a_url)) == _server_database(_parse_url(b_url))


def _server_database(sa_url: sa.engine.URL) -> tuple[object, ...]:
    sockets = sorted((k, str(v)) for k, v in sa_url.query.items() if k in ("host", "hostaddr", "port"))
    return sa_url.get_backend_name(), (sa_url.host or "").lower(), sa_url.port, sa_url.database, sockets


#: ``scheme://user:`` ahead of a password (the user as SQLAlchemy reads it: no ``:`` or ``/``).
_USERINFO = re.compile(r"[^:/]*://[^:/]*:")
#: A query argument, ``name=value`` after ``?`` or ``&`` (the value as SQLAlchemy reads it: up to ``&``).
_QUERY_ARG = re.compile(r"[?&]([^=&]*)=([^&]*)")


def shown_url(raw: str) -> str:
    """A database URL as messages and logs name it, read from the raw text (so also one SQLAlchemy cannot
    parse): the password of ``scheme://user:password@`` (up to the *last* ``@``: one written unescaped may
    hold ``@``, ``/`` or ``?``) and the value of every query argument whose name holds ``password``
    (``password``, ``sslpassword``; any case, percent-escapes read) become ``***``. Where the two overlap,
    everything either may hold is hidden (the safe side)."""
    hidden: list[list[int]] = []
    user = _USERINFO.match(raw)
    at = raw.rfind("@")
    if user is not None and at >= user.end():
        hidden.append([user.end(), at])
    hidden += [list(arg.span(2)) for arg in _QUERY_ARG.finditer(raw)
               if "password" in unquote_plus(arg.group(1)).lower()]
    merged: list[list[int]] = []
    for start, end in sorted(hidden):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, shown_to = [], 0
    for start, end in merged:
        parts += [raw[shown_to:start], "***"]
        shown_to = end
    return "".join(parts) + raw[shown_to:]


def _parse_url(full_url: str) -> sa.engine.URL:
    try:
        return sa.engine.make_url(full_url)
    except sa.exc.ArgumentError:
        raise StoreError(
            f"{shown_url(full_url)}: not a database URL (a file path, or e.g. postgresql+psycopg://...)"
        ) from None
    except ValueError:  # a port that is not a number: ``h:x``, ``h:1:2``, an unclosed ``[::1``
        raise StoreError(
            f"{shown_url(full_url)}: not a database URL: its host or port cannot be read (a port is a "
            "number; write an '@' in a password as %40)"
        ) from None


def create_engine(full_url: str, busy_timeout: float, *, create: bool = True) -> tuple[Engine, str]:
    """(engine, what error messages call the database) for a URL from :func:`resolve_url`.

    SQLite: the file is opened under its real path (:func:`sqlite_file`); with ``create`` its parent
    directories are created; without it a missing file is a StoreError ("no queue"), and nothing is
    created. StoreError also for a directory, an uncreatable parent, a SQLite URL with query arguments or
    another driver than Python's sqlite3, an unknown URL scheme, a database driver that is not installed,
    and a URL whose host, port or arguments cannot be read. Messages name a server database with its
    passwords hidden (:func:`shown_url`). The engine runs in driver autocommit: the store emits
    BEGIN/COMMIT itself.
    """
    sa_url = _parse_url(full_url)
    if sa_url.get_backend_name() != "sqlite":
        return _server_engine(sa_url, shown_url(full_url)), shown_url(full_url)
    path = sqlite_file(full_url)
    if path is not None:
        database = str(path)
        if path.is_dir():
            raise StoreError(f"{database}: is a directory, not a queue database")
        if not create and not path.is_file():
            raise StoreError(f"{database}: no queue database here (check --db; `campaign apply` creates one)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{database}: cannot create its directory ({exc})") from exc
        sa_url = sa_url.set(database=database)
    # AUTOCOMMIT: SQLAlchemy emits no BEGIN/COMMIT of its own; StoreCore._transaction() does.
    engine = sa.create_engine(sa_url, connect_args={"timeout": busy_timeout}, isolation_level="AUTOCOMMIT")
    _install_sqlite_hooks(engine, busy_timeout)
    return engine, sa_url.database or ""


def _server_engine(sa_url: sa.engine.URL, where: str) -> Engine:
    """The engine of a server database (PostgreSQL), or StoreError naming it as ``where``."""
    if "@" in (sa_url.host or ""):  # SQLAlchemy ends a password at its first '@': the rest became the host
        raise StoreError(f"{where}: the password holds an unescaped '@' (write it as %40)")
    try:
        named = {} if "application_name" in sa_url.query else {"application_name": f"campaign[{os.getpid()}]"}
        return sa.create_engine(sa_url, pool_pre_ping=True, connect_args=named)
    except sa.exc.NoSuchModuleError:
        raise StoreError(
            f"{where}: unknown database kind {sa_url.drivername!r} (use a file path for SQLite, or "
            "postgresql+psycopg://...)"
        ) from None
    except ImportError as exc:
        raise StoreError(
            f"{where}: the database driver for {sa_url.drivername!r} is not installed ({exc.name or exc})"
        ) from None
    except (sa.exc.ArgumentError, ValueError) as exc:  # ports or hosts in the query: ?port=x
        detail = _without_passwords(str(exc), sa_url)
        raise StoreError(f"{where}: cannot use this database URL ({detail})") from None


def _without_passwords(text: str, sa_url: sa.engine.URL) -> str:
    """``text`` with the URL's password and password query values (as SQLAlchemy read them) hidden."""
    secrets = [str(sa_url.password or "")]
    for name, values in sa_url.query.items():
        if "password" in name.lower():
            secrets += [values] if isinstance(values, str) else list(values)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


#: SQLite's ``synchronous`` on every connection (module docstring).
SYNCHRONOUS = "FULL"


def _install_sqlite_hooks(engine: Engine, busy_timeout: float) -> None:
    """Per-connection pragmas. Transactions are the store's, the driver's are off."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Disable the driver's implicit BEGIN so ours is the only one (and DDL stays transactional).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        cursor.close()


def _switch_to_wal(raw: Any) -> Any:
    """``PRAGMA journal_mode=WAL``, tried again while other connections hold the file: SQLite refuses that
    change with "database is locked" at once, without waiting in its busy handler (several processes
    opening a new queue together hit it), so the wait happens here, up to the connection's busy timeout."""
    deadline = time.monotonic() + raw.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    pause = 0.001
    while True:
        try:
            return raw.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # another connection's transaction must end; nothing to wait on but time
        pause = min(2 * pause, 0.05)


def enable_wal(engine: Engine, where: str) -> None:
    """Switch a SQLite database to WAL mode (persistent in the file); nothing on other databases."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # Outside any transaction (the mode cannot change inside one).
            mode = raw.execute("PRAGMA journal_mode").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                mode = _switch_to_wal(raw)
    except (sa.exc.DBAPIError, sqlite3.Error) as exc:
        raise translate_error(exc, where) from exc
    if not mode or str(mode[0]).lower() != "wal":
        raise StoreError(f"{where}: cannot switch the database to WAL mode (got {mode})")


def backup_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite file ``source`` (a real path, :func:`sqlite_file`) into ``target`` with SQLite's
    online backup, reading ``source`` read-only (safe while a daemon writes it; it is never written).

    ``source`` is named by a ``file:`` URI with its path percent-escaped (a ``#``, ``?`` or ``%`` in a file
    name would otherwise end the path or be read as an escape). StoreError naming ``source`` for a directory
    or a file SQLite cannot open or read (not a database, corrupt, unreadable).
    """
    if source.is_dir():
        raise StoreError(f"{source}: is a directory, not a queue database")
    try:
        with closing(sqlite3.connect(f"file://{quote(str(source), safe='/')}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise translate_error(exc, str(source)) from exc


def insert_ignoring_duplicates(dialect: str, table: sa.Table, key: str) -> Any:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` in ``dialect`` (race-free on PostgreSQL, where two
    daemons may create the same row at once)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table).on_conflict_do_nothing(index_elements=[key])


# ---------------------------------------------------------------------------------------------- errors


def _sqlite_error_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorname", "") or ""
    return ""


def _unwritable(where: str) -> bool:
    path = Path(where)
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


#: PostgreSQL SQLSTATEs that mean "another transaction is in the way" (lock_not_available, deadlock_detected,
#: serialization_failure; https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_LOCKED = {"55P03": "lock not available", "40P01": "deadlock", "40001": "serialization failure"}


def _pg_sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


#: SQLSTATE classes of a connection that is gone: connection exceptions, and the server shutting down or
#: ending the session (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_CONNECTION_LOST = ("08", "57P")


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the PostgreSQL connection is gone (the server restarted, ended the session or
    cannot be reached): the connection must be replaced, and others opened before may be dead too."""
    state = _pg_sqlstate(exc)
    if state is not None:
        return state.startswith(_PG_CONNECTION_LOST)
    # psycopg reports a refused, failed or closed connection as an OperationalError without a SQLSTATE,
    # wrapped by SQLAlchemy or raised by the driver itself (statements run on the driver's cursor).
    orig = getattr(exc, "orig", exc)
    return not isinstance(orig, sqlite3.Error) and any(
        cls.__name__ == "OperationalError" for cls in type(orig).__mro__
    )


def translate_error(exc: BaseException, where: str) -> StoreError:
    """Map a driver error to the one exception tree (the single translation point for SQL errors)."""
    name = _sqlite_error_name(exc)
    # One line: driver messages (psycopg's "Is the server running...") span several.
    detail = " ".join(str(getattr(exc, "orig", exc)).split()) or type(exc).__name__
    state = _pg_sqlstate(exc)
    if state in _PG_LOCKED:
        return DatabaseLockedError(f"{where}: {_PG_LOCKED[state]} with another process ({detail})")
    if state is not None and state.startswith(_PG_CONNECTION_LOST):
        return StoreError(f"{where}: lost the connection to the database server ({detail})")
    if connection_lost(exc):
        return StoreError(f"{where}: cannot connect to the database server ({detail})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseLockedError(f"{where}: database is locked by another process ({detail})")
    if name.startswith("SQLITE_READONLY") or (name.startswith("SQLITE_CANTOPEN") and _unwritable(where)):
        return StoreError(
            f"{where}: the queue database is read-only (the file and its folder must be writable: SQLite "
            f"keeps -wal and -shm files beside it) ({detail})"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StoreError(f"{where}: not a usable queue database, file left as it is ({detail})")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(f"{where}: cannot open the queue database ({detail})")
    return StoreError(f"{where}: database error ({detail})")
