"""X (formerly Twitter) adapter: X API v2 ``POST /2/tweets`` with an OAuth 2.0 user-context token.

Facts relied on (each checked against the cited source):

- Endpoint ``POST https://api.x.com/2/tweets`` with ``{"text": ...}``; a reply (thread part) adds
  ``{"reply": {"in_reply_to_tweet_id": ...}}``; the answer is ``{"data": {"id", "text"}}``
  (https://docs.x.com/x-api/posts/creation-of-a-post).
- User-context access tokens expire after two hours; with the ``offline.access`` scope a refresh token is
  issued and renewed at ``POST https://api.x.com/2/oauth2/token`` with ``grant_type=refresh_token`` and
  ``client_id``; confidential clients authenticate with HTTP Basic
  (https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code,
  https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token). Refresh tokens rotate.
- Every response carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and ``x-rate-limit-reset``
  (Unix epoch seconds); going over answers 429 (https://docs.x.com/fundamentals/rate-limits). Posting is
  also capped per 24 hours, reported in ``x-app-limit-24hour-*`` / ``x-user-limit-24hour-*`` headers
  (seen in responses: https://github.com/PLhery/node-twitter-api-v2/issues/495,
  https://github.com/akrherz/iembot/issues/163).
- A repeated text answers 403 with the problem detail "You are not allowed to create a Tweet with duplicate
  content." (https://github.com/akrherz/iembot/issues/163); other 403s name their cause in the RFC 7807
  problem ``type``/``reason`` (e.g. ``client-not-enrolled``: https://www.volcengine.com/article/3278271).
- ``GET https://api.x.com/2/users/me`` answers ``{"data": {"id", "name", "username"}}`` for a user token
  (https://docs.x.com/x-api/users/lookup/integrate).

X cannot find an already-published post without the search API, so :meth:`XAdapter.lookup` is None and an
``unknown`` X post waits for a person. X's duplicate check rejects an identical text, but it is not an
idempotency guarantee (its window is undocumented and a thread part may legitimately repeat), so
``deduplicates`` is False.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Account,
    Adapter,
    Exchange,
    Part,
    PostMetrics,
    RateLimit,
    Receipt,
    classify_status,
    fake_json,
    parse_reset,
    platform_message,
)
from campaign.channels.helpers import fake_not_found, json_items, json_object, read_counts, whole_count
from campaign.channels.oauth import TokenSet, parse_token_response, refresh_request
from campaign.channels.upload_media import upload_key
from campaign.channels.x_media import XMedia, fake_upload_response, upload_media
from campaign.errors import AmbiguousError, AuthError, ChannelError, PermanentError, RateLimitedError
from campaign.media.model import PreparedMedia
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.secrets import redact
from campaign.text import counting
from campaign.text.rules import TextRules

API = "https://api.x.com/2"
TWEETS_URL = f"{API}/tweets"
ME_URL = f"{API}/users/me"
TOKEN_URL = f"{API}/oauth2/token"

#: The problem detail X answers (403) for a text it has already seen from this account.
DUPLICATE_DETAIL = "duplicate content"
#: Problem types/reasons that mean the app or token may not do this at all (credentials, not content).
_AUTH_PROBLEMS = (
    "client-forbidden",
    "unsupported-authentication",
    "client-not-enrolled",
    "official-client-forbidden",
)
#: Header families X reports budgets in, most specific window first.
_LIMIT_FAMILIES = ("x-rate-limit-", "x-user-limit-24hour-", "x-app-limit-24hour-")


logger = logging.getLogger(__name__)

#: ``public_metrics`` fields (https://docs.x.com/x-api/fundamentals/metrics) under our names.
PUBLIC_METRICS = {
    "like_count": "likes",
    "retweet_count": "reposts",
    "reply_count": "replies",
    "quote_count": "quotes",
    "bookmark_count": "bookmarks",
    "impression_count": "impressions",
}


class XAdapter(Adapter):
    """Publishes posts and threads on X with an OAuth 2.0 user-context token, refreshing it once on 401.

    A refreshed token pair is kept on the instance (one instance serves one account for the dispatcher's
    life) and handed to :attr:`on_tokens` so the caller can persist the rotated refresh token: X
    invalidates the old one, so a refresh that is not saved forces a re-authorisation at the next restart.
    """

    name = "x"
    title = "X"
    media_rules = PLATFORM_MEDIA_RULES["x"]
    # 280 weighted characters, URLs counted as 23 (twitter-text's rules; counting.x_length).
    rules = TextRules(
        limit=280, unit="weighted characters", measure=counting.x_length, threads=True, max_hashtags=2
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "OAuth 2.0 user-context access token (scopes tweet.read tweet.write users.read)",
        "refresh_token": "optional: OAuth 2.0 refresh token (scope offline.access), used once on 401",
        "client_secret": "optional: client secret of a confidential client (HTTP Basic on token refresh)",
    }
    optional_credentials: ClassVar[frozenset[str]] = frozenset({"refresh_token", "client_secret"})
    optional_settings: ClassVar[Mapping[str, str]] = {
        "username": "the account's @handle without @, for receipt URLs (default: x.com/i/web/status/ID)",
        "client_id": "OAuth 2.0 client ID of the app (required to refresh the access token)",
    }
    docs = "https://docs.x.com/x-api/posts/creation-of-a-post"
    metrics_batch = 100  # GET /2/tweets takes up to 100 ids
    #: A media id is valid for ``expires_after_secs`` of the FINALIZE answer (86,400 s, a day, for the
    #: tweet categories), which wins when it says less (https://docs.x.com/x-api/media/media-upload-finalize,
    #: https://docs.x.com/x-api/media/quickstart/media-upload-chunked).
    upload_lifetime = timedelta(hours=24)
    metrics_scopes = "tweet.read users.read (public_metrics; impression_count is given to the author)"
    #: The OAuth 2.0 token refresh verify() may need before it can read the profile.
    login_paths = frozenset({"/2/oauth2/token"})

    def __init__(self, account: Account, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(account, clock=clock)
        self._tokens: TokenSet | None = None
        #: Called with every newly granted token pair (persist ``refresh_token``: X rotates it).
        self.on_tokens: Callable[[TokenSet], None] | None = None

    # -- exchanges -----------------------------------------------------------------------------------------

    def publish(self, part: Part) -> Exchange[Receipt]:
        """Upload the part's media (v2 chunked upload, alt text as metadata), then ``POST /2/tweets``.

        Each media id is recorded with the post until it expires (``expires_after_secs``); one an earlier
        attempt recorded is reused while valid (:meth:`reuse_upload`); one X refuses is uploaded again and
        the post sent once more (:func:`_refuses_media`, :meth:`drop_refused`)."""
        body: dict[str, Any] = {"text": part.text}
        if part.reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": part.reply_to.remote_id}
        reused: dict[str, str] = {}
        media_ids = yield from self._media_ids(part, reused)
        response = yield from self._authorized("POST", TWEETS_URL, _with_media(body, media_ids))
        if _refuses_media(response) and self.drop_refused(part, reused, response.text):
            # A media id recorded earlier is no longer valid: upload it again and post once more.
            media_ids = yield from self._media_ids(part, {})
            response = yield from self._authorized("POST", TWEETS_URL, _with_media(body, media_ids))
        if response.status_code not in (200, 201):
            raise self._error(response)
        post_id = _data_field(response, "id")
        username = self.account.settings.get("username")
        where = f"{username}/status" if username else "i/web/status"
        return Receipt(remote_id=post_id, url=f"https://x.com/{where}/{post_id}")

    def _media_ids(self, part: Part, reused: dict[str, str]) -> Exchange[list[str]]:
        """The media ids of the part's media: recorded ones still valid (added to ``reused``: id -> key),
        the others uploaded now and recorded until they expire."""
        media_ids = []
        for media in part.media:
            key = upload_key(media)
            recorded = self.reuse_upload(part, key)
            if recorded is not None:  # an earlier attempt uploaded it and its media id is still valid
                reused[recorded.remote_id] = key
                media_ids.append(recorded.remote_id)
                continue
            uploaded = yield from self._upload(media)
            self.record_upload(part, key, uploaded.id, expires_at=uploaded.expires_at,
                               data={"media_key": uploaded.media_key})  # fmt: skip
            media_ids.append(uploaded.id)
        return media_ids

    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """``GET /2/tweets?ids=...&tweet.fields=public_metrics`` (up to 100 ids); ids the answer lists under
        ``errors`` as not found are gone (https://docs.x.com/x-api/posts/get-posts-by-ids,
        https://docs.x.com/x-api/fundamentals/metrics)."""
        ids = ",".join(r.remote_id for r in receipts)
        url = f"{TWEETS_URL}?ids={ids}&tweet.fields=public_metrics"
        response = yield from self._authorized("GET", url, None)
        if not response.is_success:
            raise self._error(response)
        body = json_object(response)
        found: PostMetrics = {}
        for post in json_items(body, "data"):
            if isinstance(post, dict) and isinstance(post.get("id"), str):
                public = post.get("public_metrics")
                found[post["id"]] = read_counts(public if isinstance(public, dict) else {}, PUBLIC_METRICS)
        for problem in json_items(body, "errors"):
            if isinstance(problem, dict) and "not-found" in str(problem.get("type", "")):
                found.setdefault(str(problem.get("resource_id") or problem.get("value")), None)
        return found

    def followers(self) -> Exchange[int | None]:
        """``public_metrics.followers_count`` of ``GET /2/users/me?user.fields=public_metrics``
        (https://docs.x.com/x-api/users/user-lookup-me)."""
        response = yield from self._authorized("GET", f"{ME_URL}?user.fields=public_metrics", None)
        if not response.is_success:
            raise self._error(response)
        data = json_object(response).get("data")
        public = data.get("public_metrics") if isinstance(data, dict) else None
        return whole_count(public.get("followers_count") if isinstance(public, dict) else None)

    def verify(self) -> Exchange[str]:
        response = yield from self._authorized("GET", ME_URL, None)
        if not response.is_success:
            raise self._error(response)
        return f"@{_data_field(response, 'username')} (user id {_data_field(response, 'id')})"

    def _upload(self, media: PreparedMedia) -> Exchange[XMedia]:
        """One media upload; refused credentials are refreshed once (if possible) and the upload redone."""
        try:
            return (yield from upload_media(self._auth(), media, now=self.clock))
        except AuthError:
            if not self._can_refresh():
                raise
        yield from self._renew()
        return (yield from upload_media(self._auth(), media, now=self.clock))

    def _authorized(self, method: str, url: str, body: Any) -> Exchange[httpx.Response]:
        """Send with the current access token; on 401 refresh it once (if possible) and send again."""
        response = yield self.json_request(method, url, json_body=body, headers=self._auth())
        if response.status_code != 401 or not self._can_refresh():
            return response
        yield from self._renew()
        return (yield self.json_request(method, url, json_body=body, headers=self._auth()))

    def _renew(self) -> Exchange[None]:
        """Refresh the access token (X rotates the refresh token too) and keep the new pair."""
        tokens = parse_token_response((yield self._refresh_request()), now=self.clock())
        self._tokens = TokenSet(
            access_token=tokens.access_token,
            # X rotates refresh tokens; keep the old one only if the server did not send a new one.
            refresh_token=tokens.refresh_token or self._refresh_token(),
            expires_in=tokens.expires_in,
            scope=tokens.scope,
        )
        self._keep(self._tokens)
        if self.on_tokens is not None:
            self.on_tokens(self._tokens)

    # -- tokens --------------------------------------------------------------------------------------------

    def _keep(self, tokens: TokenSet) -> None:
        """Persist a rotated pair where the credentials live (secret files); warn where they cannot be."""
        credentials = self.account.credentials
        lost = []
        for name, value in (("token", tokens.access_token), ("refresh_token", tokens.refresh_token)):
            if value and credentials.has(name) and not credentials.rotate(name, value):
                lost.append(name)
        if "refresh_token" in lost:
            logger.warning(
                "account %s: X issued a new refresh token, which cannot be written back to an environment "
                "variable; give refresh_token as a secret file ({file: PATH} or $NAME_FILE) so a restart "
                "keeps working",
                self.account.name,
            )

    def _auth(self) -> dict[str, str]:
        token = self._tokens.access_token if self._tokens else self.secret("token")
        return {"Authorization": f"Bearer {token}"}

    def _granted_tokens(self) -> list[str]:
        tokens = self._tokens
        return [t for t in (tokens.access_token, tokens.refresh_token) if t] if tokens else []

    def _refresh_token(self) -> str | None:
        if self._tokens is not None and self._tokens.refresh_token:
            return self._tokens.refresh_token
        if self.account.credentials.has("refresh_token"):
            return self.secret("refresh_token")
        return None

    def _can_refresh(self) -> bool:
        return self._refresh_token() is not None and bool(self.account.settings.get("client_id"))

    def _refresh_request(self) -> httpx.Request:
        refresh = self._refresh_token()
        assert refresh is not None  # guarded by _can_refresh
        secret = self.secret("client_secret") if self.account.credentials.has("client_secret") else None
        return refresh_request(
            TOKEN_URL, refresh_token=refresh, client_id=self.setting("client_id"), client_secret=secret
        )

    # -- errors and limits ---------------------------------------------------------------------------------

    def _error(self, response: httpx.Response) -> ChannelError:
        """Classify an X error: duplicate 403 and content 403s are permanent, auth problems AuthError."""
        status = response.status_code
        # Tokens granted by a refresh are not among the account's resolved credentials, which the runner
        # scrubs from errors; scrub them here in case the platform echoes one.
        message = redact(platform_message(response), self._granted_tokens())
        problem = json_object(response)
        now = self.clock()
        if status == 429:
            limit = self.read_rate_limit(response, now)
            retry_at = limit.reset_at if limit else None
            return RateLimitedError(f"HTTP 429: {message}", retry_at=retry_at, platform_message=message)
        if status == 403:
            kind = f"{problem.get('type', '')} {problem.get('reason', '')}"
            if DUPLICATE_DETAIL in message.lower():
                return PermanentError(f"HTTP 403: {message}", status=status, platform_message=message)
            if any(name in kind for name in _AUTH_PROBLEMS):
                return AuthError(f"HTTP 403: {message}", status=status, platform_message=message)
            # about:blank 403s are about this post or account (not permitted to reply, suspended, ...).
            return PermanentError(f"HTTP 403: {message}", status=status, platform_message=message)
        if status == 401:
            hint = "" if self._can_refresh() else " (no refresh_token/client_id configured to renew it)"
            return AuthError(f"HTTP 401: {message}{hint}", status=status, platform_message=message)
        return classify_status(response, message, now=now)

    def read_rate_limit(self, response: httpx.Response, now: datetime) -> RateLimit | None:
        """The tightest budget X reported: an exhausted window (latest reset wins), else the 15-minute one."""
        reports: list[RateLimit] = []
        for prefix in _LIMIT_FAMILIES:
            remaining = _int(response.headers.get(prefix + "remaining"))
            reset_raw = response.headers.get(prefix + "reset")
            if remaining is None and reset_raw is None:
                continue
            reset_at = parse_reset(reset_raw, now) if reset_raw else None
            reports.append(
                RateLimit(
                    remaining=remaining, reset_at=reset_at, limit=_int(response.headers.get(prefix + "limit"))
                )
            )
        if not reports:
            return None
        exhausted = [r for r in reports if r.remaining == 0 and r.reset_at is not None]
        if exhausted:
            return max(exhausted, key=lambda r: r.reset_at or now)
        return reports[0]

    # -- dry run -------------------------------------------------------------------------------------------

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        uploaded = fake_upload_response(request)
        if uploaded is not None:
            return uploaded
        if request.method == "POST" and request.url.path == "/2/tweets":
            index = part.index if part else 0
            text = part.text if part else ""
            return fake_json(request, {"data": {"id": f"{PLACEHOLDER}-post-{index}", "text": text}}, 201)
        if request.method == "GET" and request.url.path == "/2/tweets":
            ids = request.url.params.get("ids", "").split(",")
            zero = dict.fromkeys(PUBLIC_METRICS, 0)
            posts = [{"id": i, "text": "", "public_metrics": zero} for i in ids if i]
            return fake_json(request, {"data": posts})
        if request.url.path == "/2/users/me":
            username = self.account.settings.get("username") or PLACEHOLDER
            return fake_json(
                request, {"data": {"id": f"{PLACEHOLDER}-user", "name": PLACEHOLDER, "username": username}}
            )
        return fake_not_found(request)


def _with_media(body: dict[str, Any], media_ids: Sequence[str]) -> dict[str, Any]:
    return {**body, "media": {"media_ids": list(media_ids)}} if media_ids else body


def _refuses_media(response: httpx.Response) -> bool:
    """A post refused for its media ids: 400 ``invalid-request`` whose ``errors`` name the
    ``media.media_ids`` parameter or say "Your media IDs are invalid." (seen in answers:
    https://github.com/abraham/twitteroauth/issues/1222, https://github.com/PLhery/node-twitter-api-v2/issues/375).
    X answers a 4xx to a media id used after ``expires_after_secs``
    (https://docs.x.com/x-api/media/media-upload-finalize). Nothing was posted."""
    if response.status_code != 400:
        return False
    for problem in json_items(json_object(response), "errors"):
        if not isinstance(problem, dict):
            continue
        parameters = problem.get("parameters")
        if isinstance(parameters, dict) and "media.media_ids" in parameters:
            return True
        if "media id" in str(problem.get("message", "")).lower():
            return True
    return False


def _data_field(response: httpx.Response, name: str) -> str:
    """``data.<name>`` of a success body; a success without it is a platform contract break (ambiguous)."""
    try:
        value = response.json()["data"][name]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise AmbiguousError(
            f"HTTP {response.status_code} without data.{name}; outcome unknown", status=response.status_code
        )
    return value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
