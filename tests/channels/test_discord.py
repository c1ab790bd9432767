"""Discord webhook adapter, table-driven through httpx.MockTransport and campaign.http.exchange.run.

Shapes: https://discord.com/developers/docs/resources/webhook#execute-webhook (``wait=true`` returns the
message object), #get-webhook-with-token, the rate-limit response and headers of
https://discord.com/developers/docs/topics/rate-limits and the JSON error codes of
https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, RateLimit, Receipt
from campaign.channels.discord import DiscordAdapter, versioned_webhook_url
from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    NOW,
    Case,
    Script,
    Step,
    describe,
    make_account,
    respond,
    run_with,
)

SECRET = "canaryDiscordToken-abc_123"
HOOK = f"https://discord.com/api/webhooks/1111222233334444/{SECRET}"
#: What is sent: the webhook URL on API v10 (https://discord.com/developers/docs/reference#api-versioning).
WIRE = f"https://discord.com/api/v10/webhooks/1111222233334444/{SECRET}"
TEXT = "Our new rail line opens on 18 January. @everyone https://example.org/rail"
PART = Part(post_id="p1", idempotency_key="k" * 32, text=TEXT, link=LinkCard(url="https://example.org/rail"))
BODY = {"content": TEXT, "allowed_mentions": {"parse": []}}


def message(**extra: Any) -> dict[str, Any]:
    """The documented message object returned with wait=true."""
    return {
        "id": "5555",
        "type": 0,
        "channel_id": "7777",
        "content": TEXT,
        "webhook_id": "1111222233334444",
        **extra,
    }


RECEIPT = Receipt(
    remote_id="5555",
    url="https://discord.com/channels/9999/7777/5555",
    data={"channel_id": "7777", "message_id": "5555"},
)
LIMIT_HEADERS = {
    "X-RateLimit-Limit": "5",
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Reset": "1800000000.5",
    "X-RateLimit-Reset-After": "1.5",
    "X-RateLimit-Bucket": "abcd",
}


def post(response: httpx.Response, body: dict[str, Any] = BODY, params: dict[str, str] | None = None) -> Step:
    """The Execute Webhook request a row expects, answered with ``response``."""
    return Step("POST", WIRE, response, json=body, params=params or {"wait": "true"})


CASES = [
    Case("posted, message link from guild_id", [post(respond(200, message(), LIMIT_HEADERS))], RECEIPT),
    Case(
        "no guild known: no link",
        [post(respond(200, message()))],
        Receipt("5555", None, RECEIPT.data),
        settings={"guild_id": None},
    ),
    Case(
        "display overrides, embeds suppressed, into a thread",
        [
            post(
                respond(200, message()),
                body={**BODY, "username": "Rail News", "avatar_url": "https://example.org/a.png", "flags": 4},
                params={"wait": "true", "thread_id": "4242"},
            )
        ],
        RECEIPT,
        settings={
            "guild_id": "9999",
            "username": "Rail News",
            "avatar_url": "https://example.org/a.png",
            "link_preview": "false",
            "thread_id": "4242",
        },
    ),
    Case(
        "429 with JSON retry_after (float seconds)",
        [
            post(
                respond(
                    429,
                    {"message": "You are being rate limited.", "retry_after": 0.75, "global": False},
                    {"Retry-After": "1", "X-RateLimit-Reset-After": "0.750", "X-RateLimit-Scope": "shared"},
                )
            )
        ],
        RateLimitedError,
        check=lambda sent, e: e.retry_after == 0.75 and "shared" in str(e),
    ),
    Case(
        "global 429 falls back to the reset-after header",
        [
            post(
                respond(
                    429,
                    {"message": "You are being rate limited.", "global": True},
                    {"X-RateLimit-Reset-After": "2.5", "X-RateLimit-Global": "true"},
                )
            )
        ],
        RateLimitedError,
        check=lambda sent, e: e.retry_after == 2.5 and "global" in str(e),
    ),
    Case(
        "50006 empty message is permanent",
        [post(respond(400, {"code": 50006, "message": "Cannot send an empty message"}))],
        PermanentError,
        check=lambda sent, e: "50006" in str(e),
    ),
    Case(
        "50035 invalid form body is permanent",
        [post(respond(400, {"code": 50035, "message": "Invalid Form Body", "errors": {}}))],
        PermanentError,
    ),
    Case(
        "10015 unknown webhook: the credential is dead",
        [post(respond(404, {"code": 10015, "message": "Unknown Webhook"}))],
        AuthError,
    ),
    Case(
        "50027 invalid webhook token",
        [post(respond(401, {"code": 50027, "message": "Invalid Webhook Token"}))],
        AuthError,
    ),
    Case("200 without a message is ambiguous", [post(respond(200, text=""))], AmbiguousError),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_publish(case: Case) -> None:
    settings = {"guild_id": "9999", **case.settings}
    adapter = DiscordAdapter(make_account("discord", settings, {"webhook_url": HOOK}))
    _, result = case.run(adapter, adapter.publish(case.part or PART))
    if isinstance(result, ChannelError):
        assert SECRET not in str(result)


def test_rate_limit_headers_prefer_reset_after() -> None:
    adapter = DiscordAdapter(make_account("discord", {}, {"webhook_url": HOOK}))
    limits: list[RateLimit] = []
    script = Script([Step("POST", WIRE, respond(200, message(), LIMIT_HEADERS), params={"wait": "true"})])
    run_with(script, adapter.publish(PART), adapter, limits=limits)
    assert limits == [RateLimit(remaining=0, reset_at=NOW + timedelta(seconds=1.5), limit=5)]


def test_verify_gets_the_webhook_without_posting() -> None:
    adapter = DiscordAdapter(make_account("discord", {}, {"webhook_url": HOOK}))
    hook = {
        "id": "1111222233334444",
        "type": 1,
        "guild_id": "9999",
        "channel_id": "7777",
        "name": "Rail News",
        "avatar": None,
        "application_id": None,
        "token": SECRET,
    }
    script = Script([Step("GET", WIRE, respond(200, hook))])
    who = run_with(script, adapter.verify(), adapter)
    assert who == "webhook 'Rail News' (channel 7777, guild 9999)" and SECRET not in who
    script.assert_done()
    failing = Script([Step("GET", WIRE, respond(404, {"code": 10015, "message": "Unknown Webhook"}))])
    with pytest.raises(AuthError):
        run_with(failing, adapter.verify(), adapter)


def test_dry_run_placeholders_and_canary() -> None:
    adapter = DiscordAdapter(make_account("discord", {"guild_id": "9999"}, {"webhook_url": HOOK}))
    recording = Recording()
    receipt = run_dry(adapter.publish(PART), adapter, PART, recording)
    assert receipt.remote_id == "dry-run-message"
    assert receipt.url == "https://discord.com/channels/9999/dry-run-channel/dry-run-message"
    described = describe(adapter, recording.requests[0])
    assert SECRET not in repr(described) and described["url"] == "[REDACTED]?wait=true"
    assert described["body"] == BODY


@pytest.mark.parametrize(
    "given",
    [
        HOOK,
        f"https://discord.com/api/v9/webhooks/1111222233334444/{SECRET}",
        f"https://discord.com/api/v10/webhooks/1111222233334444/{SECRET}",
    ],
    ids=["no version", "older version", "v10"],
)
def test_webhook_url_is_sent_on_api_v10_and_redacted(given: str) -> None:
    adapter = DiscordAdapter(make_account("discord", {}, {"webhook_url": given}))
    script = Script([post(respond(200, message()))])
    assert run_with(script, adapter.publish(PART), adapter).remote_id == "5555"
    recording = Recording()
    run_dry(adapter.publish(PART), adapter, PART, recording)
    assert str(recording.requests[0].url) == f"{WIRE}?wait=true"
    described = describe(adapter, recording.requests[0])
    assert SECRET not in repr(described) and described["url"] == "[REDACTED]?wait=true"


def test_versioning_keeps_other_hosts_and_paths() -> None:
    canary = httpx.URL("https://canary.discord.com/api/webhooks/1/t%2Fk")
    assert str(versioned_webhook_url(canary)) == "https://canary.discord.com/api/v10/webhooks/1/t%2Fk"
    proxy = httpx.URL("http://127.0.0.1:8080/hooks/1/tok")
    assert versioned_webhook_url(proxy) == proxy
