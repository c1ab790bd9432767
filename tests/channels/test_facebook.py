"""Facebook Page adapter, table-driven over httpx.MockTransport and the real exchange runner.

Shapes follow Meta's documentation: publishing (https://developers.facebook.com/docs/pages/getting-started),
the error format and codes (https://developers.facebook.com/docs/graph-api/guides/error-handling) and the
usage headers (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.facebook import FacebookAdapter
from campaign.channels.helpers import usage_report
from campaign.errors import (
    AmbiguousError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from tests.helpers.channels import (
    Case,
    drive,
    echo_is_hidden,
    exactly,
    make_account,
    mentions,
    respond,
    retries_at,
)

TOKEN = "canary-fb-page-token-0c4e71"
PAGE = "104832967715566"
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
FEED = f"https://graph.facebook.com/v26.0/{PAGE}/feed"

PART = Part(post_id="p1", idempotency_key="k" * 32, text="Release 2 is out")
LINKED = Part(
    post_id="p1",
    idempotency_key="k" * 32,
    text="Release 2 is out",
    link=LinkCard(url="https://example.org/r/2", title="Release 2", description="What is new"),
)


def make_adapter(settings: dict[str, Any] | None = None) -> FacebookAdapter:
    account = make_account("facebook", {"page_id": PAGE, **(settings or {})}, {"token": TOKEN})
    return FacebookAdapter(account, clock=lambda: NOW)


def graph(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "EJplcsCHuLu",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return respond(status, {"error": error}, headers)


BUC = json.dumps(
    {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": 19,
            }
        ]
    }
)
CREATED = respond(200, {"id": f"{PAGE}_1234567890"})
RECEIPT = Receipt(remote_id=f"{PAGE}_1234567890", url=f"https://www.facebook.com/{PAGE}_1234567890")


CASES = [
    Case("success", [CREATED], RECEIPT),
    Case(
        "190-expired-token-is-auth",
        [graph(400, 190, "Error validating access token: Session has expired", subcode=463)],
        AuthError,
        check=mentions("Graph error 190/463"),
    ),
    Case(
        "200-permission-is-auth",
        [graph(403, 200, "(#200) Requires pages_manage_posts permission")],
        AuthError,
    ),
    Case(
        "4-app-throttle",
        [
            graph(
                400,
                4,
                "(#4) Application request limit reached",
                headers={"x-app-usage": '{"call_count":100,"total_time":25,"total_cputime":25}'},
            )
        ],
        RateLimitedError,
        check=lambda s, o: o.retry_at is None and o.retry_after is None,
    ),
    Case(
        "32-page-throttle-uses-buc-estimate",
        [graph(400, 32, "(#32) Page request limit reached", headers={"x-business-use-case-usage": BUC})],
        RateLimitedError,
        check=retries_at(NOW + timedelta(minutes=19)),
    ),
    Case(
        "80001-buc-throttle",
        [
            graph(
                400,
                80001,
                "There have been too many calls to this Page account.",
                headers={"x-business-use-case-usage": BUC},
            )
        ],
        RateLimitedError,
        check=retries_at(NOW + timedelta(minutes=19)),
    ),
    Case(
        "613-with-retry-after",
        [graph(400, 613, "Calls to this api have exceeded the rate limit.", headers={"Retry-After": "60"})],
        RateLimitedError,
        check=lambda s, o: o.retry_after == 60,
    ),
    Case("17-user-throttle", [graph(400, 17, "(#17) User request limit reached")], RateLimitedError),
    Case(
        "506-duplicate-is-permanent",
        [graph(400, 506, "Duplicate status message")],
        PermanentError,
        check=exactly(PermanentError),
    ),
    Case(
        "100-invalid-parameter-is-permanent",
        [graph(400, 100, "(#100) Invalid parameter")],
        PermanentError,
        check=exactly(PermanentError),
    ),
    Case(
        # Meta documents 368 as temporary ("temporarily blocked for policies violations": wait and retry).
        "368-policy-block-is-temporary",
        [graph(400, 368, "It looks like you were misusing this feature")],
        RateLimitedError,
        check=exactly(RateLimitedError),
    ),
    Case(
        "3-capability-is-auth",
        [graph(400, 3, "Application does not have the capability to make this API call.")],
        AuthError,
        check=exactly(AuthError),
    ),
    Case(
        "1-unknown-is-transient",
        [graph(500, 1, "An unknown error occurred", kind="FacebookApiException")],
        TransientError,
        check=exactly(TransientError),
    ),
    Case(
        "2-service-is-transient",
        [graph(503, 2, "Service temporarily unavailable", is_transient=True)],
        TransientError,
        check=exactly(TransientError),
    ),
    Case("no-graph-body-500-is-ambiguous", [respond(500, None)], AmbiguousError),
    Case("200-without-id-is-ambiguous", [respond(200, {})], AmbiguousError),
    Case(
        "graph-version-setting",
        [CREATED],
        RECEIPT,
        settings={"graph_version": "v25.0"},
        check=lambda s, o: str(s[0].url) == f"https://graph.facebook.com/v25.0/{PAGE}/feed",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    adapter = make_adapter(case.settings)
    sent, _ = case.run(adapter, adapter.publish(PART))
    (post,) = sent
    assert post.method == "POST"
    assert post.url.path.endswith(f"/{PAGE}/feed") and post.url.query == b""
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(post.content.decode()) == {"message": [PART.text]}
    if "graph_version" not in case.settings:
        assert str(post.url) == FEED


def test_link_card_sends_the_link() -> None:
    adapter = make_adapter()
    sent, outcome = drive(adapter, adapter.publish(LINKED), [CREATED])
    assert outcome == RECEIPT
    assert parse_qs(sent[0].content.decode()) == {
        "message": [LINKED.text],
        "link": ["https://example.org/r/2"],
    }


def test_usage_report() -> None:
    limit = usage_report(httpx.Headers({"x-business-use-case-usage": BUC}), NOW)
    assert limit is not None and (limit.remaining, limit.limit, limit.reset_at) == (
        0,
        100,
        NOW + timedelta(minutes=19),
    )
    app = usage_report(
        httpx.Headers({"x-app-usage": '{"call_count":28,"total_time":25,"total_cputime":25}'}), NOW
    )
    assert app is not None and (app.remaining, app.reset_at) == (72, None)
    assert usage_report(httpx.Headers({"x-app-usage": "not json"}), NOW) is None
    assert usage_report(httpx.Headers(), NOW) is None
    adapter = make_adapter()
    assert adapter.read_rate_limit(respond(200, {}, {"x-business-use-case-usage": BUC}), NOW) == limit


def test_verify() -> None:
    adapter = make_adapter()
    sent, outcome = drive(adapter, adapter.verify(), [respond(200, {"id": PAGE, "name": "Example Page"})])
    assert outcome == f"Example Page (page {PAGE})"
    assert (sent[0].method, str(sent[0].url)) == (
        "GET",
        f"https://graph.facebook.com/v26.0/{PAGE}?fields=id%2Cname",
    )
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    _, outcome = drive(adapter, adapter.verify(), [graph(400, 190, "Invalid OAuth access token.")])
    assert isinstance(outcome, AuthError)


def test_no_lookup_no_threads() -> None:
    assert make_adapter().lookup(PART) is None
    assert FacebookAdapter.rules.threads is False


def test_canary_never_leaks() -> None:
    adapter = make_adapter()
    echo = graph(400, 100, f"Invalid parameter access_token={TOKEN}")
    sent, _ = echo_is_hidden(adapter, adapter.publish(PART), [echo], PermanentError, TOKEN)
    assert TOKEN not in str(sent[0].url)  # the token travels in a header, never in a logged URL
