"""Shared helpers for the table-driven adapter tests (apprise style: a table of cases, one tester).

- :func:`make_account` builds an :class:`Account` whose secrets come from a private environment mapping.
- :class:`Step` is one expected request (method, URL, optional exact JSON body and headers) with the canned
  response to answer it; :class:`Script` is an ``httpx.MockTransport`` handler that checks each request
  against the next step, so a test states the whole exchange in order.
- :func:`run_with` drives an adapter exchange through :func:`campaign.exchange.run` with a real
  ``httpx.AsyncClient`` over that transport, collecting every rate-limit report.

Test modules in this directory import them with ``from conftest import ...``: pytest (default "prepend"
import mode, no ``__init__.py`` here) loads this file as the module ``conftest`` right before it imports the
test modules beside it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from campaign.channels.base import Account, Adapter, Exchange, RateLimit
from campaign.exchange import run
from campaign.secrets import Credentials, SecretRef

T = TypeVar("T")

#: The instant every test clock shows (rate-limit waits are computed from it).
NOW = datetime(2027, 1, 18, 9, 0, 0, tzinfo=UTC)


def make_account(
    channel: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    name: str = "acct",
    allow_http: bool = False,
) -> Account:
    """An account whose credential ``n`` is read from the variable ``SECRET_<N>`` of a private environment."""
    refs = {n: SecretRef(env=f"SECRET_{n.upper()}") for n in secrets}
    environ = {f"SECRET_{n.upper()}": v for n, v in secrets.items()}
    credentials = Credentials(refs, account=name, environ=environ)
    return Account(
        name=name, channel=channel, settings=dict(settings), credentials=credentials, allow_http=allow_http
    )


def respond(
    status: int = 200, body: Any = None, headers: Mapping[str, str] | None = None, *, text: str | None = None
) -> httpx.Response:
    """A canned response: JSON ``body`` (or raw ``text``) with ``headers``."""
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class Step:
    """One expected request and the response that answers it.

    ``json`` (when not None) must equal the request's JSON body exactly; ``headers`` must all be present
    with these values; ``params`` must equal the query parameters exactly.
    """

    method: str
    url: str
    response: httpx.Response | Callable[[httpx.Request], httpx.Response] = field(
        default_factory=lambda: respond(200, {})
    )
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None


class Script:
    """A MockTransport handler that answers the steps in order and records every request."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        index = len(self.requests)
        self.requests.append(request)
        assert index < len(self.steps), f"unexpected request #{index + 1}: {request.method} {request.url}"
        step = self.steps[index]
        url = request.url.copy_with(query=None) if step.params is not None else request.url
        assert (request.method, str(url)) == (step.method, step.url), f"request #{index + 1}"
        if step.params is not None:
            assert dict(request.url.params) == dict(step.params), f"query of request #{index + 1}"
        for name, value in step.headers.items():
            assert request.headers.get(name) == value, f"header {name} of request #{index + 1}"
        if step.json is not None:
            assert request.headers.get("content-type") == "application/json"
            assert json.loads(request.content) == step.json, f"JSON body of request #{index + 1}"
        return step.response(request) if callable(step.response) else step.response

    def assert_done(self) -> None:
        assert len(self.requests) == len(self.steps), (
            f"{len(self.steps) - len(self.requests)} expected request(s) never sent"
        )


def run_with(
    handler: Callable[[httpx.Request], httpx.Response],
    exchange: Exchange[T],
    adapter: Adapter,
    *,
    limits: list[RateLimit] | None = None,
    now: Callable[[], datetime] = lambda: NOW,
) -> T:
    """Run ``exchange`` through :func:`campaign.exchange.run` over a MockTransport serving ``handler``.

    Rate-limit reports are appended to ``limits`` when given.
    """

    async def go() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await run(
                exchange, client, adapter, on_rate_limit=None if limits is None else limits.append, now=now
            )

    return asyncio.run(go())
