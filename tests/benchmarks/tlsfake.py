"""A fake Mastodon over TLS on loopback, with a throwaway self-signed certificate (for bench_tls.py).

``python tests/benchmarks/tlsfake.py --cert CERT --key KEY`` serves HTTPS on 127.0.0.1 (a free port, printed
on the first line of stdout) on uvloop when installed, in its own process so it shares no GIL with the
client under test. It answers ``POST /api/v1/statuses`` with a Status (``id``, ``url``, ``uri``,
``content``, ``created_at``; https://docs.joinmastodon.org/methods/statuses/#create) and honours
``Idempotency-Key`` per bearer token as Mastodon does (a repeated key answers the status created first). It
keeps HTTP/1.1 connections alive and answers each request as soon as its body has arrived.

``GET /_stats`` (never counted) returns ``{"requests", "created", "duplicates", "connections", "first",
"last", "most_in_flight"}``: times are the server's ``time.monotonic()`` of the first and last status request,
so a rate "as the server saw it" is ``requests / (last - first)``. ``POST /_reset`` forgets everything.

:func:`make_certificate` writes a self-signed certificate for ``127.0.0.1`` and ``localhost`` with the
``cryptography`` package when it is installed, else with the ``openssl`` command line tool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_STATUSES = "/api/v1/statuses"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for 127.0.0.1/localhost in ``folder``: (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )
    return cert, key


def _with_cryptography(cert: Path, key: Path) -> None:
    import datetime as dt
    import ipaddress

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class State:
    """What the server saw (one instance per process)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.created = 0
        self.duplicates = 0
        self.connections = 0
        self.first: float | None = None
        self.last: float | None = None
        self.keys: dict[tuple[str, str], str] = {}

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "created": self.created, "duplicates": self.duplicates,
            "connections": self.connections, "first": self.first, "last": self.last,
        }


class _Http(asyncio.Protocol):
    def __init__(self, state: State, port: int) -> None:
        self.state = state
        self.port = port
        self.buffer = b""
        self.transport: Any = None  # asyncio's or uvloop's TLS transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.state.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            body = self.buffer[end + 4 : end + 4 + size]
            self.buffer = self.buffer[end + 4 + size :]
            method, target, _ = head[0].split(" ", 2)
            self._answer(method, target, headers, body)

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        state = self.state
        if target == "/_stats":
            self._send(200, state.stats())
            return
        if target == "/_reset":
            state.reset()
            self._send(200, {"reset": True})
            return
        if method != "POST" or target != _STATUSES:
            self._send(404, {"error": "Record not found"})
            return
        now = time.monotonic()
        state.requests += 1
        state.first = now if state.first is None else state.first
        state.last = now
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if not token:
            self._send(401, {"error": "The access token is invalid"})
            return
        key = headers.get("idempotency-key", "")
        sid = state.keys.get((token, key)) if key else None
        if sid is None:
            state.created += 1
            sid = str(110_000_000_000_000_000 + state.created)
            if key:
                state.keys[(token, key)] = sid
        else:
            state.duplicates += 1
        try:
            text = json.loads(body).get("status", "") if body else ""
        except ValueError:
            text = ""
        url = f"https://127.0.0.1:{self.port}/@{token}/{sid}"
        self._send(200, {
            "id": sid, "url": url, "uri": url, "content": f"<p>{text}</p>", "visibility": "public",
            "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        })

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        assert self.transport is not None
        body = json.dumps(payload).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )


async def serve(cert: Path, key: Path, port: int = 0) -> None:
    """Serve until killed; print the port first."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    state = State()
    loop = asyncio.get_running_loop()
    holder: dict[str, int] = {}
    server = await loop.create_server(lambda: _Http(state, holder["port"]), "127.0.0.1", port, ssl=context)
    holder["port"] = server.sockets[0].getsockname()[1]
    print(holder["port"], flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.run(serve(args.cert, args.key, args.port))
    except ImportError:
        asyncio.run(serve(args.cert, args.key, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
