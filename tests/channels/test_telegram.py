"""Telegram adapter, table-driven through httpx.MockTransport and campaign.http.exchange.run.

Request and response shapes follow the Bot API documentation:
https://core.telegram.org/bots/api#making-requests (the ``ok``/``result``/``error_code``/``description``
envelope), https://core.telegram.org/bots/api#sendmessage, https://core.telegram.org/bots/api#getme and
https://core.telegram.org/bots/api#responseparameters (``retry_after``, ``migrate_to_chat_id``).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.telegram import TelegramAdapter
from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.http.exchange import Recording, run_dry
from campaign.secrets import redact_resolved
from tests.helpers.channels import (
    Case,
    Script,
    Step,
    assert_hidden,
    describe,
    make_account,
    raising,
    respond,
    run_with,
)

TOKEN = "987654321:canary-TgToken_9f8e7d"
SEND = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
GET_ME = f"https://api.telegram.org/bot{TOKEN}/getMe"
TEXT = "Our new rail line opens on 18 January. https://example.org/rail"
LINK = LinkCard(url="https://example.org/rail", title="New rail line", description="Opening day")
PART = Part(post_id="p1", idempotency_key="k" * 32, text=TEXT, link=LINK)


def message(message_id: int, *, chat: dict[str, Any] | None = None, text: str = TEXT) -> dict[str, Any]:
    """A documented sendMessage success: the sent Message."""
    chat = chat or {"id": -1001234567890, "type": "channel", "title": "Rail news", "username": "railnews"}
    return {"ok": True, "result": {"message_id": message_id, "date": 1800000000, "chat": chat, "text": text}}


def error(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return respond(code, body)


FIRST = {"chat_id": "@railnews", "text": TEXT, "link_preview_options": {"url": LINK.url}}
FIRST_RECEIPT = Receipt(
    remote_id="42", url="https://t.me/railnews/42", data={"message_id": "42", "chat_id": "-1001234567890"}
)
SECOND = Part(
    post_id="p1",
    idempotency_key="k" * 32,
    text="Part two.",
    index=1,
    count=2,
    reply_to=FIRST_RECEIPT,
    root=FIRST_RECEIPT,
)

CASES = [
    Case(
        "single post with link preview",
        [Step("POST", SEND, respond(200, message(42)), json=FIRST)],
        FIRST_RECEIPT,
    ),
    Case(
        "thread part replies to the previous message",
        [
            Step(
                "POST",
                SEND,
                respond(200, message(43, text="Part two.")),
                json={"chat_id": "@railnews", "text": "Part two.", "reply_parameters": {"message_id": 42}},
            )
        ],
        Receipt(
            remote_id="43",
            url="https://t.me/railnews/43",
            data={"message_id": "43", "chat_id": "-1001234567890"},
        ),
        part=SECOND,
    ),
    Case(
        "numeric private chat, previews off, silent, no public link",
        [
            Step(
                "POST",
                SEND,
                respond(200, message(7, chat={"id": -100555, "type": "supergroup"})),
                json={
                    "chat_id": -100555,
                    "text": TEXT,
                    "link_preview_options": {"is_disabled": True},
                    "message_thread_id": 12,
                    "disable_notification": True,
                },
            )
        ],
        Receipt(remote_id="7", url=None, data={"message_id": "7", "chat_id": "-100555"}),
        settings={
            "chat_id": "-100555",
            "link_preview": False,
            "message_thread_id": 12,
            "disable_notification": "true",
        },
    ),
    Case(
        "chat_username setting gives the public link",
        [Step("POST", SEND, respond(200, message(8, chat={"id": -100555, "type": "channel"})))],
        Receipt(
            remote_id="8", url="https://t.me/railpublic/8", data={"message_id": "8", "chat_id": "-100555"}
        ),
        settings={"chat_id": "-100555", "chat_username": "railpublic", "parse_mode": "HTML"},
    ),
    Case(
        "flood control: 429 with parameters.retry_after",
        [Step("POST", SEND, error(429, "Too Many Requests: retry after 7", retry_after=7))],
        RateLimitedError,
        check=lambda sent, e: e.retry_after == 7.0 and e.status == 429,
    ),
    Case(
        "flood control with a retry_after that is no number: rate limited, for the default wait",
        [Step("POST", SEND, error(429, "Too Many Requests", retry_after="soon"))],
        RateLimitedError,
        check=lambda sent, e: e.retry_after is None and e.retry_at is None and e.status == 429,
    ),
    Case(
        "chat not found is permanent",
        [Step("POST", SEND, error(400, "Bad Request: chat not found"))],
        PermanentError,
        check=lambda sent, e: "chat not found" in str(e),
    ),
    Case(
        "group migrated to a supergroup names the new chat id",
        [
            Step(
                "POST",
                SEND,
                error(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=-1009876,
                ),
            )
        ],
        PermanentError,
        check=lambda sent, e: "-1009876" in str(e),
    ),
    Case("revoked token is an auth error", [Step("POST", SEND, error(401, "Unauthorized"))], AuthError),
    Case(
        "bot removed from the channel is an auth error",
        [Step("POST", SEND, error(403, "Forbidden: bot is not a member of the channel chat"))],
        AuthError,
    ),
    Case(
        "internal server error may have sent: ambiguous",
        [Step("POST", SEND, error(500, "Internal Server Error"))],
        AmbiguousError,
    ),
    Case(
        "200 without a readable body is ambiguous",
        [Step("POST", SEND, respond(200, text="<html>"))],
        AmbiguousError,
    ),
    Case(
        "read timeout after sending is ambiguous",
        [Step("POST", SEND, raising(httpx.ReadTimeout))],
        AmbiguousError,
    ),
    Case(
        "connection refused is transient", [Step("POST", SEND, raising(httpx.ConnectError))], TransientError
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_publish(case: Case) -> None:
    settings = {"chat_id": "@railnews", **case.settings}
    adapter = TelegramAdapter(make_account("telegram", settings, {"token": TOKEN}))
    sent, result = case.run(adapter, adapter.publish(case.part or PART))
    if isinstance(result, ChannelError):
        assert_hidden(result, TOKEN)
    assert sent[0].headers["content-type"] == "application/json"


def test_verify_calls_get_me() -> None:
    adapter = TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": TOKEN}))
    me = {
        "ok": True,
        "result": {"id": 987654321, "is_bot": True, "first_name": "Rail", "username": "rail_bot"},
    }
    script = Script([Step("GET", GET_ME, respond(200, me))])
    assert run_with(script, adapter.verify(), adapter) == "@rail_bot (bot id 987654321)"
    script.assert_done()


def test_dry_run_receipt_links_the_public_chat() -> None:
    adapter = TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": TOKEN}))
    receipt = run_dry(adapter.publish(PART), adapter, PART, Recording())
    assert receipt.url == "https://t.me/railnews/dry-run-message-1"
    assert run_dry(adapter.verify(), adapter, None, Recording()) == "@dry-run-bot (bot id 0)"


def test_canary_token_never_leaks() -> None:
    adapter = TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": TOKEN}))
    # The platform echoing the request back must not leak it either.
    echo = error(400, f"Bad Request: cannot parse {SEND}")
    with pytest.raises(PermanentError) as info:
        run_with(Script([Step("POST", SEND, echo)]), adapter.publish(PART), adapter)
    assert_hidden(info.value, TOKEN)
    with pytest.raises(AmbiguousError) as timeout:
        run_with(Script([Step("POST", SEND, raising(httpx.ReadTimeout))]), adapter.publish(PART), adapter)
    assert TOKEN not in str(timeout.value)
    recording = Recording()
    run_dry(adapter.publish(PART), adapter, PART, recording)
    described = describe(adapter, recording.requests[0])
    assert "[REDACTED]" in str(described["url"])  # the token is part of the URL's path


def test_malformed_token_is_refused_without_echo() -> None:
    bad = "not a token/with?chars"
    adapter = TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": bad}))
    with pytest.raises(PermanentError) as info:
        run_with(Script([]), adapter.publish(PART), adapter)
    assert bad not in str(info.value)


def test_httpx_logs_the_token_in_request_urls(caplog: pytest.LogCaptureFixture) -> None:
    """httpx logs every request URL at INFO on logger "httpx": with Telegram that URL holds the bot token.

    This test shows the hazard (the daemon must install a redacting filter on that logger) and that
    :func:`campaign.secrets.redact_resolved` scrubs such a record once the token has been resolved.
    """
    adapter = TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": TOKEN}))
    with caplog.at_level(logging.INFO, logger="httpx"):
        run_with(Script([Step("POST", SEND, respond(200, message(42)))]), adapter.publish(PART), adapter)
    records = [r for r in caplog.records if r.name == "httpx"]
    assert records and TOKEN in records[0].getMessage()
    assert TOKEN not in redact_resolved(records[0].getMessage())
