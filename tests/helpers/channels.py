"""Shared helpers for the table-driven adapter tests (apprise style: a table of cases, one tester).

- :func:`make_account` builds an :class:`Account` whose secrets come from a private environment mapping.
- :func:`respond` builds a canned response; :func:`raising` a handler that fails with a transport error.
- :class:`Step` is one expected request (method, URL, optional exact JSON body and headers) with the canned
  response to answer it; :class:`Script` is an ``httpx.MockTransport`` handler that checks each request
  against the next step, so a test states the whole exchange in order.
- :func:`run_with` drives an adapter exchange through :func:`campaign.http.exchange.run` with a real
  ``httpx.AsyncClient`` over that transport, collecting every rate-limit report; :func:`settle` does the same
  but returns a ChannelError instead of raising it, and :func:`drive` answers with a plain list of responses
  (for tests that check the requests afterwards) and returns what was sent with the outcome.
- :func:`assert_outcome` compares an outcome with a table's expectation (a value, or a ChannelError class);
  :class:`Case` is one row of every adapter's table (scripted steps or plain responses), with the checks
  :func:`exactly`, :func:`mentions` and :func:`retries_at`.
- :func:`assert_hidden`, :func:`echo_is_hidden` and :func:`describe` serve the canary-secret tests.

Test modules in this directory import them with ``from tests.helpers.channels import ...`` (the project's
``pythonpath`` setting puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from campaign.channels.base import Account, Adapter, Exchange, Part, RateLimit
from campaign.errors import ChannelError, RateLimitedError
from campaign.http.exchange import describe_request, run
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


def raising(exc: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    """A handler (or :attr:`Step.response`) that fails with ``exc``, as a broken connection would."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("simulated", request=request)

    return handler


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
    """Run ``exchange`` through :func:`campaign.http.exchange.run` over a MockTransport serving ``handler``.

    Rate-limit reports are appended to ``limits`` when given.
    """

    async def no_wait(seconds: float) -> None:  # a status poll's delay is the adapter's to declare, not ours
        return None

    async def go() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sink = None if limits is None else limits.append
            return await run(exchange, client, adapter, on_rate_limit=sink, now=now, sleep=no_wait)

    return asyncio.run(go())


def settle(
    handler: Callable[[httpx.Request], httpx.Response],
    exchange: Exchange[T],
    adapter: Adapter,
    *,
    limits: list[RateLimit] | None = None,
    now: Callable[[], datetime] = lambda: NOW,
) -> T | ChannelError:
    """Like :func:`run_with`, but a ChannelError is returned rather than raised (others propagate)."""
    try:
        return run_with(handler, exchange, adapter, limits=limits, now=now)
    except ChannelError as exc:
        return exc


def drive(
    adapter: Adapter,
    exchange: Exchange[T],
    responses: Sequence[httpx.Response],
    *,
    limits: list[RateLimit] | None = None,
) -> tuple[list[httpx.Request], T | ChannelError]:
    """Run ``exchange`` with ``responses`` answering its requests in order, whatever they ask for.

    Returns the requests sent (for the test to check afterwards) and the result or the ChannelError. A
    request beyond the last response fails the test.
    """
    sent: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        assert queue, f"unexpected request #{len(sent)}: {request.method} {request.url}"
        return queue.pop(0)

    return sent, settle(handler, exchange, adapter, limits=limits)


def assert_outcome(outcome: object, expect: object, *, exact: bool = False) -> None:
    """``expect`` a ChannelError class: ``outcome`` is an instance of it (``exact``: of that very class).

    Any other ``expect`` (a receipt, a string, None): ``outcome`` equals it.
    """
    if isinstance(expect, type) and issubclass(expect, ChannelError):
        assert isinstance(outcome, expect), outcome
        if exact:
            assert type(outcome) is expect, outcome
    else:
        assert outcome == expect


#: An extra assertion on a :class:`Case`: called with the requests sent and the outcome; it may assert, or
#: return a bool that must be true.
Check = Callable[[list[httpx.Request], Any], object]


@dataclass
class Case:
    """One row of an adapter's table (the one Case type of these tests): answers in order, and the outcome.

    ``answers`` are :class:`Step` objects (each request is checked as it is sent, and every step must be
    used) or plain responses (answered whatever is asked; ``check`` inspects the requests afterwards).
    """

    id: str
    answers: Sequence[Step] | Sequence[httpx.Response]
    #: A ChannelError class the exchange must raise (that very class), or the value it must return.
    expect: Any
    #: The part to publish; None means the module's default part.
    part: Part | None = None
    #: Account settings on top of the module's defaults.
    settings: dict[str, Any] = field(default_factory=dict)
    #: Text the outcome must contain.
    message: str = ""
    #: When a RateLimitedError outcome may be retried.
    retry_at: datetime | None = None
    #: Every rate-limit report the exchange must produce (None: not checked).
    limits: list[RateLimit] | None = None
    check: Check | None = None

    def run(self, adapter: Adapter, exchange: Exchange[Any]) -> tuple[list[httpx.Request], Any]:
        """Drive ``exchange`` with this row's answers, check every expectation; return (requests, outcome)."""
        limits: list[RateLimit] = []
        if all(isinstance(answer, Step) for answer in self.answers):
            script = Script([answer for answer in self.answers if isinstance(answer, Step)])
            outcome = settle(script, exchange, adapter, limits=limits)
            script.assert_done()
            sent = script.requests
        else:
            responses = [answer for answer in self.answers if isinstance(answer, httpx.Response)]
            assert len(responses) == len(self.answers), f"{self.id}: mixes steps and plain responses"
            sent, outcome = drive(adapter, exchange, responses, limits=limits)
        assert_outcome(outcome, self.expect, exact=True)
        assert self.message in str(outcome), (self.message, str(outcome))
        if self.retry_at is not None:
            assert isinstance(outcome, RateLimitedError), outcome
            assert outcome.retry_at == self.retry_at
        if self.limits is not None:
            assert limits == self.limits
        if self.check is not None:
            assert self.check(sent, outcome) in (None, True), self.id
        return sent, outcome


def exactly(cls: type[ChannelError], *fragments: str) -> Check:
    """Check: the outcome is of class ``cls`` itself (not a subclass) and its message has each fragment."""

    def check(sent: list[httpx.Request], outcome: Any) -> None:
        assert type(outcome) is cls, outcome
        for fragment in fragments:
            assert fragment in str(outcome), (fragment, str(outcome))

    return check


def mentions(fragment: str) -> Check:
    """Check: the outcome's text contains ``fragment``."""

    def check(sent: list[httpx.Request], outcome: Any) -> None:
        assert fragment in str(outcome), (fragment, str(outcome))

    return check


def retries_at(when: datetime) -> Check:
    """Check: the outcome is a rate-limit error that may be retried at ``when``."""

    def check(sent: list[httpx.Request], outcome: Any) -> None:
        assert isinstance(outcome, RateLimitedError), outcome
        assert outcome.retry_at == when

    return check


def assert_hidden(error: ChannelError, *secrets: str) -> None:
    """No secret appears in the error's message or in the platform message it carries."""
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in (error.platform_message or "")


def echo_is_hidden(
    adapter: Adapter,
    exchange: Exchange[Any],
    responses: Sequence[httpx.Response],
    error: type[ChannelError],
    *secrets: str,
) -> tuple[list[httpx.Request], ChannelError]:
    """Drive an exchange the platform fails with a body that echoes secrets back.

    The outcome must be an ``error`` that shows none of ``secrets``; returns the requests sent and the error.
    """
    sent, outcome = drive(adapter, exchange, responses)
    assert isinstance(outcome, error), outcome
    assert_hidden(outcome, *secrets)
    return sent, outcome


def describe(adapter: Adapter, request: httpx.Request) -> dict[str, object]:
    """``request`` as the dry-run report shows it, with every secret the adapter resolved so far redacted."""
    return describe_request(request, adapter.account.credentials.known_values())


def timeout_then_lookup(published: bool) -> tuple[Callable[[httpx.Request], httpx.Response], dict[str, int]]:
    """A platform whose first POST times out (outcome unknown) and later POSTs succeed (id ``new``); a lookup
    (any other method) finds the post (id ``found``) when ``published``, else answers 404. Returns the
    handler and its counts (``posts``: POSTs seen)."""
    counts = {"posts": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            counts["posts"] += 1
            if counts["posts"] == 1:
                raise httpx.ReadTimeout("slow", request=request)
            return httpx.Response(200, json={"id": "new"})
        if published:
            return httpx.Response(200, json={"id": "found"})
        return httpx.Response(404, json={"error": "not found"})

    return handler, counts
