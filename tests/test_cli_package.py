"""The `campaign` CLI package: commands load lazily, stay light, and --debug lives in the Click context."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from campaign.cli import COMMANDS, cli, main
from campaign.cli.lazy import LazyGroup
from campaign.errors import ConfigError
from tests.conftest import MINI_CAMPAIGN

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schedules" / "hkstp-innovation-mixer-us.yaml"
RELEASE = ROOT / "releases" / "hkstp-innovation-mixer-us-2024.txt"
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "campaign.queue")


def _modules_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it sets ``rc`` (or leaves None). Returns rc and loaded modules."""
    script = (
        "import json, sys\nrc = None\n"
        + code
        + "\nprint(json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=120
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_importing_the_cli_loads_no_command_module() -> None:
    loaded = _modules_after("import campaign.cli")["modules"]
    assert isinstance(loaded, list)
    assert sorted(m for m in loaded if m.startswith("campaign.cli.")) == [
        "campaign.cli.lazy",
        "campaign.cli.options",
    ]
    assert not [m for m in loaded if m.startswith((*HEAVY, "httpx", "jinja2"))]


@pytest.mark.parametrize(
    "args",
    [
        ["check", str(EXAMPLE), "--now", "2020-01-01T00:00:00Z"],
        ["preview", str(EXAMPLE), "--now", "2020-01-01T00:00:00Z", "--format", "json"],
        ["measure", "hello #world"],
        ["release", "show", str(RELEASE)],
        ["init", "--from-release", str(RELEASE), "--dir", "{tmp}", "--start", "2030-01-07 09:00"],
    ],
    ids=["check", "preview", "measure", "release-show", "init"],
)
def test_commands_without_a_database_never_import_sqlmodel(args: list[str], tmp_path: Path) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = _modules_after(
        "import contextlib, io\nfrom campaign.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    rc = main({argv!r})"
    )
    assert result["rc"] == 0
    modules = result["modules"]
    assert isinstance(modules, list)
    assert [m for m in modules if m.startswith(HEAVY)] == []


def test_every_listed_command_loads_under_its_own_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == list(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert cli.get_command(ctx, "nope") is None


def test_help_lists_the_commands_in_data_flow_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = [
        line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line.startswith("  ")
    ]
    assert listed == list(COMMANDS)
    assert listed[:5] == ["release", "init", "check", "preview", "measure"]


def test_debug_is_per_run_not_a_global(mini: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    bad = str(mini(MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: Nowhere/Land")))
    with pytest.raises(ConfigError):
        main(["--debug", "check", bad])
    capsys.readouterr()
    # The next run in the same process is not in debug mode: one line, exit 1.
    assert main(["check", bad]) == 1
    assert capsys.readouterr().err.startswith("campaign: error: ")


def test_debug_from_the_environment(mini: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    bad = str(mini(MINI_CAMPAIGN.replace("zone: Asia/Hong_Kong", "zone: Nowhere/Land")))
    monkeypatch.setenv("CAMPAIGN_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["check", bad])


def test_the_group_runs_without_a_context_object() -> None:
    result = CliRunner().invoke(cli, ["--debug", "measure", "--channel", "x", "abc"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("x  ")


def test_a_table_entry_that_is_not_a_command_is_refused() -> None:
    group = LazyGroup(lazy_subcommands={"now": "campaign.cli.options:parse_now"})
    with pytest.raises(TypeError, match="not a click command"):
        group.get_command(click.Context(group), "now")
