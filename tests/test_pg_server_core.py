"""``ServerOnOwnCore`` (tests/helpers/pg.py), which ``bench_postgres`` uses to run the PostgreSQL server on a
core of its own, on the real test server: inside the block the server's processes, and a backend forked
there, use one core and this process the others; afterwards every CPU set is back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.helpers.pg import CannotPin, ServerOnOwnCore, server_url

pytestmark = pytest.mark.postgres


def _backend(url: str) -> tuple[sa.Engine, sa.Connection, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    return engine, conn, int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_the_server_gets_a_core_of_its_own_and_every_set_comes_back() -> None:
    url = server_url()
    mine = os.sched_getaffinity(0)
    if len(mine) < 2:
        with pytest.raises(CannotPin, match="two cores"):
            ServerOnOwnCore(url)
        return
    pin = ServerOnOwnCore(url)
    before = os.sched_getaffinity(pin.postmaster)
    with pin:
        assert os.sched_getaffinity(pin.postmaster) == {pin.core}
        assert os.sched_getaffinity(0) == mine - {pin.core}
        engine, conn, backend = _backend(url)  # forked inside the block: inherits the one core
        try:
            assert os.sched_getaffinity(backend) == {pin.core}
            shown = subprocess.run(  # what a daemon started in the block gets
                [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                capture_output=True, text=True, check=True,
            ).stdout
            assert shown.strip() == str(sorted(mine - {pin.core}))
        except BaseException:
            conn.close()
            engine.dispose()
            raise
    try:
        assert os.sched_getaffinity(0) == mine
        assert os.sched_getaffinity(pin.postmaster) == before
        assert os.sched_getaffinity(backend) == before  # forked in the block: the postmaster's set back
    finally:
        conn.close()
        engine.dispose()


def test_the_sets_come_back_when_the_block_fails() -> None:
    url = server_url()
    mine = os.sched_getaffinity(0)
    if len(mine) < 2:
        with pytest.raises(CannotPin, match="two cores"):
            ServerOnOwnCore(url)
        return
    pin = ServerOnOwnCore(url)
    before = os.sched_getaffinity(pin.postmaster)
    with pytest.raises(RuntimeError, match="boom"), pin:
        raise RuntimeError("boom")
    assert os.sched_getaffinity(0) == mine
    assert os.sched_getaffinity(pin.postmaster) == before


def test_a_server_elsewhere_is_refused_before_anything_moves() -> None:
    mine = os.sched_getaffinity(0)
    with pytest.raises(CannotPin, match=r"not on this machine|two cores"):
        ServerOnOwnCore("postgresql+psycopg://campaign@db.example.org:5432/queue")
    assert os.sched_getaffinity(0) == mine
