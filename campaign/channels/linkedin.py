"""LinkedIn adapter: the versioned Posts API ``POST https://api.linkedin.com/rest/posts``.

Facts relied on (each checked against the cited source):

- Every call sends ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``; a post is
  ``{author, commentary, visibility, distribution{feedDistribution, targetEntities,
  thirdPartyDistributionChannels}, lifecycleState, isReshareDisabledByAuthor}``; an article (link card)
  post adds ``content.article{source, title, description}`` whose fields the caller sets, since LinkedIn
  does not scrape the URL (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/
  shares/posts-api, https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/
  advertising-targeting/version/article-ads-integrations). Success is 201 with the new post's URN in the
  ``x-restli-id`` header; the post is viewed at ``https://www.linkedin.com/feed/update/{urn}/``.
- Versions are retired after about a year, and a retired one answers 426 ``NONEXISTENT_VERSION``
  (https://github.com/PipedreamHQ/pipedream/issues/18398, https://github.com/ComposioHQ/composio/issues/3113);
  ``202606`` is documented (https://learn.microsoft.com/en-us/linkedin/marketing/versioning).
- ``commentary`` is in the "little text" format: ``\\ | { } @ [ ] ( ) < > # * _ ~`` are reserved and
  must be backslash-escaped to be plain text; ``{hashtag|\\#|tag}`` is the hashtag template
  (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format).
  Unescaped reserved characters silently truncate the post
  (https://github.com/PipedreamHQ/pipedream/issues/17353); LinkedIn strips the escapes when rendering
  (https://github.com/gitroomhq/postiz-app/issues/1847).
- A repeated post answers 422 with ``DUPLICATE_POST`` / "Content is a duplicate of urn:li:share:..."
  (https://github.com/Arisamiga/Linkedin-RSS/issues/5).
- Limits are daily per application and per member, reset at midnight UTC, unpublished, and signalled
  only by 429 (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits).
- ``GET https://api.linkedin.com/v2/userinfo`` (OpenID Connect, scopes ``openid profile``) names the
  member: ``sub``, ``name`` (https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/
  sign-in-with-linkedin-v2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

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
    retry_after_seconds,
)
from campaign.channels.helpers import fake_not_found, json_object, read_counts
from campaign.channels.linkedin_media import fake_video_response, upload_video
from campaign.channels.upload_media import MEDIA, mark_upload, upload_error, upload_key, upload_request
from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.media.model import PreparedMedia
from campaign.media.rules import PLATFORM_MEDIA_RULES, VIDEO_TYPES
from campaign.text import counting
from campaign.text.rules import TextRules

POSTS_URL = "https://api.linkedin.com/rest/posts"
IMAGES_URL = "https://api.linkedin.com/rest/images"
SOCIAL_ACTIONS_URL = "https://api.linkedin.com/rest/socialActions"
USERINFO_URL = "https://api.linkedin.com/v2/userinfo"
ORGANIZATIONS_URL = "https://api.linkedin.com/rest/organizations"
#: A version LinkedIn documents as active; accounts override it with the ``version`` setting.
DEFAULT_VERSION = "202606"

#: Characters the little text format reserves (escaped with a backslash to be plain text).
RESERVED = frozenset("\\|{}@[]()<>#*_~")
# A hashtag: "#" not glued to a preceding word, then a word with at least one letter. A word containing
# "_" stays plain text, because "_" is itself reserved and LinkedIn documents no escaping inside templates.
# URLs are matched first so that a fragment ("page#part") is never taken for a hashtag.
_TOKEN = re.compile(r"(?P<url>https?://\S+)|(?<![\w#&])#(?P<tag>\w+)")
_URN = re.compile(r"^urn:li:(person|organization):([^:\s]+)$")


def little_text(text: str) -> str:
    """``text`` in LinkedIn's little text format: hashtags as ``{hashtag|\\#|tag}``, reserved chars escaped.

    Everything else, URLs included, is escaped character by character, so what readers see is exactly
    ``text`` (an unescaped reserved character would silently truncate the post). ``#1`` (no letter),
    ``#snake_case`` and a URL's ``#fragment`` stay literal text.
    """
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        word = match.group("tag")
        if word is None or "_" in word or not any(ch.isalpha() for ch in word):
            continue  # a URL, or a "#" that is not a hashtag: escaped with the surrounding text
        out.append(_escape(text[position : match.start()]))
        out.append("{hashtag|\\#|" + word + "}")
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in RESERVED else ch for ch in text)


class LinkedInAdapter(Adapter):
    """Publishes single posts (LinkedIn has no threads) as a member or an organization page."""

    name = "linkedin"
    title = "LinkedIn"
    media_rules = PLATFORM_MEDIA_RULES["linkedin"]
    # 3000 characters of commentary; LinkedIn has no reply-chain threads.
    rules = TextRules(
        limit=3000,
        unit="UTF-16 code units",
        measure=counting.utf16_units,
        max_hashtags=5,
        hashtag_case="camel",
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "OAuth 2.0 access token (w_member_social for a person, w_organization_social for a page)",
    }
    required_settings: ClassVar[Mapping[str, str]] = {
        "author": "who posts: urn:li:person:ID or urn:li:organization:ID",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "version": f"LinkedIn-Version header, YYYYMM (default {DEFAULT_VERSION}; retired after ~1 year)",
    }
    docs = "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api"
    metrics_scopes = "r_organization_social (organisation posts); r_member_social (members, restricted)"
    #: LinkedIn documents no lifetime for an image or video URN no post uses yet (the Images and Videos
    #: APIs name only when the *upload URLs* expire: ``uploadUrlExpiresAt``, ``uploadUrlsExpireAt``), so a
    #: conservative hour is assumed: a retry or restart soon after reuses it, later ones upload again.
    upload_lifetime = timedelta(hours=1)
    sample_account = SampleAccount(settings={"author": "urn:li:person:contract"})

    def publish(self, part: Part) -> Exchange[Receipt]:
        """``POST /rest/posts``; images are first uploaded with the Images API (``initializeUpload``, then
        ``PUT`` the bytes to ``uploadUrl``) and attached as ``content.media`` (one) or
        ``content.multiImage`` (2-20), each with ``altText``
        (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api,
        .../shares/multiimage-post-api). A video (alone: ``media_rules.mix`` is False) goes through the Videos
        API (:mod:`campaign.channels.linkedin_media`) and is attached as ``content.media.id``. A failed upload
        publishes nothing, so it is never ambiguous. Each finished upload's URN is recorded with the post and
        reused while valid (:attr:`upload_lifetime`); one the post is refused for is uploaded again once."""
        reused: dict[str, str] = {}
        body = yield from self._post_body(part, reused)
        response = yield self.json_request("POST", POSTS_URL, json_body=body, headers=self._headers())
        if self._refuses_reuse(response, reused) and self.drop_refused(part, reused, response.text):
            # An image or video recorded earlier is gone: upload it again and post once more.
            body = yield from self._post_body(part, {})
            response = yield self.json_request("POST", POSTS_URL, json_body=body, headers=self._headers())
        if response.status_code != 201:
            raise self._error(response)
        urn = response.headers.get("x-restli-id", "").strip()
        if not urn:
            raise AmbiguousError(
                "LinkedIn answered 201 without an x-restli-id header; post id unknown", status=201
            )
        return Receipt(remote_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/")

    def _post_body(self, part: Part, reused: dict[str, str]) -> Exchange[dict[str, Any]]:
        """The ``/rest/posts`` body, its media uploaded first (or reused: added to ``reused``, URN -> key)."""
        images: list[dict[str, str]] = []
        video: str | None = None
        for media in part.media:
            urn = yield from self._media_urn(part, media, reused)
            if media.mime in VIDEO_TYPES:
                video = urn
            else:
                images.append({"id": urn, "altText": media.alt})
        body: dict[str, Any] = {
            "author": self._author(),
            "commentary": little_text(part.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if video is not None:
            body["content"] = {"media": {"id": video}}
        elif images:
            body["content"] = {"media": images[0]} if len(images) == 1 else {"multiImage": {"images": images}}
        elif part.link is not None:
            article = {"source": part.link.url, "title": part.link.title or part.link.url}
            if part.link.description:
                article["description"] = part.link.description
            body["content"] = {"article": article}
        return body

    def _media_urn(self, part: Part, media: PreparedMedia, reused: dict[str, str]) -> Exchange[str]:
        """The image or video URN of ``media``: one an earlier attempt uploaded (still within
        :attr:`upload_lifetime`), else uploaded now (Images or Videos API) and recorded once finished."""
        key = upload_key(media)
        recorded = self.reuse_upload(part, key)
        if recorded is not None:
            reused[recorded.remote_id] = key
            return recorded.remote_id
        if media.mime in VIDEO_TYPES:
            urn = yield from upload_video(
                self._headers(), self._author(), media, now=self.clock, error_for=self._error
            )
        else:
            urn = yield from self._upload_image(media)
        self.record_upload(part, key, urn)
        return urn

    @staticmethod
    def _refuses_reuse(response: httpx.Response, reused: Mapping[str, str]) -> bool:
        """A post refused (400, 404 or 422) with an answer naming a reused image or video URN. LinkedIn
        documents no shape for an expired upload; naming the URN is what ties the refusal to it."""
        if response.status_code not in (400, 404, 422) or not reused:
            return False
        return any(names_id(response.text, urn) for urn in reused)

    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """``GET /rest/socialActions/{urn}`` per post: likes and comments; 404 means the post is gone
        (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/network-update-social-actions)."""
        found: PostMetrics = {}
        for receipt in receipts:
            url = f"{SOCIAL_ACTIONS_URL}/{quote(receipt.remote_id, safe='')}"
            response = yield self.json_request("GET", url, headers=self._headers())
            if response.status_code in (404, 410):
                found[receipt.remote_id] = None
                continue
            if not response.is_success:
                raise self._error(response)
            body = json_object(response)
            likes = body.get("likesSummary")
            comments = body.get("commentsSummary")
            counts = read_counts(likes if isinstance(likes, dict) else {}, {"totalLikes": "likes"})
            counts |= read_counts(
                comments if isinstance(comments, dict) else {},
                # Later names win: every comment where LinkedIn counts them all, else the first-level ones.
                {"totalFirstLevelComments": "replies", "aggregatedTotalComments": "replies"},
            )
            found[receipt.remote_id] = counts
        return found

    def verify(self) -> Exchange[str]:
        kind, ident = self._author_parts()
        if kind == "person":
            response = yield self.json_request("GET", USERINFO_URL, headers=self._headers(versioned=False))
            if not response.is_success:
                raise self._error(response)
            info = json_object(response)
            sub = str(info.get("sub", ""))
            if sub and sub != ident:
                raise AuthError(
                    f"the token belongs to urn:li:person:{sub}, not to the author {self._author()}"
                )
            return f"{info.get('name', '?')} (urn:li:person:{sub or ident})"
        response = yield self.json_request("GET", f"{ORGANIZATIONS_URL}/{ident}", headers=self._headers())
        if not response.is_success:
            raise self._error(response)
        return f"{json_object(response).get('localizedName', '?')} (urn:li:organization:{ident})"

    # -- helpers -------------------------------------------------------------------------------------------

    def _author(self) -> str:
        return self.setting("author").strip()

    def _author_parts(self) -> tuple[str, str]:
        match = _URN.match(self._author())
        if match is None:
            raise PermanentError(
                f"account {self.account.name!r}: author must be urn:li:person:ID or urn:li:organization:ID"
            )
        return match.group(1), match.group(2)

    def _upload_image(self, media: PreparedMedia) -> Exchange[str]:
        """initializeUpload, then PUT the file (streamed from the store); the image URN."""
        what = f"uploading {media.source} to LinkedIn"
        init = yield mark_upload(
            self.json_request(
                "POST",
                IMAGES_URL,
                json_body={"initializeUploadRequest": {"owner": self._author()}},
                headers=self._headers(),
                params={"action": "initializeUpload"},
            )
        )
        if not init.is_success:
            raise upload_error(init, now=self.clock(), what=what, error=self._error(init))
        value = json_object(init).get("value")
        upload_url = value.get("uploadUrl") if isinstance(value, dict) else None
        image = value.get("image") if isinstance(value, dict) else None
        if not isinstance(upload_url, str) or not isinstance(image, str):
            raise TransientError(f"{what}: initializeUpload answered without uploadUrl and image")
        put = yield upload_request(
            "PUT", upload_url, media, headers={"Authorization": self._headers()["Authorization"]}
        )
        if not put.is_success:
            raise upload_error(put, now=self.clock(), what=what)
        return image

    def _headers(self, *, versioned: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret('token')}", "X-Restli-Protocol-Version": "2.0.0"}
        if versioned:
            headers["LinkedIn-Version"] = self.setting("version", DEFAULT_VERSION)
        return headers

    def _error(self, response: httpx.Response) -> ChannelError:
        status = response.status_code
        message = platform_message(response)
        body = json_object(response)
        if status == 422 and ("DUPLICATE_POST" in response.text or "duplicate" in message.lower()):
            return PermanentError(f"HTTP 422: {message}", status=status, platform_message=message)
        if status == 426:
            return PermanentError(
                f"HTTP 426: {message} (set a current LinkedIn-Version with the account's `version` setting)",
                status=status,
                platform_message=message,
            )
        if status == 429:
            now = self.clock()
            wait = retry_after_seconds(response.headers, now)
            # Daily limits reset at midnight UTC; without Retry-After that is the earliest safe retry.
            retry_at = (
                None if wait is not None else datetime.combine(now.date() + timedelta(days=1), time(), UTC)
            )
            return RateLimitedError(
                f"HTTP 429: {message}", retry_at=retry_at, retry_after=wait, platform_message=message
            )
        if status in (401, 403):
            code = body.get("code") or body.get("serviceErrorCode") or ""
            return AuthError(
                f"HTTP {status}: {message}" + (f" ({code})" if code else ""),
                status=status,
                platform_message=message,
            )
        return classify_status(response, message, now=self.clock())

    # -- dry run -------------------------------------------------------------------------------------------

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        video = fake_video_response(request)
        if video is not None:
            return video
        if request.url.path == "/rest/images":
            sha = str(request.extensions.get(MEDIA, {}).get("sha256", ""))[:12] or PLACEHOLDER
            image = f"urn:li:image:{PLACEHOLDER}-{sha}"
            upload = f"https://www.linkedin.com/dms-uploads/{PLACEHOLDER}-{sha}"
            return fake_json(request, {"value": {"uploadUrl": upload, "image": image}})
        if request.method == "PUT" and request.url.path.startswith("/dms-uploads/"):
            return httpx.Response(201, request=request)
        if request.method == "POST" and request.url.path == "/rest/posts":
            index = part.index if part else 0
            urn = f"urn:li:share:{PLACEHOLDER}-{index}"
            return httpx.Response(201, headers={"x-restli-id": urn}, request=request)
        if request.method == "GET" and request.url.path.startswith("/rest/socialActions/"):
            summary = {"likesSummary": {"totalLikes": 0}, "commentsSummary": {"aggregatedTotalComments": 0}}
            return fake_json(request, summary)
        if request.url.path == "/v2/userinfo":
            _, ident = self._author_parts()
            return fake_json(request, {"sub": ident, "name": PLACEHOLDER})
        if request.url.path.startswith("/rest/organizations/"):
            return fake_json(
                request, {"id": request.url.path.rsplit("/", 1)[1], "localizedName": PLACEHOLDER}
            )
        return fake_not_found(request, key="message")
