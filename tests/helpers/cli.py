"""Running the CLI in process, as the console script does: ``main(args)`` with its output captured."""

from __future__ import annotations

import pytest

from campaign.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``campaign ARGS`` (``check`` exits through ``sys.exit``)."""
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
