"""Queue paths and database URLs as operators write them: passwords never shown, malformed ones one line.

A PostgreSQL password may sit in the userinfo (``u:pw@``, escaped or with a raw ``@``) or in the query
(``?password=``, ``?sslpassword=``); every command that names the database (its errors, the daemon's log
in text and JSON) shows it as ``***``, in its raw and its percent-encoded forms. Malformed URLs and paths
(a port that is not a number, another SQLite driver, query arguments on a SQLite URL, ``~nosuchuser``)
are one clear line, never an internal error or a warning with source lines. The server behind
``127.0.0.1:1`` refuses every connection (loopback only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from campaign.cli import INTERNAL_ERROR, main
from campaign.queue.dialect import shown_url
from campaign.queue.store import Store
from tests.helpers.cli import run_cli as run

ROOT = Path(__file__).resolve().parent.parent
NOW = "2030-01-01T00:00:00Z"
#: The password of the cases below; no piece of it may be shown ("S3cret", "Canary") in any form.
CANARY = "S3cretCanary!"
PIECES = ("S3cret", "Canary")

SHOWN = [
    # (as written, as shown)
    ("postgresql+psycopg://u@127.0.0.1:1/db?password=S3cretCanary!",
     "postgresql+psycopg://u@127.0.0.1:1/db?password=***"),
    ("postgresql+psycopg://u@127.0.0.1:1/db?password=S3cretCanary%21",
     "postgresql+psycopg://u@127.0.0.1:1/db?password=***"),
    ("postgresql+psycopg://u:S3cret@Canary!@127.0.0.1:1/db", "postgresql+psycopg://u:***@127.0.0.1:1/db"),
    ("postgresql+psycopg://u:S3cret%40Canary%21@127.0.0.1:1/db", "postgresql+psycopg://u:***@127.0.0.1:1/db"),
    ("postgresql+psycopg://u:S3cret/Canary?x@h/db", "postgresql+psycopg://u:***@h/db"),
    ("postgresql+psycopg://me@corp:S3cretCanary@h/db", "postgresql+psycopg://me@corp:***@h/db"),
    ("postgresql+psycopg://u@h/db?sslmode=require&sslpassword=S3cretCanary!&application_name=c",
     "postgresql+psycopg://u@h/db?sslmode=require&sslpassword=***&application_name=c"),
    ("postgresql+psycopg://u@h/db?PassWord=S3cretCanary!", "postgresql+psycopg://u@h/db?PassWord=***"),
    ("postgresql+psycopg://u@h/db?pass%77ord=S3cretCanary!", "postgresql+psycopg://u@h/db?pass%77ord=***"),
    # a raw '@' in a query password: everything the two readings of the text could hold is hidden
    ("postgresql+psycopg://u@h:5432/db?password=S3cret@Canary!", "postgresql+psycopg://u@h:***"),
    # SQLAlchemy reads this one as user "u@h", password "5432/db?application_name=a", host "b"
    ("postgresql+psycopg://u@h:5432/db?application_name=a@b", "postgresql+psycopg://u@h:***@b"),
    ("postgresql+psycopg ://u:S3cret@Canary@h/db", "postgresql+psycopg ://u:***@h/db"),  # does not parse
    ("sqlite:////srv/q.db", "sqlite:////srv/q.db"),
]


@pytest.mark.parametrize(("raw", "shown"), SHOWN)
def test_a_database_url_is_shown_without_its_passwords(raw: str, shown: str) -> None:
    assert shown_url(raw) == shown


#: The canary in the query and in the userinfo, raw and percent-encoded, each with a raw '@' too.
SECRET_URLS = [
    "postgresql+psycopg://u@127.0.0.1:1/db?password=S3cretCanary!",
    "postgresql+psycopg://u@127.0.0.1:1/db?sslpassword=S3cretCanary%21",
    "postgresql+psycopg://u:S3cret@Canary!@127.0.0.1:1/db",
    "postgresql+psycopg://u:S3cret%40Canary%21@127.0.0.1:1/db",
]
COMMANDS = {
    "status": ["status"],
    "show": ["show", "1"],
    "apply": ["apply", "{dir}/mini.yaml", "--now", NOW],
    "preview": ["preview", "{dir}/mini.yaml", "--now", NOW],
    "report": ["report", "mini"],
    "db upgrade": ["db", "upgrade"],
    "daemon": ["daemon", "--once", "--campaigns", "{dir}"],
    "daemon json": ["daemon", "--once", "--campaigns", "{dir}", "--log-format", "json"],
    "daemon dry run": ["daemon", "--once", "--dry-run", "--campaigns", "{dir}", "--log-format", "json"],
}


def one_clear_line(code: int, err: str) -> str:
    assert code != 0, err
    assert "Traceback" not in err and INTERNAL_ERROR not in err, err
    lines = [line for line in err.splitlines() if line.startswith("campaign: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.usefixtures("root_logging_restored")
@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_command_shows_a_database_password(
    mini: Callable[..., Path], capsys: pytest.CaptureFixture[str], command: str, url: str
) -> None:
    folder = mini().parent
    args = [a.replace("{dir}", str(folder)) for a in COMMANDS[command]] + ["--db", url]
    code, out, err = run(args, capsys)
    line = one_clear_line(code, err)
    assert "127.0.0.1:1/db" in line, line
    for piece in PIECES:
        assert piece not in out + err, (piece, out + err)


def test_the_daemons_own_process_and_json_log_show_no_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@127.0.0.1:1/db?password=S3cretCanary!"
    for extra in ([], ["--dry-run"]):
        proc = subprocess.run(
            [sys.executable, "-m", "campaign.cli", "daemon", "--once", *extra, "--db", url,
             "--campaigns", str(tmp_path), "--log-format", "json"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )
        line = one_clear_line(proc.returncode, proc.stderr)
        assert "?password=***" in line
        for piece in PIECES:
            assert piece not in proc.stdout + proc.stderr, proc.stderr


MALFORMED = [
    # (--db, what the one line says)
    ("postgresql+psycopg://u:S3cretCanary@127.0.0.1:notaport/db", "host or port cannot be read"),
    ("postgresql+psycopg://u:S3cretCanary@[::1/db", "host or port cannot be read"),
    ("postgresql+psycopg://u:S3cretCanary@h:1:2/db", "host or port cannot be read"),
    ("postgresql+psycopg://u:S3cretCanary@/db?host=/tmp&port=x", "non-integer port"),
    ("postgresql+psycopg://u:S3cret@Canary@h:1/db", "unescaped '@'"),
    ("sqlite+aiosqlite:///{dir}/x.db", "Python's sqlite3 alone"),
    ("sqlite:///{dir}/x.db?mode=ro", "without another driver or query arguments"),
    ("~campaign-no-such-user-7f3e/x.db", "cannot expand '~'"),
]


@pytest.mark.parametrize(("db", "needle"), MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("command", ["status", "db upgrade"])
def test_a_malformed_url_or_path_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, db: str, needle: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run([*command.split(), "--db", db.replace("{dir}", str(tmp_path))], capsys)
    line = one_clear_line(code, err)
    assert needle in line, line
    assert [str(w.message) for w in caught] == []  # before: SQLAlchemy's SAWarning, with source lines
    for piece in PIECES:
        assert piece not in out + err, err
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_sqlite_url_with_query_arguments_prints_one_line_and_no_warning(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "campaign.cli", "db", "upgrade", "--db", f"sqlite:///{tmp_path}/x.db?mode=ro"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("campaign: error:"), proc.stderr


@pytest.mark.usefixtures("root_logging_restored")
@pytest.mark.parametrize("kind", ["directory", "random bytes", "text"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_dry_run_on_a_file_that_is_no_queue_says_what_a_real_run_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, dry_run: bool
) -> None:
    db = tmp_path / "q.db"
    if kind == "directory":
        db.mkdir()
    else:
        db.write_bytes(bytes(range(256)) * 40 if kind == "random bytes" else b"not a database\n" * 100)
    code, _out, err = run(
        ["daemon", "--once", *(["--dry-run"] if dry_run else []), "--db", str(db), "--campaigns",
         str(tmp_path), "--log-format", "json"],
        capsys,
    )
    line = one_clear_line(code, err)
    assert str(db) in line, line
    assert ("is a directory" if kind == "directory" else "not a usable queue database") in line, line


def test_the_json_log_of_a_dry_run_names_the_file(tmp_path: Path) -> None:
    db = tmp_path / "we#ird.db"
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "campaign.cli", "daemon", "--once", "--dry-run", "--db", str(db),
         "--campaigns", str(tmp_path), "--log-format", "json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    said = [str(r.get("message")) for r in records if "dry run" in str(r.get("message"))]
    assert len(said) == 1 and said[0].endswith(f"throwaway copy of {db}"), said


@pytest.mark.postgres
@pytest.mark.usefixtures("root_logging_restored")
def test_a_reachable_server_is_named_without_its_password(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server of the tests trusts loopback, so a password in the query is sent and ignored: what the
    commands print on success (and `report`'s "no sent posts in ...", which named the database as typed)
    shows ``***``."""
    url = pg_url + "?password=S3cretCanary!"
    runs = [run([*args, "--db", url], capsys) for args in (
        ["db", "upgrade"],
        ["status"],
        ["report", "mini"],
        ["daemon", "--once", "--dry-run", "--campaigns", str(tmp_path), "--log-format", "json"],
    )]
    assert [code for code, _, _ in runs] == [0, 0, 2, 0], runs
    assert "?password=***: schema at revision" in runs[0][1]
    assert "?password=***" in runs[2][2] and "?password=***" in runs[3][2]
    for _code, out, err in runs:
        for piece in PIECES:
            assert piece not in out + err, out + err


@pytest.mark.postgres
def test_a_servers_sessions_name_the_process_unless_the_url_names_them(pg_url: str) -> None:
    """pg_stat_activity tells an operator which daemon runs a query or holds a lock: ``campaign[PID]``."""
    named = pg_url + ("&" if "?" in pg_url else "?") + "application_name=ops"
    for url, expected in ((pg_url, f"campaign[{os.getpid()}]"), (named, "ops")):
        with Store.open(url) as store, store.engine.connect() as conn:
            shown = conn.execute(sa.text("SELECT current_setting('application_name')")).scalar_one()
        assert shown == expected
