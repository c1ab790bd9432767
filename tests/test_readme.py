"""The README's quick tour runs as written (examples are tested, as SQLModel's tutorials are)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from campaign.cli import main

ROOT = Path(__file__).resolve().parent.parent


def tour_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A quick tour\n+```sh\n(.*?)```", readme, re.S)
    assert block, "README has no quick tour"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "campaign":
            commands.append(words[1:])
    return commands


@pytest.mark.parametrize("args", tour_commands(), ids=lambda a: " ".join(a[:2]))
def test_quick_tour_command_succeeds(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    if args[0] == "init":  # write the scaffold into a scratch folder, not into the project
        args = [*args, "--dir", str(tmp_path)]
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip()


def test_the_tour_covers_the_daily_commands() -> None:
    names = {args[0] for args in tour_commands()}
    assert {"release", "init", "check", "preview", "measure", "channels"} <= names
