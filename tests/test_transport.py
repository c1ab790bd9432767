"""The daemon's own transports, :class:`campaign.http.transport.AiohttpTransport` (httpx semantics on aiohttp)
and :class:`campaign.http.wire.WireTransport` (our HTTP/1.1 client): "nothing was sent" only when certain.

A tiny loopback HTTP/1.1 server written here on asyncio streams answers each request from a script
(answer bytes, close without answering, never answer), so every phase of a failure can be produced exactly.
The semantic and fault cases run against both transports (the ``kind`` parameter); the fault matrix of the
dispatcher (tests/test_faults.py) runs through both as well, and tests/test_wire_transport.py holds the
wire transport's own cases (pool, keep-alive, framing, streamed bodies, TLS). Every case runs on asyncio's
event loop and on uvloop, the daemon's default (the ``on_each_loop`` fixture, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import httpx
import pytest

from campaign.errors import AmbiguousError, TransientError
from campaign.http.exchange import map_transport_error
from campaign.http.transport import AiohttpTransport, DirectClient, _NoRetry, map_aiohttp_error
from campaign.http.wire import WireTransport

HANG = b"hang"
CLOSE = b"close"
#: An answer that never ends: its head, then a one-byte chunk every 20 ms for as long as the client listens.
TRICKLE = b"trickle"
#: Seconds any wait may take before the test calls it a hang.
HANG_BOUND = 120.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """Answers requests in order (the last answer repeats); records every request it read."""

    answers: list[bytes]
    seen: list[Seen] = field(default_factory=list)
    arrival: asyncio.Event = field(default_factory=asyncio.Event)

    def next(self) -> bytes:
        return self.answers[min(len(self.seen) - 1, len(self.answers) - 1)]

    def record(self, seen: Seen) -> None:
        self.seen.append(seen)
        self.arrival.set()

    async def wait_seen(self, count: int) -> None:
        """Return once ``count`` requests have been read (the timeout only bounds a hang)."""
        async with asyncio.timeout(HANG_BOUND):
            while len(self.seen) < count:
                self.arrival.clear()
                await self.arrival.wait()


def ok(body: bytes = b'{"id": "1"}', *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@asynccontextmanager
async def serve(script: Script) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *rest = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                method, path, _ = line.split(" ")
                script.record(Seen(method, path, headers, body))
                answer = script.next()
                if answer == HANG:
                    await asyncio.sleep(3600)
                if answer == CLOSE:  # the request was read in full: the platform may have acted on it
                    writer.transport.abort()
                    return
                if answer == TRICKLE:
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    while not writer.is_closing():
                        writer.write(b"1\r\na\r\n")
                        await writer.drain()  # raises once the client has gone
                        await asyncio.sleep(0.02)  # the dribble (the scenario), not a wait for the code
                    return
                writer.write(answer)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


pytestmark = pytest.mark.usefixtures("on_each_loop")

#: The transports under test, by name (``campaign daemon --transport`` names).
CARRIERS: dict[str, type[AiohttpTransport] | type[WireTransport]] = {
    "aiohttp": AiohttpTransport,
    "wire": WireTransport,
}


@pytest.fixture(params=sorted(CARRIERS))
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def client(kind: str, **kw: object) -> httpx.AsyncClient:
    limits = kw.pop("limits", httpx.Limits())
    assert isinstance(limits, httpx.Limits)
    return httpx.AsyncClient(transport=CARRIERS[kind](limits=limits), **kw)  # type: ignore[arg-type]


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


# -- semantics -----------------------------------------------------------------------------------------


def test_sends_exactly_the_request_httpx_built_and_returns_the_answer(kind: str) -> None:
    script = Script([ok(b'{"id": "42"}', "X-RateLimit-Remaining: 7")])

    async def go() -> httpx.Response:
        async with serve(script) as url, client(kind, headers={"User-Agent": "campaign/t"}) as c:
            return await c.post(f"{url}/api/v1/statuses?x=%2F", json={"status": "héllo"},
                                headers={"Idempotency-Key": "k"})

    response = run(go())
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200 and response.json() == {"id": "42"}
    assert response.headers["x-ratelimit-remaining"] == "7"
    assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"
    (seen,) = script.seen
    assert (seen.method, seen.path) == ("POST", "/api/v1/statuses?x=%2F")  # not re-encoded
    assert seen.body == '{"status":"héllo"}'.encode()
    assert seen.headers["user-agent"] == "campaign/t" and seen.headers["idempotency-key"] == "k"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["accept-encoding"] == "gzip, deflate"  # httpx's, not aiohttp's


def test_redirects_are_returned_not_followed_and_cookies_are_not_stored(kind: str) -> None:
    redirect = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n"
    script = Script([redirect, ok()])

    async def go() -> httpx.Response:
        async with serve(script) as url, CARRIERS[kind]() as transport:
            first = await transport.handle_async_request(httpx.Request("GET", f"{url}/a"))
            await transport.handle_async_request(httpx.Request("GET", f"{url}/b"))
            return first

    first = run(go())
    assert isinstance(first, httpx.Response)
    assert first.status_code == 302 and first.headers["location"] == "/elsewhere"
    assert [s.path for s in script.seen] == ["/a", "/b"]
    assert "cookie" not in script.seen[1].headers


def test_compressed_answers_are_decoded_by_httpx(kind: str) -> None:
    packed = gzip.compress(b'{"id": "z"}')
    script = Script([ok(packed, "Content-Encoding: gzip")])

    async def go() -> object:
        async with serve(script) as url, client(kind) as c:
            return (await c.get(url)).json()

    assert run(go()) == {"id": "z"}


# -- "nothing was sent" versus "maybe received" ----------------------------------------------------------


def classify(exc: httpx.TransportError) -> type:
    return type(map_transport_error(exc, httpx.Request("POST", "http://127.0.0.1/")))


def test_connection_refused_is_a_connect_error(kind: str) -> None:
    async def go() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with client(kind) as c:
            with pytest.raises(httpx.ConnectError) as caught:
                await c.post(f"http://127.0.0.1:{port}/", content=b"x")
            assert classify(caught.value) is TransientError

    run(go())


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_close_after_the_request_was_read_is_ambiguous_and_never_resent(method: str, kind: str) -> None:
    """aiohttp would silently resend a PUT once on a kept-alive connection (aio-libs/aiohttp#10790)."""
    script = Script([ok(), CLOSE])

    async def go() -> None:
        async with serve(script) as url, client(kind) as c:
            await c.get(f"{url}/warm")  # a kept-alive connection, as in steady dispatch
            with pytest.raises(httpx.TransportError) as caught:
                await c.request(method, f"{url}/publish", content=b"post")
            assert classify(caught.value) is AmbiguousError

    run(go())
    assert [s.path for s in script.seen] == ["/warm", "/publish"]  # sent once


def test_read_timeout_is_ambiguous_and_a_pool_timeout_is_not(kind: str) -> None:
    script = Script([HANG])

    async def go() -> None:
        # aiohttp has one timeout for "pool wait + connect": pool + connect (0.2 s) bounds the wait, and
        # says ConnectTimeout; the wire transport says PoolTimeout after the pool timeout: nothing sent.
        timeout = httpx.Timeout(5.0, read=0.3, connect=0.1, pool=0.1)
        one = httpx.Limits(max_connections=1)
        async with serve(script) as url, client(kind, timeout=timeout, limits=one) as c:
            # The first request holds the only connection for as long as the test needs it.
            busy = timeout.as_dict() | {"read": HANG_BOUND}
            first = asyncio.create_task(c.post(f"{url}/one", content=b"1", timeout=httpx.Timeout(**busy)))
            await script.wait_seen(1)  # the server has it: the only connection is busy
            waited = httpx.PoolTimeout if kind == "wire" else httpx.ConnectTimeout
            with pytest.raises(waited) as pooled:
                await c.post(f"{url}/two", content=b"2")
            assert classify(pooled.value) is TransientError
            first.cancel()  # frees the connection (the transport closes it)
            with contextlib.suppress(asyncio.CancelledError):
                await first
            patient = httpx.Timeout(HANG_BOUND, read=0.3)  # only the read timeout can end it
            with pytest.raises(httpx.ReadTimeout) as read:
                await c.post(f"{url}/three", content=b"3", timeout=patient)  # read, never answered
            assert classify(read.value) is AmbiguousError

    run(go())
    assert [s.path for s in script.seen] == ["/one", "/three"]  # the pool-timed-out request never left


def test_an_answer_that_never_ends_is_cut_off_by_the_exchange_deadline(kind: str) -> None:
    """A server that dribbles its answer never lets the read timeout (the longest silence) expire: the
    exchange's deadline ends it. Wire: read + write (2.5 s here); aiohttp: all four phases (3.5 s). Either
    way the request was sent, so it is maybe received, and the connection is not kept."""
    script = Script([TRICKLE, ok()])

    async def go() -> httpx.Response:
        timeout = httpx.Timeout(0.5, read=2.0)
        async with serve(script) as url, client(kind, timeout=timeout) as c:
            with pytest.raises(httpx.ReadTimeout) as caught:
                async with asyncio.timeout(HANG_BOUND):  # without a deadline: a hang, failed here
                    await c.post(f"{url}/one", content=b"1")
            assert classify(caught.value) is AmbiguousError
            if kind == "wire":
                assert "the exchange outlasted its deadline (2.5 s" in str(caught.value)
            return await c.post(f"{url}/two", content=b"2")  # a fresh connection answers

    response = run(go())
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert [s.path for s in script.seen] == ["/one", "/two"]


def test_a_malformed_answer_is_ambiguous(kind: str) -> None:
    script = Script([b"NOT HTTP AT ALL\r\n\r\n"])

    async def go() -> None:
        async with serve(script) as url, client(kind) as c:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await c.post(url, content=b"x")
            assert classify(caught.value) is AmbiguousError

    run(go())


Case = tuple[Callable[[], BaseException], type[httpx.TransportError], type]


@pytest.mark.parametrize(
    ("make", "mapped", "meaning"),
    [
        (lambda: aiohttp.ConnectionTimeoutError("pool"), httpx.ConnectTimeout, TransientError),
        (lambda: aiohttp.ClientOSError(None, "Can not write request body for http://x/"), httpx.WriteError,
         TransientError),
        (lambda: aiohttp.ClientConnectionError("Failed to send bytes into the underlying connection c"),
         httpx.WriteError, TransientError),
        (lambda: aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout, AmbiguousError),
        (lambda: TimeoutError(), httpx.ReadTimeout, AmbiguousError),
        (lambda: aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, AmbiguousError),
        (lambda: _NoRetry(aiohttp.ServerDisconnectedError()), httpx.RemoteProtocolError, AmbiguousError),
        (lambda: aiohttp.ClientPayloadError("short body"), httpx.RemoteProtocolError, AmbiguousError),
        (lambda: aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError, AmbiguousError),
        (lambda: _NoRetry(aiohttp.ClientOSError(104, "reset")), httpx.ReadError, AmbiguousError),
        (lambda: aiohttp.ClientConnectionResetError("Cannot write to closing transport"), httpx.ReadError,
         AmbiguousError),
        (lambda: aiohttp.ClientError("anything else"), httpx.RemoteProtocolError, AmbiguousError),
    ],
)
def test_error_mapping(
    make: Callable[[], BaseException], mapped: type[httpx.TransportError], meaning: type
) -> None:
    request = httpx.Request("POST", "https://example.social/api")
    error = map_aiohttp_error(make(), request)
    assert type(error) is mapped and error.request is request
    assert classify(error) is meaning


# -- the daemon's client ---------------------------------------------------------------------------------


def test_direct_client_hands_a_plain_request_to_the_transport_as_send_would() -> None:
    """DirectClient skips AsyncClient.send's machinery only where it does nothing; what it must still do
    (timeouts, response.request, elapsed, the whole body read) it does; an event hook takes the long way."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "1"})

    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.method)

    async def go() -> tuple[httpx.Response, httpx.Response]:
        timeout = httpx.Timeout(7.0, connect=3.0)
        async with DirectClient(transport=httpx.MockTransport(handler), timeout=timeout) as plain:
            request = httpx.Request("POST", "https://example.test/api/v1/statuses", json={"status": "x"})
            first = await plain.send(request, follow_redirects=False)
            assert first.request is request and first.elapsed.total_seconds() >= 0
        async with DirectClient(transport=httpx.MockTransport(handler), event_hooks={"request": [hook]}) as c:
            second = await c.send(httpx.Request("GET", "https://example.test/"))
        return first, second

    first, second = run(go())  # type: ignore[misc]
    assert first.json() == {"id": "1"} and second.status_code == 200
    assert seen[0].extensions["timeout"] == {"connect": 3.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    assert hooked == ["GET"]  # the hook ran: the long way through AsyncClient.send


# -- the request path's shortcuts build what httpx builds ---------------------------------------------


@pytest.mark.parametrize(("method", "url", "body", "headers"), [
    ("POST", "https://m.example/api/v1/statuses", {"status": "héllo"}, {"Authorization": "Bearer x",
                                                                         "Idempotency-Key": "k"}),
    ("POST", "https://m.example:8443/api/v1/statuses", None, {"Authorization": "Bearer x"}),
    ("GET", "https://m.example/api/v1/accounts/verify_credentials", None, {"Authorization": "Bearer x"}),
    ("get", "http://127.0.0.1:9/x?y=1", None, None),
    ("PUT", "https://[::1]:9/x", [], None),
    ("DELETE", "https://bücher.example/x", {"a": 1}, {"X-Thing": "1"}),
    ("POST", "https://a.example/x", "", {"accept": "text/plain"}),
    ("POST", "https://a.example/x", {"a": 1}, {"Content-Length": "7"}),  # names an automatic header
])
def test_json_requests_are_the_requests_httpx_would_build(
    method: str, url: str, body: object, headers: dict[str, str] | None
) -> None:
    from campaign.channels.base import Adapter

    built = Adapter.json_request(method, url, json_body=body, headers=headers)
    expected = {"Accept": "application/json", **(headers or {})}
    content = None
    if body is not None:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        expected["Content-Type"] = "application/json"
    reference = httpx.Request(method, url, content=content, headers=expected)
    assert (built.method, built.url) == (reference.method, reference.url)
    assert built.headers.raw == reference.headers.raw
    assert built.content == reference.content and type(built.stream) is type(reference.stream)
    assert built.read() == reference.read() and list(built.stream) == list(reference.stream)
    assert vars(built).keys() == vars(reference).keys()  # the same state as httpx's own read request


@pytest.mark.parametrize("raw", [
    [(b"Content-Type", b"application/json"), (b"Content-Length", b"2")],
    [(b"Content-Type", b"application/json")],  # no length: httpx adds one for the body
    [(b"Content-Type", b"application/json"), (b"Transfer-Encoding", b"chunked")],
    [(b"Content-Encoding", b"gzip"), (b"X-RateLimit-Remaining", b"3"), (b"x-ratelimit-remaining", b"4")],
])
def test_answers_are_the_responses_httpx_would_build(raw: list[tuple[bytes, bytes]]) -> None:
    from campaign.channels.base import parse_rate_limit_headers
    from campaign.http.client import response_from as _response

    body = gzip.compress(b"{}") if (b"Content-Encoding", b"gzip") in raw else b"{}"
    built = _response(200, raw, body, {"reason_phrase": b"OK"})
    reference = httpx.Response(200, headers=raw, content=body, extensions={"reason_phrase": b"OK"})
    assert built.headers.raw == reference.headers.raw and built.content == reference.content == b"{}"
    assert built.is_closed and reference.is_closed and built.reason_phrase == "OK"
    # A transport's answer is a stream that was read: the bytes read are counted as httpx counts them.
    streamed = httpx.Response(200, headers=raw, stream=httpx.ByteStream(body))
    streamed.read()
    assert built.is_stream_consumed and streamed.is_stream_consumed and streamed.content == built.content
    assert built.num_bytes_downloaded == streamed.num_bytes_downloaded == len(body)
    assert built.json() == {} and built.read() == built.content
    assert asyncio.run(built.aread()) == b"{}"  # as DirectClient and AsyncClient.send read it again
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_rate_limit_headers(built.headers, now) == parse_rate_limit_headers(reference.headers, now)
    if b"X-RateLimit-Remaining" in dict(raw):
        limit = parse_rate_limit_headers(built.headers, now)
        assert limit is not None and limit.remaining == 3  # "3, 4": the first value, as before
