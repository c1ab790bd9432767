"""`plan` shows a changed (credential, destination host) pair on its own line (issue 11): a pull request that
points an existing secret at a new host cannot hide it among the post changes; `apply` records the pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign.cli import cli

NOW = "2030-03-01T00:00:00+00:00"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_plan_names_a_secret_pointed_at_a_new_host(mini: Callable[..., Path], tmp_path: Path) -> None:
    path = mini()
    db = str(tmp_path / "q.db")
    code, out = run("plan", str(path), "--db", db, "--now", NOW)
    assert code == 0 and "! credential $MINI_MASTODON_TOKEN is now sent to mastodon.example" in out
    assert run("apply", str(path), "--db", db, "--now", NOW)[0] == 0
    # Unchanged: nothing to flag.
    assert "! credential" not in run("plan", str(path), "--db", db, "--now", NOW)[1]
    # The pull request moves the Mastodon account to another server: the token would go there.
    path.write_text(path.read_text().replace("https://mastodon.example", "https://collector.example"))
    code, out = run("plan", str(path), "--db", db, "--now", NOW)
    lines = [line for line in out.splitlines() if line.startswith("! ")]
    assert lines == [
        "! credential $MINI_MASTODON_TOKEN is now sent to collector.example (new destination)",
        "! credential $MINI_MASTODON_TOKEN is no longer sent to mastodon.example",
    ]


@pytest.mark.parametrize("flag", ["--json"])
def test_plan_json_lists_the_changed_pairs(mini: Callable[..., Path], tmp_path: Path, flag: str) -> None:
    import json

    code, out = run("plan", str(mini()), "--db", str(tmp_path / "q.db"), "--now", NOW, flag)
    assert code == 0 and any("mastodon.example" in line for line in json.loads(out)["destinations_changed"])
