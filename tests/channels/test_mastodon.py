"""Mastodon adapter, table-driven over httpx.MockTransport and the real exchange runner.

Request and response shapes follow Mastodon's documentation:
https://docs.joinmastodon.org/methods/statuses/#create (POST /api/v1/statuses, Idempotency-Key, 401, 422),
https://docs.joinmastodon.org/api/rate-limits/ (X-RateLimit-* headers; Reset is ISO 8601, written by
app/controllers/concerns/rate_limit_headers.rb as iso8601(6)),
https://docs.joinmastodon.org/methods/accounts/#verify_credentials,
https://docs.joinmastodon.org/entities/Instance/#max_characters (GET /api/v2/instance).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from campaign.channels.base import Part, RateLimit, Receipt
from campaign.channels.mastodon import MastodonAdapter
from campaign.errors import (
    AmbiguousError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    Case,
    Script,
    Step,
    assert_hidden,
    make_account,
    raising,
    respond,
    run_with,
)

TOKEN = "canary-mastodon-token-5e0b7d"
BASE = "https://mastodon.example"
STATUSES = f"{BASE}/api/v1/statuses"
KEY = "0f" * 16
PART = Part(post_id="p1", idempotency_key=KEY, text="Launch day! #OpenData https://example.org/launch")
REPLY = Part(
    post_id="p1",
    idempotency_key="1a" * 16,
    text="Part two of the thread.",
    index=1,
    count=2,
    reply_to=Receipt(
        remote_id="109372843234", url=f"{BASE}/@alice/109372843234", data={"id": "109372843234"}
    ),
    root=Receipt(remote_id="109372843234", url=f"{BASE}/@alice/109372843234", data={"id": "109372843234"}),
)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def adapter(**settings: Any) -> MastodonAdapter:
    return MastodonAdapter(
        make_account("mastodon", {"instance": BASE, **settings}, {"token": TOKEN}, name="main_mastodon")
    )


def status(status_id: str, **extra: Any) -> dict[str, Any]:
    """A Status entity as documented (only the fields we read, plus a few for realism)."""
    return {
        "id": status_id,
        "created_at": "2027-01-18T09:00:00.123Z",
        "visibility": "public",
        "uri": f"{BASE}/users/alice/statuses/{status_id}",
        "url": f"{BASE}/@alice/{status_id}",
        "content": "<p>Launch day!</p>",
        **extra,
    }


RATE_HEADERS = {
    "X-RateLimit-Limit": "300",
    "X-RateLimit-Remaining": "299",
    "X-RateLimit-Reset": "2027-01-18T09:05:00.000000Z",
}

CASES = [
    Case(
        "success: exact request, receipt and rate-limit report",
        [
            Step(
                "POST",
                STATUSES,
                respond(200, status("109372843234"), RATE_HEADERS),
                json={"status": PART.text, "visibility": "unlisted", "language": "en"},
                headers={**AUTH, "Idempotency-Key": KEY, "Accept": "application/json"},
            )
        ],
        settings={"visibility": "unlisted", "language": "en"},
        expect=Receipt("109372843234", f"{BASE}/@alice/109372843234", {"id": "109372843234"}),
        limits=[RateLimit(remaining=299, reset_at=datetime(2027, 1, 18, 9, 5, tzinfo=UTC), limit=300)],
    ),
    Case(
        "thread part replies to the previous part",
        [
            Step(
                "POST",
                STATUSES,
                respond(200, status("109372843299", in_reply_to_id="109372843234")),
                json={"status": REPLY.text, "visibility": "public", "in_reply_to_id": "109372843234"},
                headers={"Idempotency-Key": "1a" * 16},
            )
        ],
        part=REPLY,
        expect=Receipt("109372843299", f"{BASE}/@alice/109372843299", {"id": "109372843299"}),
    ),
    Case(
        "url missing: falls back to the ActivityPub uri",
        [Step("POST", STATUSES, respond(200, {**status("7"), "url": None}))],
        expect=Receipt("7", f"{BASE}/users/alice/statuses/7", {"id": "7"}),
    ),
    Case(
        "422 validation: permanent, with Mastodon's message",
        [Step("POST", STATUSES, respond(422, {"error": "Validation failed: Text can't be blank"}))],
        expect=PermanentError,
        message="Validation failed: Text can't be blank",
    ),
    Case(
        "401: auth",
        [Step("POST", STATUSES, respond(401, {"error": "The access token is invalid"}))],
        expect=AuthError,
        message="The access token is invalid",
    ),
    Case(
        "403: auth",
        [Step("POST", STATUSES, respond(403, {"error": "This action is not allowed"}))],
        expect=AuthError,
    ),
    Case(
        "429: rate limited until the ISO 8601 reset",
        [
            Step(
                "POST",
                STATUSES,
                respond(
                    429,
                    {"error": "Too many requests"},
                    {
                        **RATE_HEADERS,
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": "2027-01-18T09:04:30.5Z",
                    },
                ),
            )
        ],
        expect=RateLimitedError,
        retry_at=datetime(2027, 1, 18, 9, 4, 30, 500000, tzinfo=UTC),
        limits=[
            RateLimit(remaining=0, reset_at=datetime(2027, 1, 18, 9, 4, 30, 500000, tzinfo=UTC), limit=300)
        ],
    ),
    Case("500: ambiguous", [Step("POST", STATUSES, respond(500, {"error": "boom"}))], AmbiguousError),
    Case(
        "504: ambiguous",
        [Step("POST", STATUSES, respond(504, text="Gateway Timeout"))],
        expect=AmbiguousError,
    ),
    Case(
        "200 without a status: ambiguous (it may exist)",
        [Step("POST", STATUSES, respond(200, text="<html>maintenance</html>"))],
        expect=AmbiguousError,
    ),
    Case("read timeout: ambiguous", [Step("POST", STATUSES, raising(httpx.ReadTimeout))], AmbiguousError),
    Case(
        "connect error: transient",
        [Step("POST", STATUSES, raising(httpx.ConnectError))],
        expect=TransientError,
    ),
    Case(
        "bad visibility: refused before sending",
        [],
        settings={"visibility": "everyone"},
        expect=PermanentError,
    ),
    Case(
        "plain http instance: refused",
        [],
        settings={"instance": "http://mastodon.example"},
        expect=PermanentError,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    mastodon = adapter(**case.settings)
    # A row that names no rate-limit report expects none.
    checked = replace(case, limits=case.limits if case.limits is not None else [])
    checked.run(mastodon, mastodon.publish(case.part or PART))


VERIFY = f"{BASE}/api/v1/accounts/verify_credentials"
INSTANCE = f"{BASE}/api/v2/instance"
ME = {"id": "14715", "username": "alice", "acct": "alice", "url": f"{BASE}/@alice"}
V2 = {"domain": "mastodon.example", "configuration": {"statuses": {"max_characters": 500}}}


@pytest.mark.parametrize(
    ("settings", "steps", "expected"),
    [
        (
            {},
            [Step("GET", VERIFY, respond(200, ME), headers=AUTH), Step("GET", INSTANCE, respond(200, V2))],
            "@alice@mastodon.example (instance limit 500 characters)",
        ),
        (
            {"limit": 1000},
            [Step("GET", VERIFY, respond(200, ME)), Step("GET", INSTANCE, respond(200, V2))],
            "@alice@mastodon.example (instance limit 500 characters, but the account's limit is 1000)",
        ),
        (
            {},
            [
                Step("GET", VERIFY, respond(200, ME)),
                Step("GET", INSTANCE, respond(404, {"error": "Not found"})),
            ],
            "@alice@mastodon.example",
        ),
    ],
    ids=["reports the instance limit", "warns when the account's limit is too high", "pre-4.0 server"],
)
def test_verify(settings: dict[str, Any], steps: list[Step], expected: str) -> None:
    mastodon = adapter(**settings)
    script = Script(steps)
    assert run_with(script, mastodon.verify(), mastodon) == expected
    script.assert_done()
    assert all(r.method == "GET" for r in script.requests)  # verify never posts


def test_verify_rejected_token() -> None:
    mastodon = adapter()
    with pytest.raises(AuthError, match="The access token is invalid"):
        run_with(
            Script([Step("GET", VERIFY, respond(401, {"error": "The access token is invalid"}))]),
            mastodon.verify(),
            mastodon,
        )


def test_lookup_is_not_offered() -> None:
    assert adapter().lookup(PART) is None
    assert MastodonAdapter.dedup_by_key is True
    assert MastodonAdapter.dedup_window == timedelta(hours=1)


def test_dry_run_marks_server_values() -> None:
    mastodon = adapter()
    recording = Recording()
    first = run_dry(mastodon.publish(PART), mastodon, PART, recording)
    second = run_dry(mastodon.publish(REPLY), mastodon, REPLY, recording)
    assert "dry-run" in first.remote_id and first.url and "dry-run" in first.url
    assert "dry-run" in second.remote_id
    assert [r.url.path for r in recording.requests] == ["/api/v1/statuses", "/api/v1/statuses"]
    assert json.loads(recording.requests[1].content)["in_reply_to_id"] == REPLY.reply_to.remote_id  # type: ignore[union-attr]
    assert run_dry(mastodon.verify(), mastodon, None, Recording()) == (
        "@dry-run@mastodon.example (instance limit 500 characters)"
    )


def test_canary_secret_never_leaks() -> None:
    mastodon = adapter()
    # A misbehaving server that echoes the token back in its error.
    echo = Step("POST", STATUSES, respond(401, {"error": f"The access token {TOKEN} is invalid"}))
    with pytest.raises(AuthError) as info:
        run_with(Script([echo]), mastodon.publish(PART), mastodon)
    assert_hidden(info.value, TOKEN)

    ok = Step("POST", STATUSES, respond(200, status("1")))
    assert TOKEN not in repr(run_with(Script([ok]), mastodon.publish(PART), mastodon))
