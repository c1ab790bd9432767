"""Building blocks several adapters share, kept in one place so that adapters never import each other.

- Reading answers: :func:`json_object` (lenient) and :func:`require_json_object` (strict, classified);
  counts (:func:`whole_count`, :func:`read_counts`: a whole number a BIGINT column holds, else unknown).
- Dry runs: :func:`fake_not_found` (the answer to a request an adapter's fakes do not know) and
  :func:`sent_nothing` (an exchange that returns without a request, for checks that cannot be harmless).
- Meta's Graph API (Facebook and Threads share its error and usage formats): :func:`graph_error`,
  :func:`usage_report`.
- Webhook URLs that are themselves the credential (webhook, Slack, Discord, Teams): :func:`secret_url`.

This module may import :mod:`campaign.channels.base` and the foundation only; no adapter module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx

from campaign.channels.base import (
    Adapter,
    Exchange,
    RateLimit,
    as_seconds,
    classify_status,
    fake_json,
    platform_message,
    retry_after_seconds,
)
from campaign.errors import (
    MAX_RETRY_AFTER,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.logs import shown

T = TypeVar("T")

# -- reading answers ----------------------------------------------------------------------------------------


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when the body is not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def json_items(body: Mapping[str, Any], key: str) -> list[Any]:
    """The list under ``key`` of an answer's JSON object, or ``[]`` when it is missing or not a list: an
    answer is untrusted input, and a number or a string where a platform documents a list must not break
    the code that reads it (each item is still checked by its reader)."""
    value = body.get(key)
    return value if isinstance(value, list) else []


def require_json_object(
    response: httpx.Response, error: type[ChannelError], *, who: str = ""
) -> dict[str, Any]:
    """The response's JSON object; raises ``error`` ("<who> answered HTTP <status> without ...") otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        said = f"{who} answered HTTP" if who else "HTTP"
        raise error(f"{said} {response.status_code} without a JSON object", status=response.status_code)
    return body


# -- dry runs -----------------------------------------------------------------------------------------------


def fake_not_found(request: httpx.Request, *, key: str = "error") -> httpx.Response:
    """A dry run's 404 for a request its fakes do not know: ``{key: "no dry-run answer for <path>"}``."""
    return fake_json(request, {key: f"no dry-run answer for {request.url.path}"}, 404)


def sent_nothing(result: T) -> Exchange[T]:
    """An exchange that sends no request and returns ``result`` (``return (yield from sent_nothing(x))``)."""
    return result
    yield  # pragma: no cover - makes this a generator that sends no request


# -- Meta Graph API (Facebook, Threads) --------------------------------------------------------------------

# Codes from the Graph API error table (https://developers.facebook.com/docs/graph-api/guides/error-handling).
#: 3 capability, 10 and 200-299 permission, 102 session, 190 access token: the operator must act.
_AUTH_CODES = frozenset({3, 10, 102, 190}) | frozenset(range(200, 300))
#: Throttling: 4 app, 17 user, 32 page, 341 application limit, 613 calls; 80001-80014 business use cases.
_THROTTLE_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80001, 80015))
#: 368 "temporarily blocked for policies violations": the table says to wait and retry, so the account is
#: held back like a throttled one rather than the post being failed.
_BLOCKED_CODES = frozenset({368})
#: 1 unknown ("possibly a temporary issue") and 2 service ("temporary issue due to downtime").
_TRANSIENT_CODES = frozenset({1, 2})
#: Invalid parameter, duplicate post, link scrape failure: each fails again unchanged.
_PERMANENT_CODES = frozenset({100, 506, 1609005})
_USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")


def graph_error(response: httpx.Response, *, now: datetime) -> ChannelError:
    """Classify a Meta Graph error (Facebook and Threads share the format) by code, then by HTTP status.

    Codes (https://developers.facebook.com/docs/graph-api/guides/error-handling): 1 and 2 temporary;
    4/17/32/341/613 and 80001-80014 throttling, and 368 (a temporary policy block) held back the same way;
    3, 10, 102, 190 and 200-299 capability, permissions or token; 100, 506 and 1609005 fail again
    unchanged. An unlisted code of type ``OAuthException`` is a credentials problem
    ("the login status or access token has expired, been revoked, or is otherwise invalid").
    """
    body = json_object(response).get("error")
    error = body if isinstance(body, Mapping) else {}
    message = str(error.get("error_user_msg") or error.get("message") or platform_message(response))
    message = shown(message, 300)
    code = error.get("code")
    subcode = error.get("error_subcode")
    status = response.status_code
    what = f"HTTP {status}, Graph error {code}" + (f"/{subcode}" if subcode else "") + f": {message}"
    if not isinstance(code, int):
        return classify_status(response, message, now=now)
    if code in _THROTTLE_CODES or code in _BLOCKED_CODES:
        wait = retry_after_seconds(response.headers, now)
        usage = usage_report(response.headers, now)
        retry_at = usage.reset_at if usage and wait is None else None
        return RateLimitedError(
            what, retry_at=retry_at, retry_after=wait, status=status, platform_message=message
        )
    if code in _TRANSIENT_CODES or error.get("is_transient") is True:
        return TransientError(what, status=status, platform_message=message)
    if code in _PERMANENT_CODES:
        return PermanentError(what, status=status, platform_message=message)
    if code in _AUTH_CODES or error.get("type") == "OAuthException":
        return AuthError(what, status=status, platform_message=message)
    generic = classify_status(response, message, now=now)
    generic.args = (what,)
    return generic


def usage_report(headers: httpx.Headers, now: datetime) -> RateLimit | None:
    """Meta's usage headers as a RateLimit: ``remaining``/``limit`` in percent of the budget, ``reset_at``
    from ``estimated_time_to_regain_access`` (minutes) when the platform gave one
    (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/)."""
    highest: float | None = None
    regain_minutes = 0.0
    for name in _USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        entries: list[Mapping[str, Any]] = []
        if isinstance(parsed, Mapping) and "call_count" in parsed:
            entries.append(parsed)
        elif isinstance(parsed, Mapping):
            for value in parsed.values():
                entries.extend(
                    e for e in (value if isinstance(value, list) else []) if isinstance(e, Mapping)
                )
        for entry in entries:
            for key in ("call_count", "total_cputime", "total_time"):
                number = _json_number(entry.get(key))
                if number is not None:
                    highest = max(highest or 0.0, min(number, 100.0))  # a percentage of the budget
            regain = _json_number(entry.get("estimated_time_to_regain_access"))  # minutes
            if regain is not None:
                regain_minutes = max(regain_minutes, min(regain, MAX_RETRY_AFTER / 60))
    if highest is None and regain_minutes == 0:
        return None
    remaining = max(0, 100 - int(highest or 0))
    reset_at = now + timedelta(minutes=regain_minutes) if regain_minutes > 0 else None
    return RateLimit(remaining=remaining, reset_at=reset_at, limit=100)


def _json_number(value: object) -> float | None:
    """A finite, non-negative JSON number (not a string or a bool), else None: a header parsed as JSON by
    Python may hold NaN or an infinity."""
    return as_seconds(value) if isinstance(value, int | float) else None


# -- webhook URLs that are the credential ------------------------------------------------------------------

#: Shorter paths ("/", "/hook") are not secret enough to redact on their own without mangling ordinary text.
MIN_SECRET_PATH = 12


def secret_url(adapter: Adapter, name: str, *, placeholder: str) -> httpx.URL:
    """The URL held by credential ``name``, checked so that redaction can find it.

    Error messages and ``describe_request`` hide secrets by replacing the credential's exact text, so the
    URL must be in the canonical form httpx sends (httpx drops a default ``:443`` and lower-cases the host);
    otherwise the request would show the secret in a form redaction does not recognise, and we refuse it
    with a message that says what to change (never the value). In dry runs without the environment the
    credential is a ``<NAME>`` placeholder and ``placeholder`` (a URL containing "dry-run") is used instead.
    """
    raw = adapter.secret(name)
    if raw.startswith("<") and raw.endswith(">"):
        return httpx.URL(placeholder)
    what = f"account {adapter.account.name!r}: credential {name!r}"
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError):
        raise PermanentError(f"{what} is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise PermanentError(f"{what} must be an absolute https:// URL")
    if url.userinfo:
        # httpx and aiohttp would send it as Basic auth (our wire transport would not), in a form the
        # redaction of the URL does not cover; webhooks take their secret in the path or query.
        raise PermanentError(f"{what}: a user name or password in the URL ('user:password@') is refused")
    if str(url) != raw:
        hints = []
        if url.port is None and ":443" in raw.split("/")[2]:
            hints.append("remove the default port ':443'")
        if raw.split("/")[2].lower() != raw.split("/")[2]:
            hints.append("write the host name in lower case")
        hint = "; ".join(hints) or "write it exactly as a browser shows it"
        raise PermanentError(f"{what} is not in canonical form ({hint}), so redaction could not find it")
    # The path (with its query) is the secret part of a webhook URL; servers and proxies echo it alone
    # ("POST /services/T0/B0/XXXX failed"), so it is redacted on its own too.
    path = url.raw_path.decode("ascii")
    if len(path) >= MIN_SECRET_PATH:
        adapter.account.credentials.remember(path)
    return url


#: The largest count the queue stores (a signed 64-bit integer, SQLite's and PostgreSQL's BIGINT). An answer
#: that says more than that is not a count: before this bound, one such value failed a whole metrics pass.
MAX_COUNT = 2**63 - 1


def whole_count(value: object) -> int | None:
    """``value`` when it is a count: a JSON whole number from 0 to :data:`MAX_COUNT` (not a boolean); else
    None, since a count the platform did not give, or gave as something else, is unknown, never zero."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def read_counts(body: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, int]:
    """The counts in ``body`` under the platform's field names, renamed to ours (``names``: theirs -> ours).

    A field that is missing or not a :func:`whole_count` is left out.
    """
    counts: dict[str, int] = {}
    for theirs, ours in names.items():
        value = whole_count(body.get(theirs))
        if value is not None:
            counts[ours] = value
    return counts


def graph_object_gone(response: httpx.Response) -> bool:
    """True when a Meta Graph answer says the object does not exist (any more): HTTP 404, or Graph error 100
    with subcode 33 ("Unsupported get request. Object with ID ... does not exist")."""
    if response.status_code == 404:
        return True
    body = json_object(response).get("error")
    error = body if isinstance(body, Mapping) else {}
    return error.get("code") == 100 and error.get("error_subcode") == 33
