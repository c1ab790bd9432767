"""Threads adapter, table-driven over httpx.MockTransport and the real exchange runner.

Shapes follow Meta's documentation: container and publish (https://developers.facebook.com/documentation/threads/posts),
container status (https://developers.facebook.com/docs/threads/troubleshooting), publishing limit
(https://developers.facebook.com/docs/threads/overview/), profile
(https://developers.facebook.com/documentation/threads/threads-profiles) and the Graph error format
(https://developers.facebook.com/docs/graph-api/guides/error-handling).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.threads import ThreadsAdapter
from campaign.errors import (
    AmbiguousError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import Case, drive, echo_is_hidden, exactly, make_account, respond

TOKEN = "canary-threads-token-8e21ab"
USER = "1234567"
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
API = "https://graph.threads.net/v1.0"

PART = Part(post_id="p1", idempotency_key="k" * 32, text="Release 2 is out #OpenSource")


def make_adapter(settings: dict[str, Any] | None = None) -> ThreadsAdapter:
    account = make_account("threads", {"user_id": USER, **(settings or {})}, {"token": TOKEN})
    return ThreadsAdapter(account, clock=lambda: NOW)


def graph(status: int, code: int, message: str, **extra: Any) -> httpx.Response:
    return respond(
        status,
        {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC", **extra}},
    )


CONTAINER = respond(200, {"id": "17889615691921648"})
FINISHED = respond(200, {"status": "FINISHED", "id": "17889615691921648"})
IN_PROGRESS = respond(200, {"status": "IN_PROGRESS", "id": "17889615691921648"})
PUBLISHED = respond(200, {"id": "1234567890"})
RECEIPT = Receipt(remote_id="1234567890", data={"container_id": "17889615691921648"})


def check_flow(sent: list[httpx.Request], outcome: Any) -> None:
    _create, status, publish = sent
    assert (status.method, str(status.url)) == (
        "GET",
        f"{API}/17889615691921648?fields=status%2Cerror_message",
    )
    assert (publish.method, str(publish.url)) == ("POST", f"{API}/{USER}/threads_publish")
    assert parse_qs(publish.content.decode()) == {"creation_id": ["17889615691921648"]}
    for request in sent:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "access_token" not in str(request.url)


CASES = [
    Case("success", [CONTAINER, FINISHED, PUBLISHED], RECEIPT, check=check_flow),
    Case(
        "polls-while-in-progress",
        [CONTAINER, IN_PROGRESS, IN_PROGRESS, FINISHED, PUBLISHED],
        RECEIPT,
        check=lambda s, o: [r.method for r in s] == ["POST", "GET", "GET", "GET", "POST"],
    ),
    Case(
        "gives-up-after-bounded-polls",
        [CONTAINER, IN_PROGRESS, IN_PROGRESS],
        TransientError,
        settings={"status_checks": 2},
        check=lambda s, o: len(s) == 3 and "IN_PROGRESS" in str(o),
    ),
    Case(
        "container-error-is-permanent",
        [CONTAINER, respond(200, {"status": "ERROR", "id": "17889615691921648", "error_message": "UNKNOWN"})],
        PermanentError,
        check=lambda s, o: len(s) == 2 and "UNKNOWN" in str(o),
    ),
    Case(
        "container-expired-is-transient",
        [CONTAINER, respond(200, {"status": "EXPIRED", "id": "1"})],
        TransientError,
    ),
    Case(
        "create-invalid-token-is-auth",
        [graph(400, 190, "Invalid OAuth access token - Cannot parse access token")],
        AuthError,
        check=lambda s, o: len(s) == 1,
    ),
    Case(
        "create-invalid-parameter-is-permanent",
        [graph(400, 100, "Param text must be at most 500 characters")],
        PermanentError,
        check=exactly(PermanentError),
    ),
    Case(
        "publish-limit-is-rate-limited",
        [CONTAINER, FINISHED, graph(400, 4, "Application request limit reached", is_transient=True)],
        RateLimitedError,
    ),
    Case(
        # Graph 368, "temporarily blocked for policies violations": Meta says wait and retry.
        "create-368-temporary-block-is-rate-limited",
        [graph(400, 368, "It looks like you were misusing this feature by going too fast")],
        RateLimitedError,
        check=exactly(RateLimitedError),
    ),
    Case(
        "publish-500-is-ambiguous", [CONTAINER, FINISHED, respond(500, {"message": "oops"})], AmbiguousError
    ),
    Case("publish-without-id-is-ambiguous", [CONTAINER, FINISHED, respond(200, {})], AmbiguousError),
    Case(
        "create-without-id-is-transient",
        [respond(200, {})],
        TransientError,
        check=exactly(TransientError),
    ),
    Case(
        "status-read-failure-is-classified",
        [CONTAINER, respond(503, {"message": "unavailable"})],
        TransientError,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    adapter = make_adapter(case.settings)
    sent, _ = case.run(adapter, adapter.publish(PART))
    create = sent[0]
    assert (create.method, str(create.url)) == ("POST", f"{API}/{USER}/threads")
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert create.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(create.content.decode()) == {"media_type": ["TEXT"], "text": [PART.text]}
    assert len(sent) == len(case.answers)


def test_thread_part_replies_to_previous_media() -> None:
    adapter = make_adapter()
    first = Receipt(remote_id="111", data={"container_id": "c1"})
    part = Part(post_id="p1", idempotency_key="k", text="2/2", index=1, count=2, reply_to=first, root=first)
    sent, outcome = drive(adapter, adapter.publish(part), [CONTAINER, FINISHED, PUBLISHED])
    assert parse_qs(sent[0].content.decode()) == {
        "media_type": ["TEXT"],
        "text": ["2/2"],
        "reply_to_id": ["111"],
    }
    assert outcome == RECEIPT


def test_link_card_is_a_link_attachment() -> None:
    adapter = make_adapter()
    part = Part(
        post_id="p1",
        idempotency_key="k",
        text="Notes",
        link=LinkCard(url="https://example.org/r/2", title="Release 2"),
    )
    sent, _ = drive(adapter, adapter.publish(part), [CONTAINER, FINISHED, PUBLISHED])
    assert parse_qs(sent[0].content.decode()) == {
        "media_type": ["TEXT"],
        "text": ["Notes"],
        "link_attachment": ["https://example.org/r/2"],
    }


def test_default_user_is_me() -> None:
    adapter = ThreadsAdapter(make_account("threads", {}, {"token": TOKEN}), clock=lambda: NOW)
    sent, _ = drive(adapter, adapter.publish(PART), [CONTAINER, FINISHED, PUBLISHED])
    assert str(sent[0].url) == f"{API}/me/threads" and str(sent[2].url) == f"{API}/me/threads_publish"


def test_verify_reports_profile_and_publishing_quota() -> None:
    adapter = make_adapter()
    profile = respond(200, {"id": USER, "username": "threadsapitestuser"})
    limit = respond(
        200, {"data": [{"quota_usage": 4, "config": {"quota_total": 250, "quota_duration": 86400}}]}
    )
    sent, outcome = drive(adapter, adapter.verify(), [profile, limit])
    assert outcome == f"@threadsapitestuser (user id {USER}); 4/250 posts published in the last 24 h"
    assert str(sent[0].url) == f"{API}/{USER}?fields=id%2Cusername"
    assert str(sent[1].url) == f"{API}/{USER}/threads_publishing_limit?fields=quota_usage%2Cconfig"
    _, outcome = drive(adapter, adapter.verify(), [graph(400, 190, "Error validating access token")])
    assert isinstance(outcome, AuthError)


def test_no_lookup_and_rules() -> None:
    assert make_adapter().lookup(PART) is None
    assert ThreadsAdapter.rules.threads is True and ThreadsAdapter.rules.max_hashtags == 1
    assert ThreadsAdapter.rules.limit == 500


def test_dry_run_walks_the_whole_flow_with_placeholders() -> None:
    adapter = make_adapter()
    recording = Recording()
    receipt = run_dry(adapter.publish(PART), adapter, PART, recording)
    assert receipt == Receipt(remote_id="dry-run-media-0", data={"container_id": "dry-run-container-0"})
    assert [(r.method, r.url.path) for r in recording.requests] == [
        ("POST", f"/v1.0/{USER}/threads"),
        ("GET", "/v1.0/dry-run-container-0"),
        ("POST", f"/v1.0/{USER}/threads_publish"),
    ]
    assert "0/250" in run_dry(adapter.verify(), adapter, None, Recording())


def test_canary_never_leaks() -> None:
    adapter = make_adapter()
    echo = graph(400, 100, f"Invalid parameter access_token={TOKEN}")
    echo_is_hidden(adapter, adapter.publish(PART), [echo], PermanentError, TOKEN)
    sent, _ = drive(adapter, adapter.publish(PART), [CONTAINER, FINISHED, PUBLISHED])
    assert all(TOKEN not in str(request.url) for request in sent)  # header only, unlike Meta's examples
