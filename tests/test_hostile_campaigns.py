"""A pull request must not read the machine (issue 11), end to end through the CLI a CI job runs.

Each case writes a hostile campaign into a real project folder (real files, real symlinks, a real FIFO) and
runs `campaign preview`/`check`/`apply` through :func:`campaign.cli.main`. The process holds canary secrets
in its environment; none may appear in any output, in the queue database, or in a request. Every refusal is
one line naming the file (and the template or key), a non-zero exit, and no traceback; a hostile render
stops within its budget.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import mini_project
from tests.helpers.cli import run_cli

CANARY = "canary-other-team-db-password-7730"
NOW = "2030-03-01T00:00:00+00:00"


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A secret of someone else's that the machine holds: a campaign file must never reach it."""
    monkeypatch.setenv("OTHER_TEAM_DB_PASSWORD", CANARY)
    monkeypatch.setenv("CAMPAIGN_SECRET_ENV", "MINI_*")  # the operator allows only the campaign's own names
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git work tree holding the mini campaign: schedules/mini.yaml, templates/, release.txt."""
    return mini_project(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(list(args), capsys)


def assert_refused(code: int, out: str, err: str, *needles: str) -> None:
    assert code != 0
    assert CANARY not in out + err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("campaign: error:")]
    assert errors, err
    for needle in needles:
        assert needle in err, err


def edit(project: Path, old: str, new: str) -> Path:
    path = project / "schedules" / "mini.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_project_itself_previews(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "preview", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    assert code == 0, err
    assert CANARY not in out


def test_templates_root_with_an_environ_include(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = edit(project, "templates: ../templates", "templates: /")
    code, out, err = run(capsys, "preview", str(path), "--now", NOW)
    assert_refused(code, out, err, "templates", "outside the project root")
    # Inside the project: an include of /proc reaches nothing either.
    edit(project, "templates: /", "templates: ../templates")
    (project / "templates" / "launch.j2").write_text('{% include "../../../../proc/self/environ" %}')
    code, out, err = run(capsys, "preview", str(path), "--now", NOW)
    assert_refused(code, out, err, "proc/self/environ")
    (project / "templates" / "launch.j2").write_text('{% include "/proc/self/environ" %}')
    assert_refused(*run(capsys, "preview", str(path), "--now", NOW))


def test_nothing_reaches_the_queue_or_a_request(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "schedules" / "mini.yaml"
    (project / "templates" / "launch.j2").write_text('{% include "/proc/self/environ" %}')
    db = tmp_path / "q.db"
    code, out, err = run(capsys, "apply", str(path), "--db", str(db), "--now", NOW)
    assert_refused(code, out, err)
    if db.exists():
        with sqlite3.connect(db) as conn:
            dump = "\n".join(conn.iterdump())
        assert CANARY not in dump
    code, out, err = run(capsys, "preview", str(path), "--requests", "--now", NOW)
    assert CANARY not in out + err


@pytest.mark.parametrize("target", ["/etc/passwd", "outside"])
def test_a_symlinked_template_pointing_out_is_refused(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    if target == "outside":
        outside = tmp_path / "elsewhere.j2"
        outside.write_text("a file outside the project")
        target = str(outside)
    (project / "templates" / "launch.j2").unlink()
    (project / "templates" / "launch.j2").symlink_to(target)
    code, out, err = run(capsys, "preview", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    assert_refused(code, out, err, "launch.j2")
    assert "a file outside the project" not in out


@pytest.mark.parametrize("release", ["/etc/passwd", "/dev/zero", "fifo"])
def test_a_release_outside_or_not_a_file_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], release: str
) -> None:
    if release == "fifo":
        os.mkfifo(project / "release.fifo")
        release = "../release.fifo"
    path = edit(project, "release: ../release.txt", f"release: {release}")
    began = time.monotonic()
    code, out, err = run(capsys, "check", str(path), "--now", NOW)
    assert_refused(code, out, err, "release")
    assert time.monotonic() - began < 30  # neither /dev/zero nor a FIFO is read (a hang bound, not a timing)


@pytest.mark.parametrize(
    ("reference", "needle"),
    [
        ("OTHER_TEAM_DB_PASSWORD", "not on the operator's allow-list"),
        ("CAMPAIGN_DB", "not on the operator's allow-list"),
        ("{file: /etc/shadow}", "outside the secrets folders"),
    ],
)
def test_credentials_only_from_the_operators_allow_list(
    project: Path, capsys: pytest.CaptureFixture[str], reference: str, needle: str
) -> None:
    path = edit(project, "token: MINI_MASTODON_TOKEN", f"token: {reference}")
    assert_refused(*run(capsys, "check", str(path), "--now", NOW), needle)


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("{{ 9**(9**9) }}", "launch.j2"),
        ("{{ 'x' * 10**10 }}", "launch.j2"),
        ("{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}", "launch.j2"),
        ("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}", "recursion"),
        ('{% include "launch.j2" %}', "recursion"),
    ],
)
def test_hostile_renders_stop_with_one_line(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    expression: str,
    needle: str,
) -> None:
    monkeypatch.setenv("CAMPAIGN_RENDER_SECONDS", "1")
    (project / "templates" / "launch.j2").write_text(expression)
    began = time.monotonic()
    code, out, err = run(capsys, "preview", str(project / "schedules" / "mini.yaml"), "--now", NOW)
    assert_refused(code, out, err, needle)
    assert time.monotonic() - began < 60  # bounded by the budget; this only bounds a hang


@pytest.mark.parametrize(
    "instance",
    [
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://169.254.169.254/",
        "https://2852039166/",
        "https://0xA9FEA9FE/",
        "https://evil.localhost/",
        "https://user:pass@mastodon.example/",
        "https://mastodon.example/?token=abc",
        "https://10.0.0.1/",
        "http://mastodon.example/",
    ],
)
def test_destinations_are_checked_at_check_time(
    project: Path, capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    path = edit(project, "instance: https://mastodon.example", f"instance: {instance}")
    assert_refused(*run(capsys, "check", str(path), "--now", NOW), "instance")


def test_a_private_destination_needs_the_accounts_opt_in(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opt_in = "instance: https://10.0.0.1\n    private_network: true"
    path = edit(project, "instance: https://mastodon.example", opt_in)
    code, _out, err = run(capsys, "check", str(path), "--now", NOW)
    assert code == 0, err


def test_a_campaign_file_linking_out_of_the_checkout_is_refused_before_it_is_read(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request adds ``schedules/x.yaml`` as a symlink to a file of the machine's: the root stays the
    checkout's (the walk starts where the file is named), and the file is refused unread."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".git").mkdir(parents=True)
    (elsewhere / "team.yaml").write_text(f"{CANARY}: 1\n", encoding="utf-8")
    (project / "schedules" / "x.yaml").symlink_to(elsewhere / "team.yaml")
    for command in ("check", "preview"):
        code, out, err = run(capsys, command, str(project / "schedules" / "x.yaml"), "--now", NOW)
        assert_refused(code, out, err, "schedules/x.yaml", "outside the project root")
    # A link inside the checkout is the file it names.
    (project / "schedules" / "alias.yaml").symlink_to("mini.yaml")
    code, out, err = run(capsys, "preview", str(project / "schedules" / "alias.yaml"), "--now", NOW)
    assert code == 0, err


def test_the_operator_names_the_root_with_campaign_root(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CAMPAIGN_ROOT (the environment, never a campaign file) narrows the root: here to schedules/, so the
    campaign's release and templates one level up are outside it; a root that is no folder is one line."""
    mini = str(project / "schedules" / "mini.yaml")
    monkeypatch.setenv("CAMPAIGN_ROOT", str(project / "schedules"))
    code, out, err = run(capsys, "preview", mini, "--now", NOW)
    assert_refused(code, out, err, "mini.yaml", "outside the project root")
    monkeypatch.setenv("CAMPAIGN_ROOT", str(project / "release.txt"))
    code, out, err = run(capsys, "check", mini)
    assert_refused(code, out, err, "CAMPAIGN_ROOT", "is not a directory")
    monkeypatch.setenv("CAMPAIGN_ROOT", str(project))
    code, out, err = run(capsys, "preview", mini, "--now", NOW)
    assert code == 0, err


def test_the_operator_names_the_root_with_the_root_option(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``campaign --root DIR`` is ``CAMPAIGN_ROOT`` for one run and wins over it; a root that is no folder is
    one line before anything is read; an in-process run leaves the environment as it found it."""
    from campaign import cli as cli_module
    from campaign.source.paths import ENV_ROOT

    assert cli_module._ENV_ROOT == ENV_ROOT
    mini = str(project / "schedules" / "mini.yaml")
    code, out, err = run(capsys, "--root", str(project / "schedules"), "preview", mini, "--now", NOW)
    assert_refused(code, out, err, "mini.yaml", "outside the project root")
    assert ENV_ROOT not in os.environ
    for bad in (str(project / "release.txt"), str(project / "nowhere"), ""):
        code, out, err = run(capsys, "--root", bad, "check", mini)
        assert_refused(code, out, err, f"--root {bad!r} is not a directory")
        assert len(err.splitlines()) == 1, err
    monkeypatch.setenv(ENV_ROOT, str(project / "schedules"))
    code, out, err = run(capsys, "--root", str(project), "preview", mini, "--now", NOW)
    assert code == 0, err
    assert os.environ[ENV_ROOT] == str(project / "schedules")
