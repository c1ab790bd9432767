"""``ServerOnOwnCore`` (tests/helpers/pg.py), which ``bench_postgres`` uses to run the PostgreSQL server on a
core of its own, on the real test server: inside the block the server's processes, and a backend forked
there, use one core and this process the others; afterwards every CPU set is back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from tests.helpers.pg import CannotPin, ServerOnOwnCore, server_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pin() -> ServerOnOwnCore | None:
    """A :class:`ServerOnOwnCore` for the test server, or None on a one-core machine (after checking that
    it is refused there, with the reason)."""
    if len(os.sched_getaffinity(0)) < 2:
        with pytest.raises(CannotPin, match="two cores"):
            ServerOnOwnCore(server_url())
        return None
    return ServerOnOwnCore(server_url())


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(server_url(), poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def test_the_server_gets_a_core_of_its_own_and_every_set_comes_back(
    pin: ServerOnOwnCore | None, engine: sa.Engine
) -> None:
    if pin is None:
        return
    mine, before = os.sched_getaffinity(0), os.sched_getaffinity(pin.postmaster)
    with ExitStack() as connections:  # both stay open past the block: the restore reaches them too
        early = _backend(connections.enter_context(engine.connect()))  # forked before the block
        with pin:
            assert os.sched_getaffinity(pin.postmaster) == {pin.core}
            assert os.sched_getaffinity(early) == {pin.core}
            assert os.sched_getaffinity(0) == mine - {pin.core}
            late = _backend(connections.enter_context(engine.connect()))  # forked inside: inherits the core
            assert os.sched_getaffinity(late) == {pin.core}
            shown = subprocess.run(  # what a daemon started in the block gets
                [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                capture_output=True, text=True, check=True,
            ).stdout
            assert shown.strip() == str(sorted(mine - {pin.core}))
        assert os.sched_getaffinity(0) == mine
        assert os.sched_getaffinity(pin.postmaster) == before
        assert os.sched_getaffinity(early) == before
        assert os.sched_getaffinity(late) == before  # forked in the block: the postmaster's set back


def _backend(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_the_sets_come_back_when_the_block_fails(pin: ServerOnOwnCore | None) -> None:
    if pin is None:
        return
    mine, before = os.sched_getaffinity(0), os.sched_getaffinity(pin.postmaster)
    with pytest.raises(RuntimeError, match="boom"), pin:
        raise RuntimeError("boom")
    assert os.sched_getaffinity(0) == mine
    assert os.sched_getaffinity(pin.postmaster) == before


def test_a_server_elsewhere_is_refused_before_anything_moves() -> None:
    mine = os.sched_getaffinity(0)
    with pytest.raises(CannotPin, match=r"not on this machine|two cores"):
        ServerOnOwnCore("postgresql+psycopg://campaign@db.example.org:5432/queue")
    assert os.sched_getaffinity(0) == mine
