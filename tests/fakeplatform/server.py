"""A loopback fake platform: Mastodon's statuses endpoint and a JSON webhook receiver, with injected faults.

It is a real HTTP/1.1 server (hand-written on :mod:`asyncio` protocols, keep-alive, ~no per-request
overhead: PERFORMANCE.md measured such a loop at 25-32k requests/s here) so tests exercise the real client
stack. Run it in-process (:class:`ServerThread`: its own thread and event loop) or as a separate process
(:class:`ServerProcess`, or ``python -m tests.fakeplatform.server --port 0 --log FILE``, which prints its
port on the first line of stdout) so that benchmarks do not share the GIL with the client.

Behaviour (each fact from the source named):

- ``POST /api/v1/statuses`` with ``Authorization: Bearer <token>``, JSON or form body (``status``,
  ``visibility``, ``language``, ``in_reply_to_id``): 200 with a Status (``id``, ``created_at``, ``url``,
  ``uri``, ``content``, ``visibility``, ``language``, ``in_reply_to_id``, ``account``); 401
  ``{"error": "The access token is invalid"}``; 422 ``{"error": "Validation failed: Text can't be blank"}``;
  404 when ``in_reply_to_id`` names no status. https://docs.joinmastodon.org/methods/statuses/#create
- ``GET /api/v1/statuses/:id``: the Status with ``favourites_count``, ``reblogs_count`` and ``replies_count``,
  which grow with the platform's clock since the status was created (engagement for the metrics collector);
  404 ``{"error": "Record not found"}`` for an unknown id. https://docs.joinmastodon.org/methods/statuses/#get
- ``Idempotency-Key``: Mastodon keeps ``idempotency:status:<account>:<key>`` for 3,600 s and answers a
  repeated key with the status it created first (mastodon/mastodon app/services/post_status_service.rb).
  Here keys are scoped per token (one token is one account) and the window is a constructor argument.
- Rate limits: Mastodon answers 429 ``{"error": "Too many requests"}`` with ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (ISO 8601 with microseconds) and puts the same headers
  on every throttled API answer; its windows are aligned to multiples of the period
  (config/initializers/rack_attack.rb, app/controllers/concerns/rate_limit_headers.rb). X sends
  ``x-rate-limit-limit/-remaining/-reset`` with the reset in Unix epoch seconds
  (https://docs.x.com/fundamentals/rate-limits); Bluesky ``RateLimit-Limit/-Remaining/-Reset`` (epoch
  seconds) and ``RateLimit-Policy`` (atproto packages/xrpc-server/src/rate-limiter.ts); ``Retry-After`` is
  delta-seconds or an HTTP-date (RFC 9110 section 10.2.3).
- ``GET /api/v1/accounts/verify_credentials`` and ``GET /api/v2/instance`` (for ``channels check``).
- ``POST /hooks/<name>``: a webhook receiver honouring ``Idempotency-Key`` per hook; answers ``{"id","url"}``.
- Media (:mod:`tests.fakeplatform.media`): ``POST /api/v2/media`` (202, then ready after ``media_polls``
  checks of ``GET /api/v1/media/:id`` answered 206), and ``media_ids`` on a status. Upload bodies are
  consumed as they arrive, never held whole; the ``uploads`` counter counts attachments made.

Faults (:class:`Fault`) are chosen when a request's headers have arrived, per account (the bearer token, or
the hook name for webhooks) and per count of matching requests (``after``/``times``); set them through the
constructor, :meth:`FakePlatform.add_fault`, or ``POST /_control``. Every request is recorded
(:class:`RequestRecord`) in memory and, with ``log_path``, as one JSON line each; a server started on an
existing log replays it, so statuses and idempotency keys survive a restart of the server.

Control endpoint (never recorded, never faulted, no auth): ``POST /_control`` with any of
``{"faults": [...]}`` (replace), ``{"add_faults": [...]}``, ``{"rate_limit": {...} | null}``,
``{"reset": true}``; ``GET /_control/stats``; ``GET /_control/log`` (``{"records": [...]}``);
``GET /_control/wait?requests=N&hung=M&created=K&uploads=U&timeout=S`` answers (200, the stats) as soon as
every named counter of the stats has reached its value, or 504 with the stats after ``S`` seconds: tests wait
for what the server saw, never for a guessed time (:meth:`FakePlatform.wait_for`,
:meth:`ServerProcess.wait_for`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import math
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import partial
from html import escape
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast, get_args
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.fakeplatform.media import (
    MEDIA_GET_PREFIX,
    MEDIA_PATH,
    Attachment,
    MultipartSink,
    attachment_entity,
)

ROOT = Path(__file__).resolve().parents[2]

#: Rate-limit header styles: which header family a 429 (and, for the families, every answer) carries.
STYLES = ("retry-after", "retry-after-date", "mastodon", "x", "bluesky")
Style = Literal["retry-after", "retry-after-date", "mastodon", "x", "bluesky"]
FaultKind = Literal["status", "rate_limit", "delay", "hang", "reset_before_body", "reset_after_body", "auth"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

STATUSES_PATH = "/api/v1/statuses"
HOOKS_PREFIX = "/hooks/"
CONTROL_PREFIX = "/_control"
WAIT_PATH = f"{CONTROL_PREFIX}/wait"
#: Counters of :meth:`FakePlatform.stats` a test may wait for (:meth:`FakePlatform.wait_for`).
WAITABLE = ("requests", "created", "hung", "violations", "uploads")
#: Mastodon's idempotency window (post_status_service.rb: ``redis.setex(..., 3_600, ...)``).
MASTODON_IDEMPOTENCY_WINDOW = 3600.0
_MAX_HEAD = 64 * 1024


# ------------------------------------------------------------------------------------------------ values


@dataclass
class Fault:
    """One injected fault, applied to matching requests.

    A request matches when ``account`` is None or equals the request's account (bearer token, or the hook
    name of ``/hooks/<name>``) and ``path`` is None or a prefix of its path. The first ``after`` matching
    requests pass untouched; the next ``times`` (None: all later ones) get the fault. Kinds:

    - ``status``: answer ``status`` (e.g. 500, 502, 503) with ``{"error": ...}``; with ``create`` the status
      is created first (a platform that failed after doing the work: the ambiguous 500).
    - ``rate_limit``: answer 429 in header ``style``, asking to wait ``wait`` seconds; requests of the same
      account before that moment are answered 429 again and recorded as violations.
    - ``delay``: answer normally after ``delay`` real seconds.
    - ``hang``: read the whole request, process it when ``create`` (the default), and never answer (the
      client's read timeout fires); the connection stays open until the client closes it.
    - ``reset_before_body``: reset the connection (RST) as soon as the headers are read; nothing is created.
    - ``reset_after_body``: read the body, create the status, then reset without answering (ambiguous).
    - ``auth``: answer 401 ``{"error": "The access token is invalid"}``.
    """

    kind: FaultKind
    account: str | None = None
    path: str | None = None
    after: int = 0
    times: int | None = 1
    status: int = 503
    style: Style = "retry-after"
    wait: float = 1.0
    delay: float = 0.0
    #: Create the status before failing (None: True for ``hang``, False otherwise).
    create: bool | None = None
    #: Matching requests seen so far (counts toward ``after`` and ``times``).
    seen: int = 0
    #: Requests this fault was applied to.
    applied: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(FAULT_KINDS)})")
        if self.style not in STYLES:
            raise ValueError(f"unknown rate-limit style {self.style!r} (one of {', '.join(STYLES)})")
        if self.create is None:
            self.create = self.kind == "hang"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)} - {"seen", "applied"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, account: str, path: str) -> bool:
        return (self.account is None or self.account == account) and (
            self.path is None or path.startswith(self.path)
        )

    def take(self) -> bool:
        """Count one matching request; True when the fault applies to it."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.applied += 1
        return True


@dataclass(frozen=True)
class RateLimitPolicy:
    """A budget of ``limit`` requests per account per ``window`` seconds, windows aligned to multiples of
    ``window`` on the server's clock (as Rack::Attack does for Mastodon). ``style`` picks the headers."""

    limit: int
    window: float
    style: Style = "mastodon"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateLimitPolicy:
        return cls(
            limit=int(data["limit"]), window=float(data["window"]), style=data.get("style", "mastodon")
        )


@dataclass
class RequestRecord:
    """One request as the server saw it. ``time`` is the server clock (epoch seconds) when its headers
    arrived; ``status`` is None when it was never answered (hang, reset)."""

    seq: int
    time: float
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    account: str
    idempotency_key: str | None
    status: int | None = None
    created: bool = False
    replayed: bool = False
    status_id: str | None = None
    fault: str | None = None
    #: Sent while a 429 the server had answered for this account still asked to wait.
    violation: bool = False
    #: A media upload: the attachment id made (None if refused) and the file's size and SHA-256.
    media_id: str | None = None
    media_size: int | None = None
    media_sha256: str | None = None


@dataclass
class Reply:
    """What to do with a request: answer (maybe after ``delay``), hang, or reset."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    action: Literal["answer", "hang", "reset"] = "answer"
    delay: float = 0.0


@dataclass
class Pending:
    """A request whose headers were read and whose fate was decided; waiting for its body."""

    record: RequestRecord | None
    fault: Fault | None
    #: A reply decided from the headers alone (429, 401), or None to process the body.
    early: Reply | None = None
    rate_headers: list[tuple[str, str]] = field(default_factory=list)
    host: str = "localhost"
    #: The path and query (used for control requests, which have no record).
    path: str = ""
    query: str = ""
    #: Consumes a media upload's body as it arrives (never buffered whole); bytes of it received so far.
    sink: MultipartSink | None = None
    received: int = 0


def _json(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(
        status=status, body=data, headers=[("Content-Type", "application/json; charset=utf-8"), *headers]
    )


def _error(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return _json(status, {"error": message}, headers)


def _iso(ts: float, digits: int = 3) -> str:
    text = datetime.fromtimestamp(ts, UTC).isoformat(
        timespec="microseconds" if digits == 6 else "milliseconds"
    )
    return text.replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------------ platform


class FakePlatform:
    """The platform's state and rules: statuses, idempotency keys, rate limits, faults, the request log.

    Thread-safe: the server thread calls :meth:`begin`/:meth:`finish`; tests may call everything else from
    their own thread. ``clock`` returns epoch seconds; inject one to share a simulated clock with the
    dispatcher under test (delays and hangs still use real time).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        tokens: Mapping[str, str] | None = None,
        rate_limit: RateLimitPolicy | None = None,
        faults: Iterable[Fault] = (),
        idempotency_window: float = MASTODON_IDEMPOTENCY_WINDOW,
        log_path: Path | None = None,
        keep_log: bool = True,
        max_characters: int = 500,
        media_polls: int = 1,
    ) -> None:
        self.clock = clock
        #: Status checks (206) an upload answers before it is processed (0: answered 200 at once).
        self.media_polls = media_polls
        self.tokens = dict(tokens) if tokens is not None else None
        self.rate_limit = rate_limit
        self.faults: list[Fault] = list(faults)
        self.idempotency_window = idempotency_window
        self.keep_log = keep_log
        self.max_characters = max_characters
        self._lock = threading.Lock()
        #: Notified whenever a counter of :meth:`stats` moves (see :meth:`wait_for`).
        self._changed = threading.Condition(self._lock)
        self._closing = False
        self._reset_state()
        self._log_file = None
        if log_path is not None:
            if log_path.exists():
                self._replay(log_path)
            self._log_file = log_path.open("a", encoding="utf-8", buffering=1)

    def _reset_state(self) -> None:
        self._records: list[RequestRecord] = []
        self._seq = 0
        self._created = 0
        self._hung = 0
        self._next_id = 110_000_000_000_000_000
        #: status id -> Status JSON
        self._statuses: dict[str, dict[str, Any]] = {}
        self._created_at: dict[str, float] = {}
        #: (account, key) -> (status id, created at)
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._per_key: Counter[str] = Counter()
        self._windows: dict[str, tuple[int, int]] = {}  # account -> (window index, count)
        self._blocked_until: dict[str, float] = {}
        self._blocked_style: dict[str, Style] = {}
        self._violations = 0
        self._usernames: dict[str, str] = {}
        self._media: dict[str, Attachment] = {}
        self._uploads = 0

    def close(self) -> None:
        self.release_waiters()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- configuration (any thread) ----------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def set_faults(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self.faults = list(faults)

    def set_rate_limit(self, policy: RateLimitPolicy | None) -> None:
        with self._lock:
            self.rate_limit = policy
            self._windows.clear()

    def reset(self) -> None:
        """Forget everything: statuses, keys, log, faults, rate-limit state (the policy stays)."""
        with self._lock:
            self.faults = []
            self._reset_state()

    # -- observation (any thread) ------------------------------------------------------------------------

    @property
    def records(self) -> list[RequestRecord]:
        """The request log so far (a snapshot, in arrival order)."""
        with self._lock:
            return list(self._records)

    @property
    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._statuses.values())

    def created_per_key(self) -> dict[str, int]:
        """Statuses created per idempotency key ("" for requests without one)."""
        with self._lock:
            return dict(self._per_key)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return self._stats()

    def _stats(self) -> dict[str, Any]:
        return {
            "requests": self._seq,
            "created": self._created,
            "hung": self._hung,
            "uploads": self._uploads,
            "per_key": dict(self._per_key),
                "duplicates": sorted(k for k, n in self._per_key.items() if n > 1 and k),
                "violations": self._violations,
                "faults": [f.to_json() for f in self.faults],
        }

    def wait_for(self, timeout: float, **at_least: int) -> tuple[bool, dict[str, Any]]:
        """Block until every named counter of :meth:`stats` (:data:`WAITABLE`: ``requests`` arrived,
        ``created`` statuses, requests ``hung``, ``violations``) has reached its value, or ``timeout`` seconds
        pass; returns (reached, the stats then). Any thread but the server's own."""
        unknown = set(at_least) - set(WAITABLE)
        if unknown:
            raise ValueError(f"cannot wait for {', '.join(sorted(unknown))} (one of {', '.join(WAITABLE)})")

        def reached() -> bool:
            counts = {"requests": self._seq, "created": self._created, "hung": self._hung,
                      "violations": self._violations, "uploads": self._uploads}  # fmt: skip
            return self._closing or all(counts[k] >= n for k, n in at_least.items())

        with self._changed:
            done = self._changed.wait_for(reached, timeout) and not self._closing
            return done, self._stats()

    def release_waiters(self) -> None:
        """Wake every :meth:`wait_for` (unreached): the server is shutting down."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    # -- request handling (server thread) ----------------------------------------------------------------

    def begin(self, method: str, target: str, headers: Mapping[str, str]) -> Pending:
        """Decide a request's fate from its headers (rate limits, blocked accounts, faults)."""
        path = urlsplit(target).path
        host = headers.get("host", "localhost")
        if path.startswith(CONTROL_PREFIX):
            return Pending(record=None, fault=None, host=host, path=path, query=urlsplit(target).query)
        account = _account_of(path, headers)
        with self._lock:
            now = self.clock()
            self._seq += 1
            self._changed.notify_all()
            record = RequestRecord(
                seq=self._seq,
                time=now,
                method=method,
                path=path,
                headers=dict(headers),
                body=None,
                account=account,
                idempotency_key=headers.get("idempotency-key"),
            )
            pending = Pending(record=record, fault=None, host=host)
            if method == "POST" and path == MEDIA_PATH:
                pending.sink = MultipartSink(headers.get("content-type", ""))
            blocked = self._blocked_until.get(account)
            if blocked is not None and now < blocked:
                record.violation = True
                self._violations += 1
                pending.early = self._too_many(account, blocked, now, self._blocked_style.get(account))
                return pending
            policy = self.rate_limit
            if policy is not None and account:
                index = int(now // policy.window)
                win, count = self._windows.get(account, (index, 0))
                count = count + 1 if win == index else 1
                self._windows[account] = (index, count)
                reset = (index + 1) * policy.window
                if count > policy.limit:
                    advertised = self._advertise(policy.style, reset, now)
                    self._block(account, advertised, policy.style)
                    pending.early = self._too_many(account, advertised, now, policy.style)
                    return pending
                pending.rate_headers = _limit_headers(
                    policy.style, policy.limit, policy.limit - count, reset, now, policy.window, final=False
                )
            for candidate in self.faults:
                if candidate.matches(account, path) and candidate.take():
                    pending.fault = candidate
                    record.fault = candidate.kind
                    break
            fault = pending.fault
            if fault is not None and fault.kind == "rate_limit":
                advertised = self._advertise(fault.style, now + fault.wait, now)
                self._block(account, advertised, fault.style)
                pending.early = self._too_many(account, advertised, now, fault.style)
            elif fault is not None and fault.kind == "auth":
                pending.early = _error(401, "The access token is invalid")
            elif fault is not None and fault.kind == "reset_before_body":
                pending.early = Reply(action="reset")
            return pending

    def finish(self, pending: Pending, body: bytes) -> Reply:
        """Process a request whose body has arrived; record it and return what to send."""
        record = pending.record
        if record is None:
            return self._control(pending.path, body)
        with self._lock:
            reply = pending.early
            if pending.sink is not None:
                body = bytes(pending.sink.head)  # the form fields and part headers, never the file
            if reply is None or reply.action != "reset":
                record.body = body.decode("utf-8", errors="replace")
            if reply is None:
                fault = pending.fault
                work = fault is None or fault.kind in ("delay", "reset_after_body") or bool(fault.create)
                reply = self._serve(record, body, pending) if work else Reply()
                if fault is not None and fault.kind == "status":
                    reply = _error(fault.status, HTTPStatus(fault.status).phrase)
                elif fault is not None and fault.kind == "delay":
                    reply.delay = fault.delay
                elif fault is not None and fault.kind == "hang":
                    reply = Reply(action="hang")
                    self._hung += 1
                elif fault is not None and fault.kind == "reset_after_body":
                    reply = Reply(action="reset")
                if reply.action == "answer" and record.path.startswith("/api/"):
                    reply.headers.extend(pending.rate_headers)
            record.status = reply.status if reply.action == "answer" else None
            self._log(record)
            self._changed.notify_all()
            return reply

    # -- internals (lock held) ---------------------------------------------------------------------------

    def _block(self, account: str, until: float, style: Style) -> None:
        self._blocked_until[account] = until
        self._blocked_style[account] = style

    @staticmethod
    def _advertise(style: Style, reset: float, now: float) -> float:
        """The reset moment as the header will state it (whole seconds where the format has no fraction)."""
        if style == "mastodon":
            return math.ceil(reset * 1e6) / 1e6
        if style == "retry-after":
            return now + math.ceil(reset - now)
        return float(math.ceil(reset))

    def _too_many(self, account: str, until: float, now: float, style: Style | None) -> Reply:
        policy = self.rate_limit
        limit = policy.limit if policy is not None else 300
        window = policy.window if policy is not None else 300.0
        headers = _limit_headers(style or "retry-after", limit, 0, until, now, window, final=True)
        return _error(429, "Too many requests", headers)

    def _serve(self, record: RequestRecord, body: bytes, pending: Pending) -> Reply:
        method, path, host = record.method, record.path, pending.host
        if path == STATUSES_PATH and method == "POST":
            return self._post_status(record, body, host)
        if pending.sink is not None:
            return self._post_media(record, pending.sink, host)
        if path.startswith(MEDIA_GET_PREFIX) and method == "GET":
            return self._get_media(record, path.rsplit("/", 1)[-1])
        if path.startswith(HOOKS_PREFIX) and method == "POST":
            return self._post_hook(record, body, host)
        if path == "/api/v1/accounts/verify_credentials" and method == "GET":
            token = self._auth(record)
            if token is None:
                return _error(401, "The access token is invalid")
            user = self._username(token)
            return _json(200, {"id": user, "username": user, "acct": user, "url": f"http://{host}/@{user}"})
        if path.startswith(STATUSES_PATH + "/") and method == "GET":
            return self._get_status(record, path.rsplit("/", 1)[-1])
        if path == "/api/v2/instance" and method == "GET":
            return _json(
                200, {"domain": host, "configuration": {"statuses": {"max_characters": self.max_characters}}}
            )
        return _error(404, "Record not found")

    def _auth(self, record: RequestRecord) -> str | None:
        auth = record.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return None
        token = auth[7:].strip()
        if self.tokens is not None and token not in self.tokens:
            return None
        return token

    def _username(self, token: str) -> str:
        if self.tokens is not None:
            return self.tokens[token]
        return self._usernames.setdefault(token, f"user{len(self._usernames) + 1}")

    def _post_status(self, record: RequestRecord, body: bytes, host: str) -> Reply:
        token = self._auth(record)
        if token is None:
            return _error(401, "The access token is invalid")
        params = _params(record.headers.get("content-type", ""), body)
        if params is None:
            return _error(400, "Error occurred while parsing request parameters.")
        now = record.time
        key = record.idempotency_key
        if key:
            known = self._idempotency.get((token, key))
            if known is not None and now - known[1] < self.idempotency_window:
                record.replayed = True
                record.status_id = known[0]
                return _json(200, self._statuses[known[0]])
        text = str(params.get("status") or "")
        if not text.strip():
            return _error(422, "Validation failed: Text can't be blank")
        if len(text) > self.max_characters:
            return _error(422, f"Validation failed: Text character limit of {self.max_characters} exceeded")
        reply_to = params.get("in_reply_to_id")
        if reply_to and str(reply_to) not in self._statuses:
            return _error(404, "The post you are trying to reply to does not appear to exist.")
        media, problem = self._status_media(token, params.get("media_ids") or params.get("media_ids[]"))
        if problem:
            return _error(422, f"Validation failed: {problem}")
        user = self._username(token)
        status = self._create(record, token, key, now)
        for attachment in media:
            attachment.status_id = status["id"]
        status["media_attachments"] = [a.entity for a in media]
        status.update(
            {
                "url": f"http://{host}/@{user}/{status['id']}",
                "uri": f"http://{host}/users/{user}/statuses/{status['id']}",
                "content": f"<p>{escape(text)}</p>",
                "visibility": str(params.get("visibility") or "public"),
                "language": params.get("language"),
                "in_reply_to_id": str(reply_to) if reply_to else None,
                "account": {"id": user, "username": user, "acct": user},
            }
        )
        return _json(200, status)

    def _status_media(self, token: str, raw: Any) -> tuple[list[Attachment], str]:
        """The attachments ``media_ids`` names, or why Mastodon would refuse them (see media.py)."""
        ids = [str(i) for i in (raw if isinstance(raw, list) else [raw] if raw else [])]
        found = [self._media.get(i) for i in ids]
        missing = [i for i, a in zip(ids, found, strict=True)
                   if a is None or a.account != token or a.status_id is not None]  # fmt: skip
        if missing:
            return [], f"media {', '.join(missing)} not found"
        media = [a for a in found if a is not None]
        if not all(a.processed for a in media):
            return [], "media not ready (still processing)"
        return media, ""

    def _post_media(self, record: RequestRecord, sink: MultipartSink, host: str) -> Reply:
        token = self._auth(record)
        if token is None:
            return _error(401, "The access token is invalid")
        uploaded = sink.result()
        if not uploaded.complete:
            return _error(422, "Validation failed: File can't be blank")
        self._next_id += 1
        media_id = str(self._next_id)
        entity = attachment_entity(media_id, uploaded)
        url = f"http://{host}/system/media_attachments/{media_id}/original"
        attachment = Attachment(token, entity, self.media_polls, url)
        self._media[media_id] = attachment
        self._uploads += 1
        record.media_id, record.media_size, record.media_sha256 = media_id, uploaded.size, uploaded.sha256
        if attachment.processed:
            entity["url"] = url
            return _json(200, entity)
        return _json(202, entity)

    def _get_media(self, record: RequestRecord, media_id: str) -> Reply:
        token = self._auth(record)
        if token is None:
            return _error(401, "The access token is invalid")
        attachment = self._media.get(media_id)
        if attachment is None or attachment.account != token:
            return _error(404, "Record not found")
        if not attachment.processed:
            attachment.polls_left -= 1
            if not attachment.processed:
                return _json(206, attachment.entity)
        attachment.entity["url"] = attachment.url
        return _json(200, attachment.entity)

    def _get_status(self, record: RequestRecord, status_id: str) -> Reply:
        """A status with counts that grow with the platform's clock (engagement for the metrics collector):
        one favourite per 10 minutes since it was created, a reblog per hour, a reply per 3 hours."""
        if self._auth(record) is None:
            return _error(401, "The access token is invalid")
        status = self._statuses.get(status_id)
        if status is None:
            return _error(404, "Record not found")
        age = max(0.0, record.time - self._created_at.get(status_id, record.time))
        counts = {
            "favourites_count": int(age // 600),
            "reblogs_count": int(age // 3600),
            "replies_count": int(age // 10800),
        }
        return _json(200, {**status, **counts})

    def _post_hook(self, record: RequestRecord, body: bytes, host: str) -> Reply:
        account = record.account
        key = record.idempotency_key
        if key:
            known = self._idempotency.get((account, key))
            if known is not None and record.time - known[1] < self.idempotency_window:
                record.replayed = True
                record.status_id = known[0]
                return _json(200, self._statuses[known[0]])
        try:
            json.loads(body)
        except ValueError:
            return _error(400, "body is not JSON")
        status = self._create(record, account, key, record.time)
        status["url"] = f"http://{host}{record.path}/{status['id']}"
        return _json(200, status)

    def _create(self, record: RequestRecord, account: str, key: str | None, now: float) -> dict[str, Any]:
        self._next_id += 1
        status_id = str(self._next_id)
        status: dict[str, Any] = {"id": status_id, "created_at": _iso(now)}
        self._statuses[status_id] = status
        self._created_at[status_id] = now
        if key:
            self._idempotency[(account, key)] = (status_id, now)
        self._per_key[key or ""] += 1
        self._created += 1
        record.created = True
        record.status_id = status_id
        return status

    def _log(self, record: RequestRecord) -> None:
        if self.keep_log:
            self._records.append(record)
        if self._log_file is not None:
            self._log_file.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")

    def _replay(self, path: Path) -> None:
        """Rebuild statuses and idempotency keys from an earlier run's log (created records only)."""
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash of the server itself
                self._seq = max(self._seq, int(data["seq"]))
                if not data.get("created"):
                    continue
                record = RequestRecord(**data)
                account = record.account
                status_id = str(record.status_id)
                self._next_id = max(self._next_id, int(status_id))
                self._statuses[status_id] = {"id": status_id, "created_at": _iso(record.time)}
                if record.idempotency_key:
                    self._idempotency[(account, record.idempotency_key)] = (status_id, record.time)
                self._per_key[record.idempotency_key or ""] += 1
                self._created += 1

    def _control(self, path: str, body: bytes) -> Reply:
        if path == f"{CONTROL_PREFIX}/stats":
            return _json(200, self.stats())
        if path == f"{CONTROL_PREFIX}/log":
            return _json(200, {"records": [asdict(r) for r in self.records]})
        if path != CONTROL_PREFIX:
            return _error(404, "no such control path")
        try:
            data = json.loads(body or b"{}")
            if data.get("reset"):
                self.reset()
            if "faults" in data:
                self.set_faults(Fault.from_json(f) for f in data["faults"])
            for item in data.get("add_faults", []):
                self.add_fault(Fault.from_json(item))
            if "rate_limit" in data:
                raw = data["rate_limit"]
                self.set_rate_limit(None if raw is None else RateLimitPolicy.from_json(raw))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad control request: {exc}")
        return _json(200, self.stats())


def _account_of(path: str, headers: Mapping[str, str]) -> str:
    """Who a request is from: its bearer token, or the hook name of ``/hooks/<name>``."""
    if path.startswith(HOOKS_PREFIX):
        return path[len(HOOKS_PREFIX) :].split("/", 1)[0]
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth.startswith("Bearer ") else ""


def _params(content_type: str, body: bytes) -> dict[str, Any] | None:
    """Mastodon accepts JSON and form bodies alike (https://docs.joinmastodon.org/client/intro/)."""
    if not body:
        return {}
    try:
        if "json" in content_type:
            data = json.loads(body)
            return data if isinstance(data, dict) else None
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        return None


def _limit_headers(
    style: Style, limit: int, remaining: int, reset: float, now: float, window: float, *, final: bool
) -> list[tuple[str, str]]:
    """Rate-limit headers in ``style``; ``final`` for a 429 (Retry-After styles only speak then)."""
    if style == "mastodon":
        return [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", _iso(reset, 6)),
        ]
    if style == "x":
        return [
            ("x-rate-limit-limit", str(limit)),
            ("x-rate-limit-remaining", str(remaining)),
            ("x-rate-limit-reset", str(math.ceil(reset))),
        ]
    if style == "bluesky":
        return [
            ("RateLimit-Limit", str(limit)),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(math.ceil(reset))),
            ("RateLimit-Policy", f"{limit};w={math.ceil(window)}"),
        ]
    if not final:
        return []
    if style == "retry-after":
        return [("Retry-After", str(math.ceil(reset - now)))]
    return [("Retry-After", email.utils.formatdate(math.ceil(reset), usegmt=True))]


# ------------------------------------------------------------------------------------------------ HTTP


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parse requests (Content-Length bodies), answer in order, keep alive."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.platform = server.platform
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: tuple[Pending, int, bool] | None = None  # headers read, body not yet complete
        self.busy = False  # a delayed answer or a hang holds the connection
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while self.transport is not None and not self.busy:
            if self.waiting is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > _MAX_HEAD:
                        self._send(_error(431, "Request Header Fields Too Large"), keep_alive=False)
                    return
                head = bytes(self.buffer[:end]).decode("latin-1")
                del self.buffer[: end + 4]
                lines = head.split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    self._send(_error(400, "bad request line"), keep_alive=False)
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    self._send(_error(411, "Length Required"), keep_alive=False)
                    return
                connection = headers.get("connection", "").lower()
                keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
                pending = self.platform.begin(method, target, headers)
                if pending.early is not None and pending.early.action == "reset":
                    self.platform.finish(pending, b"")
                    self._reset()
                    return
                self.waiting = (pending, int(headers.get("content-length") or 0), keep_alive)
            pending, length, keep_alive = self.waiting
            if pending.sink is not None:  # a media upload: consumed as it arrives, never held whole
                take = min(len(self.buffer), length - pending.received)
                pending.sink.feed(bytes(self.buffer[:take]))
                del self.buffer[:take]
                pending.received += take
                if pending.received < length:
                    return
                body = b""
            else:
                if len(self.buffer) < length:
                    return
                body = bytes(self.buffer[:length])
                del self.buffer[:length]
            self.waiting = None
            if pending.record is None and pending.path == WAIT_PATH:
                self.busy = True  # answered when the counters are reached (or the wait times out)
                task = asyncio.ensure_future(self._answer_wait(pending.query, keep_alive))
                self.server.tasks.add(task)
                task.add_done_callback(self.server.tasks.discard)
                return
            reply = self.platform.finish(pending, body)
            if reply.action == "reset":
                self._reset()
                return
            if reply.action == "hang":
                self.busy = True  # never answer; the client's read timeout ends it
                return
            if reply.delay > 0:
                self.busy = True
                loop = asyncio.get_running_loop()
                self.timer = loop.call_later(reply.delay, self._send_later, reply, keep_alive)
                return
            self._send(reply, keep_alive=keep_alive)

    async def _answer_wait(self, query: str, keep_alive: bool) -> None:
        """``GET /_control/wait``: block a worker thread (not the event loop) on the platform's condition."""
        try:
            params = {k: float(v) for k, v in parse_qsl(query)}
            timeout = params.pop("timeout", 60.0)
            loop = asyncio.get_running_loop()
            at_least = {k: math.ceil(v) for k, v in params.items()}
            wait = partial(self.platform.wait_for, timeout, **at_least)
            reached, stats = await loop.run_in_executor(None, wait)
            reply = _json(200 if reached else 504, stats)
        except ValueError as exc:
            reply = _error(400, f"bad wait request: {exc}")
        self._send_later(reply, keep_alive)

    def _send_later(self, reply: Reply, keep_alive: bool) -> None:
        self.timer = None
        self.busy = False
        self._send(reply, keep_alive=keep_alive)
        self._process()

    def _send(self, reply: Reply, *, keep_alive: bool) -> None:
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
        head.extend(f"{name}: {value}" for name, value in reply.headers)
        head.append(f"Content-Length: {len(reply.body)}")
        if not keep_alive:
            head.append("Connection: close")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        if not keep_alive:
            self.transport.close()
            self.transport = None

    def _reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), as a crashing or load-shedding server would."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        self.transport = None


class _Server:
    def __init__(self, platform: FakePlatform) -> None:
        self.platform = platform
        self.connections: set[_Connection] = set()
        self.server: asyncio.Server | None = None
        #: Pending ``/_control/wait`` answers (kept referenced until done).
        self.tasks: set[asyncio.Future[None]] = set()

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024)
        sockname: tuple[str, int] = self.server.sockets[0].getsockname()
        return sockname[1]

    async def stop(self) -> None:
        self.platform.release_waiters()  # a worker thread blocked in wait_for would delay the loop's exit
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self.server is not None:
            await self.server.wait_closed()


class ServerThread:
    """Run a :class:`FakePlatform` on 127.0.0.1 in a background thread with its own event loop.

    Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(
        self, platform: FakePlatform | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.platform = platform or FakePlatform()
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = _Server(self.platform)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name="fakeplatform", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("fake platform did not start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self.port = loop.run_until_complete(self._server.start(self.host, self.port))
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.stop())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self.platform.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess:
    """Run the server as a child process (``python -m tests.fakeplatform.server``) and talk to its
    control endpoint. ``args`` are extra command-line options (``--rate-limit``, ``--fault``, ``--uvloop``).
    """

    def __init__(self, *, log: Path | None = None, args: Sequence[str] = (), keep_log: bool = True) -> None:
        self.log = log
        self.args = list(args)
        self.keep_log = keep_log
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self._client: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 15.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "tests.fakeplatform.server", "--port", str(self.port)]
        if self.log is not None:
            cmd += ["--log", str(self.log)]
        if not self.keep_log:
            cmd.append("--no-keep-log")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(
            [*cmd, *self.args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"fake platform process did not report its port (got {line!r})")
        self.port = int(line)
        self._client = httpx.Client(base_url=self.url, timeout=10)
        return self

    def control(self, **body: Any) -> dict[str, Any]:
        """``POST /_control`` with ``body`` (faults, add_faults, rate_limit, reset); returns the stats."""
        assert self._client is not None
        response = self._client.post(CONTROL_PREFIX, json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stats(self) -> dict[str, Any]:
        assert self._client is not None
        result: dict[str, Any] = self._client.get(f"{CONTROL_PREFIX}/stats").raise_for_status().json()
        return result

    def wait_for(self, timeout: float = 120.0, **at_least: int) -> dict[str, Any]:
        """Block until the server's counters reach ``at_least`` (see :meth:`FakePlatform.wait_for`); returns
        the stats. Raises TimeoutError after ``timeout`` seconds (a bound on a hang, not a guessed duration).
        """
        assert self._client is not None
        params = {**{k: str(v) for k, v in at_least.items()}, "timeout": str(timeout)}
        response = self._client.get(WAIT_PATH, params=params, timeout=timeout + 30)
        result: dict[str, Any] = response.json()
        if response.status_code == 504:
            seen = {k: result.get(k) for k in at_least}
            raise TimeoutError(f"fake platform: waited {timeout} s for {at_least}, saw {seen}")
        response.raise_for_status()
        return result

    def created_while(self, sender: subprocess.Popen[bytes], n: int, *, bound: float) -> int:
        """Statuses created once ``n`` are, ``sender`` (a daemon) exits, or ``bound`` seconds pass, whichever
        comes first (a benchmark's wait for a run that may fail part-way)."""
        deadline = time.monotonic() + bound
        while sender.poll() is None and time.monotonic() < deadline:
            try:
                return int(self.wait_for(5.0, created=n)["created"])
            except TimeoutError:
                continue
        return int(self.stats()["created"])

    def records(self) -> list[RequestRecord]:
        assert self._client is not None
        data = self._client.get(f"{CONTROL_PREFIX}/log").raise_for_status().json()
        return [RequestRecord(**r) for r in data["records"]]

    def stop(self, timeout: float = 10.0) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_log(path: Path) -> Iterator[RequestRecord]:
    """The records of a JSONL log written with ``--log`` (a torn last line is skipped)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            with contextlib.suppress(ValueError):
                yield RequestRecord(**json.loads(line))


# ------------------------------------------------------------------------------------------------ main


def _parse_rate_limit(raw: str) -> RateLimitPolicy:
    """``LIMIT/WINDOW[/STYLE]``, e.g. ``300/300/mastodon``."""
    parts = raw.split("/")
    style = parts[2] if len(parts) > 2 else "mastodon"
    if style not in STYLES:
        raise argparse.ArgumentTypeError(f"style must be one of {', '.join(STYLES)}")
    return RateLimitPolicy(limit=int(parts[0]), window=float(parts[1]), style=style)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakeplatform.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--log", type=Path, help="append every request as a JSON line (replayed at start)")
    parser.add_argument("--no-keep-log", action="store_true", help="do not keep records in memory")
    parser.add_argument("--rate-limit", type=_parse_rate_limit, help="LIMIT/WINDOW[/STYLE] per account")
    parser.add_argument("--fault", action="append", default=[], help="a Fault as JSON (repeatable)")
    parser.add_argument("--idempotency-window", type=float, default=MASTODON_IDEMPOTENCY_WINDOW)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--media-polls", type=int, default=1, help="206 answers before an upload is ready")
    args = parser.parse_args(argv)
    platform = FakePlatform(
        rate_limit=args.rate_limit,
        faults=[Fault.from_json(json.loads(f)) for f in args.fault],
        idempotency_window=args.idempotency_window,
        log_path=args.log,
        keep_log=not args.no_keep_log,
        media_polls=args.media_polls,
    )
    server = _Server(platform)

    async def serve() -> None:
        port = await server.start(args.host, args.port)
        print(port, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.stop()

    if args.uvloop:
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())
    platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
