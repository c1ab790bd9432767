"""Dry-run requests of every built-in adapter, and their validation against the platforms' specifications.

Each adapter runs on its contract sample account (canary credentials, fixed clock) and on a richer set of
settings, through :func:`campaign.http.exchange.run_dry`: the same exchange and the same completed
requests (User-Agent included) that ``campaign preview --requests`` records and the daemon sends. A request
becomes ``{"method", "url", "query", "headers", "body"}``: ``url`` without its query, header names in lower
case (httpx's own ``host`` and ``content-length`` left out), the body parsed as JSON or as a form.

:func:`problems` checks a document against tests/conformance/schemas/<channel>.json; :func:`bluesky_checks`
and :func:`validate_lexicons` check Bluesky's XRPC calls with the reference lexicon validator.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from jsonschema import Draft202012Validator

from campaign import channels
from campaign.channels import contract
from campaign.channels.base import Adapter, Part
from campaign.http.exchange import Recording, run_dry
from tests.helpers.oracles import oracle_missing

SCHEMAS = Path(__file__).resolve().parent / "schemas"
ORACLES = Path(__file__).resolve().parents[1] / "oracles"
#: Channels with a written schema (the generic ``webhook`` channel is our own format, not a platform's).
DOCUMENTED = ["discord", "facebook", "linkedin", "mastodon", "slack", "teams", "telegram", "threads", "x"]

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


# -- JSON Schemas written from the documentation ---------------------------------------------------------


@cache
def schema(channel: str) -> dict[str, Any]:
    loaded = json.loads((SCHEMAS / f"{channel}.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def problems(channel: str, document: dict[str, Any]) -> list[str]:
    """Why ``document`` (a request) does not conform to ``channel``'s schema; empty when it does."""
    spec = schema(channel)
    line = f"{document['method']} {document['url']}"
    endpoints = [e for e in spec["x-endpoints"] if re.search(e["match"], line)]
    if len(endpoints) != 1:
        return [f"{line}: matches {len(endpoints)} documented endpoints (expected exactly one)"]
    validator = Draft202012Validator({**spec, "$ref": endpoints[0]["schema"]})
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    found = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(request)"
        found.append(f"{line}: {where}: {error.message[:300]}")
    return found


# -- Bluesky: the published lexicons and the reference validator ------------------------------------------

#: Syntactically valid stand-ins for the ``dry-run`` placeholders a dry run gives server-assigned values
#: (content ids, repo revisions): the validator checks their syntax, and a placeholder is marked on purpose.
STAND_INS = {
    "cid": "bafyreigq3exe2m23sojzoachuyucow4vu7eyatati4uy6scr4ixt6xwlhi",
    "rev": "3jzfcijpj2z2a",
    # a blob ref in a dry run (an uploaded image): a raw-codec CID as the PDS gives
    "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy",
}


MISSING = oracle_missing("@atproto/lexicon", "@atproto/api")


def validate_lexicons(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run tests/oracles/lexicon_check.js over ``checks`` (``{"kind", "nsid", "value"}``); one answer each."""
    stdin = "".join(json.dumps(c) + "\n" for c in checks)
    proc = subprocess.run(
        ["node", str(ORACLES / "lexicon_check.js")],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ORACLES,
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(checks), proc.stderr
    return answers


def stand_in(value: Any) -> Any:
    """``value`` with each ``dry-run`` placeholder under a key of :data:`STAND_INS` replaced."""
    if isinstance(value, dict):
        return {
            k: STAND_INS[k] if k in STAND_INS and str(v).startswith("dry-run") else stand_in(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [stand_in(v) for v in value]
    return value


def bluesky_checks(requests: list[httpx.Request]) -> list[dict[str, Any]]:
    """What to validate for each recorded XRPC request: its params or input, and a created record."""
    checks: list[dict[str, Any]] = []
    for request in requests:
        document = as_document(request)
        assert document["headers"].get("user-agent"), document["url"]
        path = document["url"].split("/xrpc/", 1)
        assert len(path) == 2, f"not an XRPC call: {document['url']}"
        nsid = path[1]
        checks.append({"kind": "params", "nsid": nsid, "value": document["query"]})
        if document["method"] == "POST" and document["body"] is not None:
            body = stand_in(document["body"])
            checks.append({"kind": "input", "nsid": nsid, "value": body})
            if nsid == "com.atproto.repo.createRecord":
                checks.append({"kind": "record", "nsid": body["collection"], "value": body["record"]})
    return checks
