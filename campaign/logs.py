"""Structured logging for the daemon, with every resolved secret scrubbed from every record.

Records carry structured fields through ``extra=`` (:data:`FIELDS`: ``post_id``, ``campaign``, ``channel``,
``account``, ``attempt``, ``outcome`` and a few more); :class:`KeyValueFormatter` writes them as
``key=value`` pairs and :class:`JsonFormatter` as one JSON object per line.

:func:`log_fields` logs a line with fields for the hot paths (one line per post): it writes the same line
without a record when only :func:`configure`'s handler would see one.

Secrets: :class:`RedactingFilter` applies :func:`campaign.secrets.redact_resolved` to the message, its
arguments and every string field of each record, and the formatters scrub their final output once more
(tracebacks are formatted after filters run). The filter is installed on the *handler*, not on a logger:
logger filters do not see records that propagate from child loggers, and httpx logs each request URL at
INFO on its own logger (``HTTP Request: POST https://api.telegram.org/bot<token>/sendMessage``,
https://www.python-httpx.org/logging/), where Telegram's bot token is part of the URL path. Error messages
quote a platform's words through :func:`shown`, which redacts before it shortens.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any, TextIO

from campaign.secrets import redact_resolved

#: Structured fields the formatters print when a record carries them, in this order.
FIELDS = (
    "post_id",
    "campaign",
    "channel",
    "account",
    "part",
    "attempt",
    "outcome",
    "remote_id",
    "next_attempt_at",
    "until",
    "error",
    "action",
)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: A field value holding any of these is written as a JSON string (``key="two words"``, ``key="\\u001b"``).
_QUOTED = re.compile('[\\s"=\x00-\x1f\x7f-\x9f]')

#: What a terminal, a journal or a CI log would obey or hide: C0 controls (new lines and tabs included, so a
#: line stays one line), DEL, C1, and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


#: The same, but for a block of text that keeps its lines (a post's text in a preview).
_UNPRINTABLE_IN_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every character above shown as its escape (``\\x1b``, ``\\u202e``): for a line that
    quotes untrusted words (a file name from a campaign file, a platform's error text). ``lines=True`` keeps
    new lines and tabs: for a block of untrusted text shown as it is (a post in a preview)."""
    pattern = _UNPRINTABLE_IN_LINES if lines else _UNPRINTABLE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str, limit: int) -> str:
    """``text`` (a platform's words, an exception's message) as an error message may show it: every secret
    this process holds redacted first, then whitespace runs squashed and the rest cut to ``limit``
    characters, control characters escaped (:func:`printable`). The order matters: a cut or a squash inside a
    secret (a 401 quoting the Authorization header) would leave a fragment no redaction recognises."""
    text = printable(" ".join(redact_resolved(text).split()))
    return text[: limit - 1] + "…" if len(text) > limit else text


class RedactingFilter(logging.Filter):
    """Scrubs every secret this process has resolved from a record (message, args and string fields).

    The message is rendered first (``getMessage``) and the args dropped, so a secret passed as an argument
    is scrubbed as well. Always returns True: it edits records, it never drops them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: keep what we have
            message = str(record.msg)
        record.args = None
        data = record.__dict__
        fields = [key for key in data.keys() - _STANDARD if isinstance(data[key], str)]
        # One search over everything first (the usual record holds no secret): each text is a substring of
        # the joined one, so no occurrence there means none in any of them.
        joined = "\0".join([message, *(data[key] for key in fields)])
        if redact_resolved(joined) == joined:
            record.msg = message
            return True
        record.msg = redact_resolved(message)
        for key in fields:
            data[key] = redact_resolved(data[key])
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields that are set (:func:`_ordered`)."""
    data = record.__dict__
    extra = data.keys() - _STANDARD
    return _ordered(data, extra) if extra else {}  # most records of other libraries carry none


def _ordered(data: Mapping[str, Any], extra: AbstractSet[str]) -> dict[str, Any]:
    """The keys ``extra`` of ``data`` whose values are set: :data:`FIELDS` in their order, then any other
    key (not starting with ``_``) in ``data``'s order."""
    out = {key: data[key] for key in FIELDS if key in extra and data[key] is not None}
    if len(out) < len(extra):
        for key, value in data.items():
            if key in extra and key not in out and not key.startswith("_") and value is not None:
                out[key] = value
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class _LineFormatter(logging.Formatter):
    """A formatter that builds its line from a record's parts (:meth:`line`), so that :func:`log_fields` can
    build the same line without a record."""

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return redact_resolved(
            self.line(record.created, record.levelname, record.name, record.getMessage(), _fields(record),
                      exception)
        )

    def line(
        self, created: float, level: str, name: str, message: str, fields: dict[str, Any],
        exception: str | None = None,
    ) -> str:
        """The line of a record made at ``created`` (a POSIX time), before the final scrub."""
        raise NotImplementedError


class KeyValueFormatter(_LineFormatter):
    """``2030-03-02T01:00:00.123Z INFO campaign.dispatch.dispatcher: sent post_id=7 channel=x
    outcome=sent``."""

    def line(
        self, created: float, level: str, name: str, message: str, fields: dict[str, Any],
        exception: str | None = None,
    ) -> str:
        when = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        parts = [when.replace("+00:00", "Z"), level, f"{name}:", message]
        texts = [value if type(value) is str else str(_plain(value)) for value in fields.values()]
        # One search over every value first (the usual line quotes none): no match there means none in any.
        quote = _QUOTED.search("\0".join(texts)) is not None or "" in texts
        for key, text in zip(fields, texts, strict=True):
            if quote and (not text or _QUOTED.search(text)):
                text = json.dumps(text, ensure_ascii=False)
            parts.append(f"{key}={text}")
        line = " ".join(parts)
        return line if exception is None else f"{line}\n{exception}"


class JsonFormatter(_LineFormatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, then the structured fields."""

    def line(
        self, created: float, level: str, name: str, message: str, fields: dict[str, Any],
        exception: str | None = None,
    ) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "level": level,
            "logger": name,
            "message": message,
        }
        data.update({key: _plain(value) for key, value in fields.items()})
        if exception is not None:
            data["exception"] = exception
        return json.dumps(data, ensure_ascii=False)


#: The formatters :func:`log_fields` may format for (exactly these classes: a subclass may format otherwise).
_LINE_FORMATTERS = (KeyValueFormatter, JsonFormatter)


def make_handler(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the redacting filter and the chosen formatter."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    return handler


def configure(fmt: str = "text", level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Route every log record (ours, httpx's, APScheduler's) through one redacting handler on the root.

    Replaces the root logger's handlers; returns the handler (tests capture its stream). httpcore's DEBUG
    chatter and APScheduler's per-job INFO lines are kept at WARNING: the dispatcher logs each outcome.
    httpx's line per request (``HTTP Request: POST <url> "HTTP/1.1 200 OK"``, logged at INFO) shows only at
    DEBUG: at INFO the daemon writes one line per post outcome, not one more per request (which doubled the
    log and cost a tenth of the loop's time in a 10,000-post burst, docs/BENCHMARKS.md).
    """
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    logging.getLogger("httpx").setLevel(logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, message, extra=fields)``, written straight to the handler when that gives the
    same line.

    The daemon logs one line per post, and logging's path (a record, the caller's frame looked up, the
    filter, the formatter reading the record back) held about a sixth of its GIL time in the TLS race
    (docs/BENCHMARKS.md, eighteenth pass). When the record would meet only the handler :func:`configure`
    installs (no logger filter or other handler on the way, logging's own record factory), the line is built
    from the parts by the same formatter and written under the handler's lock. Anything else, and any line
    in which a resolved secret shows (the filter would edit the record), takes logging's path.
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_handler(logger, level)
    if handler is not None and fields.keys().isdisjoint(_STANDARD):
        formatter = handler.formatter
        assert isinstance(formatter, _LineFormatter)
        line = formatter.line(time.time(), logging.getLevelName(level), logger.name, message,
                              _ordered(fields, fields.keys()))
        # What the filter and the formatter would scrub: the message, each string field, the line.
        joined = "\0".join([line, message, *[value for value in fields.values() if isinstance(value, str)]])
        if redact_resolved(joined) == joined:
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except RecursionError:  # as StreamHandler.emit
                raise
            except Exception:
                handler.handleError(logger.makeRecord(logger.name, level, "", 0, message, (), None,
                                                      extra=fields))
            finally:
                handler.release()
            return
    logger.log(level, message, extra=fields, stacklevel=2)


def _sole_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[TextIO] | None:
    """The handler of :func:`make_handler` when a record of ``logger`` at ``level`` would meet it and
    nothing else on its way (see :func:`log_fields`); else None."""
    if logger.disabled or logger.filters or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    found: logging.Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None:
                return None
            found = handler
        current = current.parent if current.propagate else None
    if (
        type(found) is logging.StreamHandler
        and level >= found.level
        and len(found.filters) == 1
        and type(found.filters[0]) is RedactingFilter
        and type(found.formatter) in _LINE_FORMATTERS
    ):
        return found
    return None
