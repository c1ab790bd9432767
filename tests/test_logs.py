"""Structured logs never carry a secret, httpx request lines included (Telegram puts its token in URLs)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

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


def test_key_value_fields_are_ordered_quoted_and_skipped_as_documented() -> None:
    """Known fields first in FIELDS order, then other extras as given; None and ``_private`` fields left out;
    a value is quoted only when it is empty or holds a space, a quote or ``=``, whatever the others hold."""
    record = logging.makeLogRecord(
        {"name": "campaign.t", "levelname": "INFO", "levelno": 20, "msg": "m", "zeta": "z=1", "_hidden": "h",
         "outcome": "sent", "alpha": "", "error": None, "post_id": 7, "late": True,
         "next_attempt_at": datetime(2030, 3, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
         "account": 'say "hi"'}
    )
    text = logs.KeyValueFormatter().format(record)
    assert text.split(" campaign.t: ", 1)[1] == (
        'm post_id=7 account="say \\"hi\\"" outcome=sent next_attempt_at=2030-03-02T01:04:05Z '
        'zeta="z=1" alpha="" late=True'
    )
    plain = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "msg": "m", "post_id": 1, "channel": "x"}
    )
    assert logs.KeyValueFormatter().format(plain).endswith(" x: m post_id=1 channel=x")
    bare = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "no fields"})
    assert logs.KeyValueFormatter().format(bare).endswith(" INFO x: no fields")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        logs.make_handler("xml")
