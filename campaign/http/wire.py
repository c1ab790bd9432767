"""An ``httpx.AsyncBaseTransport`` that speaks HTTP/1.1 itself: the daemon's default (``--transport wire``).

httpx stays the API every adapter and :mod:`campaign.http.exchange` speak; underneath, requests go out on
asyncio's own sockets and TLS (``loop.create_connection``) and answers are parsed by httptools, the binding
of Node's llhttp parser that uvicorn uses (https://github.com/MagicStack/httptools: ``HttpResponseParser``
calls ``on_status``, ``on_header``, ``on_body`` and ``on_message_complete`` on a protocol object as bytes are
fed to it). Why write the connection handling ourselves: the daemon is GIL-bound, and on the TLS benchmark
aiohttp's request path was its largest cost (~20% of all samples: ``ClientSession._request``, request body
writing, protocol callbacks). Measured here (docs/BENCHMARKS.md, "The wire transport"): a bare httpx client
over this transport moves 6,800 requests/s on plain loopback HTTP where the aiohttp transport moves 3,100
(a raw asyncio client: 9,600), 1.2-1.45x over TLS; in the daemon's profile the transport fell from 10.9% to
2.6% of the samples and CPU per post by ~12%. What a daemon needs of a client is small: one request at a
time per connection, a LIFO pool per origin, timeouts, streamed uploads, and the one property the retry
policy rests on
(:func:`campaign.http.exchange.map_transport_error`): an error says "nothing was sent" only when provably no
byte of the request was handed to the socket. Once one was, every failure is "maybe received".

==========================================================  ===============================  ================
failure                                                     raised as                        means
==========================================================  ===============================  ================
no free connection within the ``pool`` timeout              ``httpx.PoolTimeout``            nothing was sent
connecting took longer than ``connect`` (TCP + TLS)         ``httpx.ConnectTimeout``         nothing was sent
DNS, refused, reset or closed during connect, TLS, cert     ``httpx.ConnectError``           nothing was sent
a fresh connection closed before the request was written    ``httpx.ConnectError``           nothing was sent
CR/LF inside a header, a scheme other than http(s)          ``LocalProtocolError``,          nothing was sent
                                                            ``UnsupportedProtocol``
silence longer than ``read`` after the request; a request   ``httpx.ReadTimeout``            maybe received
body that made no progress for ``write`` seconds; an
exchange not over by its deadline (below)
a reset (an ``OSError``) after writing began                ``httpx.ReadError``              maybe received
closed without a (complete) answer, a malformed answer,     ``httpx.RemoteProtocolError``    maybe received
a request body that failed or differed from its length
==========================================================  ===============================  ================

A kept-alive connection is checked just before the request is written, the only moment a stale one is
safely "nothing sent": one the peer closed, reset or sent anything on while idle (seen by the event loop, or
still waiting in the socket: a non-blocking ``poll``) is dropped and another taken. A connection that
breaks after that check is "maybe received". Nothing is ever sent twice by this module: whether to send
again is the dispatcher's decision.

- Pool: idle connections per origin (scheme, host, port), reused last-in first-out while younger than
  ``limits.keepalive_expiry`` (None: forever), at most ``max_keepalive_connections`` of them; at most
  ``max_connections`` open in all (an idle connection of another origin is closed to make room). Waiting
  for one is bounded by the ``pool`` timeout. ``Connection: close``, HTTP/1.0 without keep-alive
  (``parser.should_keep_alive()``), a HEAD answer, or a request body cut short: closed after the answer.
- Timeouts come from the request's ``timeout`` extension (httpx's semantics,
  https://www.python-httpx.org/advanced/timeouts/): ``read`` is the longest silence while waiting for and
  reading the answer, ``write`` the longest stall of a request body the socket cannot take, measured with
  ``loop.call_later`` handles (+1.5 us a request here; an ``asyncio.timeout`` context: +6.6 us). A server
  that dribbles its answer (or reads a body) a byte at a time trips neither, so an exchange also has a
  deadline, checked by the same timers: ``read`` + ``write`` seconds from its first byte written, plus a
  streamed body's ``Content-Length`` at :data:`campaign.http.client.MIN_UPLOAD_RATE` (unknown length: from
  its last byte). None when either timeout is None. (The aiohttp transport's sums all four phases; here the
  pool wait and the connect are bounded before the exchange starts.)
- Request bodies httpx holds in memory go out with the head in one write; streamed ones (a media upload)
  one chunk at a time with flow control (``pause_writing``/``resume_writing``), never whole in memory,
  chunk-encoded when httpx put ``Transfer-Encoding: chunked`` on the request. Headers go out exactly as
  httpx built them (order and case; ``Host`` is among them); nothing is added.
- Answers are read whole: ``Content-Length``, chunked, or delimited by the server closing; none for
  HEAD, 1xx, 204 and 304; interim 1xx answers (``100 Continue``) are skipped. The ``httpx.Response`` is
  built by :func:`campaign.http.client.response_from`, as for ``AiohttpTransport`` (raw header pairs,
  ``http_version`` and ``reason_phrase`` extensions, the body decoded by httpx from ``Content-Encoding``).
- TLS: ``verify`` as for ``AiohttpTransport`` (an ``SSLContext``; True: ``httpx.create_ssl_context()``, which
  honours ``SSL_CERT_FILE``; False: no verification, tests only), ALPN ``http/1.1``. No redirects, no
  cookies, no auth, no proxies: the transport is a wire.
"""

from __future__ import annotations

import asyncio
import collections
import math
import select
import ssl
from typing import Any, cast

import httpx
from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from campaign.http.client import MIN_UPLOAD_RATE, response_from

__all__ = ["WireTransport"]

#: (scheme, host, port): what a connection may be reused for.
Origin = tuple[bytes, bytes, int]

_PORTS = {b"http": 80, b"https": 443}
_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}
_NO_TIMEOUTS: dict[str, float | None] = {}
#: Bodies up to this size go out in the same write as the head (one copy, one send); larger ones after it.
_JOIN_LIMIT = 64 * 1024


def _head(request: httpx.Request) -> bytes:
    """The request line and headers exactly as httpx holds them; LocalProtocolError for a CR or LF inside
    one (a header must never smuggle another), before anything is written."""
    try:
        lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError(f"method {request.method!r} is not ASCII", request=request) from None
    lines.extend([b"%s: %s" % pair for pair in request.headers.raw])
    lines.append(b"\r\n")
    head = b"\r\n".join(lines)
    # Every line ends in exactly one CR LF: one more anywhere is a line break inside a name or value.
    if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines):
        raise httpx.LocalProtocolError("a request header contains CR or LF", request=request)
    return head


class _OutOfStep(Exception):
    """Raised inside the parser when a second answer begins: the connection is already aborted."""


def _tls_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    context = httpx.create_ssl_context(verify=verify) if isinstance(verify, bool) else verify
    context.set_alpn_protocols(["http/1.1"])
    return context


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one request at a time. Both asyncio's protocol callbacks and httptools'
    parser callbacks (``on_*``) arrive here, on the event loop; :meth:`exchange` is the request's side."""

    __slots__ = (
        "allowed", "body", "closed", "counted", "deadline", "drain", "headers", "headers_done", "idle",
        "idle_since", "keep_alive", "last_read", "loop", "origin", "parser", "paused", "poller", "pool",
        "reason", "request", "skip_body", "status", "timer", "transport", "waiter",
    )  # fmt: skip

    def __init__(self, pool: WireTransport, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        self.poller = select.poll()
        self.closed = False  # the peer closed, reset or spoke out of turn, or we aborted: never reused
        self.counted = True  # holds one of the pool's max_connections slots
        self.idle = False
        self.idle_since = 0.0
        self.paused = False
        self.drain: asyncio.Future[None] | None = None
        self.waiter: asyncio.Future[None] | None = None  # the answer to the request in flight
        self.timer: asyncio.TimerHandle | None = None
        self.request: httpx.Request | None = None
        self.skip_body = False
        self.last_read = 0.0
        #: When the exchange in flight must be over (loop time; None: no deadline), and its length in seconds.
        self.deadline: float | None = None
        self.allowed = 0.0
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.keep_alive = False

    # -- asyncio's callbacks -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # An asyncio.Transport in behaviour (uvloop's transports do not subclass it).
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.poller.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        if self.waiter is None:  # bytes nobody asked for on an idle connection: never trust it again
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            self.fail(httpx.RemoteProtocolError, "the server switched protocols")
        except HttpParserError as exc:
            self.fail(httpx.RemoteProtocolError, f"malformed answer: {exc}")

    def eof_received(self) -> bool | None:
        self.lost(None)
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost(exc)
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        if self.idle:
            self.pool.drop(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- httptools' callbacks --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # a second answer to one request: out of step
            self.abort()
            raise _OutOfStep  # stops the parser before it touches the answer already taken
        self.headers = []
        self.body = []
        self.reason = b""

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.skip_body and self.status >= 200:
            # A HEAD answer has no body, but the parser would wait for the one its headers describe: the
            # answer ends here and the connection is not reused.
            self.keep_alive = False
            self.complete()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200 or self.skip_body:  # interim (100 Continue, 103): the real answer follows
            self.headers_done = False
            return
        self.keep_alive = self.parser.should_keep_alive()
        self.complete()

    # -- outcomes ------------------------------------------------------------------------------------

    def complete(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, kind: type[httpx.TransportError], message: str) -> None:
        """End the exchange in flight with ``kind`` and never use the connection again."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(kind(message, request=self.request))
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def lost(self, exc: BaseException | None) -> None:
        """The peer closed (``exc`` None) or the connection broke: an answer delimited by the close ends
        here; any other answer in flight failed."""
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self.headers_done and self._until_close():
            self.keep_alive = False
            waiter.set_result(None)
        elif isinstance(exc, OSError):
            self.fail(httpx.ReadError, f"connection lost: {exc}")
        else:
            state = "mid-answer" if self.headers_done else "without answering"
            self.fail(httpx.RemoteProtocolError, f"the server closed the connection {state}")

    def _until_close(self) -> bool:
        """Whether the answer's body runs until the server closes (no length, not chunked)."""
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length":
                return False
            if lowered == b"transfer-encoding" and b"chunked" in value.lower():
                return False
        return True

    def read_check(self, limit: float) -> None:
        """The read timer: fail once nothing arrived for ``limit`` seconds or the exchange's deadline has
        passed, else look again when the first of the two can be due."""
        now = self.loop.time()
        if self.overdue(now):
            return
        silent = now - self.last_read
        if silent < limit:
            self.timer = self.loop.call_later(self.wait(now, limit - silent), self.read_check, limit)
        else:
            self.fail(httpx.ReadTimeout, f"no answer for {limit:g} s after the request was sent")

    def write_check(self, limit: float, pending: int, since: float) -> None:
        """The write timer: fail once the unsent bytes (``pending`` at ``since``) did not shrink for
        ``limit`` seconds or the exchange's deadline has passed, else look again."""
        assert self.transport is not None
        now = self.loop.time()
        if self.overdue(now):
            return
        now_pending = self.transport.get_write_buffer_size()
        if now_pending < pending:
            pending, since = now_pending, now
        elif now - since >= limit:
            self.fail(httpx.ReadTimeout, f"the request body stalled for {limit:g} s while being sent")
            return
        self.timer = self.loop.call_later(
            self.wait(now, since + limit - now), self.write_check, limit, pending, since)

    def wait(self, now: float, wait: float) -> float:
        """``wait``, or less when the exchange's deadline comes first."""
        deadline = self.deadline
        return wait if deadline is None else min(wait, deadline - now)

    def overdue(self, now: float) -> bool:
        """Whether the exchange's deadline has passed (then it is failed: maybe received)."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return False
        self.fail(httpx.ReadTimeout, f"the exchange outlasted its deadline ({self.allowed:g} s: the read and "
                                     "write timeouts, plus the upload time)")
        return True

    def usable(self, expiry: float | None) -> bool:
        """An idle connection may carry a request: open, not expired, nothing waiting on its socket (an EOF,
        a reset, or bytes the event loop has not read yet)."""
        assert self.transport is not None
        if self.closed or self.transport.is_closing():
            return False
        if expiry is not None and self.loop.time() - self.idle_since >= expiry:
            return False
        return not self.poller.poll(0)

    # -- the request's side ----------------------------------------------------------------------------

    async def exchange(self, request: httpx.Request, head: bytes, timeouts: dict[str, float | None]) -> bool:
        """Write ``request`` and wait for its whole answer; True when the whole request was written.
        Raises the module's table (the waiter's exception)."""
        loop = self.loop
        transport = self.transport
        assert transport is not None
        self.request = request
        self.skip_body = request.method == "HEAD"
        self.headers_done = False
        self.keep_alive = False
        self.status = 0
        self.waiter = waiter = loop.create_future()
        chunked = b"\r\ntransfer-encoding:" in head.lower() and "chunked" in request.headers.get(
            "transfer-encoding", "").lower()  # fmt: skip
        stream = request.stream
        whole = True
        read, write = timeouts.get("read"), timeouts.get("write")
        self.deadline = None
        if read is not None and write is not None:
            self.allowed = read + write
            size = None if isinstance(stream, httpx.ByteStream) else request.headers.get("content-length", "")
            if size is None or size.isdigit():  # else a body of unknown length: from its end (below)
                self.allowed += int(size) / MIN_UPLOAD_RATE if size else 0
                self.deadline = loop.time() + self.allowed
        if isinstance(stream, httpx.ByteStream):
            try:
                body = request.content
            except httpx.RequestNotRead:
                body = await request.aread()
            if chunked:
                body = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) if body else b"0\r\n\r\n"
            if len(body) <= _JOIN_LIMIT:
                transport.write(head + body)  # from here on, the request may have reached the server
            else:
                transport.write(head)
                transport.write(body)
            if self.paused:
                await self.wait_drained(write)
        else:
            transport.write(head)  # from here on, the request may have reached the server
            whole = await self.send_stream(request, chunked, write)
            if self.deadline is None and read is not None and write is not None:
                self.deadline = loop.time() + self.allowed
        if not waiter.done():
            limit = read
            if limit is None:
                await waiter
            else:
                self.last_read = now = loop.time()
                self.timer = loop.call_later(self.wait(now, limit), self.read_check, limit)
                try:
                    await waiter
                finally:
                    self.timer.cancel()
        waiter.result()  # raises what failed the exchange
        return whole

    async def send_stream(self, request: httpx.Request, chunked: bool, limit: float | None) -> bool:
        """Write a streamed body chunk by chunk, waiting whenever the socket is full; False when an answer
        (or a failure) came before it was all written."""
        transport, waiter = self.transport, self.waiter
        assert transport is not None and waiter is not None
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream), "an AsyncClient request has an async stream"
        declared = request.headers.get("content-length")
        sent = 0
        try:
            async for chunk in stream:
                if waiter.done():
                    return False
                if not chunk:
                    continue
                sent += len(chunk)
                if chunked:
                    transport.write(b"%x\r\n" % len(chunk))
                    transport.write(chunk)
                    transport.write(b"\r\n")
                else:
                    transport.write(chunk)
                if self.paused:
                    await self.wait_drained(limit)
        except httpx.TransportError:
            raise
        except Exception as exc:  # the body's own source failed after part of the request went out
            self.fail(httpx.RemoteProtocolError, f"the request body failed after {sent} bytes: {exc}")
            return False
        if chunked:
            transport.write(b"0\r\n\r\n")
        elif declared is not None and declared.isdigit() and int(declared) != sent:
            self.fail(httpx.RemoteProtocolError, f"the request body was {sent} bytes, {declared} declared")
            return False
        if self.paused:
            await self.wait_drained(limit)
        return True

    async def wait_drained(self, limit: float | None) -> None:
        """Wait until the transport takes writes again (or the connection is gone)."""
        transport = self.transport
        assert transport is not None
        while self.paused and not self.closed:
            self.drain = drain = self.loop.create_future()
            if limit is not None:
                pending, now = transport.get_write_buffer_size(), self.loop.time()
                wait = self.wait(now, limit)
                self.timer = self.loop.call_later(wait, self.write_check, limit, pending, now)
            try:
                await drain
            finally:
                self.drain = None
                if self.timer is not None:
                    self.timer.cancel()

    def response(self) -> httpx.Response:
        """The answer just read, as an ``httpx.Response`` (read, decoded)."""
        body = self.body
        content = body[0] if len(body) == 1 else b"".join(body)
        version = self.parser.get_http_version()
        extensions: dict[str, Any] = {
            "http_version": _VERSIONS.get(version) or f"HTTP/{version}".encode("ascii"),
            "reason_phrase": self.reason,
        }
        self.body = []
        try:
            return response_from(self.status, self.headers, content, extensions)
        except httpx.DecodingError as exc:  # not a TransportError: the answer came, but is unreadable
            raise httpx.RemoteProtocolError(f"undecodable answer: {exc}", request=self.request) from None

    def finish(self) -> None:
        """Forget the exchange (the connection goes back to the pool or away)."""
        self.waiter = None
        self.request = None


class WireTransport(httpx.AsyncBaseTransport):
    """httpx requests over pooled HTTP/1.1 connections of our own (module docstring: pool, timeouts,
    errors). ``limits``: httpx's pool limits; ``verify``: an ``ssl.SSLContext`` (its ALPN is set to
    ``http/1.1``), True (httpx's default context) or False (no verification: tests only). Use it from one
    event loop; :meth:`aclose` closes every connection. Raises only ``httpx.TransportError`` subclasses
    (and ``asyncio.CancelledError`` when cancelled: the connection is closed, the request may have gone)."""

    def __init__(self, *, limits: httpx.Limits | None = None, verify: ssl.SSLContext | bool = True) -> None:
        limits = limits or httpx.Limits()
        self._max = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None  # made on the first https connection (loading CAs takes time)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or being opened (the slots of max_connections taken)
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        port = url.port or _PORTS.get(scheme)
        if port is None:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}", request=request)
        origin = (scheme, url.raw_host, port)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or _NO_TIMEOUTS
        head = _head(request)
        conn = self._reuse(origin) or await self._acquire(origin, request, timeouts)
        try:
            whole = await conn.exchange(request, head, timeouts)
            response = conn.response()
        except BaseException:
            conn.finish()
            self.drop(conn)
            raise
        conn.finish()
        if whole:
            self._release(conn)
        else:
            self.drop(conn)
        return response

    # -- the pool --------------------------------------------------------------------------------------

    def _reuse(self, origin: Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` fit to carry a request (stale ones closed)."""
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            conn.idle = False
            if conn.usable(self._expiry):
                return conn
            self.drop(conn)
        return None

    async def _acquire(self, origin: Origin, request: httpx.Request, timeouts: dict[str, float | None]
                       ) -> _Connection:
        """A connection to ``origin``: idle, new, or the first to free up within the ``pool`` timeout."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            conn = self._reuse(origin)
            if conn is not None:
                return conn
            if self._max is None or self._open < self._max or self._evict():
                return await self._connect(origin, request, timeouts.get("connect"), loop)
            if deadline is None:
                pool = timeouts.get("pool")
                deadline = math.inf if pool is None else loop.time() + pool
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(None if deadline == math.inf else deadline):
                    await waiter
            except TimeoutError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken as the time ran out: hand the free slot on
                raise httpx.PoolTimeout(
                    f"no free connection within {timeouts.get('pool')} s", request=request) from None
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()
                raise

    async def _connect(self, origin: Origin, request: httpx.Request, limit: float | None,
                       loop: asyncio.AbstractEventLoop) -> _Connection:
        """A new connection (TCP, and TLS for https) in a slot of its own; nothing of the request is sent."""
        scheme, host, port = origin
        self._open += 1
        conn = _Connection(self, origin, loop)
        name = host.decode("ascii")
        tls = None
        if scheme == b"https":
            tls = self._ssl = self._ssl or _tls_context(self._verify)
        try:
            async with asyncio.timeout(limit):
                await loop.create_connection(lambda: conn, name, port, ssl=tls,
                                             server_hostname=name if tls is not None else None)
        except TimeoutError:
            self.drop(conn)
            raise httpx.ConnectTimeout(f"connecting to {name}:{port} timed out (connect timeout {limit} s)",
                                       request=request) from None
        except Exception as exc:  # DNS, refused, reset, TLS, certificate: all before any request byte
            self.drop(conn)
            raise httpx.ConnectError(f"connecting to {name}:{port}: {exc or type(exc).__name__}",
                                     request=request) from None
        except BaseException:
            self.drop(conn)
            raise
        if conn.closed:
            self.drop(conn)
            raise httpx.ConnectError(f"{name}:{port} closed the connection before the request was sent",
                                     request=request)
        return conn

    def _release(self, conn: _Connection) -> None:
        """Back to the idle list after a whole exchange, or closed when it may not be reused."""
        if conn.closed or not conn.keep_alive or self._closed or (
                self._max_idle is not None and self._idle_count >= self._max_idle):
            self.drop(conn)
            return
        conn.idle = True
        conn.idle_since = conn.loop.time()
        idle = self._idle.get(conn.origin)
        if idle is None:
            self._idle[conn.origin] = [conn]
        else:
            idle.append(conn)
        self._idle_count += 1
        if self._waiters:
            self._wake()

    def drop(self, conn: _Connection, *, wake: bool = True) -> None:
        """Close ``conn`` (if still open) and free its slot."""
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.abort()
        conn.closed = True
        if conn.idle:
            conn.idle = False
            self._idle[conn.origin].remove(conn)
            self._idle_count -= 1
        if conn.counted:
            conn.counted = False
            self._open -= 1
            if wake and self._waiters:
                self._wake()

    def _evict(self) -> bool:
        """Close the longest idle connection (of another origin) to make room; False when none is idle."""
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self.drop(oldest, wake=False)
        return True

    def _wake(self) -> None:
        """Let the first live waiter try again for a connection."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for idle in list(self._idle.values()):
            for conn in list(idle):
                self.drop(conn)
        self._idle.clear()
        # Aborted transports close their sockets on the next loop iterations (TLS: one more).
        for _ in range(2):
            await asyncio.sleep(0)
