"""Slack adapter: post to a channel through an incoming webhook.

Facts relied on (sources in docs/platforms/slack.md):

- The webhook URL (``https://hooks.slack.com/services/T.../B.../...``) is the whole credential; the body is
  JSON with ``text`` and optionally ``blocks`` and ``unfurl_links``
  (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
- Success is HTTP 200 with the plain-text body ``ok``; no message id or timestamp is returned, so a post
  cannot be linked to, threaded under or looked up later.
- Failures are a status plus a short plain-text code: 400 ``invalid_payload`` / ``user_not_found`` /
  ``no_text``, 403 ``action_prohibited`` / ``invalid_token``, 404 ``channel_not_found`` / ``no_service``,
  410 ``channel_is_archived``, 500 ``rollup_error``
  (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
- ``text`` is mrkdwn, in which ``&``, ``<`` and ``>`` are control characters: they must be sent as
  ``&amp;``, ``&lt;`` and ``&gt;``, or ``<`` starts a link, a mention or ``<!channel>``
  (https://api.slack.com/reference/surfaces/formatting#escaping). Only a link written in Slack's own syntax,
  ``<https://...>`` or ``<https://...|label>`` (templates may write it for ``markup == "mrkdwn"``), is kept
  as a link; its ``&`` is escaped as Slack writes it.
- Posting is limited to about one message per second, with short bursts; over it, incoming webhooks answer
  429 with ``Retry-After`` in seconds (https://api.slack.com/docs/rate-limits).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from campaign.channels.base import Adapter, Exchange, Part, Receipt, SampleAccount, classify_status
from campaign.channels.helpers import secret_url, sent_nothing
from campaign.channels.upload_media import public_urls
from campaign.errors import AuthError, ChannelError, PermanentError
from campaign.logs import shown
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.text import counting
from campaign.text.rules import TextRules

#: Error codes that mean the webhook URL itself is dead or revoked: the credential must be replaced.
AUTH_CODES = frozenset({"invalid_token", "no_service", "no_team", "no_active_hooks", "team_disabled"})
#: A link in Slack's syntax: ``<https://...>``, ``<mailto:...>``, optionally ``|label``; no space in the URL.
_LINK = re.compile(r"<(?:https?://|mailto:)[^\s<>|]+(?:\|[^<>]*)?>")


def escape_text(text: str) -> str:
    """``text`` as mrkdwn that shows exactly ``text``: ``&``, ``<``, ``>`` escaped, except the brackets of
    links written in Slack's syntax (so no ``<!channel>``, ``<@U123>`` or stray tag reaches Slack)."""

    def plain(chunk: str) -> str:
        return chunk.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out: list[str] = []
    end = 0
    for link in _LINK.finditer(text):
        out.append(plain(text[end : link.start()]))
        out.append("<" + link.group()[1:-1].replace("&", "&amp;") + ">")
        end = link.end()
    out.append(plain(text[end:]))
    return "".join(out)


class SlackAdapter(Adapter):
    """POST ``{"text": ...}`` to the webhook; the receipt's id is synthetic (Slack returns none)."""

    name = "slack"
    title = "Slack"
    media_rules = PLATFORM_MEDIA_RULES["slack"]
    # Slack truncates message text longer than 40,000 characters (incoming webhooks post the same message
    # objects): https://api.slack.com/changelog/2018-04-truncating-really-long-messages
    rules = TextRules(
        limit=40000, unit="UTF-16 code units", measure=counting.utf16_units, max_hashtags=3, markup="mrkdwn"
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "webhook_url": "the incoming webhook URL (https://hooks.slack.com/services/...), itself the secret",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "unfurl_links": "false to stop Slack previewing the featured link (default: preview it)",
    }
    docs = "https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks"
    sample_account = SampleAccount(
        credentials={"webhook_url": "https://hooks.slack.com/services/T0/B0/{token}"}
    )

    def _url(self) -> httpx.URL:
        return secret_url(self, "webhook_url", placeholder="https://hooks.slack.com/services/dry-run")

    def payload(self, part: Part) -> dict[str, Any]:
        """The webhook body: the text (escaped for mrkdwn) and whether Slack should unfurl the link."""
        body: dict[str, Any] = {"text": escape_text(part.text)}
        setting = self.account.settings.get("unfurl_links")
        if setting is not None:
            body["unfurl_links"] = str(setting).strip().lower() in ("1", "true", "yes", "on")
        elif part.link is not None:
            body["unfurl_links"] = True
        if part.media:
            # Image blocks by URL (incoming webhooks cannot upload files); "text" stays the notification
            # fallback. https://docs.slack.dev/reference/block-kit/blocks/image-block
            urls = public_urls(part.media, part.media_base_url, "Slack")
            blocks: list[dict[str, Any]] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": part.text}}
            ]
            blocks.extend(
                {"type": "image", "image_url": url, "alt_text": m.alt or "decorative image"}
                for m, url in zip(part.media, urls, strict=True)
            )
            body["blocks"] = blocks
        return body

    def publish(self, part: Part) -> Exchange[Receipt]:
        url = self._url()
        response = yield self.json_request("POST", str(url), json_body=self.payload(part))
        if not response.is_success:
            raise self._classify(response)
        # Slack returns no id: the idempotency key is the only stable name this part has.
        return Receipt(remote_id=f"slack:{part.idempotency_key}", url=None)

    def _classify(self, response: httpx.Response) -> ChannelError:
        code = shown(response.text, 200)
        what = f"Slack webhook HTTP {response.status_code}" + (f": {code}" if code else "")
        if code in AUTH_CODES:
            return AuthError(what, status=response.status_code, platform_message=code)
        if response.status_code in (400, 403, 404, 410):
            return PermanentError(what, status=response.status_code, platform_message=code)
        return classify_status(response, code, now=self.clock())

    def verify(self) -> Exchange[str]:
        # Slack incoming webhooks offer no read-only call: any valid POST publishes a message. So check only
        # that the credential resolves to a well-formed URL, and send nothing.
        url = self._url()
        message = f"not verified: Slack incoming webhooks have no harmless check (URL on {url.host} is set)"
        return (yield from sent_nothing(message))

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        return httpx.Response(200, text="ok", request=request)
