"""Threads (Meta) adapter: create a media container, check its status, then publish it.

Facts relied on (each checked against the cited source):

- Publishing is two steps: ``POST /{threads-user-id}/threads`` (``media_type=TEXT``, ``text``, optional
  ``reply_to_id`` and ``link_attachment``) answers ``{"id": <container>}``; ``POST
  /{threads-user-id}/threads_publish`` with ``creation_id`` answers ``{"id": <media>}``. Text posts are
  limited to 500 characters, emoji counted as their UTF-8 bytes; a post has at most one topic tag
  (https://developers.facebook.com/documentation/threads/posts). Replies use ``reply_to_id``
  (https://developers.facebook.com/documentation/threads/retrieve-and-manage-replies/create-replies).
- ``GET /{container-id}?fields=status,error_message`` answers ``EXPIRED`` (not published within 24 h),
  ``ERROR``, ``FINISHED`` (ready), ``IN_PROGRESS`` or ``PUBLISHED``
  (https://developers.facebook.com/docs/threads/troubleshooting).
- A profile may publish 250 posts through the API in a moving 24 hours (1,000 replies), enforced at
  ``threads_publish``; ``GET /{threads-user-id}/threads_publishing_limit?fields=quota_usage,config``
  reports the usage (https://developers.facebook.com/docs/threads/overview/).
- The API is at ``graph.threads.net`` (or ``graph.threads.com``) ``/v1.0``; ``GET /me?fields=id,username``
  names the token's profile (https://developers.facebook.com/documentation/threads/threads-profiles).
- Errors use the Graph format, classified by :func:`campaign.channels.helpers.graph_error`.

The receipt carries the media id but no URL: a permalink needs one more ``GET`` after the post is live,
and a transport failure on that call would be reported by the runner as a failure of the whole exchange
(transient or ambiguous) although the post was published, inviting a duplicate. The container id is kept
in ``Receipt.data`` for reconciliation by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Adapter,
    Exchange,
    Part,
    PostMetrics,
    Quota,
    RateLimit,
    Receipt,
    fake_json,
)
from campaign.channels.helpers import (
    graph_error,
    graph_object_gone,
    json_items,
    json_object,
    read_counts,
    usage_report,
)
from campaign.channels.upload_media import mark_upload, public_urls
from campaign.errors import AmbiguousError, PermanentError, TransientError
from campaign.media.rules import PLATFORM_MEDIA_RULES, VIDEO_TYPES
from campaign.text import counting
from campaign.text.rules import TextRules

API = "https://graph.threads.net/v1.0"
#: How many times the exchange reads a container's status before giving up. The dispatcher sends the
#: reads back to back (it does not sleep between an exchange's steps), so this stays small; text
#: containers are normally FINISHED at the first read.
DEFAULT_STATUS_CHECKS = 3


#: The media insights a metrics read asks for; their names are already ours.
INSIGHTS = "views,likes,replies,reposts,quotes"


def _insight_counts(body: Mapping[str, Any]) -> dict[str, int]:
    """``{"data": [{"name": "likes", "values": [{"value": 3}]}, ...]}`` -> ``{"likes": 3, ...}``."""
    counts: dict[str, int] = {}
    for item in json_items(body, "data"):
        if not isinstance(item, Mapping):
            continue
        values = item.get("values")
        total = item.get("total_value")
        first = values[0] if isinstance(values, list) and values else None
        value = first.get("value") if isinstance(first, Mapping) else None
        if value is None and isinstance(total, Mapping):
            value = total.get("value")
        name = item.get("name")
        if name in INSIGHTS.split(","):
            counts.update(read_counts({name: value}, {name: str(name)}))  # whole numbers only, as elsewhere
    return counts


class ThreadsAdapter(Adapter):
    """Publishes posts and reply-chain threads on Threads."""

    name = "threads"
    title = "Threads"
    media_rules = PLATFORM_MEDIA_RULES["threads"]
    rules = TextRules(
        limit=500, unit="characters", measure=counting.threads_length, threads=True, max_hashtags=1
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "Threads user access token (threads_basic, threads_content_publish); long-lived, 60 days",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "user_id": "Threads user ID that publishes (default: me, the token's own profile)",
        "status_checks": f"container status reads before giving up (default {DEFAULT_STATUS_CHECKS})",
    }
    docs = "https://developers.facebook.com/documentation/threads/posts"
    metrics_scopes = "threads_basic, threads_manage_insights (media insights)"
    #: 250 API-published posts per profile in a moving 24 hours
    #: (https://developers.facebook.com/docs/threads/overview/#rate-limiting).
    default_quota = Quota(250)

    def publish(self, part: Part) -> Exchange[Receipt]:
        """Container (TEXT, IMAGE/VIDEO by URL, or a CAROUSEL of item containers), status, publish.

        Threads fetches media from ``image_url``/``video_url`` (``media_base_url``/<sha256>.<ext>), with
        ``alt_text`` (https://developers.facebook.com/docs/threads/posts#carousel-posts,
        https://developers.facebook.com/docs/threads/posts/accessibility).
        """
        user = self.setting("user_id", "me")
        fields = {"media_type": "TEXT", "text": part.text}
        if part.media:
            fields = yield from self._media_fields(user, part)
        elif part.link is not None:
            fields["link_attachment"] = part.link.url
        if part.reply_to is not None:
            fields["reply_to_id"] = part.reply_to.remote_id
        created = yield self._form(f"{API}/{user}/threads", fields)
        container = self._id(created, "container")

        checks = max(1, int(self.setting("status_checks", str(DEFAULT_STATUS_CHECKS))))
        status = "IN_PROGRESS"
        for _ in range(checks):
            response = yield self._get(f"{API}/{container}", {"fields": "status,error_message"})
            if not response.is_success:
                raise graph_error(response, now=self.clock())
            body = json_object(response)
            status = str(body.get("status", ""))
            if status != "IN_PROGRESS":
                break
        if status == "ERROR":
            detail = body.get("error_message") or "UNKNOWN"
            raise PermanentError(
                f"Threads container {container} failed: {detail}", platform_message=str(detail)
            )
        if status == "EXPIRED":
            raise TransientError(f"Threads container {container} expired before it was published")
        if status == "IN_PROGRESS":
            raise TransientError(
                f"Threads container {container} still IN_PROGRESS after {checks} status reads"
            )
        if status != "FINISHED":  # PUBLISHED cannot happen to a container we just made; no media id to show
            raise AmbiguousError(f"Threads container {container} reported status {status!r}")

        published = yield self._form(f"{API}/{user}/threads_publish", {"creation_id": container})
        media = self._id(published, "media", ambiguous=True)
        return Receipt(remote_id=media, data={"container_id": container})

    def _media_fields(self, user: str, part: Part) -> Exchange[dict[str, str]]:
        """The post container's fields for ``part``'s media (item containers first, for a carousel)."""
        urls = public_urls(part.media, part.media_base_url, "Threads")
        items = []
        for media, url in zip(part.media, urls, strict=True):
            video = media.mime in VIDEO_TYPES
            item = {"media_type": "VIDEO" if video else "IMAGE", ("video_url" if video else "image_url"): url}
            if media.alt:
                item["alt_text"] = media.alt
            items.append(item)
        if len(items) == 1:
            return {**items[0], "text": part.text}
        children = []
        for item in items:
            child = yield mark_upload(
                self._form(f"{API}/{user}/threads", {**item, "is_carousel_item": "true"})
            )
            children.append(self._id(child, "carousel item"))
        return {"media_type": "CAROUSEL", "children": ",".join(children), "text": part.text}

    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """``GET /{media-id}/insights?metric=views,likes,replies,reposts,quotes`` per post
        (https://developers.facebook.com/documentation/threads/insights); a missing object is gone."""
        found: PostMetrics = {}
        for receipt in receipts:
            response = yield self._get(f"{API}/{receipt.remote_id}/insights", {"metric": INSIGHTS})
            if graph_object_gone(response):
                found[receipt.remote_id] = None
                continue
            if not response.is_success:
                raise graph_error(response, now=self.clock())
            found[receipt.remote_id] = _insight_counts(json_object(response))
        return found

    def verify(self) -> Exchange[str]:
        me = yield self._get(f"{API}/{self.setting('user_id', 'me')}", {"fields": "id,username"})
        if not me.is_success:
            raise graph_error(me, now=self.clock())
        profile = json_object(me)
        user_id = str(profile.get("id", ""))
        limit = yield self._get(f"{API}/{user_id}/threads_publishing_limit", {"fields": "quota_usage,config"})
        if not limit.is_success:
            raise graph_error(limit, now=self.clock())
        data = json_object(limit).get("data")
        usage = data[0] if isinstance(data, list) and data and isinstance(data[0], Mapping) else {}
        raw_config = usage.get("config")
        config: Mapping[str, Any] = raw_config if isinstance(raw_config, Mapping) else {}
        quota = f"{usage.get('quota_usage', '?')}/{config.get('quota_total', '?')} posts"
        hours = config.get("quota_duration")
        window = f"{int(hours) // 3600} h" if isinstance(hours, int) else "?"
        return f"@{profile.get('username', '?')} (user id {user_id}); {quota} published in the last {window}"

    def read_rate_limit(self, response: httpx.Response, now: datetime) -> RateLimit | None:
        return usage_report(response.headers, now)

    # -- helpers -------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        # The token travels in the header, never in a URL (Meta's examples put it in the query).
        return {"Accept": "application/json", "Authorization": f"Bearer {self.secret('token')}"}

    def _form(self, url: str, fields: Mapping[str, str]) -> httpx.Request:
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        return httpx.Request("POST", url, content=urlencode(fields).encode("utf-8"), headers=headers)

    def _get(self, url: str, params: Mapping[str, str]) -> httpx.Request:
        return httpx.Request("GET", url, params=params, headers=self._headers())

    def _id(self, response: httpx.Response, what: str, *, ambiguous: bool = False) -> str:
        """The ``id`` of a success body. A publish step without one may have published (ambiguous)."""
        if not response.is_success:
            raise graph_error(response, now=self.clock())
        value = json_object(response).get("id")
        if isinstance(value, str | int) and str(value):
            return str(value)
        error = AmbiguousError if ambiguous else TransientError
        raise error(
            f"Threads answered HTTP {response.status_code} without a {what} id", status=response.status_code
        )

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        index = part.index if part else 0
        path = request.url.path
        if request.method == "POST" and path.endswith("/threads"):
            return fake_json(request, {"id": f"{PLACEHOLDER}-container-{index}"})
        if request.method == "POST" and path.endswith("/threads_publish"):
            return fake_json(request, {"id": f"{PLACEHOLDER}-media-{index}"})
        if path.endswith("/threads_publishing_limit"):
            return fake_json(
                request,
                {"data": [{"quota_usage": 0, "config": {"quota_total": 250, "quota_duration": 86400}}]},
            )
        if path.endswith("/insights"):
            names = request.url.params.get("metric", "").split(",")
            data = [{"name": n, "period": "lifetime", "values": [{"value": 0}]} for n in names if n]
            return fake_json(request, {"data": data})
        if request.url.params.get("fields") == "status,error_message":
            return fake_json(request, {"status": "FINISHED", "id": path.rsplit("/", 1)[1]})
        return fake_json(request, {"id": f"{PLACEHOLDER}-user", "username": PLACEHOLDER})
