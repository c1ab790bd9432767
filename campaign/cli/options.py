"""Options and helpers shared by every `campaign` command module (Click only: importing this is light)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from campaign.errors import UsageError


@dataclass
class CliState:
    """What one run of `campaign` carries in its Click context object (``ctx.obj``), set by the root group."""

    #: ``--debug`` (or ``$CAMPAIGN_DEBUG``): let a CampaignError's traceback through instead of one line.
    debug: bool = False
    #: The run is the process's program (the console script, ``python -m campaign.cli``), not a call from
    #: other Python code: process-wide settings such as the daemon's frozen heap are then ours to make.
    whole_process: bool = False


class FiniteFloat(click.FloatRange):
    """A float option within bounds that also refuses ``nan`` and ``inf``.

    Click's FloatRange lets nan through: every comparison with it is false."""

    name = "finite number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: Post ids are SQL BIGINTs: a larger number is a usage error, not a driver overflow.
POST_ID = click.IntRange(min=1, max=2**63 - 1)
#: An upper bound for seconds options (tick, grace, lease): a week, far beyond any sensible value, and far
#: below what datetime arithmetic can hold.
MAX_SECONDS = 7 * 24 * 3600.0


#: ``--db URL``: the queue database (a plain path means SQLite).
db_option = click.option(
    "--db",
    "db",
    envvar="CAMPAIGN_DB",
    default="db/campaign.db",
    show_default=True,
    metavar="URL",
    help="Queue database: a file path (SQLite) or a SQLAlchemy URL. Env: CAMPAIGN_DB.",
)
#: ``--json``: machine-readable output.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
#: ``--now`` (hidden): replaces the wall clock, for tests and rehearsals.
now_option = click.option("--now", "now_text", hidden=True, help="Use this ISO time instead of the clock.")


def parse_now(value: str | None) -> datetime:
    """``--now`` as an aware UTC time (naive input is UTC), or the wall clock when not given."""
    if not value:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now: invalid ISO time {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def write_output(output: Path, text: str) -> None:
    """Write ``-o`` output; a missing folder or an unwritable file is one line, not a traceback."""
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if not output.parent.is_dir():
            reason = f"its folder {output.parent} does not exist"
        raise UsageError(f"-o {output}: cannot write ({reason})") from None


def error_line(text: str) -> str:
    """``text`` as one line on stderr: every secret this process holds redacted, then control characters and
    bidirectional overrides escaped (:func:`campaign.logs.printable`): a file name or a key from a campaign
    file is untrusted."""
    from campaign.logs import printable
    from campaign.secrets import redact_resolved

    return printable(redact_resolved(text))
