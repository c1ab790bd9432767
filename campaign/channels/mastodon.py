"""Mastodon adapter: one status per part, thread parts as replies, deduplicated by ``Idempotency-Key``.

Platform facts (each checked against the source named):

- ``POST /api/v1/statuses`` with ``Authorization: Bearer <token>``; parameters ``status``, ``visibility``
  (public, unlisted, private, direct), ``language`` (ISO 639-1), ``in_reply_to_id``; 200 returns a Status
  whose ``id`` and ``url`` we keep. 401 ``{"error": "The access token is invalid"}``, 422
  ``{"error": "Validation failed: Text can't be blank"}``.
  https://docs.joinmastodon.org/methods/statuses/#create
- ``Idempotency-Key``: "prevent duplicate submissions of the same status ... Idempotency keys are stored
  for up to 1 hour." (same page). A retry within the hour returns the first status instead of a new one.
- Rate limits: ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` where Reset is an
  ISO 8601 time (Mastodon writes ``iso8601(6)``); 300 requests per 5 minutes per account by default.
  https://docs.joinmastodon.org/api/rate-limits/ and mastodon/mastodon
  app/controllers/concerns/rate_limit_headers.rb
- ``GET /api/v1/accounts/verify_credentials`` returns the token's account (``acct``, ``url``).
  https://docs.joinmastodon.org/methods/accounts/#verify_credentials
- ``GET /api/v2/instance``: ``configuration.statuses.max_characters`` is the instance's limit (500 on a
  stock server). https://docs.joinmastodon.org/entities/Instance/#max_characters
- JSON request bodies are accepted wherever form data is. https://docs.joinmastodon.org/client/intro/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Adapter,
    Exchange,
    Part,
    PostMetrics,
    Receipt,
    SampleAccount,
    classify_status,
    fake_json,
    names_id,
    platform_message,
)
from campaign.channels.helpers import fake_not_found, read_counts, require_json_object, whole_count
from campaign.channels.mastodon_media import fake_media_response, upload_media
from campaign.channels.upload_media import upload_key
from campaign.errors import AmbiguousError, PermanentError
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.text import counting
from campaign.text.rules import TextRules

VISIBILITIES = ("public", "unlisted", "private", "direct")


def mastodon_language(tag: str) -> str:
    """A BCP 47 tag as Mastodon's ``language`` takes it: an ISO 639 code with an optional region and no
    script (``zh-Hant`` -> ``zh``, ``zh-Hant-HK`` -> ``zh-HK``, ``pt-BR`` and ``en`` unchanged); see
    https://docs.joinmastodon.org/methods/statuses/#create ("ISO 639 language code for this status")."""
    subtags = tag.split("-")
    region = next((s for s in subtags[1:] if len(s) == 2 or (len(s) == 3 and s.isdigit())), None)
    return f"{subtags[0].lower()}-{region.upper()}" if region else subtags[0].lower()


#: Status counts (https://docs.joinmastodon.org/entities/Status/) under our names.
STATUS_COUNTS = {
    "favourites_count": "likes",
    "reblogs_count": "reposts",
    "replies_count": "replies",
    "quotes_count": "quotes",
}


class MastodonAdapter(Adapter):
    """Publishes to one Mastodon account (``instance`` + ``token``)."""

    name = "mastodon"
    title = "Mastodon"
    media_rules = PLATFORM_MEDIA_RULES["mastodon"]
    # 500 is the stock limit (Instance configuration.statuses.max_characters); instances configured otherwise
    # set `limit` on the account. Every URL counts as 23 characters (characters_reserved_per_url).
    rules = TextRules(
        limit=500,
        unit="characters",
        measure=counting.mastodon_length,
        threads=True,
        max_hashtags=4,
        hashtag_case="camel",
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "an access token with the write:statuses and read:accounts scopes"
    }
    required_settings: ClassVar[Mapping[str, str]] = {
        "instance": "the server's base URL, e.g. https://mastodon.social"
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "visibility": "public (default), unlisted, private or direct",
        "language": "BCP 47 tag of the posts, e.g. en (sent as ISO 639: zh-Hant as zh)",
        "limit": "the instance's character limit when it is not 500",
    }
    dedup_by_key = True
    #: Mastodon keeps idempotency keys "for up to 1 hour" (https://docs.joinmastodon.org/methods/statuses/#create).
    dedup_window = timedelta(hours=1)
    docs = "https://docs.joinmastodon.org/methods/statuses/#create"
    #: An attachment no status uses is deleted once it is a day old: Scheduler::MediaCleanupScheduler
    #: destroys ``MediaAttachment.unattached.where('created_at < ?', 1.day.ago)``
    #: (mastodon/mastodon app/workers/scheduler/media_cleanup_scheduler.rb; upload:
    #: https://docs.joinmastodon.org/methods/media/#v2).
    upload_lifetime = timedelta(days=1)
    sample_account = SampleAccount(settings={"instance": "https://mastodon.example"})
    metrics_scopes = "read:statuses (GET /api/v1/statuses/:id)"

    # -- requests -----------------------------------------------------------------------------------------

    def _base(self) -> str:
        instance = self.setting("instance").rstrip("/")
        if not instance.startswith(("https://", "http://")):
            raise PermanentError(f"account {self.account.name!r}: instance must be a URL like https://host")
        return instance

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('token')}"}

    def status_payload(self, part: Part, media_ids: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/statuses`` for ``part`` (with its uploaded ``media_ids``)."""
        visibility = self.setting("visibility", "public")
        if visibility not in VISIBILITIES:
            raise PermanentError(
                f"account {self.account.name!r}: visibility must be one of {', '.join(VISIBILITIES)}"
            )
        body: dict[str, Any] = {"status": part.text, "visibility": visibility}
        language = part.language or self.account.settings.get("language")
        if language:
            body["language"] = mastodon_language(str(language))
        if part.reply_to is not None:
            body["in_reply_to_id"] = part.reply_to.remote_id
        if media_ids:
            body["media_ids"] = list(media_ids)
        return body

    def publish(self, part: Part) -> Exchange[Receipt]:
        """Post ``part`` (a reply to ``part.reply_to`` for later thread parts).

        The part's idempotency key goes in ``Idempotency-Key`` so a retry within Mastodon's one-hour window
        returns the status already created instead of a duplicate. The part's media are uploaded first
        (:mod:`campaign.channels.mastodon_media`: ``POST /api/v2/media`` with ``description`` and ``focus``,
        polled while processing); a failed upload publishes nothing, so it is a transient error. Each
        attachment is recorded with the post (:meth:`record_upload`), and one an earlier attempt recorded
        is reused while Mastodon keeps it (:attr:`upload_lifetime`); one Mastodon says is gone is uploaded
        again and the status sent once more (:meth:`_refuses_reuse`).
        """
        reused: dict[str, str] = {}
        media_ids = yield from self._attachments(part, reused)
        response = yield self._status_request(part, media_ids)
        if self._refuses_reuse(response, reused) and self.drop_refused(part, reused, response.text):
            # An attachment recorded earlier is gone (deleted early): upload it again, post once more.
            media_ids = yield from self._attachments(part, {})
            response = yield self._status_request(part, media_ids)
        self._raise_for_error(response)
        # A 2xx without a readable status may still have created one: ambiguous, and safe to retry within
        # the idempotency window.
        status = require_json_object(response, AmbiguousError, who="Mastodon")
        status_id = status.get("id")
        if not isinstance(status_id, str) or not status_id:
            raise AmbiguousError("Mastodon answered without a status id", status=response.status_code)
        url = status.get("url") or status.get("uri")
        return Receipt(remote_id=status_id, url=url if isinstance(url, str) else None, data={"id": status_id})

    def _attachments(self, part: Part, reused: dict[str, str]) -> Exchange[list[str]]:
        """The attachment ids of the part's media: recorded ones still kept (added to ``reused``: id ->
        key), the others uploaded now and recorded."""
        media_ids = []
        for media in part.media:
            key = upload_key(media)
            recorded = self.reuse_upload(part, key)
            if recorded is not None:  # an earlier attempt uploaded it and Mastodon still keeps it
                reused[recorded.remote_id] = key
                media_ids.append(recorded.remote_id)
                continue
            uploaded = yield from upload_media(self._base(), self._auth(), media, now=self.clock)
            self.record_upload(part, key, uploaded.id)
            media_ids.append(uploaded.id)
        return media_ids

    def _status_request(self, part: Part, media_ids: Sequence[str]) -> httpx.Request:
        return self.json_request(
            "POST",
            f"{self._base()}/api/v1/statuses",
            json_body=self.status_payload(part, media_ids),
            headers={**self._auth(), "Idempotency-Key": part.idempotency_key},
        )

    @staticmethod
    def _refuses_reuse(response: httpx.Response, reused: Mapping[str, str]) -> bool:
        """A status refused because a reused attachment is gone: since Mastodon 4.3, 422 ``{"error": "Media
        <ids> not found or already attached to another post"}`` (``PostStatusService#validate_media!``;
        mastodon/mastodon#31681); a 404 naming the id likewise. The status was not created (the idempotency
        key is stored only with a status), so posting again with the same key is safe. Earlier versions
        drop an unknown id silently; the attachment lifetime's margin is what protects those."""
        if response.status_code not in (404, 422) or not reused:
            return False
        message = platform_message(response)
        return any(names_id(message, media_id) for media_id in reused)

    def verify(self) -> Exchange[str]:
        """``verify_credentials``, then the instance's character limit (reported, never posted).

        Returns ``@user@host``, plus a warning when the account's limit exceeds what the instance allows.
        """
        base = self._base()
        response = yield self.json_request(
            "GET", f"{base}/api/v1/accounts/verify_credentials", headers=self._auth()
        )
        self._raise_for_error(response)
        account = require_json_object(response, PermanentError, who="Mastodon")
        who = f"@{account.get('acct') or account.get('username') or '?'}@{httpx.URL(base).host}"

        instance = yield self.json_request("GET", f"{base}/api/v2/instance")
        if not instance.is_success:  # servers before 4.0 have no v2 instance: the identity is what matters
            return who
        max_chars: Any = require_json_object(instance, PermanentError, who="Mastodon")
        for key in ("configuration", "statuses", "max_characters"):
            max_chars = max_chars.get(key) if isinstance(max_chars, dict) else None
        if not isinstance(max_chars, int):
            return who
        limit = self.text_rules().limit
        if limit > max_chars:
            return f"{who} (instance limit {max_chars} characters, but the account's limit is {limit})"
        return f"{who} (instance limit {max_chars} characters)"

    # lookup(): Mastodon offers no search by idempotency key; the base class's None says so.

    # -- errors -------------------------------------------------------------------------------------------
    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """``GET /api/v1/statuses/:id`` per status: replies, reblogs and favourites (and quotes where the
        server counts them); 404 means the status is gone
        (https://docs.joinmastodon.org/methods/statuses/#get, https://docs.joinmastodon.org/entities/Status/)."""
        found: PostMetrics = {}
        for receipt in receipts:
            response = yield self.json_request(
                "GET", f"{self._base()}/api/v1/statuses/{receipt.remote_id}", headers=self._auth()
            )
            if response.status_code in (404, 410):
                found[receipt.remote_id] = None
                continue
            self._raise_for_error(response)
            status = require_json_object(response, PermanentError, who="Mastodon")
            found[receipt.remote_id] = read_counts(status, STATUS_COUNTS)
        return found

    def followers(self) -> Exchange[int | None]:
        """``followers_count`` of ``verify_credentials`` (https://docs.joinmastodon.org/entities/Account/)."""
        response = yield self.json_request(
            "GET", f"{self._base()}/api/v1/accounts/verify_credentials", headers=self._auth()
        )
        self._raise_for_error(response)
        account = require_json_object(response, PermanentError, who="Mastodon")
        return whole_count(account.get("followers_count"))

    def _raise_for_error(self, response: httpx.Response) -> None:
        """401/403 -> AuthError, 422 -> PermanentError, 429 -> RateLimitedError (ISO reset), 5xx generic."""
        if response.is_success:
            return
        # Mastodon's error bodies are {"error": "..."} (plus "error_description" on OAuth errors).
        raise classify_status(response, platform_message(response), now=self.clock())

    # -- dry run ------------------------------------------------------------------------------------------

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        """Documented success shapes; ids and account names are ``dry-run`` placeholders."""
        path = request.url.path
        base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        uploaded = fake_media_response(request)
        if uploaded is not None:
            return uploaded
        if path.endswith("/api/v1/statuses"):
            key = part.idempotency_key[:12] if part else "0"
            status_id = f"{PLACEHOLDER}-{key}"
            return fake_json(
                request,
                {
                    "id": status_id,
                    "created_at": f"{PLACEHOLDER}-time",
                    "url": f"{base}/@{PLACEHOLDER}/{status_id}",
                    "uri": f"{base}/users/{PLACEHOLDER}/statuses/{status_id}",
                    "content": "",
                    "in_reply_to_id": part.reply_to.remote_id if part and part.reply_to else None,
                },
            )
        if request.method == "GET" and "/api/v1/statuses/" in path:
            status_id = path.rsplit("/", 1)[-1]
            counts = {"replies_count": 0, "reblogs_count": 0, "favourites_count": 0}
            url = f"{base}/@{PLACEHOLDER}/{status_id}"
            return fake_json(request, {"id": status_id, "url": url, **counts})
        if path.endswith("/verify_credentials"):
            return fake_json(request, {"id": PLACEHOLDER, "username": PLACEHOLDER, "acct": PLACEHOLDER})
        if path.endswith("/api/v2/instance"):
            limit = self.text_rules().limit
            return fake_json(request, {"configuration": {"statuses": {"max_characters": limit}}})
        return fake_not_found(request)
