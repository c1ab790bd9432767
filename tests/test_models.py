"""The queue's column types (campaign/queue/models.py): what :class:`UTCDateTime` writes on each database."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from campaign.queue.models import EVENTS, UTCDateTime

SQLITE = sqlite.dialect()
START = datetime(2000, 1, 1, tzinfo=UTC)


def _generic(dialect: Any) -> Any:
    """SQLAlchemy's own bind path for the type: the decorator's conversion, then the dialect's DATETIME."""
    impl = UTCDateTime().dialect_impl(dialect)
    assert isinstance(impl, UTCDateTime)
    return sa.types.TypeDecorator.bind_processor(impl, dialect)


def _values() -> list[datetime]:
    rng = random.Random(20261201)
    zones = [UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Hong_Kong"), ZoneInfo("Australia/Lord_Howe"),
             timezone(timedelta(hours=-9, minutes=-30)), timezone(timedelta(hours=14))]
    values = [
        datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC),  # a three-digit year is still written with four
        datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/New_York")),  # in the spring-forward gap
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),  # the second 01:30
    ]
    for _ in range(300):
        seconds = rng.randrange(86400 * 366 * 50)
        moment = START + timedelta(
            seconds=seconds, microseconds=rng.randrange(10**6))
        values.append(moment.astimezone(rng.choice(zones)))
    return values


def test_sqlite_writes_the_same_text_as_sqlalchemys_own_path() -> None:
    """On SQLite the type's bind step is one fused function; it writes exactly what SQLAlchemy's path
    (convert to UTC, then SQLite DATETIME's format) writes, for any zone, fold, microsecond and year."""
    fused = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    generic = _generic(SQLITE)
    assert fused is not None and generic is not None
    assert fused is not generic
    for value in _values():
        assert fused(value) == generic(value), value


class _Moment(datetime):
    """A datetime subclass (as some libraries hand out): it takes SQLAlchemy's path."""


@pytest.mark.parametrize("value", [None, _Moment(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))])
def test_values_that_are_not_plain_aware_datetimes_take_sqlalchemys_path(value: Any) -> None:
    fused = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert fused is not None
    assert fused(value) == _generic(SQLITE)(value)
    if value is not None:
        assert fused(value) == "2026-12-01 01:30:00.000000"


@pytest.mark.parametrize("value", [datetime(2026, 12, 1, 9, 30), date(2026, 12, 1), "2026-12-01"])
def test_naive_times_and_other_values_are_refused_as_before(value: Any) -> None:
    """Naive times are refused with the decorator's message; other values fail as SQLAlchemy's path fails."""
    fused = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert fused is not None
    with pytest.raises(Exception) as ours:
        fused(value)
    with pytest.raises(Exception) as theirs:
        _generic(SQLITE)(value)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
    if isinstance(value, datetime):
        assert "naive datetime" in str(ours.value)


def _generic_result(dialect: Any) -> Any:
    impl = UTCDateTime().dialect_impl(dialect)
    assert isinstance(impl, UTCDateTime)
    return sa.types.TypeDecorator.result_processor(impl, dialect, None)


@pytest.mark.parametrize("text", [
    None, "2026-12-01 01:30:00.000000", "0001-01-02 00:00:00.000000", "9999-12-30 23:59:59.999999",
    "2026-12-01 01:30:00", "2026-12-01T01:30:00.5", "2026-12-01 09:30:00+08:00", "2026-12-01",
])
def test_sqlite_reads_every_text_as_sqlalchemys_own_path_does(text: str | None) -> None:
    """Reading: one fused step on SQLite, equal to SQLAlchemy's (parse, then make aware in UTC) for what the
    queue writes and for other texts a hand-edited or older row may hold; aware UTC either way."""
    fused = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert fused is not None and fused is not _generic_result(SQLITE)
    read = fused(text)
    assert read == _generic_result(SQLITE)(text)
    assert read is None if text is None else read.tzinfo is UTC
    for value in _values()[:50]:
        written = _generic(SQLITE)(value)
        assert fused(written) == _generic_result(SQLITE)(written) == value.astimezone(UTC)


def test_a_text_that_is_not_a_time_fails_as_before() -> None:
    fused = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert fused is not None
    with pytest.raises(ValueError) as ours:
        fused("not a time")
    with pytest.raises(ValueError) as theirs:
        _generic_result(SQLITE)("not a time")
    assert str(ours.value) == str(theirs.value)


def test_other_dialects_keep_sqlalchemys_path() -> None:
    dialect = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1/none").dialect  # never connects
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    moment = datetime(2026, 12, 1, 9, 30, tzinfo=ZoneInfo("Asia/Hong_Kong"))
    assert process(moment) == moment.astimezone(UTC) and process(moment).tzinfo is UTC
    result = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert result is not None and getattr(result, "__qualname__", "").startswith("TypeDecorator.")


def test_a_written_time_reads_back_and_sorts_as_text(tmp_path: Path) -> None:
    """Through a real SQLite file: the stored text is SQLAlchemy's format in UTC, it reads back as the same
    aware instant, and text order is time order (the queue's due-time index relies on it)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'q.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", EVENTS.c.at.type))
    table.create(engine)
    values = _values()[:60]
    with engine.begin() as conn:
        conn.execute(sa.insert(table), [{"id": i, "at": v} for i, v in enumerate(values)])
        back = [r.at for r in conn.execute(sa.select(table.c.at).order_by(table.c.id))]
    engine.dispose()
    assert back == [v.astimezone(UTC) for v in values]
    with sqlite3.connect(tmp_path / "q.db") as raw:
        texts = [r[0] for r in raw.execute("SELECT at FROM t ORDER BY id")]
        ordered = [r[0] for r in raw.execute("SELECT id FROM t ORDER BY at, id")]
    assert texts[:2] == ["0001-01-02 00:00:00.000000", "9999-12-30 23:59:59.999999"]
    assert ordered == sorted(range(len(values)), key=lambda i: (values[i], i))
