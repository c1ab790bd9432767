"""The daemon's ``httpx.AsyncClient`` (:class:`DirectClient`) and the one way our transports build an answer
(:func:`response_from`), shared by :mod:`campaign.http.wire` and :mod:`campaign.http.transport`.

Kept apart from both so the default transport (``wire``) never imports aiohttp (~150 ms of start-up here).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import httpx

__all__ = ["MIN_UPLOAD_RATE", "DirectClient", "response_from"]

#: Slowest upload (bytes per second) our transports take for progress rather than a hang: a streamed body of
#: known length adds its length divided by this to an exchange's deadline (``campaign.http.wire``,
#: ``campaign.http.transport``). 128 KiB/s is about 1 Mbit/s, a poor uplink.
MIN_UPLOAD_RATE = 128 * 1024


def response_from(
    status: int, raw: Any, content: bytes, extensions: dict[str, Any]
) -> httpx.Response:
    """``httpx.Response(status, headers=raw, content=content, extensions=...)``, read, built in one pass:
    the same headers (``Content-Length`` added only when the answer had none and a body, as httpx adds it)
    and the same read (the body decoded by ``Content-Encoding``), without httpx re-scanning its headers.

    An answer without ``Content-Encoding`` is marked read with its body as is, the state ``read()`` leaves
    (``_content``, consumed, closed, bytes counted) without its decoder pipeline: ~12 us a request, a fifth
    of the wire transport's own path. tests/test_transport.py compares both with httpx's own construction.
    """
    headers = list(raw)
    has_length = encoded = False
    for name, _ in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            has_length = True
        elif lowered == b"content-encoding":
            encoded = True
    if content and not has_length:
        headers.append((b"Content-Length", str(len(content)).encode("ascii")))
    stream = httpx.ByteStream(content)
    response = httpx.Response(status, headers=headers, stream=stream, extensions=extensions)
    if encoded:
        response.read()
    else:
        response._content = content
        response._num_bytes_downloaded = len(content)
        response.is_stream_consumed = True
        response.is_closed = True
    return response


_HTTPX_LOG = logging.getLogger("httpx")


class DirectClient(httpx.AsyncClient):
    """The daemon's ``httpx.AsyncClient``: a request that needs none of the client's machinery goes
    straight to the transport.

    ``AsyncClient.send`` runs auth flows, redirect handling, event hooks, cookie extraction and a
    response-stream wrapper for every request: about a quarter of the client's CPU per post on the TLS
    benchmark (docs/BENCHMARKS.md), for nothing in the daemon, which follows no redirect, keeps no cookie
    and sets no auth or hook on its client. :meth:`send` takes the short path only when all of that is so
    for the request at hand (no auth, ``follow_redirects`` off, no hooks, not streamed, no proxy or mount
    for its URL), and does what ``send`` would have done that matters: the client's timeouts go into the
    request's ``timeout`` extension, the body is read whole, ``response.request`` and ``elapsed`` are set,
    and the ``httpx`` logger's INFO line is written when that level is enabled. Anything else goes through
    ``AsyncClient.send`` unchanged. The request and the response stay ``httpx`` objects.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._direct = transport

    def _plain(self, request: httpx.Request, auth: Any, follow_redirects: Any, stream: bool) -> bool:
        default = follow_redirects is httpx.USE_CLIENT_DEFAULT
        redirects = self.follow_redirects if default else follow_redirects
        hooks = self.event_hooks
        return (
            not stream
            and not redirects
            and (auth is None or (auth is httpx.USE_CLIENT_DEFAULT and self.auth is None))
            and not hooks["request"]
            and not hooks["response"]
            # Proxies from the environment and mounts get the URL's own transport: the long way.
            and self._transport_for_url(request.url) is self._direct
        )

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        if self.is_closed or not self._plain(request, auth, follow_redirects, stream):
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        request.extensions.setdefault("timeout", self.timeout.as_dict())
        start = time.perf_counter()
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.elapsed = timedelta(seconds=time.perf_counter() - start)
        if _HTTPX_LOG.isEnabledFor(logging.INFO):
            _HTTPX_LOG.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url,
                            response.http_version, response.status_code, response.reason_phrase)
        return response
