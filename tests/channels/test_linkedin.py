"""LinkedIn adapter, table-driven over httpx.MockTransport and the real exchange runner.

Shapes follow LinkedIn's documentation: the Posts API
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api), the little
text format (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format),
rate limits (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits) and the
OpenID Connect userinfo endpoint; error bodies are the ones LinkedIn returns
(https://github.com/Arisamiga/Linkedin-RSS/issues/5, https://github.com/PipedreamHQ/pipedream/issues/18398).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.linkedin import DEFAULT_VERSION, LinkedInAdapter, little_text
from campaign.errors import AmbiguousError, AuthError, PermanentError, RateLimitedError
from tests.helpers.channels import Case, drive, echo_is_hidden, exactly, make_account, mentions, respond

TOKEN = "canary-linkedin-93d1e4"
AUTHOR = "urn:li:organization:2414183"
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)

PART = Part(post_id="p1", idempotency_key="k" * 32, text="Launch (v2) is out! #OpenSource")
LINKED = Part(
    post_id="p1",
    idempotency_key="k" * 32,
    text="Read the release notes",
    link=LinkCard(url="https://example.org/r/2", title="Release 2", description="What is new"),
)


def make_adapter(settings: dict[str, Any] | None = None) -> LinkedInAdapter:
    account = make_account("linkedin", {"author": AUTHOR, **(settings or {})}, {"token": TOKEN})
    return LinkedInAdapter(account, clock=lambda: NOW)


# -- little text ---------------------------------------------------------------------------------------------

LITTLE = [
    ("plain text, no change.", "plain text, no change."),
    ("a (b) [c] *d*", r"a \(b\) \[c\] \*d\*"),
    ("a|b{c}<d>~e\\f", r"a\|b\{c\}\<d\>\~e\\f"),
    ("mail me@example.org", r"mail me\@example.org"),
    ("#AI and #Security", r"{hashtag|\#|AI} and {hashtag|\#|Security}"),
    ("Hashtag at end #Launch.", r"Hashtag at end {hashtag|\#|Launch}."),
    ("#café", r"{hashtag|\#|café}"),
    ("C# rocks", r"C\# rocks"),
    ("#1 reason", r"\#1 reason"),
    ("#snake_case", r"\#snake\_case"),
    ("##double", r"\#\#double"),
    ("&#39;", r"&\#39;"),
    ("https://example.org/a_(b)#frag", r"https://example.org/a\_\(b\)\#frag"),
    ("(#Tag)", r"\({hashtag|\#|Tag}\)"),
]


@pytest.mark.parametrize(("text", "expected"), LITTLE, ids=[t for t, _ in LITTLE])
def test_little_text(text: str, expected: str) -> None:
    assert little_text(text) == expected


# -- publish -------------------------------------------------------------------------------------------------

CREATED = respond(201, None, {"x-restli-id": "urn:li:share:6844785523593134080"})
DUPLICATE = respond(
    422,
    {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
        "Content is a duplicate of urn:li:share:7141138937766391808",
        "errorDetails": {
            "inputErrors": [
                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
            ]
        },
        "status": 422,
    },
)
SUNSET = respond(
    426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20240901 is not active"}
)
EXPIRED = respond(
    401,
    {
        "status": 401,
        "serviceErrorCode": 65601,
        "code": "REVOKED_ACCESS_TOKEN",
        "message": "The token used in the request has been revoked by the user",
    },
)
FORBIDDEN = respond(
    403,
    {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260601",
    },
)
THROTTLED = respond(
    429, {"status": 429, "message": "Resource level throttle limit for calls to this resource is reached."}
)


def expected_body(part: Part) -> dict[str, Any]:
    body: dict[str, Any] = {
        "author": AUTHOR,
        "commentary": little_text(part.text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    return body


RECEIPT = Receipt(
    remote_id="urn:li:share:6844785523593134080",
    url="https://www.linkedin.com/feed/update/urn:li:share:6844785523593134080/",
)

CASES = [
    Case("success", [CREATED], RECEIPT),
    Case(
        "duplicate-is-permanent",
        [DUPLICATE],
        PermanentError,
        check=exactly(PermanentError, "duplicate"),
    ),
    Case(
        "sunset-version-is-permanent-with-hint",
        [SUNSET],
        PermanentError,
        check=mentions("`version` setting"),
    ),
    Case("401-is-auth", [EXPIRED], AuthError, check=mentions("REVOKED_ACCESS_TOKEN")),
    Case("403-is-auth", [FORBIDDEN], AuthError),
    Case(
        "429-waits-until-midnight-utc",
        [THROTTLED],
        RateLimitedError,
        check=lambda s, o: o.retry_at == datetime(2026, 11, 25, tzinfo=UTC) and o.retry_after is None,
    ),
    Case(
        "429-honours-retry-after",
        [respond(429, {"message": "slow down"}, {"Retry-After": "120"})],
        RateLimitedError,
        check=lambda s, o: o.retry_after == 120 and o.retry_at is None,
    ),
    Case("400-is-permanent", [respond(400, {"status": 400, "message": "Invalid author"})], PermanentError),
    Case("504-is-ambiguous", [respond(504, {"message": "gateway timeout"})], AmbiguousError),
    Case("201-without-id-is-ambiguous", [respond(201)], AmbiguousError),
    Case(
        "version-setting",
        [CREATED],
        RECEIPT,
        settings={"version": "202611"},
        check=lambda s, o: s[0].headers["linkedin-version"] == "202611",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    adapter = make_adapter(case.settings)
    sent, _ = case.run(adapter, adapter.publish(PART))
    (post,) = sent
    assert (post.method, str(post.url)) == ("POST", "https://api.linkedin.com/rest/posts")
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["x-restli-protocol-version"] == "2.0.0"
    assert post.headers["linkedin-version"] == case.settings.get("version", DEFAULT_VERSION)
    assert post.headers["content-type"] == "application/json"
    assert json.loads(post.content) == expected_body(PART)
    assert json.loads(post.content)["commentary"] == r"Launch \(v2\) is out! {hashtag|\#|OpenSource}"


def test_link_card_is_an_article() -> None:
    adapter = make_adapter()
    sent, outcome = drive(adapter, adapter.publish(LINKED), [CREATED])
    assert outcome == RECEIPT
    body = json.loads(sent[0].content)
    assert body == {
        **expected_body(LINKED),
        "content": {
            "article": {
                "source": "https://example.org/r/2",
                "title": "Release 2",
                "description": "What is new",
            }
        },
    }


def test_link_card_without_title_uses_the_url() -> None:
    adapter = make_adapter()
    part = Part(post_id="p1", idempotency_key="k", text="x", link=LinkCard(url="https://example.org/"))
    sent, _ = drive(adapter, adapter.publish(part), [CREATED])
    assert json.loads(sent[0].content)["content"] == {
        "article": {"source": "https://example.org/", "title": "https://example.org/"}
    }


def test_verify_person_checks_the_token_owner() -> None:
    adapter = make_adapter({"author": "urn:li:person:782bbtaQ"})
    userinfo = respond(
        200, {"sub": "782bbtaQ", "name": "John Doe", "given_name": "John", "family_name": "Doe"}
    )
    sent, outcome = drive(adapter, adapter.verify(), [userinfo])
    assert outcome == "John Doe (urn:li:person:782bbtaQ)"
    assert (sent[0].method, str(sent[0].url)) == ("GET", "https://api.linkedin.com/v2/userinfo")
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    other = respond(200, {"sub": "someoneElse", "name": "Jane"})
    _, outcome = drive(adapter, adapter.verify(), [other])
    assert isinstance(outcome, AuthError) and "someoneElse" in str(outcome)


def test_verify_organization() -> None:
    adapter = make_adapter()
    sent, outcome = drive(
        adapter, adapter.verify(), [respond(200, {"id": 2414183, "localizedName": "Devtestco"})]
    )
    assert outcome == "Devtestco (urn:li:organization:2414183)"
    assert str(sent[0].url) == "https://api.linkedin.com/rest/organizations/2414183"
    assert sent[0].headers["linkedin-version"] == DEFAULT_VERSION


def test_bad_author_is_permanent() -> None:
    adapter = make_adapter({"author": "acme"})
    _, outcome = drive(adapter, adapter.verify(), [])
    assert isinstance(outcome, PermanentError) and "urn:li:person" in str(outcome)


def test_no_lookup_no_threads() -> None:
    adapter = make_adapter()
    assert adapter.lookup(PART) is None
    assert LinkedInAdapter.rules.threads is False
    assert LinkedInAdapter.dedup_by_key is False


def test_canary_never_leaks() -> None:
    adapter = make_adapter()
    echo = respond(400, {"status": 400, "message": f"bad header Bearer {TOKEN}"})
    echo_is_hidden(adapter, adapter.publish(PART), [echo], PermanentError, TOKEN)
