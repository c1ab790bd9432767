"""Deriving commands: ``campaign release show`` (parse a press release) and ``campaign init`` (scaffold).

Importing this module is light (Click only); the release parser and the scaffold are imported inside the
commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from campaign.cli.options import error_line
from campaign.errors import CampaignError


@click.group()
def release() -> None:
    """Read press releases."""


@release.command("show")
@click.argument("file", type=click.Path(path_type=Path))  # a folder: one line from load_release
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def release_show(file: Path, fmt: str) -> None:
    """Parse a press release and show its structured fields."""
    import json

    from campaign.source.release import load_release

    parsed = load_release(file)
    data = parsed.to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, list | tuple):
            click.echo(f"{key}: ({len(value)})")
            for item in value:
                click.echo(f"  - {json.dumps(item, ensure_ascii=False) if isinstance(item, dict) else item}")
        elif isinstance(value, dict):
            click.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        else:
            click.echo(f"{key}: {value}")
    for line in parsed.warning_lines():
        click.echo(f"warning: {error_line(line)}", err=True)


@click.command()
@click.option(
    "--from-release",
    "release_files",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),  # a folder is refused by the reader, in one line (not Click's usage)
    help="The press release to derive the campaign from.",
)
@click.option("--name", help="Campaign name (default: from the release file name).")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project folder that holds schedules/ and templates/.",
)
@click.option(
    "--channels",
    "channel_list",
    default=None,
    help="Comma-separated channels (default: x,linkedin,mastodon,bluesky,facebook,threads,telegram,"
    "slack,discord).",
)
@click.option("--start", help="Campaign start, local time (default: next Monday 09:00).")
@click.option("--zone", help="IANA time zone of the campaign (default: the release dateline's).")
@click.option("--force", is_flag=True, help="Overwrite existing files, even another campaign's release.")
def init(
    release_files: tuple[Path, ...],
    name: str | None,
    root: Path,
    channel_list: str | None,
    start: str | None,
    zone: str | None,
    force: bool,
) -> None:
    """Derive a working campaign (schedule and templates) from a press release."""
    from campaign.errors import UsageError
    from campaign.schedule.timespec import resolve_start, resolve_zone
    from campaign.source.scaffold import run_init

    # Refuse here what `check` would refuse later: init never writes a campaign that does not check.
    try:
        tz = resolve_zone(zone or "UTC")  # None: the dateline's zone, decided by the scaffold
        if start is not None:
            resolve_start(start, zone=tz)
    except CampaignError as exc:
        raise UsageError(f"init: {exc}") from None

    chans = [c.strip() for c in channel_list.split(",")] if channel_list else None
    run_init(
        release_files,
        root=root,
        name=name,
        channels=chans,
        start=start,
        zone=zone,
        force=force,
        echo=click.echo,
    )
