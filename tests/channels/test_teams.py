"""Microsoft Teams (Workflows webhook) adapter, table-driven through httpx.MockTransport.

Shapes: the message-with-Adaptive-Card-attachment body of
https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using,
the card elements of https://learn.microsoft.com/adaptive-cards/schema-explorer/action-open-url, the
``202 Accepted`` empty answer of a Workflows trigger, and the ~28 KB message limit of
https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.teams import TeamsAdapter
from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
)
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    Case,
    Script,
    Step,
    describe,
    make_account,
    respond,
    run_with,
)

SIG = "canaryTeamsSig_0123456789"
HOOK = (
    "https://prod-12.westeurope.logic.azure.com/workflows/abc123/triggers/manual/paths/invoke"
    f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
)
KEY = "0123456789abcdef0123456789abcdef"
LINK = LinkCard(url="https://example.org/rail", title="Read the release", description="Opening day details")
PART = Part(post_id="p1", idempotency_key=KEY, text="Our new rail line opens on 18 January.", link=LINK)
RECEIPT = Receipt(remote_id=f"teams:{KEY}", url=None)


def envelope(card_body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
    }
    if actions is not None:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


WITH_LINK = envelope(
    [
        {"type": "TextBlock", "text": PART.text, "wrap": True},
        {"type": "TextBlock", "text": "Opening day details", "wrap": True, "isSubtle": True},
    ],
    [{"type": "Action.OpenUrl", "title": "Read the release", "url": "https://example.org/rail"}],
)


def post(response: httpx.Response) -> Step:
    """The card request every row expects, answered with ``response``."""
    return Step("POST", HOOK, response, json=WITH_LINK)


CASES = [
    Case("202 Accepted, empty body", [post(httpx.Response(202))], RECEIPT),
    Case("200 from a flow that answers explicitly", [post(respond(200, text=""))], RECEIPT),
    Case(
        "400 bad card is permanent",
        [
            post(
                respond(
                    400,
                    {"error": {"code": "InvalidBotAdaptiveCard", "message": "card is missing or invalid"}},
                )
            )
        ],
        PermanentError,
    ),
    Case(
        "401 is an auth error",
        [
            post(
                respond(
                    401,
                    {
                        "error": {
                            "code": "DirectApiAuthorizationRequired",
                            "message": "authorization required",
                        }
                    },
                )
            )
        ],
        AuthError,
    ),
    Case(
        "404 flow deleted is permanent",
        [post(respond(404, {"error": {"code": "WorkflowNotFound", "message": "not found"}}))],
        PermanentError,
    ),
    Case("413 too large is permanent", [post(respond(413, text="Request Entity Too Large"))], PermanentError),
    Case(
        "504 may have run the flow: ambiguous", [post(respond(504, text="Gateway Timeout"))], AmbiguousError
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_publish(case: Case) -> None:
    adapter = TeamsAdapter(make_account("teams", case.settings, {"webhook_url": HOOK}))
    _, result = case.run(adapter, adapter.publish(case.part or PART))
    if isinstance(result, ChannelError):
        assert SIG not in str(result)


def test_plain_part_has_no_actions() -> None:
    adapter = TeamsAdapter(make_account("teams", {}, {"webhook_url": HOOK}))
    plain = Part(post_id="p1", idempotency_key=KEY, text="Plain.")
    script = Script(
        [
            Step(
                "POST",
                HOOK,
                httpx.Response(202),
                json=envelope([{"type": "TextBlock", "text": "Plain.", "wrap": True}]),
            )
        ]
    )
    assert run_with(script, adapter.publish(plain), adapter) == RECEIPT


def test_oversized_message_is_refused_before_sending() -> None:
    adapter = TeamsAdapter(make_account("teams", {}, {"webhook_url": HOOK}))
    big = Part(post_id="p1", idempotency_key=KEY, text="é" * 14500)  # 29,000 bytes of text
    script = Script([])
    with pytest.raises(PermanentError, match="28000"):
        run_with(script, adapter.publish(big), adapter)
    assert script.requests == []
    assert not TeamsAdapter.rules.fits("é" * 14500) and TeamsAdapter.rules.fits("é" * 12000)


def test_logic_app_urls_with_default_port_are_refused_with_a_hint() -> None:
    with_port = HOOK.replace(".com/", ".com:443/", 1)
    adapter = TeamsAdapter(make_account("teams", {}, {"webhook_url": with_port}))
    with pytest.raises(PermanentError, match="':443'") as info:
        run_with(Script([]), adapter.publish(PART), adapter)
    assert SIG not in str(info.value)


def test_verify_sends_nothing_and_dry_run_canary() -> None:
    adapter = TeamsAdapter(make_account("teams", {}, {"webhook_url": HOOK}))
    script = Script([])
    note = run_with(script, adapter.verify(), adapter)
    assert note.startswith("not verified") and SIG not in note and script.requests == []
    recording = Recording()
    receipt = run_dry(adapter.publish(PART), adapter, PART, recording)
    assert receipt == RECEIPT and recording.responses[0].status_code == 202
    described = describe(adapter, recording.requests[0])
    assert SIG not in repr(described) and described["url"] == "[REDACTED]"
    assert described["body"] == WITH_LINK
