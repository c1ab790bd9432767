"""An ``httpx.AsyncBaseTransport`` on aiohttp, for the daemon's one shared client (``--transport aiohttp``).

httpx stays the API every adapter and :mod:`campaign.http.exchange` speak; only the wire underneath changes.
On the dispatch benchmark aiohttp moves requests several times faster than httpx's own pool
(tests/benchmarks/bench_dispatch.py). What this module adds to a plain aiohttp session is the property the
retry policy rests on (:func:`campaign.http.exchange.map_transport_error`): an error says "nothing was sent"
only when that is certain.

=====================================================  ==========================  ======================
aiohttp error                                          raised as                   means
=====================================================  ==========================  ======================
``ConnectionTimeoutError`` (pool wait or connect)      ``httpx.ConnectTimeout``    nothing was sent
``ClientConnectorError`` (DNS, refused, TLS, cert)     ``httpx.ConnectError``      nothing was sent
the body write found the connection already closing    ``httpx.WriteError``        nothing was sent
``SocketTimeoutError``, the overall deadline           ``httpx.ReadTimeout``       maybe received
``ServerDisconnectedError``, ``ClientPayloadError``,   ``httpx.RemoteProtocolError``  maybe received
a malformed answer, any other ``ClientError``
``ClientOSError`` after connecting (a reset)           ``httpx.ReadError``         maybe received
=====================================================  ==========================  ======================

Once a connection is in hand, every failure counts as "maybe received" unless aiohttp says the body
write itself failed. aiohttp only reports that when the transport was already closing, so none of the
request reached the server. A false "maybe" costs an ``unknown`` post. A false "nothing was sent" could
publish twice. (httpx-aiohttp maps every ``ClientConnectionError`` to ``ConnectTimeout``. That wrongly
includes a reset while the answer is being read, so it cannot be used here: tests/test_faults.py.)

Two more aiohttp behaviours are switched off:

- aiohttp re-sends a request with an idempotent method (GET, PUT, DELETE, ...) once when a kept-alive
  connection fails with ``ClientOSError`` or ``ServerDisconnectedError``
  (``ClientSession._request``; there is no option to disable it: aio-libs/aiohttp#10790). A client
  middleware (aiohttp >= 3.12, https://docs.aiohttp.org/en/stable/client_advanced.html#client-middleware)
  turns those errors into one it does not retry. Whether to send again is the dispatcher's decision.
- Redirects are never followed (``allow_redirects=False``; adapters classify 3xx). Cookies are never
  stored (``DummyCookieJar``): httpx's client owns cookies. aiohttp adds no default headers
  (``skip_auto_headers``): the request goes out with exactly the headers httpx built.

Timeouts come from httpx's per-request ``timeout`` extension
(https://www.python-httpx.org/advanced/timeouts/): ``pool`` + ``connect`` become aiohttp's ``connect``
(waiting for a pooled connection plus establishing one), ``connect`` its ``sock_connect``, ``read`` its
``sock_read`` (longest silence while reading the answer,
https://docs.aiohttp.org/en/stable/client_reference.html#aiohttp.ClientTimeout). aiohttp has no write
timeout, so the sum of all four bounds the whole exchange, plus, for a streamed body (a media upload),
its ``Content-Length`` at :data:`campaign.http.client.MIN_UPLOAD_RATE` (a 500 MB video may take minutes to
send). Request bodies httpx holds in memory (JSON, forms) are sent as bytes; streamed ones (a file from the
media store, a multipart upload) are handed to aiohttp as they are read, one chunk at a time, so a 500 MB
video never sits in memory. Answers are read whole (no streaming) and undecoded
(``auto_decompress=False``); the ``httpx.Response`` decodes ``Content-Encoding`` as usual.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any

import aiohttp
import httpx
from yarl import URL

# DirectClient lived here; it is in campaign.http.client now (no aiohttp import for the default transport).
from campaign.http.client import MIN_UPLOAD_RATE, DirectClient
from campaign.http.client import response_from as _response

__all__ = ["AiohttpTransport", "DirectClient", "map_aiohttp_error"]

#: Headers aiohttp would otherwise add when the request lacks them.
_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
#: aiohttp's messages for a body write on a connection that was already closing (client_reqrep.py
#: ``write_bytes``). A new wording only makes such a failure count as "maybe received": the safe side.
_WRITE_FAILED = ("Can not write request body", "Failed to send bytes into the underlying connection")


class _NoRetry(aiohttp.ClientError):
    """Carries a post-connect failure past ``ClientSession._request``'s automatic retry."""

    def __init__(self, original: aiohttp.ClientError) -> None:
        super().__init__(str(original))
        self.original = original


async def _no_retry(
    request: aiohttp.ClientRequest,
    handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
) -> aiohttp.ClientResponse:
    """Client middleware: wrap the errors aiohttp would retry on (connect errors pass untouched)."""
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _NoRetry(exc) from exc


def map_aiohttp_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for an aiohttp failure of ``request`` (the table in the module docstring)."""
    if isinstance(exc, _NoRetry):
        exc = exc.original
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectionError) and any(
        isinstance(arg, str) and arg.startswith(_WRITE_FAILED) for arg in exc.args
    ):
        return httpx.WriteError(message, request=request)
    if isinstance(exc, TimeoutError):  # SocketTimeoutError, and the overall deadline
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return httpx.ReadError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)



async def _chunks(request: httpx.Request) -> AsyncIterator[bytes]:
    """The body of ``request`` as its stream yields it (one chunk in memory at a time)."""
    stream = request.stream
    assert isinstance(stream, httpx.AsyncByteStream), "an AsyncClient request has an async stream"
    async for chunk in stream:
        yield chunk


@functools.lru_cache(maxsize=64)
def _timeouts(
    pool: float | None, connect: float | None, read: float | None, write: float | None
) -> tuple[aiohttp.ClientTimeout, float | None]:
    """aiohttp's timeouts for httpx's four phases (module docstring), and the overall deadline (None: none).
    Cached: every request of a client carries the same four numbers."""
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=None if pool is None or connect is None else pool + connect,
        sock_connect=connect,
        sock_read=read,
    )
    phases = (pool, connect, read, write)
    deadline = None if None in phases else sum(p for p in phases if p is not None)
    return timeout, deadline


@functools.lru_cache(maxsize=1024)
def _yarl(url: str) -> URL:
    """The URL as aiohttp takes it, already encoded by httpx (not re-encoded). Cached: a daemon posts to a
    few endpoints over and over (yarl URLs are immutable)."""
    return URL(url, encoded=True)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent over one aiohttp session (a connection pool of ``limits.max_connections``).

    ``verify`` is an ``ssl.SSLContext`` or True (httpx's default context: certifi's CA bundle) or False
    (no verification: tests only). The session is created on the first request, inside the running event
    loop, and closed by :meth:`aclose` (``async with httpx.AsyncClient(transport=...)`` does it). Use the
    transport from one event loop. Raises only ``httpx.TransportError`` subclasses.
    """

    def __init__(self, *, limits: httpx.Limits | None = None, verify: ssl.SSLContext | bool = True) -> None:
        limits = limits or httpx.Limits()
        self._limit = limits.max_connections or 0  # aiohttp: 0 means no limit
        self._keepalive = limits.keepalive_expiry
        self._ssl: ssl.SSLContext | bool = httpx.create_ssl_context() if verify is True else verify
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=0,
            ssl=self._ssl,
            keepalive_timeout=self._keepalive,  # None: idle connections never expire (as in httpx)
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_AUTO_HEADERS,
            auto_decompress=False,
            middlewares=(_no_retry,),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        timeout, deadline = _timeouts(
            timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read"), timeouts.get("write")
        )
        body: bytes | AsyncIterator[bytes]
        if isinstance(request.stream, httpx.ByteStream):
            body = await request.aread()
        else:  # streamed (an upload): never read whole; the deadline grows with its size
            body = _chunks(request)
            if deadline is not None:
                deadline += int(request.headers.get("content-length") or 0) / MIN_UPLOAD_RATE
        try:
            async with asyncio.timeout(deadline):
                async with session.request(
                    request.method,
                    _yarl(str(request.url)),
                    headers=request.headers.multi_items(),
                    data=body or None,
                    allow_redirects=False,
                    timeout=timeout,
                ) as answer:
                    content = await answer.read()
                    status, reason, headers = answer.status, answer.reason, answer.raw_headers
                    version = f"HTTP/{answer.version.major}.{answer.version.minor}" if answer.version else ""
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise map_aiohttp_error(exc, request) from exc
        extensions: dict[str, Any] = {"reason_phrase": (reason or "").encode("latin-1", "replace")}
        if version:
            extensions["http_version"] = version.encode("ascii")
        return _response(status, headers, content, extensions)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()
