"""Queue-feeding and sending commands: ``plan``, ``apply``, ``daemon``, ``simulate``.

Importing this module is light (Click only); the store, dispatcher and APScheduler are imported inside the
commands.

``campaign daemon`` finds the account configuration of queued posts in campaign files: every ``*.yaml``
(and ``*.yml``) in ``--campaigns DIR`` (default ``schedules/``), matched by the campaign name stored with
each post. The folder is re-read whenever the queue changes (for example after `campaign apply`). A queued
post whose campaign or account is not found there is deferred and logged as an error, never dropped.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from campaign.cli.options import (
    MAX_SECONDS,
    FiniteFloat,
    db_option,
    error_line,
    json_option,
    now_option,
    parse_now,
)
from campaign.errors import UsageError

_file_arg = click.argument("file", type=click.Path(path_type=Path))  # a folder: one line from the reader
_start_option = click.option("--start", help="Shift the campaign to start at this local time (or +1w).")



def media_root_for(db: str) -> Path:
    """The media store of the queue ``db``: ``<dir of the SQLite file>/media`` (``media.store.default_root``),
    so `plan`, `apply` and the daemon use the very files prepared for that queue. A server database (a URL)
    has no directory: its store is the default one (``db/media``, or beside ``$CAMPAIGN_DB``)."""
    from campaign.media.store import default_root
    from campaign.plan.media import default_media_root
    from campaign.queue.dialect import resolve_url, sqlite_file

    path = sqlite_file(resolve_url(db))
    if path is not None:
        return default_root(path)
    return default_media_root().absolute()


def _compile_for_queue(
    file: Path, start: str | None, now: datetime, media_root: Path | None = None
) -> Any:
    """Compile with past times as errors; print every error as one line and exit 1 if there is any.
    Media are prepared into ``media_root`` (the store beside the queue the posts go to)."""
    from campaign.plan.compile import compile_campaign

    compiled = compile_campaign(str(file), start=start, now=now, strict_past=True, media_root=media_root)
    if compiled.campaign is not None:
        from campaign.errors import CampaignError
        from campaign.source.names import check_unique_name

        try:
            check_unique_name(file, compiled.campaign.name)
        except CampaignError as exc:
            compiled.errors.append(exc)
    if compiled.errors:
        for error in compiled.errors:
            click.echo(f"campaign: error: {error_line(str(error))}", err=True)
        click.echo(f"{file}: {len(compiled.errors)} errors; nothing was changed", err=True)
        sys.exit(1)
    return compiled


def _plan(
    file: Path, db: str, start: str | None, now: datetime, *, create: bool = True
) -> tuple[Any, Any]:
    store, result, _ = _plan_with_destinations(file, db, start, now, create=create)
    return store, result


def _plan_with_destinations(
    file: Path,
    db: str,
    start: str | None,
    now: datetime,
    *,
    create: bool = True,
    media_db: str | None = None,
) -> tuple[Any, Any, tuple[frozenset[tuple[str, str]], list[str]]]:
    """The store, the plan, and the campaign's (credential, host) pairs with the lines that changed since
    the last apply (a reviewer must see a secret pointed at a new host). Without ``create`` the queue
    must exist already. Media go to the store beside ``media_db`` (default ``db``): `plan` reads a scratch
    queue but prepares into the real queue's store, so its content hashes are the ones `apply` will queue."""
    from campaign.plan.destinations import credential_destinations, describe_changes
    from campaign.queue import planner
    from campaign.queue.store import Store

    compiled = _compile_for_queue(file, start, now, media_root_for(media_db or db))
    store = Store.open(db, create=create)
    try:
        pairs = credential_destinations(compiled.campaign)
        before = store.campaign_destinations(compiled.campaign.name)
        changes = describe_changes(before if before is not None else frozenset(), pairs)
        return store, planner.plan(
            store, compiled.campaign.name, compiled.posts, now, compiled.past
        ), (pairs, changes)
    except BaseException:
        store.close()
        raise


def _queue_to_read(db: str, stack: contextlib.ExitStack) -> tuple[str, bool]:
    """``db``, or an empty scratch queue (removed with ``stack``) when ``db`` names a SQLite file that does
    not exist yet: `plan` only reads, so it plans against "nothing queued" and creates nothing.
    The flag says whether the returned queue may be created (only the scratch one)."""
    import tempfile

    from campaign.queue.dialect import resolve_url, sqlite_file

    path = sqlite_file(resolve_url(db))
    if path is None or path.exists():
        return db, False
    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="campaign-plan-"))
    return str(Path(scratch) / "empty.db"), True


@click.command("plan")
@_file_arg
@db_option
@_start_option
@json_option
@now_option
def plan(file: Path, db: str, start: str | None, as_json: bool, now_text: str | None) -> None:
    """Show what `apply` would change in the queue for FILE (changes nothing)."""
    from campaign.queue import planner

    with contextlib.ExitStack() as stack:
        queue, scratch = _queue_to_read(db, stack)
        store, result, (_, changes) = _plan_with_destinations(
            file, queue, start, parse_now(now_text), create=scratch, media_db=db
        )
        store.close()
    if as_json:
        data = planner.plan_to_json(result)
        data["destinations_changed"] = changes
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(planner.format_plan(result))
        for line in changes:  # each on its own line, so a reviewer cannot miss a secret sent somewhere new
            click.echo(f"! {line}")


@click.command("apply")
@_file_arg
@db_option
@_start_option
@json_option
@now_option
def apply(file: Path, db: str, start: str | None, as_json: bool, now_text: str | None) -> None:
    """Queue FILE's posts: add new ones, update changed waiting ones, cancel removed ones."""
    from campaign.queue import planner

    now = parse_now(now_text)
    store, result, (pairs, changes) = _plan_with_destinations(file, db, start, now)
    try:
        applied = planner.apply(store, result, now=now)
        store.record_campaign_destinations(result.campaign, pairs, now=now)
    finally:
        store.close()
    for line in changes:
        click.echo(f"! {line}", err=as_json)
    if as_json:
        data = planner.plan_to_json(result)
        data["applied"] = {
            "added": list(applied.added),
            "updated": list(applied.updated),
            "readded": list(applied.readded),
            "cancelled": list(applied.cancelled),
            "skipped": list(applied.skipped),
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(planner.format_plan(result))
    click.echo(
        f"Applied: {len(applied.added) + len(applied.readded)} added, {len(applied.updated)} updated, "
        f"{len(applied.cancelled)} cancelled."
    )
    for note in applied.skipped:
        click.echo(f"  skipped {note}")


@click.command("daemon")
@db_option
@click.option("--campaigns", "campaigns", type=click.Path(file_okay=False, path_type=Path),
              default=Path("schedules"), show_default=True,
              help="Folder of campaign files (*.yaml) that configure the queued posts' accounts.")
@click.option("--dry-run", is_flag=True,
              help="Send nothing: run every exchange against fake responses with placeholder credentials, "
                   "on a throwaway copy of the queue (the real queue is never changed).")
@click.option("--once", is_flag=True, help="Dispatch what is due now, then exit (cron, CI).")
@click.option("--tick", type=FiniteFloat(min=0.05, max=MAX_SECONDS), default=3.0, show_default=True,
              help="Seconds between safety ticks (queue changes by other processes are noticed then).")
@click.option("--grace", type=FiniteFloat(min=0, max=MAX_SECONDS), default=20.0, show_default=True,
              help="Seconds in-flight requests may take to finish after SIGTERM/SIGINT; posts whose request "
              "is still in flight then become unknown, named in one line, and the exit code is 1.")
@click.option("--concurrency", type=click.IntRange(min=1, max=10_000), default=100, show_default=True,
              help="Requests in flight at once in total: with one per account, how many accounts move at "
                   "once (at 250 ms a request, 100 in flight send 400 posts/s; README 'The daemon').")
@click.option("--per-channel", type=click.IntRange(min=1, max=10_000), default=None,
              help="Requests in flight at once per platform  [default: same as --concurrency]; set it lower "
                   "so one platform can never take every slot.")
@click.option("--per-account", type=click.IntRange(min=1, max=10_000), default=1, show_default=True,
              help="Posts in flight at once per account, across all daemons (keeps an account's posts in "
                   "due order; every platform rate-limits per account).")
@click.option("--lease", type=FiniteFloat(min=1, max=MAX_SECONDS), default=300.0, show_default=True,
              help="Seconds a claim lasts without a heartbeat.")
@click.option("--max-attempts", type=click.IntRange(min=1, max=1_000), default=5, show_default=True,
              help="Attempts before a transiently failing post is marked failed.")
@click.option("--alert-interval", type=FiniteFloat(min=0, max=MAX_SECONDS / 60), default=15.0,
              show_default=True,
              help="Minutes between two alert messages to the same alert account.")
@click.option("--transport", type=click.Choice(["wire", "aiohttp", "httpx"]), default="wire",
              show_default=True,
              help="What carries HTTP requests: wire (our HTTP/1.1 client, the fastest), aiohttp, or httpx's "
                   "own connection pool.")
@click.option("--loop", type=click.Choice(["auto", "uvloop", "asyncio"]), default="auto", show_default=True,
              help="The event loop: uvloop (libuv: about 15% more posts a second in our TLS benchmark), "
                   "asyncio's own, or auto: uvloop when it is installed.")
@click.option("--metrics/--no-metrics", default=True, show_default=True,
              help="Read sent posts' counts back on each campaign's `metrics:` schedule (after publishing).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="key=value lines, or one JSON object per line (post id, campaign, channel, outcome...).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="info", show_default=True,
              help="info: one line per post; warning: only what went wrong; debug: every request.")
def daemon(db: str, campaigns: Path, dry_run: bool, once: bool, tick: float, grace: float, concurrency: int,
           per_channel: int | None, per_account: int, lease: float, max_attempts: int, alert_interval: float,
           transport: str, loop: str, metrics: bool, log_format: str, log_level: str) -> None:
    """Send each due post at its time until stopped (SIGTERM/SIGINT). One daemon per SQLite queue.

    With --once, prints one line saying what the pass did and exits 1 when a post failed, was missed or is
    unknown, or a campaign file could not be loaded (something waits for a person). Stopped by a signal, it
    exits 0, or 1 with one line naming the posts its grace period left unknown.
    """
    from campaign import logs
    from campaign.cli.options import CliState
    from campaign.dispatch.daemon import DaemonOptions, DaemonTiming, serve

    logs.configure(log_format, log_level)
    state = click.get_current_context().find_object(CliState)
    summary = serve(
        DaemonOptions(
            db=db,
            campaigns=campaigns,
            dry_run=dry_run,
            once=once,
            timing=DaemonTiming(tick=tick, grace=grace, recover_every=max(tick, lease / 5)),
            concurrency=concurrency,
            per_channel=per_channel,
            per_account=per_account,
            lease_seconds=lease,
            max_attempts=max_attempts,
            alert_interval=timedelta(minutes=alert_interval),
            transport=transport,
            loop=loop,
            metrics=metrics,
            tune_collector=state is not None and state.whole_process,
        )
    )
    from campaign.dispatch.summary import StopReport

    if isinstance(summary, StopReport):  # stopped by a signal: a line only when it left posts unknown
        if summary.exit_code:
            click.echo(f"campaign: {error_line(summary.line())}", err=True)
            sys.exit(summary.exit_code)
    elif summary is not None:  # --once: say what the pass did; exit 1 when something waits for a person
        click.echo(f"daemon --once: {summary.line()}")
        if summary.failed is not None:  # the queue stopped answering: its one line and exit code
            raise summary.failed
        if summary.exit_code:
            sys.exit(summary.exit_code)


@click.command("simulate")
@_file_arg
@click.option("--start", help="Campaign start, local time (default: the file's own when still ahead, else "
              "the next day on its weekday and time).")
@click.option("--speed", type=FiniteFloat(min=0, min_open=True, max=1e9), default=None,
              help="Simulated seconds per real second (default: as fast as possible).")
@click.option("--metrics/--no-metrics", default=True, show_default=True,
              help="Follow the `metrics:` schedule with invented engagement; end with a sample report.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the sample report to FILE (.html, .md, .json or .csv; text otherwise).")
@json_option
@now_option
def simulate(file: Path, start: str | None, speed: float | None, metrics: bool, report_file: Path | None,
             as_json: bool, now_text: str | None) -> None:
    """Rehearse FILE: queue it in a temporary database and run the real dispatcher, dry, on a fast clock."""
    from campaign.dispatch import simulate as sim

    progress = sys.stderr.isatty() and not as_json

    def show(outcome: Any) -> None:
        if as_json:
            return
        if progress:
            click.echo("\r\x1b[K", nl=False, err=True)
        click.echo(sim.format_outcome(outcome, zone))

    def tick(at: datetime, done: int, total: int) -> None:
        if progress:
            click.echo(f"\r\x1b[K{sim.local(at, zone)}  {done}/{total} posts done", nl=False, err=True)

    from campaign.source.config import load_campaign

    if report_file is not None and not report_file.parent.is_dir():
        raise UsageError(f"--report {report_file}: directory {report_file.parent} does not exist")
    zone = load_campaign(file).zone
    report = sim.simulate(
        file, start=start, now=parse_now(now_text), speed=speed, on_dispatch=show, on_progress=tick,
        metrics=metrics,
    )
    if progress:
        click.echo("\r\x1b[K", nl=False, err=True)
    if report_file is not None and report.built_report is not None:
        _write_report(report.built_report, report_file)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(sim.format_summary(report))
    if report.sample_report:
        click.echo("")
        click.echo(f"Sample report ({report.readings} metrics readings of invented engagement: a rehearsal "
                   "reads nothing from any platform; `campaign report` shows the real one)")
        click.echo(report.sample_report, nl=False)


def _write_report(built: Any, target: Path) -> None:
    """The report in the format its file name says (.html, .md, .json, .csv; plain text otherwise)."""
    from campaign.report import formats

    suffix = target.suffix.lower()
    if suffix in (".html", ".htm"):
        from campaign.report.html import to_html

        text = to_html(built)
    else:
        writers = {".md": formats.to_markdown, ".json": formats.to_json, ".csv": formats.to_csv}
        text = writers.get(suffix, formats.to_text)(built)
    target.write_text(text, encoding="utf-8")
