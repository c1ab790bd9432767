"""campaign.http.wire.WireTransport's own cases: the pool, keep-alive, answer framing, streamed request
bodies, TLS, and "nothing was sent" only when no byte of the request was written.

(tests/test_transport.py runs the cases both of the daemon's own transports share; this file is not named
``test_wire.py`` because tests/conformance/test_wire.py already is, and test modules here need unique names.)

Every case runs on asyncio's event loop and on uvloop, the daemon's default (the ``on_each_loop`` fixture,
tests/conftest.py): their transports and TLS layers are different code.

Loopback servers written here produce each behaviour exactly: asyncio servers for framing and concurrency,
and a blocking server in a thread where the client's event loop must not run while the server acts (a
connection the server closes while it sits idle in the pool: the transport must notice before writing,
whether or not the event loop has seen the close yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
import struct
import threading
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from campaign.dispatch.eventloop import running_loop_name
from campaign.errors import AmbiguousError, TransientError
from campaign.http import wire
from campaign.http.exchange import map_transport_error
from campaign.http.wire import WireTransport
from tests.benchmarks.tlsfake import make_certificate

pytestmark = pytest.mark.usefixtures("on_each_loop")

#: Seconds any wait may take before the test calls it a hang.
HANG_BOUND = 120.0
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def classify(exc: httpx.TransportError) -> type:
    return type(map_transport_error(exc, httpx.Request("POST", "http://127.0.0.1/")))


# -- servers -------------------------------------------------------------------------------------------


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request: its head (up to the blank line) and its body (Content-Length or chunked, decoded)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
            if size == 0:
                return head, b"".join(parts)
    length = 0
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


Handler = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    url: str = ""
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    alpn: list[str | None] = field(default_factory=list)

    async def wait_requests(self, count: int) -> None:
        async with asyncio.timeout(HANG_BOUND):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def next_request(self, reader: asyncio.StreamReader) -> bool:
        """Read one request (False at a clean end of the connection)."""
        try:
            self.requests.append(await read_request(reader))
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        self.arrived.set()
        return True


@asynccontextmanager
async def serve(handle: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    state = Server()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        state.open_now += 1
        state.most_open = max(state.most_open, state.open_now)
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            state.alpn.append(ssl_object.selected_alpn_protocol())
        try:
            await handle(state, reader, writer)
        finally:
            state.open_now -= 1
            writer.transport.abort()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=tls)
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()


def answering(*answers: bytes) -> Handler:
    """Answer the server's n-th request (on whatever connection) with the n-th of ``answers`` (the last
    repeats)."""

    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await state.next_request(reader):
            writer.write(answers[min(len(state.requests) - 1, len(answers) - 1)])
            await writer.drain()

    return handle


def run(coro: Awaitable[object]) -> object:
    async def main() -> object:
        return await coro

    return asyncio.run(main())


# -- keep-alive and the pool ---------------------------------------------------------------------------


def test_sequential_requests_share_one_kept_alive_connection() -> None:
    async def go() -> Server:
        async with serve(answering(OK)) as server, httpx.AsyncClient(transport=WireTransport()) as client:
            for n in range(20):
                response = await client.post(f"{server.url}/p/{n}", content=b"x" * n)
                assert (response.status_code, response.content) == (200, b"ok")
            return server

    server = run(go())
    assert isinstance(server, Server)
    assert server.connections == 1 and len(server.requests) == 20
    assert [body for _, body in server.requests] == [b"x" * n for n in range(20)]


def test_the_request_goes_out_exactly_as_httpx_built_it() -> None:
    async def go() -> tuple[Server, httpx.Request]:
        async with serve(answering(OK)) as server, WireTransport() as transport:
            headers = [("X-Mixed-Case", "1"), ("x-lower", "2"), ("X-Twice", "a"), ("x-twice", "b")]
            request = httpx.Request("POST", f"{server.url}/a%20b?q=%2F&r=1", headers=headers, content=b"abc")
            await transport.handle_async_request(request)
            return server, request

    server, request = run(go())  # type: ignore[misc]
    lines = [b"POST /a%20b?q=%2F&r=1 HTTP/1.1", *(b"%s: %s" % pair for pair in request.headers.raw)]
    assert lines[1].startswith(b"Host: 127.0.0.1:")  # httpx's own Host header, first
    assert server.requests == [(b"\r\n".join(lines) + b"\r\n\r\n", b"abc")]


def test_a_line_break_inside_a_header_is_refused_before_anything_is_sent() -> None:
    async def go() -> Server:
        async with serve(answering(OK)) as server, WireTransport() as transport:
            request = httpx.Request("GET", server.url, headers={"X-Evil": "a\r\nX-Injected: 1"})
            with pytest.raises(httpx.LocalProtocolError) as caught:
                await transport.handle_async_request(request)
            assert classify(caught.value) is TransientError
            return server

    server = run(go())
    assert isinstance(server, Server) and server.connections == 0


def test_idle_connections_expire_and_the_pool_keeps_at_most_max_connections_open() -> None:
    async def go() -> tuple[Server, Server]:
        expiring = WireTransport(limits=httpx.Limits(keepalive_expiry=0))
        async with serve(answering(OK)) as fresh, httpx.AsyncClient(transport=expiring) as c:
            for _ in range(3):
                await c.get(fresh.url)
        five = WireTransport(limits=httpx.Limits(max_connections=5))
        async with serve(answering(OK)) as bounded, httpx.AsyncClient(transport=five) as c:
            answers = await asyncio.gather(*(c.get(f"{bounded.url}/{n}") for n in range(40)))
            assert {a.status_code for a in answers} == {200}
        return fresh, bounded

    fresh, bounded = run(go())  # type: ignore[misc]
    assert fresh.connections == 3  # keepalive_expiry=0: never reused
    assert bounded.most_open <= 5 and len(bounded.requests) == 40


def test_fifty_requests_in_flight_at_once_against_a_slow_server() -> None:
    """The server holds every request until 50 are in flight: only a client that sends them side by side
    (one connection each) gets answers at all."""
    async def go() -> Server:
        release = asyncio.Event()

        async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await state.next_request(reader):
                if len(state.requests) % 50 == 0:
                    release.set()
                await release.wait()
                writer.write(OK)
                await writer.drain()

        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with serve(handle) as server, httpx.AsyncClient(transport=WireTransport(limits=limits)) as c:
            for _ in range(2):
                release.clear()
                answers = await asyncio.gather(*(c.post(server.url, content=b"%d" % n) for n in range(50)))
                assert [a.content for a in answers] == [b"ok"] * 50
            return server

    server = run(go())
    assert isinstance(server, Server)
    assert server.connections == 50 and server.most_open == 50  # the second round reused all fifty
    assert len(server.requests) == 100


# -- stale connections: "nothing was sent" only before the first byte ------------------------------------


class ThreadServer:
    """A blocking loopback server in a thread, handling one connection after another with ``handle``.

    The client's event loop can be kept from running (a blocking wait on a ``threading.Event``) while this
    server acts, so the transport meets the server's close before the event loop has seen it."""

    def __init__(self, handle: Callable[[ThreadServer, socket.socket], None]) -> None:
        self.handle = handle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self.acted = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self.handle(self, conn)

    def read(self, conn: socket.socket) -> bytes:
        """One request (these tests send GETs without bodies): its head, or b"" at the end."""
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            try:
                more = conn.recv(65536)
            except ConnectionResetError:  # the client closed with unread bytes: a reset
                more = b""
            if not more:
                return b""
            data += more
        self.requests.append(data)
        return data

    @contextmanager
    def running(self) -> Iterator[ThreadServer]:
        self.thread.start()
        try:
            yield self
        finally:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept (Linux)
            self.listener.close()
            self.thread.join(HANG_BOUND)
            assert not self.thread.is_alive()


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset (no FIN): SO_LINGER on, zero seconds."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("how", ["close", "reset", "stray bytes"])
def test_a_connection_spoiled_while_idle_is_dropped_before_writing_and_the_request_goes_on_a_fresh_one(
    how: str
) -> None:
    def handle(server: ThreadServer, conn: socket.socket) -> None:
        if server.connections == 1:
            server.read(conn)
            conn.sendall(OK)  # keep-alive, as far as the client knows
            if how == "reset":
                reset(conn)
            elif how == "stray bytes":
                conn.sendall(b"HTTP/1.1 200 OK\r\n")  # nobody asked: the connection is out of step
                server.acted.set()
                server.read(conn)  # keep it open until the client gives up on it
                return
            conn.close()
            server.acted.set()
            return
        while server.read(conn):
            conn.sendall(OK)

    async def go(server: ThreadServer) -> None:
        url = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(transport=WireTransport()) as client:
            assert (await client.get(f"{url}/first")).status_code == 200
            # Deliberately blocks the event loop: it must not read the close (or the bytes) before the
            # transport picks the idle connection for the next request.
            assert server.acted.wait(HANG_BOUND)
            assert (await client.get(f"{url}/second")).status_code == 200

    with ThreadServer(handle).running() as server:
        asyncio.run(go(server))
    assert server.connections == 2
    assert [r.split(b" ")[1] for r in server.requests] == [b"/first", b"/second"]  # sent once, on the new one


def test_a_connection_reset_during_the_tls_handshake_is_nothing_sent() -> None:
    def handle(server: ThreadServer, conn: socket.socket) -> None:
        reset(conn)  # before a byte of HTTP could arrive

    async def go(server: ThreadServer) -> None:
        async with httpx.AsyncClient(transport=WireTransport(verify=False)) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"https://127.0.0.1:{server.port}/", content=b"post")
            assert classify(caught.value) is TransientError

    with ThreadServer(handle).running() as server:
        asyncio.run(go(server))
    assert server.requests == []


def test_a_server_that_closes_mid_answer_leaves_the_request_maybe_received() -> None:
    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.next_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()

    async def go() -> None:
        async with serve(handle) as server, httpx.AsyncClient(transport=WireTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await client.post(server.url, content=b"post")
            assert classify(caught.value) is AmbiguousError
            assert len(server.requests) == 1  # never sent again

    run(go())


def test_the_read_timeout_is_the_longest_silence_not_the_whole_answer() -> None:
    """An answer dribbled out over more than the read timeout arrives, each gap being well within it.

    The pauses are the scenario itself (a slow server), not a wait for the code: 8 gaps of 0.2 s make 1.6 s
    of answer against a 1.2 s read timeout, and each gap has six times its length to spare on a busy
    machine."""
    pieces = [b"HTTP/1.1 ", b"200 OK\r\n", b"Content-", b"Length: 4\r\n", b"\r\n", b"a", b"b", b"c", b"d"]

    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.next_request(reader)
        for i, piece in enumerate(pieces):
            if i:
                await asyncio.sleep(0.2)  # a silence of the slow server
            writer.write(piece)
            await writer.drain()

    async def go() -> httpx.Response:
        timeout = httpx.Timeout(HANG_BOUND, read=1.2)
        transport = WireTransport()
        async with serve(handle) as server, httpx.AsyncClient(transport=transport, timeout=timeout) as c:
            return await c.get(server.url)

    response = run(go())
    assert isinstance(response, httpx.Response) and response.content == b"abcd"


# -- answers --------------------------------------------------------------------------------------------


def chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


@pytest.mark.parametrize(("answer", "content", "reused"), [
    (chunked(b'{"id":', b' "1"}'), b'{"id": "1"}', True),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", b"", True),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK, b"ok", True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", b"ok", True),
], ids=["chunked", "204", "304", "interim", "connection-close", "http1.0", "http1.0-keep-alive"])
def test_answer_framing_and_when_the_connection_is_reused(
    answer: bytes, content: bytes, reused: bool
) -> None:
    async def go() -> tuple[Server, list[httpx.Response]]:
        async with serve(answering(answer)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            return server, [await c.get(server.url) for _ in range(3)]

    server, responses = run(go())  # type: ignore[misc]
    assert [r.content for r in responses] == [content] * 3
    assert responses[0].status_code in (200, 204, 304)
    assert server.connections == (1 if reused else 3)


def test_an_answer_delimited_by_the_close_ends_at_the_close() -> None:
    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.next_request(reader)
        for piece in (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"all of ", b"it"):
            writer.write(piece)
            await writer.drain()
        writer.close()

    async def go() -> tuple[Server, list[httpx.Response]]:
        async with serve(handle) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            return server, [await c.get(server.url) for _ in range(2)]

    server, responses = run(go())  # type: ignore[misc]
    assert [r.content for r in responses] == [b"all of it"] * 2
    assert server.connections == 2


def test_a_second_answer_to_one_request_leaves_the_first_intact_and_the_connection_unused() -> None:
    extra = b"HTTP/1.1 500 Oops\r\nX-Extra: 1\r\nContent-Length: 0\r\n\r\n"
    answer = b"HTTP/1.1 201 Created\r\nX-Mine: 1\r\nContent-Length: 2\r\n\r\nok" + extra

    async def go() -> tuple[Server, list[httpx.Response]]:
        async with serve(answering(answer)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            return server, [await c.get(server.url) for _ in range(2)]

    server, responses = run(go())  # type: ignore[misc]
    for response in responses:
        assert (response.status_code, response.reason_phrase, response.content) == (201, "Created", b"ok")
        assert response.headers.raw == [(b"X-Mine", b"1"), (b"Content-Length", b"2")]
    assert server.connections == 2


def test_a_head_answer_has_no_body_whatever_its_length_says() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: video/mp4\r\n\r\n"

    async def go() -> tuple[httpx.Response, httpx.Response]:
        async with serve(answering(head, OK)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            return await c.head(server.url), await c.get(server.url)

    first, second = run(go())  # type: ignore[misc]
    assert first.status_code == 200 and first.content == b"" and first.headers["content-length"] == "1000"
    assert second.content == b"ok"


def test_an_undecodable_answer_is_a_protocol_error() -> None:
    garbled = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"

    async def go() -> None:
        async with serve(answering(garbled)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await c.post(server.url, content=b"post")
            assert classify(caught.value) is AmbiguousError

    run(go())


def test_a_protocol_switch_is_a_protocol_error() -> None:
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

    async def go() -> None:
        async with serve(answering(switch)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(server.url)

    run(go())


# -- request bodies -------------------------------------------------------------------------------------

CHUNK = 64 * 1024


async def generated(total: int, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """``total`` bytes in 64 KiB chunks, each made when asked for (never the whole body in memory)."""
    for n in range(total // CHUNK):
        chunk = bytes([n % 251]) * CHUNK
        digest.update(chunk)
        yield chunk


def test_a_streamed_upload_is_written_with_flow_control_in_bounded_memory() -> None:
    total = 48 * 1024 * 1024
    sent = hashlib.sha256()
    got = {"bytes": 0, "sha": ""}

    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        state.requests.append((head, b""))
        digest, left = hashlib.sha256(), total
        while left:
            data = await reader.read(min(left, 1 << 20))
            digest.update(data)
            left -= len(data)
        got.update(bytes=total, sha=digest.hexdigest())
        writer.write(OK)
        await writer.drain()

    async def go() -> tuple[httpx.Response, int]:
        async with serve(handle) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            tracemalloc.start()
            try:
                body = generated(total, sent)
                response = await c.post(server.url, content=body, headers={"Content-Length": str(total)})
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            return response, peak

    response, peak = run(go())  # type: ignore[misc]
    assert response.status_code == 200
    assert got == {"bytes": total, "sha": sent.hexdigest()}
    # Without flow control the transport's buffer would hold most of the 48 MB (the generator never
    # yields to the event loop by itself, so the server could not read in between).
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"


def test_a_body_of_unknown_length_goes_out_chunk_encoded() -> None:
    sent = hashlib.sha256()

    async def go() -> Server:
        async with serve(answering(OK)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            response = await c.post(server.url, content=generated(5 * CHUNK, sent))
            assert response.status_code == 200
            again = await c.post(server.url, content=b"after")  # the connection stayed in step
            assert again.status_code == 200
            return server

    server = run(go())
    assert isinstance(server, Server)
    (head, body), (_, after) = server.requests
    assert b"Transfer-Encoding: chunked" in head and b"content-length" not in head.lower()
    assert hashlib.sha256(body).hexdigest() == sent.hexdigest() and after == b"after"
    assert server.connections == 1


def test_a_streamed_body_shorter_than_its_length_is_maybe_received() -> None:
    async def go() -> None:
        async with serve(answering(OK)) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            body = generated(2 * CHUNK, hashlib.sha256())
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await c.post(server.url, content=body, headers={"Content-Length": str(3 * CHUNK)})
            assert classify(caught.value) is AmbiguousError

    run(go())


async def dribble(writer: asyncio.StreamWriter) -> None:
    """An answer that never ends: its head, then a one-byte chunk every 20 ms until the client goes."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        while not writer.is_closing():
            writer.write(b"1\r\na\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)  # the dribble itself (the scenario), not a wait for the code


def test_an_upload_the_server_reads_too_slowly_is_cut_off_by_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that takes a body a little at a time never lets the write timeout (a stall) expire. The
    exchange's deadline, read + write + the body's length at MIN_UPLOAD_RATE, ends it: 2.25 s here with the
    rate raised to 4 GiB/s for the test. The body is 1 GiB, made as it is sent: at the server's 64 KiB every
    20 ms it cannot be all sent by then, whatever the kernel's socket buffers take in (their limits differ
    between machines), so the deadline is the only thing that can end the exchange."""
    monkeypatch.setattr(wire, "MIN_UPLOAD_RATE", 4 * 1024**3)
    total = 1024**3

    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        state.arrived.set()
        while await reader.read(CHUNK):
            await asyncio.sleep(0.02)  # the slow reader itself (the scenario)

    async def go() -> None:
        timeout = httpx.Timeout(HANG_BOUND, read=1.0, write=1.0)
        client = httpx.AsyncClient(transport=WireTransport(), timeout=timeout)
        async with serve(handle) as server, client as c:
            body = generated(total, hashlib.sha256())
            with pytest.raises(httpx.ReadTimeout) as caught:
                async with asyncio.timeout(HANG_BOUND):
                    await c.post(server.url, content=body, headers={"Content-Length": str(total)})
            assert "the exchange outlasted its deadline (2.25 s" in str(caught.value)
            assert classify(caught.value) is AmbiguousError

    run(go())


def test_the_deadline_of_a_body_of_unknown_length_counts_from_its_end() -> None:
    """A chunk-encoded body has no length to allow time for: its exchange's deadline (read + write, 1.5 s)
    starts once it is written, and ends an answer that never does."""

    async def handle(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.next_request(reader)
        await dribble(writer)

    async def go() -> Server:
        timeout = httpx.Timeout(HANG_BOUND, read=1.0, write=0.5)
        client = httpx.AsyncClient(transport=WireTransport(), timeout=timeout)
        async with serve(handle) as server, client as c:
            with pytest.raises(httpx.ReadTimeout) as caught:
                async with asyncio.timeout(HANG_BOUND):
                    await c.post(server.url, content=generated(5 * CHUNK, hashlib.sha256()))
            assert "the exchange outlasted its deadline (1.5 s" in str(caught.value)
            return server

    server = run(go())
    assert isinstance(server, Server)
    assert len(server.requests) == 1 and len(server.requests[0][1]) == 5 * CHUNK  # the body went out whole


# -- TLS ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


def test_tls_with_a_trusted_certificate_speaks_http_1_1_over_alpn(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # verify=True: httpx's context honours it

    async def go() -> Server:
        tls = server_context(certificate)
        async with serve(answering(OK), tls=tls) as server, httpx.AsyncClient(transport=WireTransport()) as c:
            for _ in range(3):
                assert (await c.post(f"{server.url}/api", json={"a": 1})).content == b"ok"
            return server

    server = run(go())
    assert isinstance(server, Server)
    assert server.alpn == ["http/1.1"] and server.connections == 1 and len(server.requests) == 3


def test_tls_with_an_untrusted_certificate_is_a_connect_error(certificate: tuple[Path, Path]) -> None:
    async def go() -> Server:
        tls = server_context(certificate)
        trusting_nothing = ssl.create_default_context(cadata=None)
        async with serve(answering(OK), tls=tls) as server:
            async with httpx.AsyncClient(transport=WireTransport(verify=trusting_nothing)) as c:
                with pytest.raises(httpx.ConnectError) as caught:
                    await c.post(server.url, content=b"post")
            assert "certificate" in str(caught.value).lower()
            assert classify(caught.value) is TransientError
            return server

    server = run(go())
    assert isinstance(server, Server) and server.requests == []


def test_each_case_runs_on_the_event_loop_the_fixture_names(on_each_loop: str) -> None:
    async def which() -> str:
        return running_loop_name()

    assert run(which()) == on_each_loop


def test_an_unsupported_scheme_is_refused() -> None:
    async def go() -> None:
        async with WireTransport() as transport:
            with pytest.raises(httpx.UnsupportedProtocol):
                await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/x"))

    run(go())
