"""Bluesky adapter, table-driven over httpx.MockTransport and the real exchange runner.

Request and response shapes follow the AT Protocol documentation and the reference PDS:
https://docs.bsky.app/docs/api/com-atproto-server-create-session (and refresh-session, get-session),
https://docs.bsky.app/docs/api/com-atproto-repo-create-record, .../com-atproto-repo-get-record,
https://docs.bsky.app/docs/api/com-atproto-identity-resolve-handle,
https://docs.bsky.app/docs/advanced-guides/post-richtext (facets: UTF-8 byte offsets),
https://docs.bsky.app/docs/advanced-guides/rate-limits (RateLimit-* headers, epoch-seconds reset),
https://atproto.com/specs/xrpc (error bodies {"error", "message"}). The error names and statuses for an
expired token (400 ExpiredToken), a taken record key (500 InternalServerError) and a missing record
(400 RecordNotFound) are what @atproto/pds 0.4.217 answers (see tests/test_bluesky_pds.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, RateLimit, Receipt
from campaign.channels.bluesky import BlueskyAdapter
from campaign.channels.tid import is_valid
from campaign.errors import (
    AmbiguousError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    NOW,
    Case,
    Script,
    Step,
    assert_hidden,
    make_account,
    raising,
    respond,
    run_with,
)

PASSWORD = "canary-bsky-app-password-93c1"
SERVICE = "https://pds.example"
HANDLE = "alice.test"
DID = "did:plc:alice1234567890abcdefghij"
XRPC = f"{SERVICE}/xrpc"
CREATE_SESSION = f"{XRPC}/com.atproto.server.createSession"
REFRESH_SESSION = f"{XRPC}/com.atproto.server.refreshSession"
GET_SESSION = f"{XRPC}/com.atproto.server.getSession"
RESOLVE = f"{XRPC}/com.atproto.identity.resolveHandle"
CREATE = f"{XRPC}/com.atproto.repo.createRecord"
GET_RECORD = f"{XRPC}/com.atproto.repo.getRecord"

KEY = "0f" * 16
RKEY = "3jlaja67zy7uq"  # tid_for_key(KEY), pinned so a change of derivation is noticed
REPLY_KEY = "1a" * 16
REPLY_RKEY = "3khmbm7pwrptq"
URI = f"at://{DID}/app.bsky.feed.post/{RKEY}"
CID = "bafyreigq3exe2m23sojzoachuyucow4vu7eyatati4uy6scr4ixt6xwlhi"
REPLY_URI = f"at://{DID}/app.bsky.feed.post/{REPLY_RKEY}"
REPLY_CID = "bafyreield5rs4vpwx3ebwf2swzsxfdzjhz2fwzd2crj6ijjhx7hw32zlua"
CREATED_AT = "2027-01-18T09:00:00.000Z"  # NOW as the record writes it

# ü and ß take two UTF-8 bytes each, so byte offsets differ from character offsets from the start on.
TEXT = "Grüße aus Hongkong! #OpenData https://example.org/launch mit @bob.test ✨"
TAG = {
    "index": {"byteStart": 22, "byteEnd": 31},
    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "OpenData"}],
}
LINK = {
    "index": {"byteStart": 32, "byteEnd": 58},
    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/launch"}],
}
MENTION = {
    "index": {"byteStart": 63, "byteEnd": 72},
    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}],
}
CARD = LinkCard(url="https://example.org/launch", title="Launch", description="What we launch today")
EMBED = {
    "$type": "app.bsky.embed.external",
    "external": {"uri": CARD.url, "title": CARD.title, "description": CARD.description},
}
PART = Part(post_id="p1", idempotency_key=KEY, text=TEXT, link=CARD)
FIRST = Receipt(URI, f"https://bsky.app/profile/{HANDLE}/post/{RKEY}", {"uri": URI, "cid": CID})
REPLY = Part(
    post_id="p1", idempotency_key=REPLY_KEY, text="Part two.", index=1, count=2, reply_to=FIRST, root=FIRST
)

SESSION = {"accessJwt": "access-1", "refreshJwt": "refresh-1", "handle": HANDLE, "did": DID, "active": True}
SESSION_2 = {**SESSION, "accessJwt": "access-2", "refreshJwt": "refresh-2"}


def adapter(**settings: Any) -> BlueskyAdapter:
    account = make_account(
        "bluesky",
        {"service": SERVICE, "handle": HANDLE, **settings},
        {"app_password": PASSWORD},
        name="main_bsky",
    )
    return BlueskyAdapter(account, clock=lambda: NOW)


def login(response: httpx.Response | None = None) -> Step:
    return Step(
        "POST",
        CREATE_SESSION,
        response or respond(200, SESSION),
        json={"identifier": HANDLE, "password": PASSWORD},
    )


def resolve_bob(response: httpx.Response | None = None) -> Step:
    return Step(
        "GET", RESOLVE, response or respond(200, {"did": "did:plc:bob"}), params={"handle": "bob.test"}
    )


def record(**extra: Any) -> dict[str, Any]:
    return {
        "$type": "app.bsky.feed.post",
        "text": TEXT,
        "createdAt": CREATED_AT,
        "facets": [TAG, LINK, MENTION],
        "embed": EMBED,
        **extra,
    }


def create_body(post: dict[str, Any], rkey: str = RKEY) -> dict[str, Any]:
    """The createRecord input that stores ``post`` under ``rkey`` in the account's repository."""
    return {"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey, "record": post}


def create(response: httpx.Response | None = None, *, token: str = "access-1", body: Any = None) -> Step:
    return Step(
        "POST",
        CREATE,
        response
        or respond(200, {"uri": URI, "cid": CID, "commit": {"cid": "bafy-commit", "rev": "3n33oj46vmk26"}}),
        json=body or create_body(record()),
        headers={"Authorization": f"Bearer {token}"},
    )


def get_record(response: httpx.Response, rkey: str = RKEY, repo: str = DID) -> Step:
    return Step(
        "GET", GET_RECORD, response, params={"repo": repo, "collection": "app.bsky.feed.post", "rkey": rkey}
    )


def xrpc_error(
    status: int, error: str, message: str = "", headers: dict[str, str] | None = None
) -> httpx.Response:
    return respond(status, {"error": error, "message": message} if message else {"error": error}, headers)


NOT_FOUND = xrpc_error(400, "RecordNotFound", f"Could not locate record: {URI}")
TAKEN = xrpc_error(500, "InternalServerError", "Internal Server Error")
RESET = 1_800_000_000  # epoch seconds (2027-01-15T08:00:00Z)
RATE_HEADERS = {
    "RateLimit-Limit": "5000",
    "RateLimit-Remaining": "4997",
    "RateLimit-Reset": str(RESET),
    "RateLimit-Policy": "5000;w=3600",
}


CASES = [
    Case(
        "first post: resolve mention, log in, create record with facets and card",
        [resolve_bob(), login(), create()],
        expect=FIRST,
    ),
    Case(
        "language setting adds langs",
        [
            resolve_bob(),
            login(),
            create(body=create_body(record(langs=["de"]))),
        ],
        settings={"language": "de"},
        expect=FIRST,
    ),
    Case(
        "unresolvable mention stays plain text",
        [
            resolve_bob(xrpc_error(400, "InvalidRequest", "Unable to resolve handle")),
            login(),
            create(body=create_body(record(facets=[TAG, LINK]))),
        ],
        expect=FIRST,
    ),
    Case(
        "wrong app password: auth error",
        [resolve_bob(), login(xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password"))],
        expect=AuthError,
        message="createSession: HTTP 401 AuthenticationRequired: Invalid identifier or password",
    ),
    Case(
        "login 500: transient (nothing can have been posted)",
        [resolve_bob(), login(xrpc_error(500, "InternalServerError", "Internal Server Error"))],
        expect=TransientError,
    ),
    Case(
        "invalid record: permanent, after checking the key is free",
        [
            resolve_bob(),
            login(),
            create(
                xrpc_error(
                    400,
                    "InvalidRequest",
                    "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
                )
            ),
            get_record(NOT_FOUND),
        ],
        expect=PermanentError,
        message="must not be longer than 300 graphemes",
    ),
    Case(
        "key taken by this very post (a retry): success with the stored record",
        [
            resolve_bob(),
            login(),
            create(TAKEN),
            get_record(respond(200, {"uri": URI, "cid": CID, "value": record()})),
        ],
        expect=FIRST,
    ),
    Case(
        # The getRecord lexicon makes cid optional: a record found without one is still this post.
        "key taken by this very post, stored record without cid: success",
        [
            resolve_bob(),
            login(),
            create(TAKEN),
            get_record(respond(200, {"uri": URI, "value": record()})),
        ],
        expect=Receipt(URI, FIRST.url, {"uri": URI}),
    ),
    Case(
        "key taken by other text: permanent",
        [
            resolve_bob(),
            login(),
            create(TAKEN),
            get_record(respond(200, {"uri": URI, "cid": CID, "value": record(text="Something else")})),
        ],
        expect=PermanentError,
        message="already holds a different post",
    ),
    Case(
        "500 and nothing stored: ambiguous",
        [resolve_bob(), login(), create(TAKEN), get_record(NOT_FOUND)],
        expect=AmbiguousError,
    ),
    Case(
        "502 and nothing stored: transient",
        [resolve_bob(), login(), create(respond(502, text="Bad Gateway")), get_record(NOT_FOUND)],
        expect=TransientError,
    ),
    Case(
        "429 RateLimitExceeded: wait until RateLimit-Reset, no read-back",
        [
            resolve_bob(),
            login(),
            create(
                xrpc_error(
                    429,
                    "RateLimitExceeded",
                    "Rate Limit Exceeded",
                    {**RATE_HEADERS, "RateLimit-Remaining": "0"},
                )
            ),
        ],
        expect=RateLimitedError,
        retry_at=datetime.fromtimestamp(RESET, UTC),
    ),
    Case(
        "success reports the RateLimit-* budget",
        [resolve_bob(), login(), create(respond(200, {"uri": URI, "cid": CID}, RATE_HEADERS))],
        limits=[RateLimit(remaining=4997, reset_at=datetime.fromtimestamp(RESET, UTC), limit=5000)],
        expect=FIRST,
    ),
    Case(
        "read timeout on create: ambiguous (a retry reuses the key)",
        [resolve_bob(), login(), create(raising(httpx.ReadTimeout))],
        expect=AmbiguousError,
    ),
    Case(
        "plain http service: refused", [], settings={"service": "http://pds.example"}, expect=PermanentError
    ),
]

#: Rows that start with a session cached by an earlier login.
CACHED_SESSION_CASES = [
    Case(
        "thread part replies to root and parent with the cached session",
        [
            create(
                respond(200, {"uri": REPLY_URI, "cid": REPLY_CID}),
                body=create_body(
                    {
                        "$type": "app.bsky.feed.post",
                        "text": "Part two.",
                        "createdAt": CREATED_AT,
                        "reply": {"root": {"uri": URI, "cid": CID}, "parent": {"uri": URI, "cid": CID}},
                    },
                    REPLY_RKEY,
                ),
            )
        ],
        part=REPLY,
        expect=Receipt(
            REPLY_URI,
            f"https://bsky.app/profile/{HANDLE}/post/{REPLY_RKEY}",
            {"uri": REPLY_URI, "cid": REPLY_CID},
        ),
    ),
    Case(
        "expired access token: refresh once and resend",
        [
            resolve_bob(),
            create(xrpc_error(400, "ExpiredToken", "Token has expired")),
            Step(
                "POST",
                REFRESH_SESSION,
                respond(200, SESSION_2),
                headers={"Authorization": "Bearer refresh-1"},
            ),
            create(token="access-2"),
        ],
        expect=FIRST,
    ),
    Case(
        "refresh refused: log in again once",
        [
            resolve_bob(),
            create(xrpc_error(400, "ExpiredToken", "Token has expired")),
            Step("POST", REFRESH_SESSION, xrpc_error(400, "ExpiredToken", "Token has expired")),
            login(respond(200, SESSION_2)),
            create(token="access-2"),
        ],
        expect=FIRST,
    ),
    Case(
        "refresh refused and login refused: auth error",
        [
            resolve_bob(),
            create(xrpc_error(400, "ExpiredToken", "Token has expired")),
            Step("POST", REFRESH_SESSION, xrpc_error(400, "ExpiredToken", "Token has expired")),
            login(xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")),
        ],
        expect=AuthError,
        message="Invalid identifier or password",
    ),
    Case(
        "invalid cached token: log in again (no refresh)",
        [
            resolve_bob(),
            create(xrpc_error(400, "InvalidToken", "Token could not be verified")),
            login(respond(200, SESSION_2)),
            create(token="access-2"),
        ],
        expect=FIRST,
    ),
    Case(
        "still expired after refresh: auth error, no loop",
        [
            resolve_bob(),
            create(xrpc_error(400, "ExpiredToken", "Token has expired")),
            Step("POST", REFRESH_SESSION, respond(200, SESSION_2)),
            create(xrpc_error(400, "ExpiredToken", "Token has expired"), token="access-2"),
        ],
        expect=AuthError,
        message="ExpiredToken",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_publish(case: Case) -> None:
    bsky = adapter(**case.settings)
    case.run(bsky, bsky.publish(case.part or PART))


@pytest.mark.parametrize("case", CACHED_SESSION_CASES, ids=[c.id for c in CACHED_SESSION_CASES])
def test_publish_with_a_cached_session(case: Case) -> None:
    bsky = adapter(**case.settings)
    assert run_with(Script([login()]), bsky.verify(), bsky) == f"@{HANDLE} ({DID})"
    case.run(bsky, bsky.publish(case.part or PART))


def test_record_keys_are_deterministic_tids() -> None:
    bsky = adapter()
    assert (
        bsky.record_key(PART)
        == RKEY
        == bsky.record_key(Part(post_id="x", idempotency_key=KEY, text="edited"))
    )
    assert bsky.record_key(REPLY) == REPLY_RKEY
    assert is_valid(RKEY) and is_valid(REPLY_RKEY)


def test_mention_dids_are_resolved_once_per_adapter() -> None:
    bsky = adapter()
    run_with(Script([resolve_bob(), login(), create()]), bsky.publish(PART), bsky)
    # Second post with the same mention: no resolveHandle, no login.
    second = Part(post_id="p2", idempotency_key=KEY, text=TEXT, link=CARD)
    run_with(Script([create()]), bsky.publish(second), bsky)


def test_reply_without_strong_ref_is_refused() -> None:
    bsky = adapter()
    orphan = Part(
        post_id="p1",
        idempotency_key=REPLY_KEY,
        text="Part two.",
        index=1,
        count=2,
        reply_to=Receipt("at://x", None, {}),
    )
    with pytest.raises(PermanentError, match="no uri and cid"):
        run_with(Script([]), bsky.publish(orphan), bsky)


@pytest.mark.parametrize(
    ("primed", "steps", "expected"),
    [
        (False, [get_record(respond(200, {"uri": URI, "cid": CID, "value": record()}), repo=HANDLE)], FIRST),
        (True, [get_record(respond(200, {"uri": URI, "cid": CID, "value": record()}))], FIRST),
        (False, [get_record(NOT_FOUND, repo=HANDLE)], None),
        (
            False,
            [get_record(respond(200, {"uri": URI, "value": record()}), repo=HANDLE)],
            Receipt(URI, FIRST.url, {"uri": URI}),
        ),
    ],
    ids=["found by handle", "found by DID with a session", "absent", "found without the optional cid"],
)
def test_lookup(primed: bool, steps: list[Step], expected: Receipt | None) -> None:
    bsky = adapter()
    if primed:
        run_with(Script([login()]), bsky.verify(), bsky)
    exchange = bsky.lookup(PART)
    assert exchange is not None
    script = Script(steps)
    assert run_with(script, exchange, bsky) == expected
    script.assert_done()


def test_lookup_failure_is_classified() -> None:
    bsky = adapter()
    exchange = bsky.lookup(PART)
    assert exchange is not None
    with pytest.raises(TransientError):
        run_with(Script([get_record(respond(503, text="unavailable"), repo=HANDLE)]), exchange, bsky)


def test_verify_uses_the_cached_session() -> None:
    bsky = adapter()
    assert run_with(Script([login()]), bsky.verify(), bsky) == f"@{HANDLE} ({DID})"
    script = Script(
        [
            Step(
                "GET",
                GET_SESSION,
                respond(200, {"handle": HANDLE, "did": DID}),
                headers={"Authorization": "Bearer access-1"},
            )
        ]
    )
    assert run_with(script, bsky.verify(), bsky) == f"@{HANDLE} ({DID})"
    script.assert_done()


def test_dry_run_thread_marks_server_values() -> None:
    bsky = adapter()
    recording = Recording()
    first = run_dry(bsky.publish(PART), bsky, PART, recording)
    second_part = Part(
        post_id="p1",
        idempotency_key=REPLY_KEY,
        text="Part two.",
        index=1,
        count=2,
        reply_to=first,
        root=first,
    )
    second = run_dry(bsky.publish(second_part), bsky, second_part, recording)
    assert first.remote_id == f"at://did:plc:dry-run/app.bsky.feed.post/{RKEY}"
    assert "dry-run" in first.data["cid"] and "dry-run" in second.data["cid"]
    paths = [r.url.path.rsplit("/", 1)[-1] for r in recording.requests]
    assert paths == [
        "com.atproto.identity.resolveHandle",
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
        "com.atproto.repo.createRecord",
    ]
    reply = json.loads(recording.requests[-1].content)["record"]["reply"]
    assert reply == {
        "root": {"uri": first.remote_id, "cid": first.data["cid"]},
        "parent": {"uri": first.remote_id, "cid": first.data["cid"]},
    }


def test_canary_secret_never_leaks() -> None:
    bsky = adapter()
    # A misbehaving server that echoes the password back in its error.
    echo = login(xrpc_error(401, "AuthenticationRequired", f"bad password {PASSWORD}"))
    with pytest.raises(AuthError) as info:
        run_with(Script([resolve_bob(), echo]), bsky.publish(PART), bsky)
    assert_hidden(info.value, PASSWORD)

    fresh = adapter()
    real = run_with(Script([resolve_bob(), login(), create()]), fresh.publish(PART), fresh)
    assert PASSWORD not in repr(real) and "access-1" not in repr(real)
    assert "access-1" not in repr(fresh._session)


def test_session_tokens_are_redacted_and_renewals_keep_the_set_bounded() -> None:
    """The JWTs a PDS issues are secrets like the app password. Sessions are renewed for as long as a
    daemon runs; only the current tokens and the last few replaced are held for redaction."""
    from campaign import secrets

    bsky = adapter()
    run_with(Script([login()]), bsky.verify(), bsky)
    assert secrets.redact_resolved("Bearer access-1, refresh-1") == "Bearer [REDACTED], [REDACTED]"
    for i in range(2, 40):
        session = {**SESSION, "accessJwt": f"jwt-access-canary-{i}", "refreshJwt": f"jwt-refresh-canary-{i}"}
        previous = "Bearer " + ("refresh-1" if i == 2 else f"jwt-refresh-canary-{i - 1}")
        script = Script(
            [
                Step("GET", GET_SESSION, xrpc_error(400, "ExpiredToken", "Token has expired")),
                Step("POST", REFRESH_SESSION, respond(200, session), headers={"Authorization": previous}),
                Step("GET", GET_SESSION, respond(200, {"handle": HANDLE, "did": DID})),
            ]
        )
        assert run_with(script, bsky.verify(), bsky) == f"@{HANDLE} ({DID})"
        script.assert_done()
        assert f"jwt-access-canary-{i}" not in secrets.redact_resolved(f"Bearer jwt-access-canary-{i}")
    kept = secrets.SUPERSEDED_KEPT + 1  # per token: the current one and the last ones it replaced
    assert len(bsky.account.credentials.known_values()) == 1 + 2 * kept  # and the app password
    assert not {"jwt-access-canary-10", "jwt-refresh-canary-36"} & secrets._RESOLVED.keys()
    assert {"jwt-access-canary-37", "jwt-refresh-canary-39"} <= secrets._RESOLVED.keys()
