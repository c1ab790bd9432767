"""Dry-run requests of every built-in adapter, as plain JSON documents to validate against platform specs.

Each adapter runs on its contract sample account (canary credentials, fixed clock) and on a richer set of
settings, through :func:`campaign.http.exchange.run_dry`: the same exchange and the same completed
requests (User-Agent included) that ``campaign preview --requests`` records and the daemon sends. A request
becomes ``{"method", "url", "query", "headers", "body"}``: ``url`` without its query, header names in lower
case (httpx's own ``host`` and ``content-length`` left out), the body parsed as JSON or as a form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import httpx

from campaign import channels
from campaign.channels import contract
from campaign.channels.base import Adapter, Part
from campaign.http.exchange import Recording, run_dry

#: Text that needs escaping or careful handling on some platform: markup characters, a mention, a
#: digits-only non-tag, emoji, a URL with a query, reserved little-text characters.
TRICKY = Part(
    post_id="conformance-tricky",
    idempotency_key="conformance-00112233445566778899aabbccddeeff",
    text=(
        "R&D <update> for @alice.bsky.social & friends: 5 > 3 #2024 #Launch 🚀 "
        "https://example.org/a?b=1&c=2 (see docs_v2) ~ *bold* [x] {y} | \\ <!channel>"
    ),
    campaign="conformance",
)

#: Optional settings each platform is also run with (every value a documented choice).
RICH_SETTINGS: Mapping[str, Mapping[str, Any]] = {
    "discord": {
        "username": "Campaign",
        "avatar_url": "https://example.org/avatar.png",
        "thread_id": "123456789012345678",
        "link_preview": "false",
        "guild_id": "99",
    },
    "facebook": {"graph_version": "v25.0"},
    "linkedin": {"author": "urn:li:organization:12345", "version": "202601"},
    "mastodon": {"visibility": "unlisted", "language": "en"},
    "slack": {"unfurl_links": "false"},
    "teams": {"link_title": "Read more"},
    "telegram": {
        "chat_id": "-1001234567890",
        "chat_username": "contract_news",
        "message_thread_id": "7",
        "disable_notification": "true",
        "link_preview": "false",
    },
    "threads": {"user_id": "1234567890"},
    "x": {"username": "contract"},
    "bluesky": {"language": "en", "service": "https://pds.example"},
}


@dataclass(frozen=True)
class Scenario:
    """One adapter configuration whose dry runs are validated."""

    channel: str
    variant: str  # "sample" or "rich"

    @property
    def id(self) -> str:
        return f"{self.channel}-{self.variant}"

    def adapter(self) -> Adapter:
        cls = channels.load(self.channel)
        adapter = contract.sample_adapter(cls, placeholder=False)
        if self.variant == "rich":
            settings = {**adapter.account.settings, **RICH_SETTINGS.get(self.channel, {})}
            account = replace(adapter.account, settings=settings)
            adapter = cls(account, clock=lambda: contract.NOW)
        return adapter


def scenarios(built_in: list[str]) -> list[Scenario]:
    return [Scenario(name, variant) for name in built_in for variant in ("sample", "rich")]


def recorded(scenario: Scenario) -> list[httpx.Request]:
    """The requests of a post with a link card, its thread's part 2 (where the platform threads), a post
    with tricky text and no card, and ``verify``, all run dry on one adapter."""
    adapter = scenario.adapter()
    recording = Recording()
    first = run_dry(adapter.publish(contract.FIRST), adapter, contract.FIRST, recording)
    if adapter.rules.threads:
        second = contract.second_part(first)
        run_dry(adapter.publish(second), adapter, second, recording)
    run_dry(adapter.publish(TRICKY), adapter, TRICKY, recording)
    run_dry(adapter.verify(), adapter, None, recording)
    return recording.requests


def as_document(request: httpx.Request) -> dict[str, Any]:
    """The request as ``{"method", "url", "query", "headers", "body"}`` (see the module docstring)."""
    url = request.url
    port = f":{url.port}" if url.port is not None else ""
    headers = {
        name.lower(): value
        for name, value in request.headers.multi_items()
        if name.lower() not in ("host", "content-length")
    }
    raw = request.content
    body: Any = None
    if raw:
        kind = headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = json.loads(raw)
        elif kind.startswith("application/x-www-form-urlencoded"):
            body = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True))
        else:
            body = raw.decode("utf-8")
    return {
        "method": request.method,
        "url": f"{url.scheme}://{url.host}{port}{url.path}",
        "query": dict(url.params.multi_items()),
        "headers": headers,
        "body": body,
    }

