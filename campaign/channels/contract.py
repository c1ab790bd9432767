"""The adapter contract as executable checks: one suite that every installed adapter must pass.

Each check takes an adapter class, builds it on its :attr:`~campaign.channels.base.Adapter.sample_account`
with canary credentials and a fixed clock, drives its exchanges with its own
:meth:`~campaign.channels.base.Adapter.fake_response` answers or with scripted failures (nothing is sent), and
raises :class:`AssertionError` naming what broke:

- ``declares``: the class attributes and the ``(account, *, clock=None)`` constructor; platform facts agree.
- ``dry_run_is_complete``: a dry run (placeholder credentials) of a post returns a receipt whose id is a
  marked placeholder, and every request is a complete https request (host, content type, a body that
  parses).
- ``dry_run_is_secret_free``: with canary values in the environment, a dry run's requests and receipt hold
  no canary in any encoding (raw, URL-encoded, JSON-escaped, base64, hex).
- ``secrets_travel_verbatim``: with the canaries resolved, a request carries a canary only as written, never
  encoded, so redaction by exact text (logs, errors, previews) finds every copy.
- ``verify_never_posts``: ``verify`` sends only GET/HEAD requests besides the adapter's ``login_paths``.
- ``thread_parts_chain``: where the platform threads, part 2's requests name part 1's receipt.
- ``errors_are_classified``: at every step of a publish, 401 is a credential error, 403 permanent, 429 a
  rate limit retried when the headers say, 502/503 transient, 500/504 transient or ambiguous.
- ``rate_limits_are_read``: a success carrying rate-limit headers reports the remaining budget and reset.

A third-party package runs the same suite on its adapter with pytest::

    @pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
    def test_contract(check): check(MyAdapter)

or from a shell: ``python -m campaign.channels.contract NAME...`` (exit status 1 when a check fails).
"""

from __future__ import annotations

import base64
import inspect
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import parse_qsl, quote, quote_plus

import httpx

from campaign.channels.base import PLACEHOLDER, Account, Adapter, Exchange, LinkCard, Part, Receipt
from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.secrets import Credentials, SecretRef

T = TypeVar("T")

#: What the adapter's clock shows during every check (whole seconds: epoch headers are exact).
NOW = datetime(2027, 1, 18, 9, 0, 0, tzinfo=UTC)
#: The wait every rate-limit header of a scripted answer announces.
WAIT = timedelta(seconds=120)
#: An exchange that sends more requests than this is taken to loop.
MAX_REQUESTS = 25
#: Methods that never publish.
READ_METHODS = frozenset({"GET", "HEAD"})

FIRST = Part(
    post_id="contract-post",
    idempotency_key="contract-0123456789abcdef0123456789abcdef",
    text="Contract check: the new line opens on 18 January. #Rail https://example.com/news",
    campaign="contract",
    count=2,
    link=LinkCard(url="https://example.com/news", title="The new line", description="Opens on 18 January."),
    hashtags=("#Rail",),
)


def second_part(previous: Receipt) -> Part:
    """Part 2 of :data:`FIRST`'s thread, replying to ``previous``."""
    return Part(
        post_id=FIRST.post_id,
        idempotency_key="contract-fedcba9876543210fedcba9876543210",
        text="Part two: tickets go on sale on 11 January.",
        index=1,
        campaign=FIRST.campaign,
        count=2,
        reply_to=previous,
        root=previous,
    )


# -- accounts with canary credentials -----------------------------------------------------------------------


def canaries(cls: type[Adapter]) -> dict[str, str]:
    """Two canaries per sample credential: ``name`` fills ``{canary}``, ``name:token`` fills ``{token}``."""
    names = _sample_credentials(cls)
    return {
        name: f"Canary{index}{cls.name.capitalize()}+/=" + "Qv7" * 3 for index, name in enumerate(names)
    } | {f"{name}:token": f"Canary{index}_{cls.name}_Qv7Qv7" for index, name in enumerate(names)}


def _sample_credentials(cls: type[Adapter]) -> dict[str, str]:
    declared = cls.sample_account.credentials
    if declared is not None:
        return dict(declared)
    return {name: "{canary}" for name in cls.credential_names if name not in cls.optional_credentials}


def secret_values(cls: type[Adapter]) -> dict[str, str]:
    """Each sample credential's full value: its template filled with its canaries."""
    values = canaries(cls)
    return {
        name: template.replace("{canary}", values[name]).replace("{token}", values[f"{name}:token"])
        for name, template in _sample_credentials(cls).items()
    }


def sample_adapter(cls: type[Adapter], *, placeholder: bool) -> Adapter:
    """``cls`` on its sample account at :data:`NOW`; ``placeholder``: credentials as a dry run sees them."""
    values = secret_values(cls)
    refs = {name: SecretRef(env=f"CONTRACT_{name.upper()}") for name in values}
    environ = {f"CONTRACT_{name.upper()}": value for name, value in values.items()}
    credentials = Credentials(refs, account="contract", environ=environ, placeholder=placeholder)
    account = Account(
        name="contract", channel=cls.name, settings=dict(cls.sample_account.settings), credentials=credentials
    )
    return cls(account, clock=lambda: NOW)


# -- driving exchanges --------------------------------------------------------------------------------------

Answer = Callable[[int, httpx.Request], httpx.Response]


def drive(exchange: Exchange[T], answer: Answer) -> tuple[list[httpx.Request], T | ChannelError]:
    """Run ``exchange``, answering request ``i`` with ``answer(i, request)``; a ChannelError is returned."""
    sent: list[httpx.Request] = []
    try:
        request = next(exchange)
        while True:
            sent.append(request)
            assert len(sent) <= MAX_REQUESTS, f"more than {MAX_REQUESTS} requests: the exchange loops"
            request = exchange.send(answer(len(sent) - 1, request))
    except StopIteration as stop:
        return sent, stop.value
    except ChannelError as exc:
        return sent, exc
    finally:
        exchange.close()


def dry_answers(adapter: Adapter, part: Part | None) -> Answer:
    """Answer every request with the adapter's own fake response, as a dry run does."""
    return lambda index, request: _bound(adapter.fake_response(request, part), request)


def _bound(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    response.request = request
    return response


def dry_publish(adapter: Adapter, part: Part) -> tuple[list[httpx.Request], Receipt]:
    """The requests and receipt of a dry run of ``part``; a dry run that fails is a contract failure."""
    sent, outcome = drive(adapter.publish(part), dry_answers(adapter, part))
    assert not isinstance(outcome, ChannelError), f"dry run of part {part.index + 1} failed: {outcome!r}"
    assert isinstance(outcome, Receipt), f"publish returned {outcome!r}, not a Receipt"
    assert outcome.remote_id, "the receipt has no remote_id"
    return sent, outcome


# -- looking for secrets ------------------------------------------------------------------------------------


def encodings(secret: str) -> dict[str, str]:
    """The forms ``secret`` may take on the wire, by name: raw, URL-encoded, JSON-escaped, base64, hex.

    Base64 is taken at the three byte alignments the secret may have inside a longer encoded value, keeping
    only the characters that depend on the secret alone.
    """
    forms = {
        "raw": secret,
        "url-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "JSON-escaped (ASCII)": json.dumps(secret, ensure_ascii=True)[1:-1],
        "hex": secret.encode("utf-8").hex(),
    }
    raw = secret.encode("utf-8")
    for shift in range(3):
        for label, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            coded = encode(b"\0" * shift + raw).decode("ascii")
            first, end = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
            forms[f"{label} (offset {shift})"] = coded[first:end]
    return forms


def wire_text(request: httpx.Request) -> str:
    """All a request carries: method, URL, headers and body (bytes read as Latin-1, so none is lost)."""
    headers = "\n".join(f"{name}: {value}" for name, value in request.headers.multi_items())
    body = request.content.decode("latin-1")
    return f"{request.method} {request.url}\n{headers}\n\n{body}"


def find_secrets(text: str, secrets: Mapping[str, str], *, skip: frozenset[str] = frozenset()) -> list[str]:
    """``"<credential> (<encoding>)"`` for each form of each secret found in ``text``, except ``skip`` forms.

    A form equal to the raw secret is reported as raw (and skipped with it).
    """
    found = []
    for name, secret in secrets.items():
        for form, coded in encodings(secret).items():
            if form in skip or (form != "raw" and coded == secret) or not coded:
                continue
            if coded in text:
                found.append(f"{name} ({form})")
    return found


# -- the checks ---------------------------------------------------------------------------------------------


def declares(cls: type[Adapter]) -> None:
    """Class attributes are set and typed; the constructor is ``(account, *, clock=None)``; facts agree."""
    for attribute in ("name", "title", "rules"):
        assert getattr(cls, attribute, None), f"{cls.__name__}.{attribute} is not set"
    assert isinstance(cls.name, str) and isinstance(cls.title, str)
    parameters = inspect.signature(cls).parameters
    assert list(parameters)[:1] == ["account"], f"{cls.__name__}(...) must take the account first"
    clock = parameters.get("clock")
    assert clock is not None and clock.kind is inspect.Parameter.KEYWORD_ONLY and clock.default is None, (
        f"{cls.__name__}(...) must take clock= as a keyword with default None"
    )
    for name in cls.optional_credentials:
        assert name in cls.credential_names, f"optional credential {name!r} is not in credential_names"
    for name in _sample_credentials(cls):
        assert name in cls.credential_names, f"sample credential {name!r} is not in credential_names"
    for name in cls.required_settings:
        assert name in cls.sample_account.settings, f"the sample account lacks required setting {name!r}"
    if cls.dedup_window is not None:
        assert cls.dedup_by_key, "dedup_window is set but dedup_by_key is False"
    if cls.default_quota is not None:
        assert cls.default_quota.limit > 0 and cls.default_quota.window > timedelta(0), cls.default_quota
    adapter = sample_adapter(cls, placeholder=False)
    assert adapter.clock() == NOW, "the adapter does not read time through the injected clock"
    assert isinstance(adapter.deduplicates, bool), "deduplicates must be a bool"
    assert adapter.text_rules().limit > 0
    lookup = adapter.lookup(FIRST)
    assert lookup is None or inspect.isgenerator(lookup), "lookup() returns None or an exchange"


def dry_run_is_complete(cls: type[Adapter]) -> None:
    """A dry run returns a marked receipt; every request is https, has a host, and a body that parses."""
    adapter = sample_adapter(cls, placeholder=True)
    sent, receipt = dry_publish(adapter, FIRST)
    assert sent, "publish sent no request"
    # A server-assigned id is a marked placeholder; an id the adapter makes up is derived from the key.
    assert PLACEHOLDER in receipt.remote_id or FIRST.idempotency_key in receipt.remote_id, (
        f"the dry run's receipt id {receipt.remote_id!r} is not marked {PLACEHOLDER!r} nor made from the key"
    )
    for index, request in enumerate(sent, 1):
        where = f"request {index} ({request.method} {request.url})"
        assert request.url.scheme == "https" and request.url.host, f"{where}: not an absolute https URL"
        if not request.content:
            continue
        content_type = request.headers.get("content-type", "")
        assert content_type, f"{where}: a body without Content-Type"
        assert request.headers.get("content-length") == str(len(request.content)), f"{where}: length"
        if "json" in content_type:
            json.loads(request.content)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            parse_qsl(request.content.decode("ascii"), strict_parsing=True)


def dry_run_is_secret_free(cls: type[Adapter]) -> None:
    """With canaries in the environment, a dry run shows none of them, in any encoding, anywhere."""
    adapter = sample_adapter(cls, placeholder=True)
    secrets = secret_values(cls) | canaries(cls)
    sent, receipt = dry_publish(adapter, FIRST)
    verify_sent, who = drive(adapter.verify(), dry_answers(adapter, None))
    for index, request in enumerate([*sent, *verify_sent], 1):
        found = find_secrets(wire_text(request), secrets)
        assert not found, f"request {index} of the dry run shows {', '.join(found)}"
    found = find_secrets(repr(receipt) + repr(who), secrets)
    assert not found, f"the dry run's receipt or verify result shows {', '.join(found)}"


def secrets_travel_verbatim(cls: type[Adapter]) -> None:
    """With real (canary) credentials, a secret appears only as written, so exact-text redaction finds it."""
    adapter = sample_adapter(cls, placeholder=False)
    secrets = secret_values(cls) | canaries(cls)
    sent, receipt = dry_publish(adapter, FIRST)
    verify_sent, _ = drive(adapter.verify(), dry_answers(adapter, None))
    for index, request in enumerate([*sent, *verify_sent], 1):
        found = find_secrets(wire_text(request), secrets, skip=frozenset({"raw"}))
        assert not found, f"request {index} carries {', '.join(found)}: redaction would miss it"
    found = find_secrets(repr(receipt), secrets)
    assert not found, f"the receipt (stored in the queue) holds {', '.join(found)}"


def verify_never_posts(cls: type[Adapter]) -> None:
    """``verify`` returns a text and sends nothing but reads and the declared login calls."""
    adapter = sample_adapter(cls, placeholder=False)
    sent, who = drive(adapter.verify(), dry_answers(adapter, None))
    assert isinstance(who, str), f"verify returned {who!r}"
    for request in sent:
        allowed = request.method in READ_METHODS or request.url.path in cls.login_paths
        assert allowed, f"verify sent {request.method} {request.url.path} (not a read nor a login_paths call)"


def thread_parts_chain(cls: type[Adapter]) -> None:
    """Where the platform threads, part 2's requests name part 1's receipt (its id, raw or encoded)."""
    if not cls.rules.threads:
        return
    adapter = sample_adapter(cls, placeholder=True)
    _, first = dry_publish(adapter, FIRST)
    sent, _ = dry_publish(adapter, second_part(first))
    text = "\n".join(wire_text(request) for request in sent)
    forms = encodings(first.remote_id)
    assert any(forms[form] in text for form in ("raw", "url-encoded", "form-encoded", "JSON-escaped")), (
        f"no request of part 2 refers to part 1 ({first.remote_id})"
    )


def rate_limit_headers(now: datetime = NOW) -> dict[str, str]:
    """Every header family platforms use, all saying: nothing left, wait :data:`WAIT`."""
    reset = str(int((now + WAIT).timestamp()))
    seconds = str(int(WAIT.total_seconds()))
    usage = {"call_count": 100, "total_cputime": 100, "total_time": 100}
    headers = {"retry-after": seconds, "x-ratelimit-reset-after": seconds}
    for prefix in ("x-ratelimit-", "x-rate-limit-", "ratelimit-"):
        headers |= {prefix + "limit": "300", prefix + "remaining": "0", prefix + "reset": reset}
    headers["x-app-usage"] = json.dumps(usage)
    regain = {"estimated_time_to_regain_access": int(WAIT.total_seconds()) // 60}  # minutes
    headers["x-business-use-case-usage"] = json.dumps({"1234567890": [{"type": "pages", **usage, **regain}]})
    return headers


#: Scripted failures and the error classes each may become (exactly these classes, not subclasses).
FAILURES: tuple[tuple[int, tuple[type[ChannelError], ...]], ...] = (
    (401, (AuthError,)),  # the credentials were refused
    (403, (AuthError, PermanentError)),  # refused: the credentials, or this post or account
    (429, (RateLimitedError,)),
    (502, (TransientError,)),  # the platform did not process the request
    (503, (TransientError,)),
    (500, (TransientError, AmbiguousError)),  # it may have processed it, unless the step cannot write
    (504, (TransientError, AmbiguousError)),
)


def errors_are_classified(cls: type[Adapter]) -> None:
    """Fail each step of a publish in turn (that request and every later one) with each scripted status."""
    steps = len(dry_publish(sample_adapter(cls, placeholder=True), FIRST)[0])
    for status, expected in FAILURES:
        for step in range(steps):
            adapter = sample_adapter(cls, placeholder=True)
            answer = failing_from(step, status, dry_answers(adapter, FIRST))
            _, outcome = drive(adapter.publish(FIRST), answer)
            where = f"HTTP {status} at request {step + 1} of publish"
            names = " or ".join(kind.__name__ for kind in expected)
            assert type(outcome) in expected, f"{where}: got {outcome!r}, expected {names}"
            if isinstance(outcome, RateLimitedError):
                _assert_waits(outcome, where)


def failing_from(step: int, status: int, before: Answer) -> Answer:
    """Answer with ``before`` until request ``step``, then with ``status`` (429: every rate-limit header)."""
    headers = rate_limit_headers() if status == 429 else {}

    def answer(index: int, request: httpx.Request) -> httpx.Response:
        if index < step:
            return before(index, request)
        return httpx.Response(status, text="simulated failure", headers=headers, request=request)

    return answer


def _assert_waits(error: RateLimitedError, where: str) -> None:
    retry_at = error.retry_at
    if retry_at is None and error.retry_after is not None:
        retry_at = NOW + timedelta(seconds=error.retry_after)
    assert retry_at is not None, f"{where}: the rate limit does not say when to retry"
    assert abs(retry_at - (NOW + WAIT)) <= timedelta(seconds=1), f"{where}: retry at {retry_at}, not NOW+WAIT"


def rate_limits_are_read(cls: type[Adapter]) -> None:
    """A success with rate-limit headers reports ``remaining`` 0 and the reset; one without reports none."""
    adapter = sample_adapter(cls, placeholder=True)
    sent, _ = dry_publish(adapter, FIRST)
    answer = adapter.fake_response(sent[-1], FIRST)
    limited = httpx.Response(
        answer.status_code, content=answer.content, headers=rate_limit_headers(), request=sent[-1]
    )
    report = adapter.read_rate_limit(limited, NOW)
    assert report is not None, "rate-limit headers were not read"
    assert report.remaining == 0, f"remaining {report.remaining}, expected 0"
    assert report.reset_at == NOW + WAIT, f"reset at {report.reset_at}, expected {NOW + WAIT}"
    plain = httpx.Response(200, json={}, request=sent[-1])
    report = adapter.read_rate_limit(plain, NOW)
    assert report is None or (report.remaining is None and report.reset_at is None), report


Check = Callable[[type[Adapter]], None]

#: Every check, in the order a report lists them.
CHECKS: tuple[Check, ...] = (
    declares,
    dry_run_is_complete,
    dry_run_is_secret_free,
    secrets_travel_verbatim,
    verify_never_posts,
    thread_parts_chain,
    errors_are_classified,
    rate_limits_are_read,
)


def run_checks(cls: type[Adapter]) -> Iterator[tuple[str, str | None]]:
    """``(check name, None)`` for each passed check, ``(check name, why)`` for each failed one.

    An adapter that raises anything else while checked fails that check with the exception's text.
    """
    for check in CHECKS:
        try:
            check(cls)
        except AssertionError as exc:
            yield check.__name__, str(exc) or "assertion failed"
        except Exception as exc:  # a broken adapter is a failed check, reported like the others
            yield check.__name__, f"raised {type(exc).__name__}: {exc}"
        else:
            yield check.__name__, None


def main(argv: list[str] | None = None) -> int:
    """``python -m campaign.channels.contract [NAME...]``: check the named (default: every) adapter."""
    from campaign import channels

    names = (sys.argv[1:] if argv is None else argv) or channels.names()
    failed = 0
    for name in names:
        for check, why in run_checks(channels.load(name)):
            failed += why is not None
            print(f"{name}: {check}: {'ok' if why is None else 'FAILED: ' + why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
