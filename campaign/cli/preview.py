"""Reviewing commands: ``check``, ``preview`` and ``measure`` (no network, no credentials).

Importing this module is light (Click only). None of these commands imports SQLModel, except ``preview
--db``, which opens the queue to show each post's state.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from campaign.cli.options import error_line, parse_now, write_output
from campaign.errors import CampaignError, UsageError

if TYPE_CHECKING:
    from campaign.plan.compile import Compiled
    from campaign.text.rules import TextRules


def _compile(
    file: Path, start: str | None, now: str | None, channel: tuple[str, ...] = (), strict_past: bool = False
) -> Compiled:
    from campaign.plan.compile import compile_campaign

    return compile_campaign(
        str(file), start=start, now=parse_now(now), only_channels=channel, strict_past=strict_past
    )


@click.command()
@click.argument("file", type=click.Path(path_type=Path))  # a folder: one line from the reader
@click.option("--start", help="Shift the campaign to start at this local time.")
@click.option("--now", help="Pretend it is this time (ISO 8601; default: now).", hidden=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (for CI).")
def check(file: Path, start: str | None, now: str | None, strict: bool) -> None:
    """Validate a campaign without network or credentials (exit 1 on any error)."""
    compiled = _compile(file, start, now)
    if compiled.campaign is not None:
        from campaign.source.names import check_unique_name

        try:
            check_unique_name(file, compiled.campaign.name)
        except CampaignError as exc:
            compiled.errors.append(exc)
    for error in compiled.errors:
        click.echo(f"campaign: error: {error_line(str(error))}", err=True)
    for line in compiled.release_warnings:  # damage in the release: fix it in the templates that quote it
        click.echo(f"campaign: warning: {error_line(line)}", err=True)
    if compiled.embargo is not None:
        click.echo(f"embargo: no post before {compiled.embargo:%Y-%m-%d %H:%M} UTC")
    silent = [] if compiled.errors else _silent_posts(compiled)
    for key in silent:
        click.echo(
            f"campaign: warning: {file}: post {key!r} has no occurrence: its schedule never fires "
            "(or every account skips it)",
            err=True,
        )
    warnings = sum(len(p.warnings) for p in compiled.posts) + len(silent)
    click.echo(f"{file}: {len(compiled.posts)} posts, {warnings} warnings, {len(compiled.errors)} errors")
    if compiled.errors or (strict and warnings):
        sys.exit(1)


def _silent_posts(compiled: Compiled) -> list[str]:
    """Keys of posts in the file that yield no queued post and no past occurrence (an rrule that never
    matches a date, such as February 30th): almost surely a mistake, and "0 posts" alone hides it."""
    if compiled.campaign is None:
        return []
    from campaign.plan.posts import split_key  # a post in any of its languages has fired

    keys = [p.post_key for p in compiled.posts] + [key for key, _account, _occ in compiled.skipped]
    fired = {split_key(key)[0] for key in keys}
    return [post.key for post in compiled.campaign.posts if post.key not in fired]


@click.command()
@click.argument("file", type=click.Path(path_type=Path))  # a folder: one line from the reader
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

        with Store.open(db, create=False) as store:
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
        write_output(output, text + "\n")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
    for error in doc["errors"]:
        click.echo(f"campaign: error: {error_line(error['message'])}", err=True)
    if doc["errors"]:
        sys.exit(1)


@click.command()
@click.argument("text", required=False)
@click.option("--channel", "chans", multiple=True, help="Only these channels (repeatable; default: all).")
@click.option(
    "--jsonl", is_flag=True, help="Read one JSON string per line on stdin; write one JSON object per line."
)
def measure(text: str | None, chans: tuple[str, ...], jsonl: bool) -> None:
    """Length of TEXT as each platform counts it, against its limit."""
    from campaign import channels

    names = list(chans) or channels.names()
    rules = {name: channels.load(name).rules for name in names}
    if jsonl:
        if text is not None:
            raise UsageError("give TEXT or --jsonl, not both")
        _measure_jsonl(rules)
        return
    if text is None:
        if sys.stdin.isatty():
            raise UsageError("give TEXT, pipe text on stdin, or use --jsonl")
        raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        text = _decode_stdin(raw).rstrip("\n")
        _check_unicode(text, "stdin")
    else:
        _check_unicode(text, "TEXT")
    width = max(len(n) for n in rules)
    for name, rule in rules.items():
        length = rule.measure(text)
        fits = "fits" if rule.fits(text) else "TOO LONG"
        extra = ""
        if rule.max_bytes is not None:
            extra = f", {len(text.encode('utf-8'))}/{rule.max_bytes} bytes"
        click.echo(f"{name:<{width}}  {length:>6}/{rule.limit:<6} {rule.unit}{extra}  {fits}")


def _measure_jsonl(rules: Mapping[str, TextRules]) -> None:
    """``measure --jsonl``: one JSON string per stdin line in, one JSON object per channel and line out."""
    import json

    # Bytes, so that invalid UTF-8 is named; a text stdin (tests, embedding) is taken as it is.
    for number, raw in enumerate(getattr(sys.stdin, "buffer", sys.stdin), 1):
        line = _decode_stdin(raw, f"stdin line {number}")
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise UsageError(f"stdin line {number}: not JSON") from None
        except RecursionError:  # a line of 100,000 "[": nested deeper than the parser follows
            raise UsageError(f"stdin line {number}: not JSON (nested too deeply)") from None
        if not isinstance(item, str):
            raise UsageError(f"stdin line {number}: expected a JSON string")
        _check_unicode(item, f"stdin line {number}")
        for name, rule in rules.items():
            length = rule.measure(item)
            click.echo(
                json.dumps(
                    {"channel": name, "length": length, "limit": rule.limit, "fits": rule.fits(item)},
                    ensure_ascii=False,
                )
            )


def _decode_stdin(data: bytes | str, what: str = "stdin") -> str:
    """``data`` as UTF-8, or a UsageError naming the first bad byte (counting needs real text)."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _check_unicode(text: str, what: str) -> None:
    """Refuse lone surrogates: no platform accepts them (invalid UTF-8 on the command line, or ``"\\ud800"``
    in JSON, arrives as one), and UTF-8 and UTF-16 counts of them are undefined."""
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise UsageError(
                f"{what}: not valid Unicode text (a lone surrogate U+{ord(char):04X} at character {index}; "
                "invalid UTF-8 on the command line arrives as one)"
            )
