"""Structured logs never carry a secret, httpx request lines included (Telegram puts its token in URLs)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from campaign import logs
from campaign.channels.base import Account, Part
from campaign.channels.telegram import TelegramAdapter
from campaign.http.exchange import run
from campaign.secrets import Credentials, SecretRef

CANARY = "7013257469:AAFcanaryCANARYcanary_token-1234567"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure("text", "INFO", stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def _send_with_telegram() -> None:
    creds = Credentials({"token": SecretRef(env="BOT")}, account="tg", environ={"BOT": CANARY})
    adapter = TelegramAdapter(Account("tg", "telegram", {"chat_id": "@news"}, creds))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 7, "chat": {"id": 1}}})

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            part = Part(post_id="p/tg", idempotency_key="k", text="hello")
            await run(adapter.publish(part), client, adapter)

    asyncio.run(go())


def test_httpx_request_lines_are_redacted(captured: io.StringIO) -> None:
    logs.configure("text", "DEBUG", captured)  # httpx's request lines show at DEBUG only
    _send_with_telegram()
    output = captured.getvalue()
    assert "HTTP Request: POST https://api.telegram.org/bot[REDACTED]/sendMessage" in output
    assert CANARY not in output


def test_httpx_request_lines_stay_out_of_info_logs(captured: io.StringIO) -> None:
    _send_with_telegram()
    assert "HTTP Request" not in captured.getvalue()
    logs.configure("text", "WARNING", captured)
    _send_with_telegram()
    assert captured.getvalue() == ""


def test_secrets_in_args_fields_and_tracebacks_are_redacted(captured: io.StringIO) -> None:
    _send_with_telegram()  # resolves the canary, so it is known to redact_resolved
    log = logging.getLogger("campaign.test")
    log.warning("token %s in args", CANARY, extra={"account": "tg", "error": f"bad {CANARY}"})
    try:
        raise RuntimeError(f"boom {CANARY}")
    except RuntimeError:
        log.exception("failed")
    output = captured.getvalue()
    assert CANARY not in output
    assert "token [REDACTED] in args" in output
    assert 'error="bad [REDACTED]"' in output


def test_key_value_and_json_formats_carry_the_structured_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "campaign.dispatch.dispatcher", "levelname": "INFO", "levelno": 20, "msg": "post 7 sent",
         "post_id": 7, "campaign": "mini", "channel": "x", "account": "main x", "attempt": 1,
         "outcome": "sent"}
    )
    text = logs.KeyValueFormatter().format(record)
    assert text.endswith(
        "campaign.dispatch.dispatcher: post 7 sent "
        'post_id=7 campaign=mini channel=x account="main x" attempt=1 outcome=sent'
    )
    data = json.loads(logs.JsonFormatter().format(record))
    assert data["message"] == "post 7 sent"
    assert {k: data[k] for k in ("post_id", "campaign", "channel", "account", "attempt", "outcome")} == {
        "post_id": 7, "campaign": "mini", "channel": "x", "account": "main x", "attempt": 1, "outcome": "sent"
    }


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        logs.make_handler("xml")
