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


def test_control_characters_in_untrusted_words_are_shown_escaped() -> None:
    """A platform's error text or a file name may carry terminal escapes or a bidirectional override: a log
    line and an error message show them as escapes, on one line."""
    hostile = "bad\x1b]8;;https://evil.example\x07link\u202eexe.png\x00\x9b"
    shown = logs.shown(f"HTTP 400: {hostile}\nsecond line", 500)
    assert shown == "HTTP 400: bad\\x1b]8;;https://evil.example\\x07link\\u202eexe.png\\x00\\x9b second line"
    assert logs.printable("plain words, \u05e9\u05dc\u05d5\u05dd") == "plain words, \u05e9\u05dc\u05d5\u05dd"
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "m", "error": "a\x1bb"})
    assert logs.KeyValueFormatter().format(record).endswith(' x: m error="a\\u001bb"')


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        logs.make_handler("xml")


# -- log_fields: the per-post line without a record ------------------------------------------------------

OUTCOME_FIELDS = [
    {"post_id": 7, "campaign": "mini", "channel": "mastodon", "account": "acct7", "outcome": "sent",
     "remote_id": "110000000000000123"},
    {"post_id": 8, "campaign": "two words", "channel": "x", "account": 'say "hi"', "outcome": "unknown",
     "attempt": 2, "next_attempt_at": datetime(2030, 3, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))},
    {"post_id": 9, "campaign": "", "channel": "bluesky", "account": "a=b", "outcome": "deferred",
     "late": True, "_hidden": "h", "error": None, "zeta": "naïve ünïcode"},
    {"post_id": 10, "campaign": "c", "channel": "x", "account": "main", "outcome": "failed", "detail": 3.5},
]


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> float:
    """logging's records and log_fields read time.time(): one value for both, so their lines compare."""
    now = 1_900_000_000.123
    monkeypatch.setattr("time.time", lambda: now)
    return now


@pytest.fixture
def records_made(monkeypatch: pytest.MonkeyPatch) -> list[logging.LogRecord]:
    """Every record the outcome logger makes from here on."""
    made: list[logging.LogRecord] = []
    logger = logging.getLogger("campaign.dispatch.dispatcher")
    real = logger.makeRecord

    def counting(*args: object, **kw: object) -> logging.LogRecord:
        record = real(*args, **kw)  # type: ignore[arg-type]
        made.append(record)
        return record

    monkeypatch.setattr(logger, "makeRecord", counting)
    return made


def _both_ways(stream: io.StringIO, level: int, message: str, fields: dict[str, object]) -> tuple[str, str]:
    """The text logging's own path writes for the line, then the text log_fields writes."""
    logger = logging.getLogger("campaign.dispatch.dispatcher")
    start = stream.tell()
    logger.log(level, message, extra=fields)
    middle = stream.tell()
    logs.log_fields(logger, level, message, dict(fields))
    text = stream.getvalue()
    return text[start:middle], text[middle:]


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("fields", OUTCOME_FIELDS, ids=lambda f: str(f["outcome"]))
def test_log_fields_writes_what_logging_writes_without_a_record(
    fmt: str, fields: dict[str, object], captured: io.StringIO, fixed_time: float,
    records_made: list[logging.LogRecord],
) -> None:
    logs.configure(fmt, "INFO", captured)
    for level in (logging.INFO, logging.WARNING):
        message = f"post {fields['post_id']} p/acct {fields['outcome']}"
        standard, fast = _both_ways(captured, level, message, fields)
        assert fast == standard and fast.endswith("\n") and fast.count("\n") == 1
    assert len(records_made) == 2  # logging's own calls only: log_fields made none


def test_log_fields_takes_loggings_path_when_a_secret_shows(
    captured: io.StringIO, fixed_time: float, records_made: list[logging.LogRecord]
) -> None:
    _send_with_telegram()  # resolves the canary
    escaped = json.dumps(f'q"{CANARY}')[1:-1]  # as a quoted field would carry it
    for fields in ({"account": f"x {CANARY}"}, {"error": escaped}, {"account": "tg"}):
        message = f"post 1 {CANARY}" if fields == {"account": "tg"} else "post 1"
        standard, fast = _both_ways(captured, logging.INFO, message, {"post_id": 1, **fields})
        assert fast == standard and CANARY not in fast and "[REDACTED]" in fast
    assert len(records_made) == 6  # each of log_fields' lines took logging's path, filter and all


class _Other(logging.Filter):
    pass


@pytest.mark.parametrize("setup", [
    "second handler", "logger filter", "handler filter", "formatter subclass", "record factory", "no handler",
])
def test_log_fields_takes_loggings_path_unless_only_our_handler_would_see_the_record(
    setup: str, captured: io.StringIO, fixed_time: float, records_made: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    logger = logging.getLogger("campaign.dispatch.dispatcher")
    ours = root.handlers[0]
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    if setup == "second handler":
        monkeypatch.setattr(logging.getLogger("campaign"), "handlers", [other])
    elif setup == "logger filter":
        monkeypatch.setattr(logger, "filters", [_Other()])
    elif setup == "handler filter":
        monkeypatch.setattr(ours, "filters", [*ours.filters, _Other()])
    elif setup == "formatter subclass":
        ours.setFormatter(type("Mine", (logs.KeyValueFormatter,), {})())
    elif setup == "record factory":
        factory = logging.getLogRecordFactory()
        monkeypatch.setattr(logging, "_logRecordFactory", lambda *a, **k: factory(*a, **k))
    elif setup == "no handler":  # logging's last resort writes WARNING and above to stderr
        monkeypatch.setattr(root, "handlers", [])
    logs.log_fields(logger, logging.WARNING, "post 1 p/a unknown", {"post_id": 1, "outcome": "unknown"})
    assert len(records_made) == 1
    if setup == "second handler":
        assert [r.getMessage() for r in seen] == ["post 1 p/a unknown"]
        assert captured.getvalue().count("post 1 p/a unknown") == 1


def test_log_fields_honours_levels_and_disabled_loggers(
    captured: io.StringIO, records_made: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("campaign.dispatch.dispatcher")
    logs.configure("text", "WARNING", captured)
    logs.log_fields(logger, logging.INFO, "below the level", {"post_id": 1})
    assert records_made == []
    logs.configure("text", "INFO", captured)
    logging.getLogger().handlers[0].setLevel(logging.ERROR)  # a handler's own level counts too
    logs.log_fields(logger, logging.WARNING, "below the handler's level", {"post_id": 2})
    assert [r.getMessage() for r in records_made] == ["below the handler's level"]  # logging's path drops it
    logs.configure("text", "INFO", captured)
    monkeypatch.setattr(logger, "disabled", True)
    logs.log_fields(logger, logging.WARNING, "disabled", {"post_id": 3})
    assert len(records_made) == 1 and captured.getvalue() == ""


def test_log_fields_reports_a_failed_write_as_logging_does(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    logs.configure("text", "INFO", Broken())
    handler = logging.getLogger().handlers[0]
    failed: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", failed.append)
    logs.log_fields(logging.getLogger("campaign.dispatch.dispatcher"), logging.INFO, "post 1 sent",
                    {"post_id": 1, "outcome": "sent"})
    assert [(r.getMessage(), r.__dict__["post_id"], r.levelno) for r in failed] == [
        ("post 1 sent", 1, logging.INFO)
    ]
