"""Generic JSON webhook adapter: POST each part, signed, to a URL the user controls.

The request (documented for receivers in docs/platforms/webhook.md)::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <idempotency key>
    X-Campaign-Timestamp: <Unix seconds>
    X-Campaign-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

    {"id": key, "campaign": ..., "post": ..., "channel": "webhook", "account": ..., "text": ...,
     "part": 1, "parts": 1, "link": {"url", "title", "description"} | null,
     "reply_to": previous part's remote id | null, "root": first part's remote id | null,
     "language": BCP 47 tag (only when the post has one), "media": [...] (only when it has media)}

Signing the timestamp together with the body (as Stripe and Slack do) lets a receiver refuse replays: it
recomputes the HMAC over ``f"{timestamp}.{body}"`` and rejects stale timestamps. The timestamp comes from the
adapter's injectable ``clock`` so requests are reproducible. A 2xx answer may carry JSON ``{"id", "url"}``;
otherwise the receipt's id is synthetic (``webhook:<idempotency key>``).

A ``webhook_url`` credential (a URL that is itself the secret) is checked by
:func:`campaign.channels.helpers.secret_url`, as Slack's, Discord's and Teams' are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Account,
    Adapter,
    Exchange,
    Part,
    Receipt,
    SampleAccount,
    fake_json,
)
from campaign.channels.helpers import secret_url
from campaign.channels.upload_media import public_urls
from campaign.errors import AmbiguousError, PermanentError
from campaign.logs import shown
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.text import counting
from campaign.text.rules import TextRules

#: Header names of the signature scheme (documented for receivers).
SIGNATURE_HEADER = "X-Campaign-Signature"
TIMESTAMP_HEADER = "X-Campaign-Timestamp"
#: The longest id and link a receiver's answer may give a post (longer ones are cut).
RECEIPT_ID_MAX = 500
RECEIPT_URL_MAX = 2048


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 keyed with ``secret`` over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)


class WebhookAdapter(Adapter):
    """POST a documented JSON body to a configured URL, signed with HMAC-SHA256 when a secret is set."""

    name = "webhook"
    title = "Generic JSON webhook"
    media_rules = PLATFORM_MEDIA_RULES["webhook"]
    # A receiver of our own choosing: no platform limit; 100,000 code points keeps one request reasonable.
    rules = TextRules(limit=100000, unit="characters", measure=counting.codepoints, threads=True)
    credential_names: ClassVar[Mapping[str, str]] = {
        "secret": "HMAC-SHA256 signing key shared with the receiver (optional; unsigned without it)",
        "webhook_url": "the receiver's URL, when the URL itself is secret (instead of the `url` setting)",
    }
    optional_credentials: ClassVar[frozenset[str]] = frozenset({"secret", "webhook_url"})
    optional_settings: ClassVar[Mapping[str, str]] = {
        "url": "the receiver's URL (https; required unless credential webhook_url is set)",
        "deduplicates": "true if the receiver honours Idempotency-Key (a retry then cannot publish twice)",
        "verify_url": "a URL answering a signed GET for `campaign channels check` (else check sends nothing)",
    }
    docs = "docs/platforms/webhook.md"
    sample_account = SampleAccount(
        settings={
            "url": "https://hooks.example.com/campaign",
            "verify_url": "https://hooks.example.com/health",
        },
        credentials={"secret": "{canary}"},
    )

    def __init__(self, account: Account, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(account, clock=clock)  # self.clock is the source of X-Campaign-Timestamp

    @property
    def deduplicates(self) -> bool:
        """Per account: only the receiver knows whether it honours ``Idempotency-Key``."""
        return _truthy(self.account.settings.get("deduplicates"))

    def _url(self) -> httpx.URL:
        if self.account.credentials.has("webhook_url"):
            return secret_url(self, "webhook_url", placeholder="https://webhook.invalid/dry-run")
        url = httpx.URL(self.setting("url"))
        if url.scheme not in ("http", "https") or not url.host:
            raise PermanentError(f"account {self.account.name!r}: setting 'url' must be an absolute URL")
        return url

    def _signed_headers(self, key: str | None, body: bytes) -> dict[str, str]:
        timestamp = int(self.clock().timestamp())
        headers = {TIMESTAMP_HEADER: str(timestamp)}
        if key is not None:
            headers["Idempotency-Key"] = key
        if self.account.credentials.has("secret"):
            headers[SIGNATURE_HEADER] = signature(self.secret("secret"), timestamp, body)
        return headers

    def payload(self, part: Part) -> dict[str, Any]:
        """The documented JSON body for ``part`` (``part`` is 1-based, ``parts`` the thread's length)."""
        link = None
        if part.link is not None:
            link = {"url": part.link.url, "title": part.link.title, "description": part.link.description}
        extra: dict[str, Any] = {}
        language = part.language or self.account.settings.get("language")
        if language:  # only then, so receivers written before languages see the same body
            extra["language"] = str(language)
        if part.media:  # only then, so receivers written before media see the same body
            urls = public_urls(part.media, part.media_base_url, "the webhook")
            extra["media"] = [
                {
                    "url": url,
                    "mime": m.mime,
                    "size": m.size,
                    "sha256": m.sha256,
                    "width": m.width,
                    "height": m.height,
                    "alt": m.alt,
                }
                for m, url in zip(part.media, urls, strict=True)
            ]
        return {
            "id": part.idempotency_key,
            "campaign": part.campaign or None,
            "post": part.post_id,
            "channel": self.name,
            "account": self.account.name,
            "text": part.text,
            "part": part.index + 1,
            "parts": part.count,
            "link": link,
            "reply_to": part.reply_to.remote_id if part.reply_to else None,
            "root": part.root.remote_id if part.root else None,
            **extra,
        }

    def publish(self, part: Part) -> Exchange[Receipt]:
        url = self._url()
        request = self.json_request("POST", str(url), json_body=self.payload(part))
        request.headers.update(self._signed_headers(part.idempotency_key, request.content))
        response = yield request
        self.raise_for_status(response)
        remote_id, public_url = f"webhook:{part.idempotency_key}", None
        if response.content.strip():
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                # Any receiver answers here: what it says is stored and shown, so it is redacted (a
                # receiver may echo the URL it was called at, which is the secret) and bounded.
                if body.get("id") not in (None, ""):
                    remote_id = shown(str(body["id"]), RECEIPT_ID_MAX)
                if isinstance(body.get("url"), str) and body["url"]:
                    public_url = shown(body["url"], RECEIPT_URL_MAX)
            elif "json" in response.headers.get("content-type", ""):
                # The receiver said JSON but sent something else: it did answer 2xx, so the part is
                # probably published, but we cannot be sure what it accepted.
                raise AmbiguousError(f"webhook answered HTTP {response.status_code} with unreadable JSON")
        return Receipt(remote_id=remote_id, url=public_url)

    def verify(self) -> Exchange[str]:
        url = self._url()
        verify_url = self.account.settings.get("verify_url")
        if not verify_url:
            return f"not verified: no verify_url setting (would POST to {url.host}); nothing was sent"
        request = httpx.Request("GET", str(verify_url), headers={"Accept": "application/json"})
        request.headers.update(self._signed_headers(None, b""))
        response = yield request
        self.raise_for_status(response)
        return f"receiver at {request.url.host} answered HTTP {response.status_code}"

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        if request.method == "GET":
            return fake_json(request, {"ok": True})
        key = part.idempotency_key if part else "verify"
        return fake_json(request, {"id": f"{PLACEHOLDER}-{key}", "url": None})


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
