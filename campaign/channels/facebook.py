"""Facebook Page adapter: Graph API ``POST https://graph.facebook.com/{version}/{page-id}/feed``.

Facts relied on (each checked against the cited source):

- A Page post is ``POST /{page-id}/feed`` with ``message`` (and ``link``) and a Page access token; the
  answer is ``{"id": "{page-id}_{post-id}"}`` (https://developers.facebook.com/docs/pages/getting-started,
  https://developers.facebook.com/docs/graph-api/reference/page/feed). Link previews are scraped by
  Facebook; the card fields ``name``/``description`` were deprecated, so only ``link`` is sent
  (https://developers.facebook.com/docs/graph-api/reference/v2.12/post, "Limitations").
- The token may travel in the ``Authorization: Bearer`` header instead of the URL, which Graph accepts
  (https://github.com/restfb/restfb/issues/1107, https://github.com/huandu/facebook/pull/205); we never
  put it in a URL, so it cannot end up in logged URLs.
- Errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``. Codes: 1 unknown
  and 2 service (temporary: retry), 4/17/32/613 throttling, 10 and 200-299 permissions, 102/190 token
  invalid or expired, 100 invalid parameter, 341 application limit, 368 temporarily blocked for policy
  violations (wait and retry: held back like throttling), 506 duplicate post, 1609005 link error
  (https://developers.facebook.com/docs/graph-api/guides/error-handling). Business-use-case throttling
  answers 80001-80014 (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/).
- Page-token requests are under Business Use Case limits; ``X-Business-Use-Case-Usage`` is
  ``{"<id>": [{"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}]}``
  with usage in percent and the wait in minutes; ``X-App-Usage`` / ``X-Page-Usage`` carry the percentages
  (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/).
- The text limit of 63,206 characters is not in Meta's reference; it is the long-standing published
  figure (https://ferryman.io/character-limits/facebook).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Adapter,
    Exchange,
    Part,
    PostMetrics,
    RateLimit,
    Receipt,
    SampleAccount,
    fake_json,
)
from campaign.channels.facebook_media import GRAPH_VIDEO, fake_video_response, finish_request, upload_video
from campaign.channels.helpers import graph_error, graph_object_gone, json_object, usage_report, whole_count
from campaign.channels.upload_media import MEDIA, UPLOAD, media_extension, upload_error, upload_key
from campaign.errors import AmbiguousError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.rules import PLATFORM_MEDIA_RULES, VIDEO_TYPES
from campaign.text import counting
from campaign.text.rules import TextRules

GRAPH = "https://graph.facebook.com"
#: The Graph API version the reference documents now; accounts override it with ``graph_version``.
DEFAULT_VERSION = "v26.0"


#: What a metrics read asks of a Page post: the share count and the totals of reactions and comments.
POST_FIELDS = "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
#: The same of a Page video (a Video node has reactions and comments but no ``shares`` field:
#: https://developers.facebook.com/docs/graph-api/reference/video/).
VIDEO_FIELDS = POST_FIELDS.removeprefix("shares,")


def _refuses_reuse(response: httpx.Response, reused: Mapping[str, str]) -> bool:
    """A request naming a reused photo or video session refused with Graph error 100 ("Invalid
    parameter": https://developers.facebook.com/docs/graph-api/guides/error-handling), the answer to an
    object id Graph no longer knows. Meta documents no more specific shape."""
    if not reused or response.is_success or not 400 <= response.status_code < 500:
        return False
    error = json_object(response).get("error")
    return isinstance(error, Mapping) and error.get("code") == 100


def _post_counts(post: Mapping[str, Any]) -> dict[str, int]:
    """Reactions -> likes, comments -> replies, shares -> reposts (a missing edge is left out)."""
    counts: dict[str, int] = {}
    for edge, ours in (("reactions", "likes"), ("comments", "replies")):
        value = post.get(edge)
        summary = value.get("summary") if isinstance(value, Mapping) else None
        total = whole_count(summary.get("total_count") if isinstance(summary, Mapping) else None)
        if total is not None:
            counts[ours] = total
    shares = post.get("shares")
    # Graph leaves `shares` out of a post nobody shared.
    count = whole_count(shares.get("count") if isinstance(shares, Mapping) else 0)
    if count is not None:
        counts["reposts"] = count
    return counts


class FacebookAdapter(Adapter):
    """Publishes posts to a Facebook Page as the Page (no threads)."""

    name = "facebook"
    title = "Facebook Page"
    # A video is its own post (/videos, resumable upload: campaign.channels.facebook_media); photos are
    # attached to a /feed post. `mix` is False, so a post carries one or the other.
    media_rules = PLATFORM_MEDIA_RULES["facebook"]
    rules = TextRules(limit=63206, unit="characters", measure=counting.codepoints, max_hashtags=3)
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "Page access token (pages_manage_posts, pages_read_engagement; CREATE_CONTENT task)",
    }
    required_settings: ClassVar[Mapping[str, str]] = {"page_id": "the numeric ID of the Facebook Page"}
    optional_settings: ClassVar[Mapping[str, str]] = {
        "graph_version": f"Graph API version, e.g. {DEFAULT_VERSION} (default)",
    }
    docs = "https://developers.facebook.com/docs/graph-api/reference/page/feed"
    metrics_scopes = "pages_read_engagement (reactions, comments, shares of the Page's posts)"
    sample_account = SampleAccount(settings={"page_id": "1234567890"})
    #: Meta documents no lifetime for an unpublished photo (``published=false``, without ``temporary``) or
    #: for a resumable video session that finished its transfer but not its finish phase
    #: (https://developers.facebook.com/docs/graph-api/reference/page/photos/,
    #: https://developers.facebook.com/docs/graph-api/video-uploads), so a conservative hour is assumed.
    upload_lifetime = timedelta(hours=1)

    def publish(self, part: Part) -> Exchange[Receipt]:
        """``POST /{page}/feed``; photos are first uploaded unpublished (``POST /{page}/photos``, multipart
        ``source``, ``published=false``, ``alt_text_custom``) and attached with ``attached_media[n]``
        (https://developers.facebook.com/docs/graph-api/reference/page/photos/). A failed photo upload
        publishes nothing, so it is never ambiguous. Photo ids are recorded with the post and reused while
        valid (:attr:`upload_lifetime`); a post refused for a reused one uploads it again once."""
        page = self.setting("page_id")
        videos = [m for m in part.media if m.mime in VIDEO_TYPES]
        if videos:
            return (yield from self._publish_video(part, page, videos[0]))
        reused: dict[str, str] = {}
        fields = yield from self._feed(part, reused)
        response = yield self._form("POST", f"{self._base()}/{page}/feed", fields)
        if _refuses_reuse(response, reused) and self.drop_refused(part, reused, response.text):
            # A photo recorded earlier was refused: upload it again and post once more.
            fields = yield from self._feed(part, {})
            response = yield self._form("POST", f"{self._base()}/{page}/feed", fields)
        if not response.is_success:
            raise graph_error(response, now=self.clock())
        post_id = json_object(response).get("id")
        if not isinstance(post_id, str) or not post_id:
            raise AmbiguousError(f"HTTP {response.status_code} without a post id; outcome unknown")
        return Receipt(remote_id=post_id, url=f"https://www.facebook.com/{post_id}")

    def _feed(self, part: Part, reused: dict[str, str]) -> Exchange[dict[str, str]]:
        """The ``/feed`` fields: the text, and each photo uploaded unpublished first (or reused: added to
        ``reused``, photo id -> key)."""
        page = self.setting("page_id")
        fields = {"message": part.text}
        for index, media in enumerate(part.media):
            key = upload_key(media)
            recorded = self.reuse_upload(part, key)
            if recorded is not None:
                reused[recorded.remote_id] = key
                photo_id = recorded.remote_id
            else:
                photo_id = yield from self._upload_photo(page, media)
                self.record_upload(part, key, photo_id)
            fields[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        if part.link is not None and not part.media:
            fields["link"] = part.link.url
        return fields

    def _publish_video(self, part: Part, page: str, video: PreparedMedia) -> Exchange[Receipt]:
        """The resumable upload's start and transfer phases (uploads), then its finish phase with the text as
        ``description``, which publishes the video on the Page
        (https://developers.facebook.com/docs/graph-api/video-uploads). A finished transfer is recorded
        (video id and upload session), so a retry goes straight to finish; a finish refused for a reused
        session uploads again once."""
        base, key = self._video_base(), upload_key(video)
        reused: dict[str, str] = {}
        session, video_id = yield from self._video_session(part, base, page, video, key, reused)
        response = yield finish_request(base, page, self._auth(), session, part.text)
        if _refuses_reuse(response, reused) and self.drop_refused(part, reused, ""):
            session, video_id = yield from self._video_session(part, base, page, video, key, {})
            response = yield finish_request(base, page, self._auth(), session, part.text)
        if not response.is_success:
            raise graph_error(response, now=self.clock())
        if json_object(response).get("success") is not True:
            raise AmbiguousError(f"HTTP {response.status_code} without success; outcome unknown")
        return Receipt(remote_id=video_id, url=f"https://www.facebook.com/{page}/videos/{video_id}/")

    def _video_session(
        self, part: Part, base: str, page: str, video: PreparedMedia, key: str, reused: dict[str, str]
    ) -> Exchange[tuple[str, str]]:
        """``(upload_session_id, video_id)``: recorded by an earlier attempt, else a new upload, recorded."""
        recorded = self.reuse_upload(part, key)
        session = recorded.data.get("upload_session_id") if recorded is not None else None
        if recorded is not None and isinstance(session, str) and session:
            reused[recorded.remote_id] = key
            return session, recorded.remote_id
        session, video_id = yield from upload_video(base, page, self._auth(), video, now=self.clock)
        self.record_upload(part, key, video_id, data={"upload_session_id": session})
        return session, video_id

    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """``GET /{post-id}?fields=shares,reactions.summary(total_count),comments.summary(total_count)`` per
        post (https://developers.facebook.com/docs/graph-api/reference/post#edges); a missing object is
        gone."""
        found: PostMetrics = {}
        for receipt in receipts:
            response = yield self.json_request(
                "GET",
                f"{self._base()}/{receipt.remote_id}",
                params={"fields": VIDEO_FIELDS if "/videos/" in (receipt.url or "") else POST_FIELDS},
                headers=self._auth(),
            )
            if graph_object_gone(response):
                found[receipt.remote_id] = None
                continue
            if not response.is_success:
                raise graph_error(response, now=self.clock())
            found[receipt.remote_id] = _post_counts(json_object(response))
        return found

    def verify(self) -> Exchange[str]:
        page = self.setting("page_id")
        request = self.json_request(
            "GET", f"{self._base()}/{page}", params={"fields": "id,name"}, headers=self._auth()
        )
        response = yield request
        if not response.is_success:
            raise graph_error(response, now=self.clock())
        body = json_object(response)
        return f"{body.get('name', '?')} (page {body.get('id', page)})"

    def read_rate_limit(self, response: httpx.Response, now: datetime) -> RateLimit | None:
        return usage_report(response.headers, now)

    def _base(self) -> str:
        return f"{GRAPH}/{self.setting('graph_version', DEFAULT_VERSION)}"

    def _video_base(self) -> str:
        return f"{GRAPH_VIDEO}/{self.setting('graph_version', DEFAULT_VERSION)}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('token')}"}

    def _upload_photo(self, page: str, media: PreparedMedia) -> Exchange[str]:
        data = {"published": "false"}
        if media.alt:
            data["alt_text_custom"] = media.alt
        with open(media.path, "rb") as file:
            response = yield httpx.Request(
                "POST",
                f"{self._base()}/{page}/photos",
                headers={
                    "Accept": "application/json",
                    "Content-Type": f"multipart/form-data; boundary=campaign-{media.sha256[:32]}",
                    **self._auth(),
                },
                data=data,
                files={"source": (media.store_name, file, media.mime)},
                extensions={MEDIA: media_extension(media), UPLOAD: True},
            )
        what = f"uploading {media.source} to Facebook"
        if not response.is_success:
            raise upload_error(
                response, now=self.clock(), what=what, error=graph_error(response, now=self.clock())
            )
        photo_id = json_object(response).get("id")
        if not isinstance(photo_id, str) or not photo_id:
            raise TransientError(f"{what}: HTTP {response.status_code} without a photo id")
        return photo_id

    def _form(self, method: str, url: str, fields: Mapping[str, str]) -> httpx.Request:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            **self._auth(),
        }
        return httpx.Request(method, url, content=urlencode(fields).encode("ascii"), headers=headers)

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        page = self.account.settings.get("page_id", PLACEHOLDER)
        video = fake_video_response(request)
        if video is not None:
            return video
        if request.method == "POST" and request.url.path.endswith("/videos"):  # the finish phase
            return fake_json(request, {"success": True})
        if request.method == "POST" and request.url.path.endswith("/photos"):
            sha = str(request.extensions.get(MEDIA, {}).get("sha256", ""))[:12]
            return fake_json(request, {"id": f"{PLACEHOLDER}-photo-{sha}"})
        if request.method == "POST" and request.url.path.endswith("/feed"):
            index = part.index if part else 0
            return fake_json(request, {"id": f"{page}_{PLACEHOLDER}-{index}"})
        if request.method == "GET" and request.url.params.get("fields") in (POST_FIELDS, VIDEO_FIELDS):
            zero = {"data": [], "summary": {"total_count": 0}}
            post = {"id": request.url.path.rsplit("/", 1)[1], "shares": {"count": 0}}
            return fake_json(request, {**post, "reactions": zero, "comments": zero})
        if request.method == "GET":
            return fake_json(request, {"id": str(page), "name": PLACEHOLDER})
        return fake_json(request, {"error": {"message": "no dry-run answer", "code": 100}}, 400)
