"""Hot statements compiled once and run on the driver's cursor: the dispatcher's claims and bulk marks.

Every statement is still defined once, with SQLAlchemy, in :mod:`~campaign.queue.claims` and
:mod:`~campaign.queue.marks`. Running one through ``Connection.execute`` costs far more Python than the
statement costs SQLite: a compiled-cache lookup, an execution context, result metadata, ``Row`` objects and
the driver's error wrapping, on every call. In the daemon that work ran in the commit thread and held the GIL
while the event loop waited for it (a fifth of the daemon's samples on the TLS benchmark,
docs/BENCHMARKS.md). A :class:`Precompiled` statement is compiled once for the store's dialect and keeps
SQLAlchemy's own bind and result processors for each parameter and column type, so values are written and read
exactly as ``Connection.execute`` would (``tests/test_precompiled.py`` compares both); it then runs on the
driver connection (``sqlite3``; ``psycopg`` takes the same calls), inside the caller's transaction. Driver
errors propagate as the driver's own (``sqlite3.Error``, ``psycopg.Error``): the store's transaction
translates them (:meth:`campaign.queue.core.StoreCore._transaction`).

Only statements without expanding ``IN`` lists can be precompiled (their SQL would change per call).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Precompiled"]

#: A type's bind or result processor (None: the value passes as it is).
_Processor = Callable[[Any], Any] | None


class Precompiled:
    """``statement`` compiled once for ``dialect``; :meth:`execute` / :meth:`executemany` run it on the
    driver cursor of a SQLAlchemy ``Connection`` with a mapping of the statement's parameter names.

    ``keys`` names the columns an INSERT is given (as ``Connection.execute`` infers them from its first
    parameter set). ``columns`` are the statement's RETURNING or SELECT columns (SQLAlchemy columns or
    labelled expressions), in order: :meth:`execute` then returns named tuples with each value converted by
    its type's result processor; without ``columns`` it returns the rowcount.
    """

    def __init__(
        self,
        statement: sa.ClauseElement,
        dialect: Dialect,
        *,
        keys: Sequence[str] | None = None,
        columns: Sequence[sa.ColumnElement[Any]] = (),
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        assert isinstance(compiled, SQLCompiler), "a SQL statement compiles to a SQLCompiler"
        self.sql = str(compiled)
        self.positional = compiled.positiontup is not None
        slots: list[tuple[str, str, _Processor, bool, Any]] = []
        if compiled.positiontup is not None:
            named = [(name, name) for name in compiled.positiontup]
        else:  # named paramstyle (psycopg's pyformat): the rendered name may be escaped
            escaped = compiled.escaped_bind_names
            named = [(name, escaped.get(name, name)) for name in compiled.binds]
        for name, rendered in named:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            # A value fixed when the statement was built (``status='sent'``) is converted once, here.
            fixed = not bind.required
            value = bind.effective_value if fixed else None
            if fixed and process is not None:
                value, process = process(value), None
            slots.append((name, rendered, process, fixed, value))
        self._slots = tuple(slots)
        self._row: Any = None
        #: (position, result processor) of the columns that have one (most have none).
        self._results: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
        if columns:
            self._row = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
            processors = (c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
            self._results = tuple((i, p) for i, p in enumerate(processors) if p is not None)

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for ``values`` (KeyError names a parameter not given)."""
        out = [
            value if fixed else (process(values[name]) if process is not None else values[name])
            for name, _, process, fixed, value in self._slots
        ]
        if self.positional:
            return tuple(out)
        return {slot[1]: v for slot, v in zip(self._slots, out, strict=True)}

    def execute(self, conn: Connection, values: Mapping[str, Any], *, first: Sequence[str] = ()) -> Any:
        """Run once: the converted rows (when built with ``columns``) or the rowcount.

        ``first``: statements without parameters to run before it, in the same transaction (a setting, a lock
        to hold before this statement takes its snapshot). On psycopg everything goes out in one pipeline, one
        round trip with the transaction's BEGIN if this is its first statement
        (https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html); the server still runs the
        statements one after the other.
        """
        driver = _driver(conn)
        cursor = driver.cursor()
        try:
            if self.positional:  # sqlite3: no pipelines, and no round trips to save
                for statement in first:
                    cursor.execute(statement)
                cursor.execute(self.sql, self.arguments(values))
            else:
                # psycopg: the transaction's implicit BEGIN (when this is its first statement), ``first``
                # and this statement go out together.
                with driver.pipeline():
                    for statement in first:
                        cursor.execute(statement)
                    cursor.execute(self.sql, self.arguments(values))
            if self._row is None:
                return cursor.rowcount
            return [self._convert(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run once per mapping in ``rows`` (one driver call); the total rowcount."""
        cursor = _driver(conn).cursor()
        try:
            cursor.executemany(self.sql, [self.arguments(r) for r in rows])
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _convert(self, raw: Sequence[Any]) -> Any:
        values = list(raw)
        for i, process in self._results:
            value = values[i]
            if value is not None:
                values[i] = process(value)
        return self._row._make(values)


def _driver(conn: Connection) -> Any:
    """The DBAPI connection under ``conn`` (sqlite3 or psycopg)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver
