"""Running an adapter's exchange: over HTTP (:func:`run`) or against a recorder (:func:`run_dry`).

This is the one place where httpx exceptions become our error tree (:func:`map_transport_error`) and the
one place that enforces the transport policy: https only (plain http only to loopback hosts or where the
account explicitly allows it for tests), and redirects are never followed (a redirect to another host would
carry credentials there; adapters see the 3xx and classify it).

It is also the one place that completes a request for the wire (:func:`complete_request`): adapters build
bare ``httpx.Request`` objects, and ``AsyncClient.send`` does not add the client's default headers (httpx
merges those only in ``build_request``), so without this no ``User-Agent`` would reach the platform. Discord
refuses API calls without one (https://discord.com/developers/docs/reference#user-agent). Dry runs complete
their requests the same way, so previews show what would be sent.

Answers are the platform's, so they are untrusted input: an answer its adapter cannot read (a number where a
list belongs, a count of ``1e999``) ends the exchange with one classified error
(:func:`unreadable_answer`), and rate-limit headers that cannot be read are ignored, never an exchange's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeAlias, TypeVar

import httpx

from campaign import __version__
from campaign.channels.base import (
    DELAY_EXTENSION,
    MEDIA_EXTENSION,
    UPLOAD_EXTENSION,
    Adapter,
    Exchange,
    Part,
    RateLimit,
)
from campaign.errors import (
    AmbiguousError,
    CampaignError,
    ChannelError,
    CredentialsError,
    PermanentError,
    TransientError,
)
from campaign.logs import shown
from campaign.secrets import redact

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: Called with each response's rate-limit report, so the dispatcher can hold the account back.
RateLimitSink = Callable[[RateLimit], None]
#: Waits the given seconds (``asyncio.sleep``, or a test's clock that advances instead).
Sleeper = Callable[[float], Awaitable[None]]
#: Called with each request just before it is sent (the dispatcher records finished uploads there, so they
#: are durable before the request that uses them leaves); an awaitable it returns is awaited first.
BeforeSend = Callable[[httpx.Request], Awaitable[None] | None]


@functools.cache
def user_agent() -> str:
    """Our User-Agent: :func:`format_user_agent` of this version and the installed distribution's URLs."""
    from importlib import metadata

    try:
        urls = metadata.metadata("campaign").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    return format_user_agent(__version__, urls)


def format_user_agent(version: str, project_urls: list[str]) -> str:
    """``campaign/<version> (+<homepage>)``, the homepage taken from ``Project-URL`` metadata entries
    (``"Homepage, https://..."``, from pyproject ``[project.urls]``); ``campaign/<version>`` without one."""
    labelled = (entry.partition(",") for entry in project_urls)
    homepage = next((url.strip() for label, _, url in labelled if label.strip().lower() == "homepage"), "")
    return f"campaign/{version}" + (f" (+{homepage})" if homepage else "")


#: httpx's own User-Agent (``python-httpx/<version>``), which a client carries unless told otherwise.
_HTTPX_AGENT = "python-httpx/"


def complete_request(request: httpx.Request, defaults: httpx.Headers | None = None) -> httpx.Request:
    """``request`` with each of ``defaults`` (a client's default headers) it lacks, and a User-Agent.

    The adapter's own headers win. The User-Agent is the client's unless that is httpx's library default,
    which names the library rather than us; then (and in dry runs, which have no client) it is
    :func:`user_agent`. Changes ``request`` in place and returns it.
    """
    headers = request.headers
    # This runs for every request the daemon sends. The names present are read once, lower-cased, from
    # httpx's own list of (name, lower-cased name, value) byte triples, and each missing default is appended
    # to it as the triple ``headers[name] = value`` would append (each ``in`` and each assignment on Headers
    # scans them all: about 8 us of a post's request). tests/conformance/test_wire.py compares the result
    # with the plain rule, byte for byte.
    triples: list[tuple[bytes, bytes, bytes]] = headers._list
    present = {lower for _, lower, _ in triples}
    plain = headers._encoding in (None, "utf-8")  # Headers.__setitem__ encodes with it (utf-8 unless set)
    if defaults:
        for name, value, triple in _default_headers(tuple(defaults.raw)):
            lower = triple[1]
            if lower not in present:
                if plain:
                    triples.append(triple)
                else:
                    headers[name] = value
                present.add(lower)
    if b"user-agent" not in present:
        headers["User-Agent"] = user_agent()
    return request


#: A default header as :func:`complete_request` adds it (see :func:`_default_headers`).
_Default: TypeAlias = tuple[str, str, tuple[bytes, bytes, bytes]]


@functools.lru_cache(maxsize=16)  # a daemon has one client, so one set of default headers
def _default_headers(raw: tuple[tuple[bytes, bytes], ...]) -> tuple[_Default, ...]:
    """A client's default headers (its ``Headers.raw``) as :func:`complete_request` adds them: (name, value,
    and the triple ``Headers.__setitem__`` stores for them in UTF-8, whose second item is the lower-cased
    name), httpx's own User-Agent left out."""
    decoded = httpx.Headers(list(raw))
    out: list[_Default] = []
    for name, value in decoded.multi_items():
        if name.lower() == "user-agent" and value.startswith(_HTTPX_AGENT):
            continue
        key = name.encode("utf-8")
        out.append((name, value, (key, key.lower(), value.encode("utf-8"))))
    return tuple(out)


def url_for_message(url: httpx.URL) -> str:
    """``scheme://host[:port]/path`` of ``url`` for error messages: the port kept (a test server on :2583
    is not the one on :443), user info, query and fragment left out. Host and path are written as sent
    (IDNA, percent-escapes kept), the form a secret URL is registered in for redaction."""
    host = url.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host
    port = f":{url.port}" if url.port is not None else ""
    path = url.raw_path.decode("ascii").partition("?")[0]
    return f"{url.scheme}://{host}{port}{path}"


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1). Cached: asked per request."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_policy(request: httpx.Request, *, allow_http: bool) -> None:
    """Refuse a request that would leave over plain http to a non-loopback host."""
    if request.url.scheme == "https":
        return
    if request.url.scheme == "http" and (allow_http or is_loopback(request.url.host)):
        return
    raise PermanentError(
        f"refusing to send over {request.url.scheme}:// to {url_for_message(request.url)} (https only)"
    )


def map_transport_error(
    exc: httpx.TransportError | httpx.DecodingError, request: httpx.Request
) -> ChannelError:
    """Classify a transport failure by whether the platform may have received the request (an answer whose
    content encoding does not decode counts as a protocol error after writing, as on our wire transport).

    Nothing was sent (retry is safe): connect errors and timeouts, pool timeouts, write errors (the request
    was not complete, so no server acts on it). Possibly received (ambiguous): read timeouts, read errors,
    the server closing the connection without a response, any other protocol error after writing; except on
    a request marked ``campaign.upload`` (an upload or its poll), which publishes nothing: transient.
    """
    where = f"{request.method} {url_for_message(request.url)}"
    kind = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.WriteError):
        return TransientError(f"{kind} before the request was sent ({where})")
    if isinstance(exc, httpx.WriteTimeout | httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return TransientError(f"{kind} while sending ({where})")
    if request.extensions.get(UPLOAD_EXTENSION):
        # An upload (or its status poll) publishes nothing whatever the platform did with it: retry it.
        return TransientError(f"{kind} during an upload ({where}); an upload publishes nothing: retried")
    return AmbiguousError(f"{kind} after the request was sent ({where}); outcome unknown")


#: The longest wait honoured for a status poll's ``campaign.delay`` (:data:`channels.base.DELAY_EXTENSION`;
#: adapters never sleep themselves): a platform asking for more is simply polled again sooner.
MAX_DELAY = 60.0


async def run(
    exchange: Exchange[T],
    client: httpx.AsyncClient,
    adapter: Adapter,
    *,
    on_rate_limit: RateLimitSink | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Sleeper = asyncio.sleep,
    before_send: BeforeSend | None = None,
) -> T:
    """Drive ``exchange`` over ``client`` until it returns; ChannelErrors propagate classified.

    A request carrying ``extensions["campaign.delay"]`` (seconds; a status poll) is sent after ``sleep``
    has waited that long (at most :data:`MAX_DELAY`); ``before_send`` sees each request just before it
    leaves, and the request waits for what it returns (an exception from it ends the exchange). Every
    error message is scrubbed of the account's secrets before it leaves (in dry runs too).
    """
    try:
        request = next(exchange)
        while True:
            check_transport_policy(request, allow_http=adapter.account.allow_http)
            complete_request(request, client.headers)
            if before_send is not None:
                ready = before_send(request)
                if ready is not None:
                    await ready
            delay = request.extensions.get(DELAY_EXTENSION)
            if isinstance(delay, int | float) and delay > 0:
                await sleep(min(float(delay), MAX_DELAY))
            try:
                response = await client.send(request, follow_redirects=False)
                await response.aread()
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise map_transport_error(exc, request) from None
            if on_rate_limit is not None:
                limit = _rate_limit(adapter, response, now())
                if limit is not None:
                    on_rate_limit(limit)
            try:
                request = exchange.send(response)
            except (StopIteration, CampaignError, UnicodeEncodeError):
                raise
            except Exception as exc:  # the adapter could not read the answer: the platform's fault, or ours
                raise unreadable_answer(exc, request, response) from exc
    except StopIteration as stop:
        result: T = stop.value
        return result
    except ChannelError as exc:
        _scrub(exc, adapter)
        raise
    except UnicodeEncodeError:  # httpx encodes header values as ASCII while a request is built
        raise CredentialsError(
            f"account {adapter.account.name!r}: a request header would carry non-ASCII text; check the"
            " account's credentials and settings for non-ASCII characters (values are not shown)"
        ) from None
    finally:
        exchange.close()


def _rate_limit(adapter: Adapter, response: httpx.Response, now: datetime) -> RateLimit | None:
    """The answer's rate-limit reading; None when its headers cannot be read (they inform, they never fail
    an exchange)."""
    try:
        return adapter.read_rate_limit(response, now)
    except Exception:  # a hostile or garbled header the adapter did not foresee
        logger.debug("rate-limit headers of an answer not read", exc_info=True)
        return None


def unreadable_answer(exc: Exception, request: httpx.Request, response: httpx.Response) -> ChannelError:
    """What an answer its adapter could not read (a field of an unexpected type, an absurd number) means:
    the request was sent and answered, so it may have published something (ambiguous), except an upload
    or its poll, which publishes nothing (transient). One line; the traceback goes to the DEBUG log."""
    logger.debug("answer to %s could not be read", request.method, exc_info=exc)
    where = f"{request.method} {url_for_message(request.url)}"
    what = f"HTTP {response.status_code} answer to {where} unreadable ({type(exc).__name__}: {exc})"
    what = shown(what, 500)
    if request.extensions.get(UPLOAD_EXTENSION):
        return TransientError(f"{what}; an upload publishes nothing: retried", status=response.status_code)
    return AmbiguousError(f"{what}; outcome unknown", status=response.status_code)


def _scrub(exc: ChannelError, adapter: Adapter) -> None:
    """Redact the account's secrets from ``exc``'s message (messages name URLs, whose paths may be secret)."""
    secrets = adapter.account.credentials.known_values()
    exc.args = tuple(redact(str(a), secrets) for a in exc.args)
    if exc.platform_message:
        exc.platform_message = redact(exc.platform_message, secrets)


@dataclass
class Recording:
    """What a dry run would have sent, in order, with the fake responses it was answered with."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)


def run_dry(exchange: Exchange[T], adapter: Adapter, part: Part | None, recording: Recording) -> T:
    """Drive ``exchange`` with the adapter's fake responses, recording each request. Sends nothing.

    The recorded requests are completed as :func:`run` completes them (User-Agent included), so a preview
    shows the headers that would go out.
    """
    try:
        request = next(exchange)
        while True:
            check_transport_policy(request, allow_http=adapter.account.allow_http)
            recording.requests.append(complete_request(request))
            response = adapter.fake_response(request, part)
            recording.responses.append(response)
            request = exchange.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
    except ChannelError as exc:
        _scrub(exc, adapter)
        raise
    finally:
        exchange.close()


def describe_request(request: httpx.Request, secrets: list[str]) -> dict[str, object]:
    """A JSON-ready view of a request with secrets redacted: method, url, headers, body (text or JSON).

    An upload (a request carrying ``extensions["campaign.media"]``) is shown by what it sends, never by its
    bytes: ``body`` is ``{"upload": {"file", "mime", "size", "sha256", ...}, "content_type": ...}``.
    """

    sensitive = {"authorization", "cookie", "x-api-key", "proxy-authorization"}
    headers: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        if name.lower() in ("host", "content-length"):
            continue
        headers[name] = "[REDACTED]" if name.lower() in sensitive else redact(value, secrets)
    upload = request.extensions.get(MEDIA_EXTENSION)
    if isinstance(upload, dict):
        body: object = {
            "upload": {key: upload[key] for key in sorted(upload)},
            "content_type": request.headers.get("content-type", "").split(";")[0],
        }
        return {"method": request.method, "url": redact(str(request.url), secrets), "headers": headers,
                "body": body}  # fmt: skip
    raw = request.content.decode("utf-8", errors="replace")
    body = redact(raw, secrets) if raw else None
    if raw and request.headers.get("content-type", "").startswith("application/json"):
        with contextlib.suppress(ValueError):
            body = json.loads(redact(raw, secrets))
    return {
        "method": request.method,
        "url": redact(str(request.url), secrets),
        "headers": headers,
        "body": body,
    }
