"""Generic JSON webhook adapter: the documented body, signature, classification (docs/platforms/webhook.md).

The signature scheme signs ``"{timestamp}.{body}"`` with HMAC-SHA256, as Stripe's webhook signatures do
(https://docs.stripe.com/webhooks#verify-manually) and Slack's request signing does
(https://api.slack.com/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.webhook import WebhookAdapter, signature, verify_signature
from campaign.errors import (
    AmbiguousError,
    PermanentError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    Case,
    Script,
    Step,
    assert_hidden,
    describe,
    make_account,
    respond,
    run_with,
)

URL = "https://hooks.example.org/campaign"
SECRET = "canary-webhook-signing-key-42"
KEY = "0123456789abcdef0123456789abcdef"
CLOCK = datetime(2027, 1, 18, 9, 0, 0, tzinfo=UTC)
TS = "1800262800"  # CLOCK as Unix seconds
LINK = LinkCard(url="https://example.org/rail", title="New rail line", description="Opening day")
FIRST = Part(
    post_id="rail-launch", idempotency_key=KEY, text="Part one.", count=2, link=LINK, campaign="rail"
)
FIRST_BODY = {
    "id": KEY,
    "campaign": "rail",
    "post": "rail-launch",
    "channel": "webhook",
    "account": "acct",
    "text": "Part one.",
    "part": 1,
    "parts": 2,
    "link": {"url": "https://example.org/rail", "title": "New rail line", "description": "Opening day"},
    "reply_to": None,
    "root": None,
}


def adapter_for(
    settings: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
) -> WebhookAdapter:
    account = make_account(
        "webhook",
        {"url": URL} if settings is None else settings,
        {"secret": SECRET} if secrets is None else secrets,
    )
    return WebhookAdapter(account, clock=lambda: CLOCK)


SECOND = Part(
    post_id="rail-launch",
    idempotency_key="f" * 32,
    text="Part two.",
    index=1,
    count=2,
    reply_to=Receipt("r-1"),
    root=Receipt("r-1"),
    campaign="rail",
)
SECOND_BODY = {
    **FIRST_BODY,
    "id": "f" * 32,
    "text": "Part two.",
    "part": 2,
    "link": None,
    "reply_to": "r-1",
    "root": "r-1",
}


def post(response: httpx.Response, body: dict[str, Any] = FIRST_BODY) -> Step:
    """The signed request a row expects, answered with ``response``."""
    return Step("POST", URL, response, json=body, headers={"X-Campaign-Timestamp": TS})


CASES = [
    Case(
        "receiver answers id and url",
        [post(respond(201, {"id": "r-1", "url": "https://intranet.example/r-1"}))],
        Receipt("r-1", "https://intranet.example/r-1"),
    ),
    Case("empty 204: synthetic id", [post(httpx.Response(204))], Receipt(f"webhook:{KEY}")),
    Case(
        "thread part names the previous and first parts",
        [post(respond(200, {"id": "r-2"}), body=SECOND_BODY)],
        Receipt("r-2"),
        part=SECOND,
    ),
    Case("plain-text 200 is fine", [post(respond(200, text="accepted"))], Receipt(f"webhook:{KEY}")),
    Case(
        "broken JSON with a JSON content type is ambiguous",
        [post(httpx.Response(200, content=b"{oops", headers={"Content-Type": "application/json"}))],
        AmbiguousError,
    ),
    Case("422 is permanent", [post(respond(422, {"error": "text too long"}))], PermanentError),
    Case("500 is ambiguous", [post(respond(500, text="oops"))], AmbiguousError),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_publish(case: Case) -> None:
    adapter = adapter_for()
    part = case.part or FIRST
    (request,), _ = case.run(adapter, adapter.publish(part))
    assert request.headers["Idempotency-Key"] == part.idempotency_key
    expected = hmac.new(SECRET.encode(), TS.encode() + b"." + request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Campaign-Signature"] == f"sha256={expected}"


def test_signature_round_trip_and_tampering() -> None:
    body = json.dumps(FIRST_BODY).encode()
    header = signature(SECRET, int(TS), body)
    assert verify_signature(SECRET, TS, body, header)
    assert not verify_signature(SECRET, str(int(TS) + 1), body, header)
    assert not verify_signature(SECRET, TS, body + b" ", header)
    assert not verify_signature("other", TS, body, header)
    assert not verify_signature(SECRET, "not-a-number", body, header)


def test_requests_are_reproducible_with_the_injected_clock() -> None:
    one, two = Recording(), Recording()
    run_dry(adapter_for().publish(FIRST), adapter_for(), FIRST, one)
    run_dry(adapter_for().publish(FIRST), adapter_for(), FIRST, two)
    assert one.requests[0].content == two.requests[0].content
    assert one.requests[0].headers["X-Campaign-Signature"] == two.requests[0].headers["X-Campaign-Signature"]


def test_unsigned_without_secret_and_secret_url_credential() -> None:
    hidden = "https://hooks.example.org/canary-secret-path-77"
    adapter = adapter_for(settings={}, secrets={"webhook_url": hidden})
    script = Script([Step("POST", hidden, respond(200, {"id": "x"}), json=FIRST_BODY)])
    assert run_with(script, adapter.publish(FIRST), adapter) == Receipt("x")
    assert "X-Campaign-Signature" not in script.requests[0].headers
    described = describe(adapter, script.requests[0])
    assert described["url"] == "[REDACTED]"


def test_deduplicates_is_per_account() -> None:
    assert WebhookAdapter.dedup_by_key is False
    assert adapter_for().deduplicates is False
    assert adapter_for(settings={"url": URL, "deduplicates": True}).deduplicates is True
    assert adapter_for(settings={"url": URL, "deduplicates": "true"}).deduplicates is True


def test_missing_url_is_a_permanent_config_error() -> None:
    with pytest.raises(PermanentError, match="'url'"):
        run_with(Script([]), adapter_for(settings={}).publish(FIRST), adapter_for(settings={}))


def test_verify_with_and_without_verify_url() -> None:
    adapter = adapter_for()
    script = Script([])
    assert run_with(script, adapter.verify(), adapter).startswith("not verified")
    assert script.requests == []
    checked = adapter_for(settings={"url": URL, "verify_url": "https://hooks.example.org/health"})
    script = Script(
        [
            Step(
                "GET",
                "https://hooks.example.org/health",
                respond(200, {}),
                headers={"X-Campaign-Timestamp": TS},
            )
        ]
    )
    assert run_with(script, checked.verify(), checked) == "receiver at hooks.example.org answered HTTP 200"
    assert verify_signature(SECRET, TS, b"", script.requests[0].headers["X-Campaign-Signature"])


def test_canary_secret_never_leaks() -> None:
    adapter = adapter_for()
    recording = Recording()
    receipt = run_dry(adapter.publish(FIRST), adapter, FIRST, recording)
    assert receipt.remote_id == f"dry-run-{KEY}"
    echo = respond(400, {"error": f"bad key {SECRET}"})
    with pytest.raises(PermanentError) as info:
        run_with(Script([Step("POST", URL, echo)]), adapter.publish(FIRST), adapter)
    assert_hidden(info.value, SECRET)
