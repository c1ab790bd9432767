"""Alembic migrations: the head matches the code, an old database upgrades without loss, the schema
equals the models, opening an up-to-date database never loads Alembic, and the package ships them.
`db upgrade` refuses a damaged queue (pages, tables, columns) in one line, and Alembic's own INFO lines stay
out of the daemon's log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from campaign.cli import main
from campaign.queue import schema
from campaign.queue.models import METADATA
from campaign.queue.store import SCHEMA_HEAD, Store
from tests.helpers.queue import T0, damage_table, drop_table, many, settle

ROOT = Path(__file__).resolve().parent.parent


def test_head_constant_matches_the_migrations() -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    assert script.get_heads() == [SCHEMA_HEAD]
    assert len(list(script.walk_revisions())) >= 2


def _engine_at(path: Path, revision: str) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        schema.run_migrations(conn, revision)
    return engine


def test_revision_1_database_upgrades_without_loss(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _engine_at(db, "0001").dispose()
    raw = sqlite3.connect(db)
    assert "account_state" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    # Rows as revision 1 wrote them (its own columns only).
    raw.execute(
        "INSERT INTO posts (id, campaign, post_key, occurrence, channel, account, scheduled_at, zone, parts, "
        "link, content_hash, idempotency_key, status, attempts, next_attempt_at, part_receipts, last_error, "
        "send_late, late_window_seconds, created_at, updated_at) VALUES "
        "(1, 'launch', 'p1', '', 'mastodon', 'main', '2027-01-18 09:00:00.000000', 'UTC', ?, NULL, 'h1', "
        "'k1', 'scheduled', 0, '2027-01-18 09:00:00.000000', '[]', NULL, 0, 86400, "
        "'2027-01-01 00:00:00.000000', '2027-01-01 00:00:00.000000'),"
        "(2, 'launch', 'p2', '', 'bluesky', 'main', '2027-01-18 10:00:00.000000', 'UTC', ?, NULL, 'h2', "
        "'k2', 'sent', 1, NULL, ?, NULL, 0, 86400, '2027-01-01 00:00:00.000000', "
        "'2027-01-01 00:00:00.000000')",
        (json.dumps(["héllo"]), json.dumps(["two", "parts"]), json.dumps([{"remote_id": "r1"}])),
    )
    raw.execute(
        "INSERT INTO post_events (post_id, at, from_status, to_status, actor) "
        "VALUES (1, '2027-01-01 00:00:00.000000', NULL, 'scheduled', 'apply')"
    )
    raw.commit()
    raw.close()
    with Store.open(str(db)) as store:
        one, two = store.get_post(1), store.get_post(2)
        assert one.parts == ("héllo",) and one.scheduled_at == T0 and one.status == "scheduled"
        assert two.parts == ("two", "parts") and two.part_receipts[0].remote_id == "r1"
        assert [e.actor for e in store.history(1)] == ["apply"]
        assert store.queue_revision() == 0
        [claimed] = store.claim_due(T0 + timedelta(minutes=1), "d", 60, 10)  # usable with the new columns
        assert claimed.id == 1
        store.block_account("main", T0 + timedelta(hours=1), now=T0)
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA_HEAD,)]
    raw.close()


def test_migrated_schema_equals_the_models(tmp_path: Path) -> None:
    engine = _engine_at(tmp_path / "fresh.db", "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    engine.dispose()
    assert diff == []


def test_opening_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    Store.open(str(db)).close()
    code = (
        "import sys\nfrom campaign.queue.store import Store\n"
        f"Store.open({str(db)!r}).close()\nprint('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_two_processes_creating_the_database_at_once(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    code = f"from campaign.queue.store import Store\nStore.open({str(db)!r}, busy_timeout=30).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    with Store.open(str(db)) as store:
        assert store.queue_revision() == 0


def test_migrations_ship_in_the_package() -> None:
    from importlib.resources import files

    shipped = files("campaign.migrations")
    assert shipped.joinpath("env.py").is_file() and shipped.joinpath("script.py.mako").is_file()
    assert shipped.joinpath("versions").joinpath("0001_posts_and_events.py").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"campaign.migrations": "db/migrations"}
    # packages are listed (a mapped package cannot be found by packages.find): every package must be there.
    found = {
        "campaign." + ".".join(p.parent.relative_to(ROOT / "campaign").parts)
        for p in (ROOT / "campaign").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found} | {"campaign.migrations", "campaign.migrations.versions"}
    assert found <= set(config["packages"])


# -- `db upgrade` checks that the queue is usable, not only its revision ---------------------------------


def _upgrade(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    code = main(["db", "upgrade", "--db", str(db)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def _queue(path: Path) -> Path:
    with Store.open(str(path)) as store:
        store.apply_changes(add=many(300), now=T0 - timedelta(days=1))  # posts and events over many pages
    return path


def test_db_upgrade_checks_a_healthy_queue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _queue(tmp_path / "q.db")
    assert _upgrade(db, capsys) == (0, [f"{db}: schema at revision {SCHEMA_HEAD}, checked"], [])


@pytest.mark.parametrize("table", ["posts", "post_events"])
def test_db_upgrade_refuses_a_queue_with_damaged_pages(
    tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Junk over a table's page: the revision row still reads 0005, so `db upgrade` once said all was well."""
    db = _queue(tmp_path / "q.db")
    damage_table(db, table)
    before = db.read_bytes()
    code, out, err = _upgrade(db, capsys)
    assert (code, out) == (1, [])
    (line,) = err
    assert line.startswith(f"campaign: error: {db}: the queue database is damaged, file left as it is ")
    assert "(quick_check: Page " in line
    assert line.endswith("); restore it from a backup")
    assert db.read_bytes() == before


@pytest.mark.parametrize("table", ["posts", "post_events", "account_state"])
def test_db_upgrade_refuses_a_queue_missing_a_table(
    tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _queue(tmp_path / "q.db")
    drop_table(db, table)
    assert _upgrade(db, capsys) == (1, [], [
        f"campaign: error: {db}: the queue database is damaged, file left as it is (missing at schema "
        f"revision {SCHEMA_HEAD}: table {table}); restore it from a backup"
    ])  # fmt: skip


def test_db_upgrade_refuses_a_queue_missing_a_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _queue(tmp_path / "q.db")
    settle(db)
    with sqlite3.connect(db) as raw:
        raw.execute("ALTER TABLE posts DROP COLUMN media_uploads")
    raw.close()
    code, _out, err = _upgrade(db, capsys)
    assert code == 1 and len(err) == 1 and "column posts.media_uploads" in err[0]


# -- Alembic's INFO lines stay out of the daemon's log ------------------------------------------------------


def _daemon_once(db: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    campaigns = tmp_path / "schedules"
    campaigns.mkdir(exist_ok=True)
    command = ["daemon", "--db", str(db), "--once", "--campaigns", str(campaigns)]
    return subprocess.run(
        [sys.executable, "-m", "campaign.cli", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        timeout=120,
    )


def test_the_daemon_on_a_newer_queue_says_one_line(tmp_path: Path) -> None:
    """The daemon logs at INFO; Alembic, asked which revisions exist, logged 7 "setup plugin" lines first."""
    db = tmp_path / "newer.db"
    Store.open(str(db)).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0099'")
    raw.close()
    done = _daemon_once(db, tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"campaign: error: {db}: schema revision '0099' is newer than this campaign understands (newest "
        f"known: {SCHEMA_HEAD}); upgrade campaign. The database was not changed."
    ]


def test_the_daemon_migrating_an_older_queue_logs_its_own_line_not_alembics(tmp_path: Path) -> None:
    db = tmp_path / "older.db"
    _engine_at(db, "0004").dispose()
    done = _daemon_once(db, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "alembic" not in done.stderr
    assert "INFO campaign.queue.schema: migrating queue database action=migrate from=0004" in done.stderr
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(SCHEMA_HEAD,)]
    raw.close()
