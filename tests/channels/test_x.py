"""X adapter, table-driven over httpx.MockTransport and the real exchange runner.

Request and response shapes follow X's documentation:
https://docs.x.com/x-api/posts/creation-of-a-post (POST /2/tweets),
https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code (refresh grant),
https://docs.x.com/fundamentals/rate-limits (x-rate-limit-* headers, 429),
https://docs.x.com/x-api/users/lookup/integrate (GET /2/users/me);
the duplicate-content 403 body is the one X returns (https://github.com/akrherz/iembot/issues/163).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from campaign.channels.base import Account, Part, Receipt
from campaign.channels.oauth import TokenSet
from campaign.channels.x import XAdapter
from campaign.errors import (
    AmbiguousError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.http.exchange import Recording, run_dry
from campaign.secrets import Credentials, SecretRef
from tests.helpers.channels import (
    Case,
    assert_hidden,
    describe,
    drive,
    echo_is_hidden,
    exactly,
    make_account,
    mentions,
    respond,
    retries_at,
)

TOKEN = "canary-x-access-7f3a9c"
REFRESH = "canary-x-refresh-51be0d"
CLIENT_SECRET = "canary-x-client-secret-a11c"
NEW_ACCESS = "new-access-token-2b"
NEW_REFRESH = "new-refresh-token-2b"
RESET = 1_900_000_000  # epoch seconds, as X sends them

PART = Part(post_id="p1", idempotency_key="k" * 32, text="Launch day! https://example.org")


def make_adapter(settings: dict[str, Any] | None = None, *, refresh: bool = True) -> XAdapter:
    """An account with the refresh credentials (a confidential client), or with the access token only."""
    secrets = {"token": TOKEN}
    base = {"username": "acme"}
    if refresh:
        secrets |= {"refresh_token": REFRESH, "client_secret": CLIENT_SECRET}
        base["client_id"] = "client-123"
    return XAdapter(make_account("x", {**base, **(settings or {})}, secrets))


CREATED = respond(201, {"data": {"id": "1346889436626259968", "text": PART.text}})
DUPLICATE = respond(
    403,
    {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    },
)
NOT_ENROLLED = respond(
    403,
    {
        "client_id": "21423516",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens"
        " from a Twitter developer App that is attached to a Project.",
        "title": "Client Forbidden",
        "required_enrollment": "Standard Basic",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    },
)
NOT_PERMITTED = respond(
    403,
    {
        "detail": "You are not permitted to perform this action.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    },
)
UNAUTHORIZED = respond(
    401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
)
RATE_LIMITED = respond(
    429,
    {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
    {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(RESET)},
)
DAILY_CAP = respond(
    429,
    {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
    {
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "97",
        "x-rate-limit-reset": str(RESET),
        "x-user-limit-24hour-limit": "17",
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(RESET + 50_000),
    },
)
TOKENS = respond(
    200,
    {
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": NEW_ACCESS,
        "scope": "tweet.read tweet.write users.read offline.access",
        "refresh_token": NEW_REFRESH,
    },
)
INVALID_GRANT = respond(
    400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
)


def check_refresh(sent: list[httpx.Request], outcome: Any) -> None:
    first, token_call, again = sent
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert (token_call.method, str(token_call.url)) == ("POST", "https://api.x.com/2/oauth2/token")
    basic = base64.b64encode(f"client-123:{CLIENT_SECRET}".encode()).decode()
    assert token_call.headers["authorization"] == f"Basic {basic}"
    assert token_call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_call.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": ["client-123"],
    }
    assert again.headers["authorization"] == f"Bearer {NEW_ACCESS}"
    assert again.content == first.content


CASES = [
    Case(
        "success",
        [CREATED],
        Receipt(remote_id="1346889436626259968", url="https://x.com/acme/status/1346889436626259968"),
    ),
    Case(
        "success-no-username",
        [CREATED],
        Receipt(remote_id="1346889436626259968", url="https://x.com/i/web/status/1346889436626259968"),
        settings={"username": None},
    ),
    Case(
        "duplicate-is-permanent-not-auth",
        [DUPLICATE],
        PermanentError,
        check=exactly(PermanentError, "duplicate content"),
    ),
    Case("client-forbidden-is-auth", [NOT_ENROLLED], AuthError),
    Case(
        "other-403-is-permanent",
        [NOT_PERMITTED],
        PermanentError,
        check=exactly(PermanentError),
    ),
    Case(
        "401-refresh-then-success",
        [UNAUTHORIZED, TOKENS, CREATED],
        Receipt(remote_id="1346889436626259968", url="https://x.com/acme/status/1346889436626259968"),
        check=check_refresh,
    ),
    Case(
        "401-refresh-only-once",
        [UNAUTHORIZED, TOKENS, UNAUTHORIZED],
        AuthError,
        check=lambda s, o: len(s) == 3,
    ),
    Case("401-refresh-rejected", [UNAUTHORIZED, INVALID_GRANT], AuthError, check=mentions("re-authorise")),
    Case(
        "429-waits-for-x-rate-limit-reset",
        [RATE_LIMITED],
        RateLimitedError,
        check=retries_at(datetime.fromtimestamp(RESET, UTC)),
    ),
    Case(
        "429-daily-cap-waits-for-24h-reset",
        [DAILY_CAP],
        RateLimitedError,
        check=retries_at(datetime.fromtimestamp(RESET + 50_000, UTC)),
    ),
    Case(
        "400-is-permanent",
        [
            respond(
                400,
                {
                    "errors": [{"message": "text too long"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                },
            )
        ],
        PermanentError,
    ),
    Case("503-is-transient", [respond(503, {"title": "Service Unavailable"})], TransientError),
    Case("500-is-ambiguous", [respond(500, {"title": "Internal Server Error"})], AmbiguousError),
    Case("201-without-id-is-ambiguous", [respond(201, {"data": {}})], AmbiguousError),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    adapter = make_adapter(case.settings)
    sent, outcome = case.run(adapter, adapter.publish(PART))
    if not isinstance(case.expect, Receipt):
        assert TOKEN not in str(outcome) and REFRESH not in str(outcome)
    post = sent[0]
    assert (post.method, str(post.url)) == ("POST", "https://api.x.com/2/tweets")
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/json"
    assert json.loads(post.content) == {"text": PART.text}
    assert len(sent) == len(case.answers)


def test_401_without_refresh_credentials_is_an_auth_error() -> None:
    adapter = make_adapter(refresh=False)
    sent, outcome = drive(adapter, adapter.publish(PART), [UNAUTHORIZED])
    assert type(outcome) is AuthError and "no refresh_token" in str(outcome)
    assert len(sent) == 1 and TOKEN not in str(outcome)


def test_thread_part_replies_to_previous_receipt() -> None:
    adapter = make_adapter()
    first = Receipt(remote_id="111", url="https://x.com/acme/status/111")
    second = Part(
        post_id="p1", idempotency_key="k" * 32, text="2/2", index=1, count=2, reply_to=first, root=first
    )
    sent, outcome = drive(adapter, adapter.publish(second), [CREATED])
    assert json.loads(sent[0].content) == {"text": "2/2", "reply": {"in_reply_to_tweet_id": "111"}}
    assert outcome.remote_id == "1346889436626259968"


def test_refreshed_tokens_are_kept_and_reported() -> None:
    adapter = make_adapter()
    seen: list[TokenSet] = []
    adapter.on_tokens = seen.append
    drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    assert [t.refresh_token for t in seen] == [NEW_REFRESH]
    assert NEW_REFRESH not in repr(seen[0]) and NEW_ACCESS not in repr(seen[0])
    # The next exchange starts with the new access token and would refresh with the rotated refresh token.
    sent, _ = drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    assert sent[0].headers["authorization"] == f"Bearer {NEW_ACCESS}"
    assert parse_qs(sent[1].content.decode())["refresh_token"] == [NEW_REFRESH]


def test_rotated_tokens_are_written_back_to_secret_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refresh_file = tmp_path / "x-refresh"
    refresh_file.write_text(REFRESH + "\n", encoding="utf-8")
    creds = Credentials(
        {
            "token": SecretRef(env="T"),
            "refresh_token": SecretRef(file=refresh_file),
            "client_secret": SecretRef(env="S"),
        },
        account="acct",
        environ={"T": TOKEN, "S": CLIENT_SECRET},
    )
    adapter = XAdapter(Account("acct", "x", {"client_id": "client-123"}, creds))
    drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    # a restart reads the rotated refresh token; the access token lives in an environment variable, so
    # only it stays in memory (no warning: the refresh token, the one that matters, was persisted)
    assert refresh_file.read_text(encoding="utf-8").strip() == NEW_REFRESH
    assert "cannot be written back" not in caplog.text
    env_only = make_adapter()
    with caplog.at_level("WARNING"):
        drive(env_only, env_only.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    assert "give refresh_token as a secret file" in caplog.text
    assert NEW_REFRESH not in caplog.text


def test_public_client_refresh_has_no_basic_auth() -> None:
    account = make_account("x", {"client_id": "client-123"}, {"token": TOKEN, "refresh_token": REFRESH})
    adapter = XAdapter(account)
    sent, outcome = drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    assert "authorization" not in sent[1].headers
    assert isinstance(outcome, Receipt)


def test_read_rate_limit_reports_the_15_minute_window() -> None:
    adapter = make_adapter()
    response = respond(
        200,
        {},
        {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "99", "x-rate-limit-reset": str(RESET)},
    )
    limit = adapter.read_rate_limit(response, datetime(2026, 1, 1, tzinfo=UTC))
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.reset_at) == (100, 99, datetime.fromtimestamp(RESET, UTC))
    assert adapter.read_rate_limit(respond(200, {}), datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_verify() -> None:
    adapter = make_adapter()
    sent, outcome = drive(
        adapter,
        adapter.verify(),
        [respond(200, {"data": {"id": "2244994945", "name": "X Developers", "username": "XDevelopers"}})],
    )
    assert outcome == "@XDevelopers (user id 2244994945)"
    assert (sent[0].method, str(sent[0].url)) == ("GET", "https://api.x.com/2/users/me")
    assert sent[0].content == b""


def test_lookup_is_not_possible() -> None:
    assert make_adapter().lookup(PART) is None
    assert XAdapter.dedup_by_key is False


def test_dry_run_receipt_links_the_post() -> None:
    adapter = make_adapter()
    receipt = run_dry(adapter.publish(PART), adapter, PART, Recording())
    assert receipt.url == f"https://x.com/acme/status/{receipt.remote_id}"


def test_canary_never_leaks() -> None:
    adapter = make_adapter()
    secrets = [TOKEN, REFRESH, CLIENT_SECRET]
    echo = respond(403, {"detail": f"Bad token {TOKEN}", "type": "about:blank"})
    _, outcome = echo_is_hidden(adapter, adapter.publish(PART), [echo], PermanentError, TOKEN)
    assert "[REDACTED]" in str(outcome)
    # Tokens granted by a refresh are scrubbed too (they are not among the resolved credentials).
    echo_new = respond(403, {"detail": f"Bad token {NEW_ACCESS} {NEW_REFRESH}", "type": "about:blank"})
    sent, outcome = drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, echo_new])
    assert_hidden(outcome, *secrets, NEW_ACCESS, NEW_REFRESH)
    sent, receipt = drive(adapter, adapter.publish(PART), [UNAUTHORIZED, TOKENS, CREATED])
    for request in sent:
        described = json.dumps(describe(adapter, request))
        for secret in secrets:
            assert secret not in described
    assert all(secret not in repr(receipt) for secret in secrets)
