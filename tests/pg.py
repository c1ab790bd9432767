"""PostgreSQL for tests: a fresh, migrated database per test, cloned from a template made once per session.

The server comes from ``$CAMPAIGN_TEST_PG_URL`` (scripts/provision.sh starts one on loopback and exports it).
Without it, tests that need the server skip with a message saying so; under ``CI=true`` they fail instead
(DECISIONS.md: a real-server test that skips in CI is a failure).

Use: ``from pg import pg_url`` in a test module (pytest finds fixtures imported into it), and mark the tests
``@pytest.mark.postgres``. ``CREATE DATABASE ... TEMPLATE`` copies the template's files
(https://www.postgresql.org/docs/current/manage-ag-templatedbs.html), so a migrated database costs tens of
milliseconds instead of a migration run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

ENV = "CAMPAIGN_TEST_PG_URL"
_counter = itertools.count()


def server_url() -> str:
    """The server URL, or skip (fail under CI=true) when none is configured."""
    url = os.environ.get(ENV)
    if not url:
        message = f"needs a PostgreSQL server: set {ENV} (scripts/provision.sh starts one)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; under CI=true a skipped real-server test is a failure")
        pytest.skip(message)
    return url


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str) -> sa.Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a database migrated to the current schema head (dropped at the end of the session)."""
    from campaign.store import Store

    url = server_url()
    name = f"campaign_tmpl_{os.getpid()}"
    admin = _admin(url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    Store.open(_with_database(url, name)).close()  # migrates; close() disposes every connection
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database(template: str) -> tuple[str, str]:
    """(name, URL) of a fresh database cloned from ``template``."""
    url = server_url()
    name = f"campaign_t{os.getpid()}_{next(_counter)}"
    with _admin(url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return name, _with_database(url, name)


def drop_database(name: str) -> None:
    # WITH (FORCE) (PostgreSQL 13+) ends sessions a test left open, e.g. a daemon it killed.
    with _admin(server_url()).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a fresh, migrated, empty queue database (dropped afterwards)."""
    name, url = new_database(pg_template)
    yield url
    drop_database(name)
