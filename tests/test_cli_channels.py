"""`campaign channels list` and `campaign channels check` (campaign/cli/channels.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from click.testing import CliRunner

from campaign.channels.base import Account
from campaign.cli.channels import CheckResult, channels, check_accounts, describe_adapters, format_result
from campaign.secrets import Credentials, SecretRef

TG_TOKEN = "987654321:canary-check-token_x"
SLACK_HOOK = "https://hooks.slack.com/services/T0/B0/canaryCheckSlack"


def account(name: str, channel: str, settings: dict[str, object], secrets: dict[str, str]) -> Account:
    refs = {key: SecretRef(env=f"V_{key.upper()}") for key in secrets}
    environ = {f"V_{key.upper()}": value for key, value in secrets.items()}
    return Account(
        name=name,
        channel=channel,
        settings=settings,
        credentials=Credentials(refs, account=name, environ=environ),
    )


def test_list_json_describes_every_builtin_adapter() -> None:
    result = CliRunner().invoke(channels, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert {"telegram", "slack", "discord", "teams", "webhook", "mastodon"} <= set(rows)
    telegram = rows["telegram"]
    assert telegram["module"] == "campaign.channels.telegram:TelegramAdapter"
    assert (telegram["limit"], telegram["unit"], telegram["threads"]) == (4096, "UTF-16 code units", True)
    assert list(telegram["credentials"]) == ["token"] and list(telegram["required_settings"]) == ["chat_id"]
    assert rows["slack"]["threads"] is False and rows["webhook"]["deduplicates"] is False
    assert describe_adapters() == json.loads(result.output)


def test_list_table_is_one_block_per_adapter() -> None:
    result = CliRunner().invoke(channels, ["list"])
    assert result.exit_code == 0, result.output
    assert "telegram   Telegram  [campaign.channels.telegram:TelegramAdapter]" in result.output
    discord = next(row for row in describe_adapters() if row["name"] == "discord")
    assert f"limit: 2000 {discord['unit']}; threads: no; deduplicates: no" in result.output


def test_check_verifies_each_account_without_posting() -> None:
    accounts = {
        "tg": account("tg", "telegram", {"chat_id": "@railnews"}, {"token": TG_TOKEN}),
        "tg-revoked": account("tg-revoked", "telegram", {"chat_id": "@railnews"}, {"token": TG_TOKEN}),
        "team-chat": account("team-chat", "slack", {}, {"webhook_url": SLACK_HOOK}),
    }
    # "missing" names a credential that is not in its environment.
    accounts["missing"] = Account(
        name="missing",
        channel="telegram",
        settings={"chat_id": "@x"},
        credentials=Credentials({"token": SecretRef(env="NOT_SET_ANYWHERE")}, account="missing", environ={}),
    )
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        assert request.method == "GET"  # check never posts
        if len(calls) == 1:
            me = {"id": 987654321, "is_bot": True, "first_name": "Rail", "username": "rail_bot"}
            return httpx.Response(200, json={"ok": True, "result": me})
        return httpx.Response(
            401, json={"ok": False, "error_code": 401, "description": f"Unauthorized {request.url}"}
        )

    async def go() -> list[CheckResult]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await check_accounts(accounts, client)

    results = {r.account: r for r in asyncio.run(go())}
    assert results["tg"] == CheckResult("tg", "telegram", True, "@rail_bot (bot id 987654321)")
    assert not results["tg-revoked"].ok and results["tg-revoked"].detail.startswith("AuthError: ")
    assert TG_TOKEN not in results["tg-revoked"].detail and "[REDACTED]" in results["tg-revoked"].detail
    assert results["team-chat"].ok and results["team-chat"].detail.startswith("not verified")
    assert not results["missing"].ok and "NOT_SET_ANYWHERE is not set" in results["missing"].detail
    assert len(calls) == 2  # the Slack webhook was never called
    assert format_result(results["tg"]).split() == [
        "tg",
        "telegram",
        "ok",
        "@rail_bot",
        "(bot",
        "id",
        "987654321)",
    ]


def test_importing_the_command_module_stays_light() -> None:
    code = (
        "import sys, campaign.cli.channels; "
        "print(sorted(m for m in sys.modules if m.startswith(('httpx', 'sqlalchemy', 'campaign.channels.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


CHECK_CAMPAIGN = """\
campaign: mini
release: release.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
accounts:
  team_chat:
    channel: slack
    credentials:
      webhook_url: MINI_SLACK_HOOK
  rail_bot:
    channel: telegram
    chat_id: "@railnews"
    credentials:
      token: MINI_TELEGRAM_TOKEN_UNSET
posts:
  - key: launch
    when: "+0d 09:00"
"""


def test_check_command_reads_the_campaign_file(mini: Callable[..., Path]) -> None:
    path = mini(CHECK_CAMPAIGN)
    env = {"MINI_SLACK_HOOK": SLACK_HOOK, "MINI_TELEGRAM_TOKEN_UNSET": ""}
    result = CliRunner().invoke(channels, ["check", str(path)], env=env)
    assert result.exit_code == 1, result.output
    lines = {line.split()[0]: line.split(maxsplit=3)[1:] for line in result.output.splitlines()}
    assert lines["team_chat"][:2] == ["slack", "ok"] and "not verified" in lines["team_chat"][2]
    assert lines["rail_bot"][:2] == ["telegram", "FAILED"]
    assert "CredentialsError" in lines["rail_bot"][2] and "MINI_TELEGRAM_TOKEN_UNSET" in lines["rail_bot"][2]
    assert SLACK_HOOK not in result.output
    only = CliRunner().invoke(channels, ["check", str(path), "team_chat"], env=env)
    assert only.exit_code == 0 and only.output.split()[:3] == ["team_chat", "slack", "ok"]
    unknown = CliRunner().invoke(channels, ["check", str(path), "nobody"], env=env)
    assert unknown.exit_code == 2 and "no account 'nobody'" in unknown.output


def test_list_says_which_channels_can_read_counts_back() -> None:
    from campaign.cli.channels import describe_adapters

    rows = {r["name"]: r for r in describe_adapters()}
    assert rows["mastodon"]["metrics"] is True and "read:statuses" in rows["mastodon"]["metrics_scopes"]
    assert rows["slack"]["metrics"] is False and "no API" in rows["slack"]["metrics_scopes"]
