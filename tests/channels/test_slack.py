"""Slack incoming-webhook adapter, table-driven through httpx.MockTransport and campaign.http.exchange.run.

Shapes: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks (JSON ``text``,
``unfurl_links``; success is ``200 ok``), error strings and statuses from
https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks, and 429 with
``Retry-After`` from https://api.slack.com/docs/rate-limits.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.channels.slack import SlackAdapter, escape_text
from campaign.errors import AmbiguousError, AuthError, ChannelError, PermanentError
from campaign.http.exchange import Recording, run_dry
from tests.helpers.channels import (
    Case,
    Script,
    Step,
    describe,
    make_account,
    raising,
    respond,
    run_with,
)

HOOK = "https://hooks.slack.com/services/T0CANARY/B0CANARY/canarySlackSecret123"
TEXT = "Our new rail line opens on 18 January. https://example.org/rail"
LINK = LinkCard(url="https://example.org/rail", title="New rail line")
KEY = "0123456789abcdef0123456789abcdef"
PART = Part(post_id="p1", idempotency_key=KEY, text=TEXT, link=LINK)
OK = Receipt(remote_id=f"slack:{KEY}", url=None)


def post(response: httpx.Response, body: dict[str, Any] | None = None) -> Step:
    """The webhook request a row expects (by default the featured part's), answered with ``response``."""
    return Step("POST", HOOK, response, json=body or {"text": TEXT, "unfurl_links": True})


CASES = [
    Case("posted: 200 ok", [post(respond(200, text="ok"))], OK),
    Case(
        "no link: plain text only",
        [post(respond(200, text="ok"), body={"text": "Plain."})],
        OK,
        part=Part(post_id="p1", idempotency_key=KEY, text="Plain."),
    ),
    Case(
        "unfurl_links setting wins",
        [post(respond(200, text="ok"), body={"text": TEXT, "unfurl_links": False})],
        OK,
        settings={"unfurl_links": "false"},
    ),
    Case(
        "invalid_payload is permanent",
        [post(respond(400, text="invalid_payload"))],
        PermanentError,
        check=lambda sent, e: e.platform_message == "invalid_payload",
    ),
    Case("no_text is permanent", [post(respond(400, text="no_text"))], PermanentError),
    Case(
        "action_prohibited is permanent (not auth)",
        [post(respond(403, text="action_prohibited"))],
        PermanentError,
    ),
    Case("invalid_token: the URL is dead", [post(respond(403, text="invalid_token"))], AuthError),
    Case("no_service: the webhook was removed", [post(respond(404, text="no_service"))], AuthError),
    Case("channel_not_found is permanent", [post(respond(404, text="channel_not_found"))], PermanentError),
    Case(
        "channel_is_archived (410) is permanent",
        [post(respond(410, text="channel_is_archived"))],
        PermanentError,
    ),
    Case(
        "posting_to_general_channel_denied is permanent",
        [post(respond(403, text="posting_to_general_channel_denied"))],
        PermanentError,
    ),
    Case("rollup_error (500) may have posted", [post(respond(500, text="rollup_error"))], AmbiguousError),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_publish(case: Case) -> None:
    adapter = SlackAdapter(make_account("slack", case.settings, {"webhook_url": HOOK}))
    _, result = case.run(adapter, adapter.publish(case.part or PART))
    if isinstance(result, ChannelError):
        assert HOOK not in str(result)


def test_thread_parts_are_refused_by_rules() -> None:
    # Incoming webhooks return no message timestamp, so nothing can be threaded: the fitter must not split.
    assert SlackAdapter.rules.threads is False


def test_verify_sends_nothing() -> None:
    adapter = SlackAdapter(make_account("slack", {}, {"webhook_url": HOOK}))
    script = Script([])
    note = run_with(script, adapter.verify(), adapter)
    assert note.startswith("not verified") and "hooks.slack.com" in note and HOOK not in note
    assert script.requests == []


def test_dry_run_and_placeholder_credentials() -> None:
    adapter = SlackAdapter(make_account("slack", {}, {"webhook_url": HOOK}))
    recording = Recording()
    assert run_dry(adapter.publish(PART), adapter, PART, recording) == OK
    assert recording.responses[0].text == "ok"
    # A preview without the environment: the placeholder credential becomes a "dry-run" URL.
    cfg_account = make_account("slack", {}, {"webhook_url": "<SLACK_HOOK>"})
    placeholder = SlackAdapter(cfg_account)
    recording = Recording()
    run_dry(placeholder.publish(PART), placeholder, PART, recording)
    assert str(recording.requests[0].url) == "https://hooks.slack.com/services/dry-run"


def test_non_canonical_url_is_refused_without_echo() -> None:
    upper = "https://HOOKS.slack.com/services/T0/B0/canarySlackSecret123"
    adapter = SlackAdapter(make_account("slack", {}, {"webhook_url": upper}))
    with pytest.raises(PermanentError) as info:
        run_with(Script([]), adapter.publish(PART), adapter)
    assert "lower case" in str(info.value) and "canarySlackSecret123" not in str(info.value)


def test_canary_url_never_leaks() -> None:
    adapter = SlackAdapter(make_account("slack", {}, {"webhook_url": HOOK}))
    with pytest.raises(AmbiguousError) as info:
        run_with(Script([Step("POST", HOOK, raising(httpx.ReadError))]), adapter.publish(PART), adapter)
    assert "canarySlackSecret123" not in str(info.value)
    recording = Recording()
    run_dry(adapter.publish(PART), adapter, PART, recording)
    described = describe(adapter, recording.requests[0])
    assert described["url"] == "[REDACTED]"


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("R&D: 5 > 3 < 4", "R&amp;D: 5 &gt; 3 &lt; 4"),
        ("<!channel> <@U123> <#C1> <b>", "&lt;!channel&gt; &lt;@U123&gt; &lt;#C1&gt; &lt;b&gt;"),
        ("already &amp; escaped", "already &amp;amp; escaped"),  # shows the text as written
        (
            "see <https://example.org/a?b=1&c=2|Docs & notes> or https://example.org/?x=1&y=2",
            "see <https://example.org/a?b=1&amp;c=2|Docs &amp; notes> or https://example.org/?x=1&amp;y=2",
        ),
        ("<https://example.org> <mailto:a@example.org>", "<https://example.org> <mailto:a@example.org>"),
        ("<https://example.org/with space>", "&lt;https://example.org/with space&gt;"),
    ],
)
def test_text_is_escaped_for_mrkdwn(text: str, sent: str) -> None:
    # https://api.slack.com/reference/surfaces/formatting#escaping: & < > are control characters.
    assert escape_text(text) == sent
    adapter = SlackAdapter(make_account("slack", {}, {"webhook_url": HOOK}))
    part = Part(post_id="p1", idempotency_key=KEY, text=text)
    script = Script([post(respond(200, text="ok"), body={"text": sent})])
    assert run_with(script, adapter.publish(part), adapter) == OK
