"""The `campaign` command line (Click).

Exit codes: 0 clean, 1 campaign errors (invalid file, template, schedule, fit, queue, channel),
2 usage errors.
Every failure prints one line ``campaign: error: ...`` to stderr; ``--debug`` shows the traceback instead.
Commands that need no database (`check`, `preview`, `measure`, `release show`, `init`) never import SQLModel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from campaign import __version__
from campaign.cli.options import parse_now
from campaign.errors import CampaignError, UsageError

DEBUG = False


class _Group(click.Group):
    """Lists commands in the order they were added (the order of the data flow), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="campaign")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Turn a press release into a reviewed, scheduled, multi-channel social media campaign."""
    global DEBUG
    DEBUG = debug or bool(os.environ.get("CAMPAIGN_DEBUG"))




# -- derive ------------------------------------------------------------------------------------------


@cli.group()
def release() -> None:
    """Read press releases."""


@release.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
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
        click.echo(f"warning: {line}", err=True)


@cli.command()
@click.option(
    "--from-release",
    "release_files",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
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
    from campaign.source.scaffold import run_init

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


# -- fill and preview --------------------------------------------------------------------------------


def _compile(
    file: Path, start: str | None, now: str | None, channel: tuple[str, ...] = (), strict_past: bool = False
) -> Any:
    from campaign.plan.compile import compile_campaign

    return compile_campaign(
        str(file), start=start, now=parse_now(now), only_channels=channel, strict_past=strict_past
    )


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--start", help="Shift the campaign to start at this local time.")
@click.option("--now", help="Pretend it is this time (ISO 8601; default: now).", hidden=True)
def check(file: Path, start: str | None, now: str | None) -> None:
    """Validate a campaign without network or credentials (exit 1 on any error)."""
    compiled = _compile(file, start, now)
    for error in compiled.errors:
        click.echo(f"campaign: error: {error}", err=True)
    warnings = sum(len(p.warnings) for p in compiled.posts)
    click.echo(f"{file}: {len(compiled.posts)} posts, {warnings} warnings, {len(compiled.errors)} errors")
    if compiled.errors:
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "html"]),
    default="text",
    show_default=True,
)
@click.option("--channel", multiple=True, help="Only these channels (repeatable).")
@click.option("--requests", is_flag=True, help="Show the exact HTTP requests each adapter would send.")
@click.option("--start", help="Shift the campaign to start at this local time.")
@click.option("--now", help="Pretend it is this time (ISO 8601; default: now).", hidden=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.option("--db", help="Also show each post's state in this queue (URL or SQLite path).")
def preview(
    file: Path,
    fmt: str,
    channel: tuple[str, ...],
    requests: bool,
    start: str | None,
    now: str | None,
    output: Path | None,
    db: str | None,
) -> None:
    """Show every post exactly as it would be published (a dry run; sends nothing)."""
    from campaign.plan import preview as preview_mod

    compiled = _compile(file, start, now, channel)
    doc = preview_mod.build(compiled, requests=requests)
    if db is not None and doc["campaign"] is not None:
        from campaign.plan.html_preview import attach_queue_state
        from campaign.queue.store import Store

        with Store.open(db) as store:
            attach_queue_state(doc, store.campaign_posts(doc["campaign"]["name"]))
    if fmt == "json":
        text = preview_mod.to_json(doc)
    elif fmt == "markdown":
        text = preview_mod.to_markdown(doc)
    elif fmt == "html":
        from campaign.plan.html_preview import to_html

        text = to_html(doc)
    else:
        text = preview_mod.to_text(doc)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
    for error in doc["errors"]:
        click.echo(f"campaign: error: {error['message']}", err=True)
    if doc["errors"]:
        sys.exit(1)


@cli.command()
@click.argument("text", required=False)
@click.option("--channel", "chans", multiple=True, help="Only these channels (repeatable; default: all).")
@click.option(
    "--jsonl", is_flag=True, help="Read one JSON string per line on stdin; write one JSON object per line."
)
def measure(text: str | None, chans: tuple[str, ...], jsonl: bool) -> None:
    """Length of TEXT as each platform counts it, against its limit."""
    import json

    from campaign import channels

    names = list(chans) or channels.names()
    rules = {name: channels.load(name).rules for name in names}
    if jsonl:
        if text is not None:
            raise UsageError("give TEXT or --jsonl, not both")
        for number, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise UsageError(f"stdin line {number}: not JSON") from None
            if not isinstance(item, str):
                raise UsageError(f"stdin line {number}: expected a JSON string")
            for name, rule in rules.items():
                length = rule.measure(item)
                click.echo(
                    json.dumps(
                        {"channel": name, "length": length, "limit": rule.limit, "fits": rule.fits(item)},
                        ensure_ascii=False,
                    )
                )
        return
    if text is None:
        if sys.stdin.isatty():
            raise UsageError("give TEXT, pipe text on stdin, or use --jsonl")
        text = sys.stdin.read().rstrip("\n")
    width = max(len(n) for n in rules)
    for name, rule in rules.items():
        length = rule.measure(text)
        fits = "fits" if rule.fits(text) else "TOO LONG"
        extra = ""
        if rule.max_bytes is not None:
            extra = f", {len(text.encode('utf-8'))}/{rule.max_bytes} bytes"
        click.echo(f"{name:<{width}}  {length:>6}/{rule.limit:<6} {rule.unit}{extra}  {fits}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the CLI, turning CampaignErrors into one line and an exit code."""
    from campaign.cli import commands as cli_commands

    cli_commands.register(cli)
    try:
        rv = cli.main(args=argv, prog_name="campaign", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("campaign: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except CampaignError as exc:
        if DEBUG:
            raise
        from campaign.secrets import redact_resolved

        click.echo(f"campaign: error: {redact_resolved(str(exc))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("campaign: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
