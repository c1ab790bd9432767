"""Queue commands: ``status``, ``show``, ``cancel``, ``retry``, ``pause``, ``resume``.

The main group loads them lazily; :func:`register` mounts them on another group (tests). Importing this
module is light (Click only): SQLModel and the store are imported inside the commands. Every command takes
``--db URL`` (default ``$CAMPAIGN_DB``, else ``db/campaign.db``) and raises only :mod:`campaign.errors`
errors.
Changes are logged with actor ``cli``. ``--now`` (ISO 8601, hidden) replaces the wall clock for tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from campaign.cli.options import POST_ID, db_option, json_option, now_option, parse_now
from campaign.errors import UsageError

if TYPE_CHECKING:
    from campaign.queue.store import Store

ACTOR = "cli"


def _open(db: str) -> Store:
    """The existing queue at ``db``: these commands never create one (a typo in --db is an error)."""
    from campaign.queue.store import Store

    return Store.open(db, create=False)


def _when(value: datetime | None, zone: str | None = None) -> str:
    """``2027-01-18 09:00 HKT (01:00 UTC)``: local time in ``zone`` with the zone, then UTC; UTC alone when
    the zone is UTC, unknown or not given. The UTC date is repeated only when it differs."""
    if value is None:
        return "-"
    utc = value.astimezone(UTC)
    local = _local(utc, zone)
    if local is None:
        return f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    utc_text = f"{utc:%H:%M} UTC" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({utc_text})"


def _local(utc: datetime, zone: str | None) -> datetime | None:
    if not zone or zone == "UTC":
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return utc.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command("status")
@click.argument("campaign", required=False)
@db_option
@json_option
@click.option(
    "--limit", type=click.IntRange(min=0, max=10_000), default=10, show_default=True,
    help="How many upcoming posts to list.",
)
@click.option(
    "--campaigns", type=click.Path(file_okay=False, path_type=Path), default=Path("schedules"),
    show_default=True, help="The daemon's folder of campaign files: broken ones are listed.",
)
def status(campaign: str | None, db: str, as_json: bool, limit: int, campaigns: Path) -> None:
    """Count queued posts by state and list the next ones due (optionally for one CAMPAIGN).

    Also checks the campaign files the daemon reads (``--campaigns``, when the folder exists) and lists
    every one it would skip, with its error.
    """
    with _open(db) as store:
        counts = store.counts(campaign)
        upcoming = store.upcoming(campaign, limit=limit)
    broken: dict[str, str] = {}
    if campaigns.is_dir():
        from campaign.source.names import scan_folder

        broken = scan_folder(campaigns)[1]
    if as_json:
        _echo_json(
            {"campaign": campaign, "counts": counts, "next": [p.to_json() for p in upcoming],
             "broken_campaign_files": broken}
        )
        return
    for path, error in broken.items():
        named = error if error.startswith(path) else f"{path}: {error}"
        click.echo(f"Campaign file skipped by the daemon: {named}")
    title = f"Campaign {campaign!r}" if campaign else "All campaigns"
    total = sum(counts.values())
    click.echo(f"{title}: {total} post{'s' if total != 1 else ''}")
    for state in sorted(counts):
        click.echo(f"  {state:<11} {counts[state]:>7}")
    if upcoming:
        click.echo("Next due:")
        for p in upcoming:
            due = _when(p.next_attempt_at, p.zone)
            click.echo(f"  #{p.id:<6} {due}  {p.channel:<9} {p.label} ({p.status})")


@click.command("show")
@click.argument("post_id", type=POST_ID)
@db_option
@json_option
def show(post_id: int, db: str, as_json: bool) -> None:
    """Show one queued post with its history."""
    with _open(db) as store:
        post = store.get_post(post_id)
        events = store.history(post_id)
    if as_json:
        _echo_json({**post.to_json(), "history": [e.to_json() for e in events]})
        return
    click.echo(f"#{post.id} {post.label} on {post.channel} (campaign {post.campaign!r}): {post.status}")
    click.echo(f"  scheduled  {_when(post.scheduled_at, post.zone)}, written in {post.zone}")
    if post.next_attempt_at and post.status in ("scheduled", "retry_wait"):
        click.echo(f"  due        {_when(post.next_attempt_at, post.zone)}")
    click.echo(f"  attempts   {post.attempts}")
    if post.remote_url or post.remote_id:
        click.echo(f"  published  {post.remote_url or post.remote_id}")
    if post.last_error:
        click.echo(f"  error      {post.last_error}")
    for index, part in enumerate(post.parts):
        head = f"  part {index + 1}/{len(post.parts)}" if len(post.parts) > 1 else "  text"
        done = " (published)" if index < len(post.part_receipts) else ""
        click.echo(f"{head}{done}:")
        for line in part.splitlines() or [""]:
            click.echo(f"    {line}")
    if post.link:
        click.echo(f"  link       {post.link.url}")
    click.echo("History:")
    for e in events:
        change = f"{e.from_status or '(new)'} -> {e.to_status}"
        reason = f": {e.reason}" if e.reason else ""
        click.echo(f"  {_when(e.at, post.zone)}  {change:<24} by {e.actor}{reason}")


@click.command("cancel")
@click.argument("post_ids", type=POST_ID, nargs=-1, required=True)
@db_option
@now_option
def cancel(post_ids: tuple[int, ...], db: str, now_text: str | None) -> None:
    """Cancel queued posts (scheduled, waiting to retry, paused, or unknown). All or none."""
    with _open(db) as store:
        store.cancel(post_ids, now=parse_now(now_text), actor=ACTOR, reason="cancelled by campaign cancel")
    count = len(set(post_ids))
    click.echo(f"Cancelled {count} post{'s' if count != 1 else ''}.")


@click.command("retry")
@click.argument("post_ids", type=POST_ID, nargs=-1, required=True)
@db_option
@now_option
def retry(post_ids: tuple[int, ...], db: str, now_text: str | None) -> None:
    """Queue failed, missed or unknown posts again, due now. All or none.

    For an unknown post this may publish it twice: check the platform first.
    """
    with _open(db) as store:
        store.retry(post_ids, now=parse_now(now_text), actor=ACTOR)
    count = len(set(post_ids))
    click.echo(f"Queued {count} post{'s' if count != 1 else ''} again, due now.")


def _scope(campaign: str | None, account: str | None) -> None:
    if (campaign is None) == (account is None):
        raise UsageError("give exactly one of --campaign C or --account A")


@click.command("pause")
@click.option("--campaign", default=None, help="Pause this campaign.")
@click.option("--account", default=None, help="Pause this account (in every campaign).")
@db_option
@now_option
def pause(campaign: str | None, account: str | None, db: str, now_text: str | None) -> None:
    """Pause a campaign or an account: nothing of it is sent until `resume`."""
    _scope(campaign, account)
    with _open(db) as store:
        moved = store.pause(campaign=campaign, account=account, now=parse_now(now_text), actor=ACTOR)
    what = f"campaign {campaign!r}" if campaign else f"account {account!r}"
    click.echo(f"Paused {what}: {len(moved)} waiting post{'s' if len(moved) != 1 else ''} held.")


@click.command("resume")
@click.option("--campaign", default=None, help="Resume this campaign.")
@click.option("--account", default=None, help="Resume this account.")
@db_option
@now_option
def resume(campaign: str | None, account: str | None, db: str, now_text: str | None) -> None:
    """Resume a paused campaign or account (posts long overdue may then be marked missed)."""
    _scope(campaign, account)
    with _open(db) as store:
        moved = store.resume(campaign=campaign, account=account, now=parse_now(now_text), actor=ACTOR)
    what = f"campaign {campaign!r}" if campaign else f"account {account!r}"
    click.echo(f"Resumed {what}: {len(moved)} post{'s' if len(moved) != 1 else ''} scheduled again.")


COMMANDS: tuple[click.Command, ...] = (status, show, cancel, retry, pause, resume)


def register(group: click.Group) -> None:
    """Add the queue commands to ``group``."""
    for command in COMMANDS:
        group.add_command(command)
