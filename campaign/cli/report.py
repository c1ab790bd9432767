"""Results commands: ``report`` (what a campaign achieved) and ``metrics collect`` (one reading pass by hand).

Importing this module is light (Click only); the store, the report and the adapters are imported inside the
commands. ``report`` only reads the queue; ``metrics collect`` reads the platforms (``--dry-run``: shows the
requests and sends nothing).
"""

from __future__ import annotations

from pathlib import Path

import click

from campaign.cli.options import db_option, now_option, parse_now
from campaign.errors import UsageError

FORMATS = ("text", "markdown", "json", "csv", "html")


@click.command("report")
@click.argument("campaign")
@db_option
@now_option
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
def report(campaign: str, db: str, now_text: str | None, fmt: str, output: Path | None) -> None:
    """What CAMPAIGN achieved: totals per channel, per post and per day, best and weakest posts."""
    from campaign.queue.store import Store
    from campaign.report import formats
    from campaign.report.build import build_report
    from campaign.report.gather import report_input

    with Store.open(db) as store:
        data = report_input(store, campaign, now=parse_now(now_text))
    if not data.posts:
        raise UsageError(f"campaign {campaign!r} has no sent posts in {db} (nothing to report yet)")
    built = build_report(data)
    if fmt == "html":
        from campaign.report.html import to_html

        text = to_html(built)
    else:
        text = {
            "text": formats.to_text,
            "markdown": formats.to_markdown,
            "json": formats.to_json,
            "csv": formats.to_csv,
        }[fmt](built)
    if output is None:
        click.echo(text, nl=False)
        return
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output} ({len(built.posts)} posts)")
