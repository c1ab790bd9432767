"""``campaign channels``: list the installed channel adapters and check accounts' credentials.

The main ``campaign`` group loads :data:`channels` from here when it runs. Importing this module is light:
adapters, httpx and the exchange runner are imported inside the commands that need them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import click

from campaign.errors import CampaignError

if TYPE_CHECKING:
    import httpx

    from campaign.channels.base import Account


@dataclass(frozen=True)
class CheckResult:
    """One account's verify() outcome: ``who`` on success, else the classified error (already redacted)."""

    account: str
    channel: str
    ok: bool
    detail: str


def describe_adapters() -> list[dict[str, Any]]:
    """Every installed adapter (entry-point group ``campaign.channels``) as a JSON-ready dict.

    An entry point that fails to load is listed with its ``error`` instead of crashing the listing, so a
    broken third-party package is visible rather than hiding the others.
    """
    from campaign import channels
    from campaign.channels.base import Adapter

    values = {ep.name: ep.value for ep in entry_points(group=channels.GROUP)}
    rows: list[dict[str, Any]] = []
    for name in channels.names():
        row: dict[str, Any] = {"name": name, "module": values.get(name, "")}
        try:
            cls = channels.load(name)
        except Exception as exc:  # any import-time failure of someone else's package
            row["error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            continue
        rules = cls.rules
        row.update(
            title=cls.title,
            limit=rules.limit,
            unit=rules.unit,
            max_bytes=rules.max_bytes,
            threads=rules.threads,
            # the class-level fact; an account may override it (a webhook receiver that honours keys)
            deduplicates=bool(cls.dedup_by_key),
            credentials=dict(cls.credential_names),
            required_settings=dict(cls.required_settings),
            optional_settings=dict(cls.optional_settings),
            docs=cls.docs,
            # Whether `campaign report` can show this channel's counts (the adapter overrides metrics()).
            metrics=cls.metrics is not Adapter.metrics,
            metrics_scopes=cls.metrics_scopes,
        )
        rows.append(row)
    return rows


async def check_accounts(
    accounts: Mapping[str, Account], client: httpx.AsyncClient, only: str | None = None
) -> list[CheckResult]:
    """Run each account's harmless ``verify()`` exchange over ``client``; never posts.

    Failures are reported, not raised: a ChannelError (already scrubbed of the account's secrets by
    :func:`campaign.http.exchange.run`), a missing credential, or an unknown channel.
    """
    from campaign import channels
    from campaign.http.exchange import run
    from campaign.secrets import redact

    names = [only] if only is not None else sorted(accounts)
    results: list[CheckResult] = []
    for name in names:
        account = accounts[name]
        try:
            adapter = channels.load(account.channel)(account)
            who = await run(adapter.verify(), client, adapter)
            results.append(CheckResult(name, account.channel, True, who))
        except CampaignError as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", account.credentials.known_values())
            results.append(CheckResult(name, account.channel, False, detail))
    return results


@click.group("channels")
def channels() -> None:
    """Channel adapters: what is installed, and whether accounts' credentials work."""


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List installed channel adapters, third-party ones included."""
    rows = describe_adapters()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        if "error" in row:
            click.echo(f"{row['name']:<10} BROKEN  {row['module']}: {row['error']}")
            continue
        limit = f"{row['limit']} {row['unit']}" + (
            f" (max {row['max_bytes']} bytes)" if row["max_bytes"] else ""
        )
        click.echo(f"{row['name']:<10} {row['title']}  [{row['module']}]")
        click.echo(
            f"{'':<10} limit: {limit}; threads: {'yes' if row['threads'] else 'no'};"
            f" deduplicates: {'yes' if row['deduplicates'] else 'no'}"
        )
        click.echo(
            f"{'':<10} credentials: {', '.join(row['credentials']) or '-'};"
            f" required settings: {', '.join(row['required_settings']) or '-'}"
        )
        reads = f"yes ({row['metrics_scopes']})" if row["metrics"] else f"no ({row['metrics_scopes']})"
        click.echo(f"{'':<10} metrics: {reads}")


@channels.command("check")
@click.argument("campaign_file", type=click.Path())  # missing, a folder: one line from the reader
@click.argument("account", required=False)
@click.option(
    "--db", "db", default=None, help="Accepted for symmetry with other commands; check never opens it."
)
@click.option("--timeout", default=20.0, show_default=True, help="Seconds per request.")
def check_command(campaign_file: str, account: str | None, db: str | None, timeout: float) -> None:
    """Verify each account's credentials with a harmless call (never posts); one line per account."""
    import httpx

    from campaign.source.config import load_campaign

    campaign = load_campaign(campaign_file)
    # Credentials resolve lazily from the environment when verify() builds its request.
    accounts: Mapping[str, Account] = {name: cfg.to_account() for name, cfg in campaign.accounts.items()}
    if account is not None and account not in accounts:
        raise click.UsageError(
            f"no account {account!r} in {campaign_file} (have: {', '.join(sorted(accounts))})"
        )

    async def main() -> list[CheckResult]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await check_accounts(accounts, client, account)

    import asyncio

    results = asyncio.run(main())
    for result in results:
        click.echo(format_result(result))
    if not all(r.ok for r in results):
        raise SystemExit(1)


def format_result(result: CheckResult) -> str:
    """``account  channel  ok  who`` or ``account  channel  FAILED  error``."""
    status = "ok" if result.ok else "FAILED"
    return f"{result.account:<16} {result.channel:<10} {status:<6} {result.detail}"


if __name__ == "__main__":  # ``python -m campaign.cli.channels``: the group on its own
    channels()
