"""What reaches the wire besides the adapter's own request: the User-Agent, and the URL in error messages.

Adapters build bare ``httpx.Request`` objects and :func:`campaign.http.exchange.run` sends them with
``AsyncClient.send``, which (unlike ``build_request``) does not merge the client's default headers. Discord
requires a User-Agent on every call (https://discord.com/developers/docs/reference#user-agent), so these
tests read the headers a real loopback server received, over both of the daemon's transports.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from campaign import __version__
from campaign.channels.base import Part
from campaign.channels.bluesky import BlueskyAdapter
from campaign.channels.discord import DiscordAdapter
from campaign.dispatch.daemon import TRANSPORTS, make_client
from campaign.errors import PermanentError, TransientError
from campaign.http.exchange import (
    Recording,
    complete_request,
    describe_request,
    format_user_agent,
    run,
    run_dry,
    url_for_message,
    user_agent,
)
from tests.helpers.channels import make_account
from tests.test_transport import Script, ok, serve

PART = Part(post_id="p1", idempotency_key="k" * 32, text="Hello")
MESSAGE = b'{"id": "5", "channel_id": "7", "type": 0, "content": "Hello"}'


def discord(url: str) -> DiscordAdapter:
    return DiscordAdapter(make_account("discord", {}, {"webhook_url": url}))


def test_user_agent_names_campaign_its_version_and_homepage() -> None:
    assert user_agent() == format_user_agent(__version__, _project_urls())
    urls = ["Source, https://example.org/src", "Homepage, https://example.org/campaign"]
    assert format_user_agent("1.2.3", urls) == "campaign/1.2.3 (+https://example.org/campaign)"
    assert format_user_agent("1.2.3", []) == "campaign/1.2.3"


def _project_urls() -> list[str]:
    from importlib import metadata

    return metadata.metadata("campaign").get_all("Project-URL") or []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_daemons_client_sends_a_user_agent(transport: str) -> None:
    script = Script([ok(MESSAGE)])

    async def go() -> None:
        async with serve(script) as base, make_client(1, transport=transport) as client:
            adapter = discord(f"{base}/api/webhooks/1/canary-token-0123")
            await run(adapter.publish(PART), client, adapter)

    asyncio.run(go())
    (seen,) = script.seen
    assert seen.path == "/api/v10/webhooks/1/canary-token-0123?wait=true"
    assert seen.headers["user-agent"].startswith(f"campaign/{__version__}")
    assert seen.headers["content-type"] == "application/json"


def test_a_plain_client_sends_ours_not_httpxs() -> None:
    script = Script([ok(MESSAGE)])

    async def go() -> None:
        async with serve(script) as base, httpx.AsyncClient() as client:
            adapter = discord(f"{base}/api/webhooks/1/canary-token-0123")
            await run(adapter.publish(PART), client, adapter)

    asyncio.run(go())
    (seen,) = script.seen
    assert seen.headers["user-agent"] == user_agent()
    assert seen.headers["accept"] == "application/json"  # the adapter's own header wins over "*/*"


def test_client_defaults_fill_gaps_and_the_adapters_headers_win() -> None:
    defaults = httpx.Headers({"User-Agent": "campaign/custom", "Accept": "*/*", "X-Trace": "t1"})
    request = httpx.Request("GET", "https://example.org/", headers={"Accept": "application/json"})
    complete_request(request, defaults)
    assert request.headers["user-agent"] == "campaign/custom"
    assert request.headers["accept"] == "application/json" and request.headers["x-trace"] == "t1"
    own = httpx.Request("GET", "https://example.org/", headers={"User-Agent": "adapter/1"})
    assert complete_request(own, defaults).headers["user-agent"] == "adapter/1"


def _completed_by_hand(request: httpx.Request, defaults: httpx.Headers) -> httpx.Headers:
    """What :func:`complete_request` promises, written plainly: each default the request lacks (httpx's
    own User-Agent excepted), then our User-Agent if there is still none."""
    out = httpx.Headers(request.headers)
    for name, value in defaults.multi_items():
        if name in out or (name == "user-agent" and value.startswith("python-httpx/")):
            continue
        out[name] = value
    if "user-agent" not in out:
        out["User-Agent"] = user_agent()
    return out


@pytest.mark.parametrize(
    "defaults",
    [
        httpx.AsyncClient().headers,  # httpx's defaults: its own User-Agent is replaced by ours
        httpx.Headers({"User-Agent": "campaign/custom", "Accept": "*/*", "X-Trace": "t1"}),
        httpx.Headers([("X-Twice", "a"), ("x-twice", "b"), ("CONNECTION", "close")]),
        httpx.Headers(),
    ],
)
@pytest.mark.parametrize(
    "own", [{}, {"Accept": "application/json"}, {"user-agent": "adapter/1", "X-Twice": "mine"}]
)
def test_completed_headers_are_what_the_plain_rule_gives(
    defaults: httpx.Headers, own: dict[str, str]
) -> None:
    request = httpx.Request("POST", "https://example.org/", headers=own, content=b"{}")
    expected = _completed_by_hand(request, defaults)
    assert complete_request(request, defaults).headers.multi_items() == expected.multi_items()
    assert request.headers.raw == expected.raw  # the bytes the wire transport writes, names' case included
    assert dict(request.headers) == dict(expected)  # httpx's own lookups see the same headers


def test_a_request_with_its_own_header_encoding_gets_its_defaults_in_it() -> None:
    """Headers that chose an encoding other than UTF-8 get the defaults as ``headers[name] = value``
    encodes them."""
    latin = [(b"X-Name", "caf\xe9".encode("iso-8859-1"))]
    request = httpx.Request("GET", "https://example.org/", headers=latin)
    request.headers.encoding = "iso-8859-1"
    complete_request(request, httpx.Headers({"X-Default": "d\xe9faut"}, encoding="utf-8"))
    assert request.headers.raw[-2] == (b"x-default", "d\xe9faut".encode("iso-8859-1"))
    assert request.headers["x-default"] == "d\xe9faut"


def test_a_changed_client_header_is_used_at_once() -> None:
    """The defaults are read per call (cached by their content), so a client whose headers change sends the
    new ones."""
    defaults = httpx.Headers({"User-Agent": "campaign/one"})
    first = complete_request(httpx.Request("GET", "https://example.org/"), defaults)
    defaults["User-Agent"] = "campaign/two"
    second = complete_request(httpx.Request("GET", "https://example.org/"), defaults)
    assert (first.headers["user-agent"], second.headers["user-agent"]) == ("campaign/one", "campaign/two")


def test_dry_run_records_the_user_agent_for_previews() -> None:
    adapter = discord("https://discord.com/api/webhooks/1/canary-token-0123")
    recording = Recording()
    run_dry(adapter.publish(PART), adapter, PART, recording)
    described = describe_request(recording.requests[0], adapter.account.credentials.known_values())
    headers = described["headers"]
    assert isinstance(headers, dict)
    assert {k.lower(): v for k, v in headers.items()} == {
        "accept": "application/json",
        "content-type": "application/json",
        "user-agent": user_agent(),
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bluesky(service: str) -> BlueskyAdapter:
    return BlueskyAdapter(
        make_account("bluesky", {"handle": "alice.test", "service": service}, {"app_password": "canary-pw-1"})
    )


def test_transport_errors_keep_the_port() -> None:
    # A test server on :2583 is not the platform on :443: the message must say which one failed.
    port = _closed_port()
    adapter = bluesky(f"http://localhost:{port}")

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            await run(adapter.verify(), client, adapter)

    with pytest.raises(TransientError) as info:
        asyncio.run(go())
    assert f"(POST http://localhost:{port}/xrpc/com.atproto.server.createSession)" in str(info.value)


def test_transport_policy_errors_keep_the_port_and_hide_secret_urls() -> None:
    adapter = bluesky("http://pds.example:2583")
    with pytest.raises(PermanentError, match=r"to http://pds\.example:2583/xrpc/com\.atproto\.server\.createS"):
        run_dry(adapter.verify(), adapter, None, Recording())
    # A webhook URL is the credential: named, it is redacted whole (in dry runs too).
    hook = discord("http://hooks.example:8080/api/webhooks/1/canary-token-0123")
    with pytest.raises(PermanentError) as info:
        run_dry(hook.publish(PART), hook, PART, Recording())
    assert "canary-token-0123" not in str(info.value) and "[REDACTED]" in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://localhost:2583/xrpc/com.atproto.repo.getRecord?repo=x", "http://localhost:2583/xrpc/com.atproto.repo.getRecord"),
        ("https://bsky.social/xrpc/a", "https://bsky.social/xrpc/a"),
        ("https://bsky.social:443/xrpc/a", "https://bsky.social/xrpc/a"),
        ("https://user:pw@example.org:8443/p#frag", "https://example.org:8443/p"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_url_for_message(url: str, shown: str) -> None:
    assert url_for_message(httpx.URL(url)) == shown
