"""Microsoft Teams adapter: post an Adaptive Card through a Workflows (Power Automate) webhook.

Office 365 connectors (the old "Incoming Webhook") are being retired; Teams now receives webhooks through
the Workflows app's "When a Teams webhook request is received" trigger, used by the template "Post to a
channel when a webhook request is received". Facts relied on (sources in docs/platforms/teams.md):

- The body is a message with Adaptive Card attachments: ``{"type": "message", "attachments":
  [{"contentType": "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``; Workflows
  accept Adaptive Cards only, not the old MessageCard
  (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
- The flow answers ``202 Accepted`` with an empty body (the card is posted asynchronously), so there is no
  message id (https://github.com/Skitionek/notify-microsoft-teams/issues/98).
- A posted message may be about 28 KB; larger ones fail with "request entity too large" / HTTP 413
  (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations).
- Teams renders Adaptive Cards up to schema 1.5; 1.4 is used for the widest client support
  (https://learn.microsoft.com/en-us/microsoft-copilot-studio/guidance/adaptive-cards-overview).
- Webhook senders are throttled above about four requests per second, answered with 429
  (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from campaign.channels.base import Adapter, Exchange, Part, Receipt, SampleAccount
from campaign.channels.helpers import secret_url, sent_nothing
from campaign.channels.upload_media import public_urls
from campaign.errors import PermanentError
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.text import counting
from campaign.text.rules import TextRules

#: The documented cap on one message, in bytes of the request body (conservatively 28,000, not 28 KiB).
MAX_MESSAGE_BYTES = 28000
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"


class TeamsAdapter(Adapter):
    """POST one Adaptive Card per part; the receipt's id is synthetic (the flow returns none)."""

    name = "teams"
    title = "Microsoft Teams"
    media_rules = PLATFORM_MEDIA_RULES["teams"]
    # The limit is on the whole message in bytes; 24,000 UTF-8 bytes of text leaves room for the card's
    # envelope, the link button and JSON escaping. publish() still checks the real body against 28,000.
    rules = TextRules(
        limit=24000, unit="UTF-8 bytes", measure=counting.utf8_bytes, max_hashtags=3, markup="markdown"
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "webhook_url": "the Workflows trigger URL ('When a Teams webhook request is received'): the URL is "
        "the secret",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "link_title": "label of the button that opens the featured link (default: the link card's title)",
    }
    docs = "https://learn.microsoft.com/en-us/connectors/teams/#microsoft-teams-webhook"
    sample_account = SampleAccount(
        credentials={
            "webhook_url": "https://example.logic.azure.com/workflows/{token}/triggers/manual/invoke"
        }
    )

    def _url(self) -> httpx.URL:
        return secret_url(
            self, "webhook_url", placeholder="https://example.logic.azure.com/workflows/dry-run/invoke"
        )

    def card(self, part: Part) -> dict[str, Any]:
        """The Adaptive Card for ``part``: the text wrapped, plus an Action.OpenUrl button for the link."""
        body: list[dict[str, Any]] = [{"type": "TextBlock", "text": part.text, "wrap": True}]
        card: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "body": body,
        }
        # Images by URL (https://adaptivecards.io/explorer/Image.html): cards cannot carry uploads.
        urls = public_urls(part.media, part.media_base_url, "Teams")
        body.extend(
            {"type": "Image", "url": url, "altText": m.alt} for m, url in zip(part.media, urls, strict=True)
        )
        if part.link is not None:
            title = self.account.settings.get("link_title") or part.link.title or part.link.url
            if part.link.description:
                description = {"type": "TextBlock", "text": part.link.description, "wrap": True}
                body.append({**description, "isSubtle": True})
            card["actions"] = [{"type": "Action.OpenUrl", "title": str(title), "url": part.link.url}]
        return card

    def payload(self, part: Part) -> dict[str, Any]:
        """The message envelope the Workflows template expects (its loop reads ``attachments``)."""
        attachment: dict[str, Any] = {
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": self.card(part),
        }
        return {"type": "message", "attachments": [attachment]}

    def publish(self, part: Part) -> Exchange[Receipt]:
        url = self._url()
        request = self.json_request("POST", str(url), json_body=self.payload(part))
        if len(request.content) > MAX_MESSAGE_BYTES:
            raise PermanentError(
                f"Teams message is {len(request.content)} bytes; Teams accepts about {MAX_MESSAGE_BYTES}"
            )
        response = yield request
        self.raise_for_status(response)
        return Receipt(remote_id=f"teams:{part.idempotency_key}", url=None)

    def verify(self) -> Exchange[str]:
        # A Workflows trigger has no read-only call: any accepted POST runs the flow and posts a card.
        url = self._url()
        message = f"not verified: Teams workflow webhooks have no harmless check (URL on {url.host} is set)"
        return (yield from sent_nothing(message))

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        return httpx.Response(202, request=request)
