"""Discord adapter: post to a channel through a webhook.

Facts relied on (sources in docs/platforms/discord.md):

- Execute Webhook: ``POST /webhooks/{id}/{token}?wait=true`` with JSON ``content`` (up to 2000 characters),
  ``username``, ``avatar_url``, ``allowed_mentions``; with ``wait=true`` the answer is the created message
  object (``id``, ``channel_id``). Get Webhook with Token (``GET`` the same URL) needs no other
  authentication and returns the webhook object without its creator
  (https://discord.com/developers/docs/resources/webhook#execute-webhook, #get-webhook-with-token).
- Requests name an API version, ``https://discord.com/api/v{version}/...``; an unversioned URL (as Discord's
  own "Copy Webhook URL" gives) is served by a default version that is deprecated, so the webhook URL is
  rewritten to v10, the current version (https://discord.com/developers/docs/reference#api-versioning).
  Every request carries a User-Agent, which Discord requires
  (https://discord.com/developers/docs/reference#user-agent; added by :mod:`campaign.http.exchange`).
- ``allowed_mentions: {"parse": []}`` stops @everyone, @here, role and user pings in the text
  (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
- The API counts lengths in Unicode code points (it is Python 3:
  https://github.com/discord/discord-api-docs/issues/1315); the rules count UTF-16 code units, never fewer,
  so a fitted text is always accepted.
- 429 answers carry JSON ``{"message", "retry_after" (seconds, float), "global"}`` and the headers
  ``Retry-After``, ``X-RateLimit-Reset-After``, ``X-RateLimit-Scope``; every answer carries
  ``X-RateLimit-Remaining`` / ``-Reset`` / ``-Reset-After`` (https://discord.com/developers/docs/topics/rate-limits).
- Errors carry JSON ``{"code", "message"}``: 50006 empty message, 50035 invalid form body, 10015 unknown
  webhook, 50027 invalid webhook token
  (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import Any, ClassVar

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Adapter,
    Exchange,
    Part,
    RateLimit,
    Receipt,
    SampleAccount,
    as_seconds,
    classify_status,
    fake_json,
    parse_rate_limit_headers,
    parse_reset,
)
from campaign.channels.helpers import MIN_SECRET_PATH, secret_url
from campaign.channels.upload_media import MEDIA, media_extension
from campaign.errors import AmbiguousError, AuthError, ChannelError, PermanentError, RateLimitedError
from campaign.logs import shown
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.text import counting
from campaign.text.rules import TextRules

#: JSON error codes meaning the webhook (our credential) is gone or its token is wrong.
AUTH_CODES = frozenset({10015, 50027})
#: Message flag SUPPRESS_EMBEDS (1 << 2): no link preview.
SUPPRESS_EMBEDS = 1 << 2
#: The API version every request names (https://discord.com/developers/docs/reference#api-versioning).
API_VERSION = 10
#: A webhook path with or without a version: ``/api/webhooks/<id>/<token>``, ``/api/v9/webhooks/...``.
_WEBHOOK_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(?P<rest>.+)")


def versioned_webhook_url(url: httpx.URL) -> httpx.URL:
    """``url`` with its path on API v10 (``/api/v10/webhooks/<id>/<token>``); other paths are unchanged.

    Accepts a URL with or without a version (``/api/webhooks/...``, ``/api/v9/webhooks/...``) and keeps
    the host (discord.com, ptb., canary.), the query and the raw percent-encoding of the token.
    """
    raw_path = url.raw_path.decode("ascii").split("?", 1)[0]
    match = _WEBHOOK_PATH.fullmatch(raw_path)
    if match is None:
        return url
    query = url.raw_path.decode("ascii")[len(raw_path) :]
    return url.copy_with(raw_path=f"/api/v{API_VERSION}/webhooks/{match['rest']}{query}".encode("ascii"))


class DiscordAdapter(Adapter):
    """Execute the webhook with ``wait=true`` so the receipt carries the message id."""

    name = "discord"
    title = "Discord"
    media_rules = PLATFORM_MEDIA_RULES["discord"]
    #: Nothing to record: files go in the same multipart request as the message (``files[n]``;
    #: https://discord.com/developers/docs/reference#uploading-files), so an upload is the post.
    upload_lifetime = None
    rules = TextRules(
        limit=2000, unit="UTF-16 code units", measure=counting.utf16_units, max_hashtags=3, markup="markdown"
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "webhook_url": "the webhook URL (https://discord.com/api/webhooks/<id>/<token>), itself the secret;"
        " sent on API v10 whether or not it names a version",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "guild_id": "the server's id, for message links (https://discord.com/channels/<guild>/<channel>/<id>)",
        "username": "display name for the posts (default: the webhook's name)",
        "avatar_url": "avatar image URL for the posts (default: the webhook's avatar)",
        "thread_id": "post into this thread of the webhook's channel",
        "link_preview": "false to suppress the link embed (default: Discord previews links)",
    }
    docs = "https://discord.com/developers/docs/resources/webhook#execute-webhook"
    sample_account = SampleAccount(credentials={"webhook_url": "https://discord.com/api/webhooks/1/{token}"})

    def _url(self) -> httpx.URL:
        """The webhook URL on API v10. A rewritten path is registered as a secret too, because redaction
        knows only the exact text of the credential (see :func:`campaign.channels.helpers.secret_url`)."""
        given = secret_url(self, "webhook_url", placeholder="https://discord.com/api/webhooks/0/dry-run")
        url = versioned_webhook_url(given)
        if url != given:
            path = url.raw_path.decode("ascii")
            self.account.credentials.remember(str(url))
            if len(path) >= MIN_SECRET_PATH:
                self.account.credentials.remember(path)
        return url

    def payload(self, part: Part) -> dict[str, Any]:
        """The Execute Webhook body: content, never pinging anyone, with the optional display overrides."""
        body: dict[str, Any] = {"content": part.text, "allowed_mentions": {"parse": []}}
        for key in ("username", "avatar_url"):
            value = self.account.settings.get(key)
            if value:
                body[key] = str(value)
        preview = self.account.settings.get("link_preview")
        if preview is False or str(preview).strip().lower() in ("0", "false", "no", "off"):
            body["flags"] = SUPPRESS_EMBEDS
        return body

    def publish(self, part: Part) -> Exchange[Receipt]:
        """Execute the webhook (``wait=true``); with media, multipart ``payload_json`` (whose ``attachments``
        give each file's ``description``, its alt text) and ``files[n]``, streamed from the media store
        (https://discord.com/developers/docs/reference#uploading-files). One request: upload and post."""
        params = {"wait": "true"}
        thread = self.account.settings.get("thread_id")
        if thread is not None:
            params["thread_id"] = str(thread)
        url = self._url().copy_merge_params(params)
        if part.media:
            with ExitStack() as files:
                response = yield self._media_request(str(url), part, files)
        else:
            response = yield self.json_request("POST", str(url), json_body=self.payload(part))
        if not response.is_success:
            raise self._classify(response)
        try:
            message = response.json()
        except ValueError:
            message = None
        if not isinstance(message, dict) or not message.get("id"):
            raise AmbiguousError(f"Discord answered HTTP {response.status_code} without the message")
        message_id, channel_id = str(message["id"]), str(message.get("channel_id") or "")
        guild = message.get("guild_id") or self.account.settings.get("guild_id")
        link = None
        if guild and channel_id:
            link = f"https://discord.com/channels/{guild}/{channel_id}/{message_id}"
        data = {"channel_id": channel_id, "message_id": message_id}
        return Receipt(remote_id=message_id, url=link, data=data)

    def _media_request(self, url: str, part: Part, files: ExitStack) -> httpx.Request:
        payload = self.payload(part)
        payload["attachments"] = [
            {"id": i, "filename": m.store_name, **({"description": m.alt} if m.alt else {})}
            for i, m in enumerate(part.media)
        ]
        upload = {
            f"files[{i}]": (m.store_name, files.enter_context(open(m.path, "rb")), m.mime)  # noqa: SIM115
            for i, m in enumerate(part.media)
        }
        first = part.media[0]
        return httpx.Request(
            "POST",
            url,
            headers={
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary=campaign-{first.sha256[:32]}",
            },
            data={"payload_json": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))},
            files=upload,
            extensions={MEDIA: {**media_extension(first), "files": [m.source for m in part.media]}},
        )

    def _classify(self, response: httpx.Response) -> ChannelError:
        now = self.clock()
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return classify_status(response, shown(response.text, 200), now=now)
        code, message = body.get("code"), str(body.get("message") or "")
        what = f"Discord HTTP {response.status_code}" + (f" (code {code})" if code is not None else "")
        what += f": {message}" if message else ""
        if response.status_code == 429:
            wait = as_seconds(body.get("retry_after"))
            if wait is None:
                wait = as_seconds(response.headers.get("x-ratelimit-reset-after"))
            if wait is None:
                wait = as_seconds(response.headers.get("retry-after"))
            scope = "global" if body.get("global") else response.headers.get("x-ratelimit-scope", "webhook")
            return RateLimitedError(
                f"{what} ({scope} rate limit)", retry_after=wait, status=429, platform_message=message
            )
        if code in AUTH_CODES or response.status_code in (401, 403):
            return AuthError(what, status=response.status_code, platform_message=message)
        if 400 <= response.status_code < 500:
            return PermanentError(what, status=response.status_code, platform_message=message)
        return classify_status(response, message, now=now)

    def read_rate_limit(self, response: httpx.Response, now: datetime) -> RateLimit | None:
        """Prefer ``X-RateLimit-Reset-After`` (relative, immune to clock skew) over the epoch ``-Reset``."""
        limit = parse_rate_limit_headers(response.headers, now)
        after = response.headers.get("x-ratelimit-reset-after")
        if limit is not None and after:
            return RateLimit(remaining=limit.remaining, reset_at=parse_reset(after, now), limit=limit.limit)
        return limit

    def verify(self) -> Exchange[str]:
        url = self._url()
        response = yield httpx.Request("GET", str(url), headers={"Accept": "application/json"})
        if not response.is_success:
            raise self._classify(response)
        hook = response.json()
        # The webhook object also carries its token: only name and channel are reported.
        where = f"channel {hook.get('channel_id')}, guild {hook.get('guild_id')}"
        return f"webhook {hook.get('name')!r} ({where})"

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        if request.method == "GET":
            hook = {"id": "0", "type": 1, "name": PLACEHOLDER, "channel_id": f"{PLACEHOLDER}-channel"}
            return fake_json(request, hook)
        text = part.text if part else ""
        message = {
            "id": f"{PLACEHOLDER}-message",
            "type": 0,
            "channel_id": f"{PLACEHOLDER}-channel",
            "content": text,
            "webhook_id": f"{PLACEHOLDER}-webhook",
        }
        return fake_json(request, message)
