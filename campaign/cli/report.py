"""Results commands: ``report`` (what a campaign achieved) and ``metrics collect`` (one reading pass by hand).

Importing this module is light (Click only); the store, the report and the adapters are imported inside the
commands. ``report`` only reads the queue; ``metrics collect`` reads the platforms and records what they
say.
"""

from __future__ import annotations

from pathlib import Path

import click

from campaign.cli.options import db_option, now_option, parse_now, write_output
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

    with Store.open(db, create=False) as store:
        data = report_input(store, campaign, now=parse_now(now_text))
    if not data.posts:
        raise UsageError(f"campaign {campaign!r} has no sent posts in {store.where} (nothing to report yet)")
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
    write_output(output, text)
    click.echo(f"wrote {output} ({len(built.posts)} posts)")


@click.group("metrics")
def metrics() -> None:
    """Read sent posts' counts back from the platforms (the daemon does this on its own)."""


@metrics.command("collect")
@click.argument("campaign", required=False)
@db_option
@now_option
@click.option(
    "--campaigns",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schedules"),
    show_default=True,
    help="Folder of campaign files (accounts and their credentials).",
)
def collect(campaign: str | None, db: str, now_text: str | None, campaigns: Path) -> None:
    """One pass by hand: read every reading that is due (of CAMPAIGN, or all), and record it.

    To see the reads without sending them, use `campaign daemon --dry-run --once` (it works on a throwaway
    copy of the queue) or `campaign simulate`.
    """
    import asyncio

    from campaign.dispatch.campaigns import CampaignDirectory
    from campaign.dispatch.daemon import make_client
    from campaign.dispatch.metrics import MetricsCollector
    from campaign.errors import ConfigError
    from campaign.queue.store import Store

    if not campaigns.is_dir():
        raise ConfigError(f"campaigns folder {campaigns} does not exist (use --campaigns DIR)")
    now = parse_now(now_text)
    directory = CampaignDirectory(folder=campaigns)

    async def one_pass(store: Store) -> str:
        client = make_client(4)
        try:
            offsets = directory.metrics_offsets
            collector = MetricsCollector(store, directory, offsets_for=offsets, client=client)
            stats = await collector.collect_due(now, campaign=campaign)
        finally:
            await client.aclose()
        return (
            f"{stats.posts} readings in {stats.requests} requests: {stats.gone} posts gone, "
            f"{stats.failed} failed (retried later), {stats.deferred} waiting for a rate limit"
        )

    with Store.open(db, create=False) as store:
        summary = asyncio.run(one_pass(store))
    click.echo(summary)
