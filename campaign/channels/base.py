"""The channel adapter contract: adapters describe the exchange with a platform, the dispatcher sends it.

An adapter turns one :class:`Part` (a post, or one part of a thread) into an *exchange*: a generator that
yields each :class:`httpx.Request` to send, receives the matching :class:`httpx.Response`, and finally
returns a :class:`Receipt` (or raises a classified :class:`~campaign.errors.ChannelError`). Multi-step flows
(session login, Threads' container then publish, refresh of an expired token) are just more yields::

    def publish(self, part: Part) -> Exchange[Receipt]:
        response = yield self.json_request("POST", url, json_body=payload, headers=auth)
        self.raise_for_status(response)
        return Receipt(remote_id=response.json()["id"], url=response.json()["url"])

The dispatcher drives exchanges with the one shared ``httpx.AsyncClient``
(:func:`campaign.http.exchange.run`); the dry-run recorder drives the very same exchange with
:meth:`Adapter.fake_response` answers (:func:`campaign.http.exchange.run_dry`). Adapters never send, never
sleep and never create clients, so they are pure and testable with plain generators or
``httpx.MockTransport``.

Media uploads a platform keeps for a while before a post uses them (:attr:`Adapter.upload_lifetime`) are
recorded with the post: ``publish`` finds the earlier attempts' uploads in :attr:`Part.uploads`, reuses the
valid ones (:meth:`Adapter.reuse_upload`) and reports new ones (:meth:`Adapter.record_upload`); the
dispatcher stores them before the exchange's next request leaves.

Adapters are registered under the entry-point group ``campaign.channels`` (see :mod:`campaign.channels`).
Every installed adapter must pass the contract suite :mod:`campaign.channels.contract`; shared building
blocks (JSON answers, Graph errors, secret webhook URLs) are in :mod:`campaign.channels.helpers`.
"""

from __future__ import annotations

import email.utils
import functools
import json
import math
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import httpx

from campaign.errors import (
    AmbiguousError,
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from campaign.logs import shown
from campaign.media.model import PreparedMedia
from campaign.media.rules import MediaRules
from campaign.secrets import Credentials
from campaign.text.rules import TextRules

T = TypeVar("T")
#: A generator of requests that receives responses and returns a result (names quoted: httpx is loaded on
#: first use, see :mod:`campaign.channels`).
Exchange = Generator["httpx.Request", "httpx.Response", T]

#: Prefix of every value a dry run invents in place of a server-assigned one (ids, DIDs, CIDs).
PLACEHOLDER = "dry-run"

#: Request extensions an adapter may set for the runner (:mod:`campaign.http.exchange`; the helpers that set
#: them are in :mod:`campaign.channels.upload_media`): the media file an upload carries (shown by dry runs
#: instead of its bytes), seconds to wait before sending (a status poll), and True on a request that can
#: publish nothing (an upload or its poll), whose outcome-unknown transport failure is therefore transient.
MEDIA_EXTENSION = "campaign.media"
DELAY_EXTENSION = "campaign.delay"
UPLOAD_EXTENSION = "campaign.upload"


#: Headers httpx computes itself for ``Request(content=...)``; a request naming one is built by httpx.
_AUTO_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


def _built(method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None) -> httpx.Request:
    """``httpx.Request(method, url, headers=headers, content=content)``, built in one pass: the same headers
    in the same order (``Host`` first, then ``headers``, then ``Content-Length`` when there is a body, or
    ``0`` for a bodiless POST/PUT/PATCH) and the same read body, without httpx normalising every header
    twice and re-scanning them for each header it adds (a fifth of a post's request building), and read as
    ``request.read()`` reads it."""
    items = [("Host", url.netloc.decode("ascii")), *headers.items()] if url.host else list(headers.items())
    if content:
        items.append(("Content-Length", str(len(content))))
    elif method in ("POST", "PUT", "PATCH"):
        items.insert(1 if url.host else 0, ("Content-Length", "0"))
    body = content or b""
    request = httpx.Request(method, url, headers=items, stream=httpx.ByteStream(body))
    # What ``request.read()`` leaves for a ByteStream, without its check that the stream is a
    # ``typing.Iterable`` (an ABC check, a fifth of this function's time). tests/test_transport.py compares
    # the request with httpx's own.
    request._content = body
    return request


#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` made once: ``dumps`` with options builds a
#: new encoder on every call, about 40% of encoding a status body.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once: an account posts to the same few endpoints over and over, and parsing a URL
    was a tenth of building a request (docs/BENCHMARKS.md). httpx URLs are immutable."""
    return httpx.URL(url)


@dataclass(frozen=True)
class Account:
    """One configured account: which adapter, its non-secret settings, and its credentials."""

    name: str
    channel: str
    settings: Mapping[str, Any]
    credentials: Credentials
    #: Allow plain http to non-loopback hosts (tests against fake servers only).
    allow_http: bool = False


@dataclass(frozen=True)
class LinkCard:
    """The link a post features, with the card text built from campaign and release data (nothing fetched)."""

    url: str
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class Receipt:
    """What the platform answered for a published part.

    ``data`` carries what a later step needs (Bluesky's ``uri`` and ``cid`` for replies); it must never hold
    a secret because receipts are stored in the queue.
    """

    remote_id: str
    url: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Upload:
    """A finished media upload the platform keeps for a while before a post uses it (X's media id,
    Mastodon's attachment id, Bluesky's blob). The dispatcher records it with the post, so a retry or a
    restart reuses it while it is valid instead of uploading again.

    ``key`` names what was uploaded (:func:`campaign.channels.upload_media.upload_key`: the file's hash and
    what the upload carried with it, such as alt text); ``data`` holds what the post needs besides the id
    (Bluesky's blob reference) and never a secret (it is stored in the queue). Times are aware UTC;
    ``expires_at`` is when the platform stops keeping it unused.
    """

    key: str
    remote_id: str
    uploaded_at: datetime
    expires_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The form stored in ``posts.media_uploads`` (``sha256`` is the key's file hash, for people)."""
        return {
            "key": self.key,
            "sha256": self.key.split(":", 1)[0],
            "remote_id": self.remote_id,
            "uploaded_at": self.uploaded_at.astimezone(UTC).isoformat(),
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Upload | None:
        """The inverse of :meth:`to_json`; None for an entry that is not one (it is then never reused)."""
        try:
            data = raw.get("data") or {}
            return cls(
                key=str(raw["key"]),
                remote_id=str(raw["remote_id"]),
                uploaded_at=datetime.fromisoformat(str(raw["uploaded_at"])),
                expires_at=datetime.fromisoformat(str(raw["expires_at"])),
                data=dict(data) if isinstance(data, Mapping) else {},
            )
        except (KeyError, TypeError, ValueError):
            return None


class Uploads:
    """The uploads of one post: those earlier attempts recorded, and the ones this attempt adds.

    The dispatcher builds it from the queue for a post with media on a platform that keeps uploads
    (:attr:`Adapter.upload_lifetime`) and hands it to ``publish`` in :attr:`Part.uploads`; adapters use it
    through :meth:`Adapter.reuse_upload` and :meth:`Adapter.record_upload`. Uploads added are taken by the
    runner (:meth:`take_new`) and written to the queue before the exchange's next request leaves.
    """

    def __init__(self, recorded: Sequence[Upload] = ()) -> None:
        self._by_key: dict[str, Upload] = {u.key: u for u in recorded}
        self._new: list[Upload] = []

    def reusable(self, key: str, valid_until: datetime) -> Upload | None:
        """The upload recorded under ``key`` if it is still valid at ``valid_until``, else None."""
        found = self._by_key.get(key)
        return found if found is not None and found.expires_at > valid_until else None

    def add(self, upload: Upload) -> None:
        self._by_key[upload.key] = upload
        self._new.append(upload)

    def drop(self, key: str, now: datetime) -> None:
        """Forget the upload recorded under ``key`` (the platform refused it): it is recorded again as
        expired at ``now``, so neither this attempt nor a later one reuses it; a new upload replaces it."""
        found = self._by_key.get(key)
        if found is not None and found.expires_at > now:
            self.add(Upload(found.key, found.remote_id, found.uploaded_at, now, found.data))

    @property
    def pending(self) -> bool:
        """Uploads added and not yet taken."""
        return bool(self._new)

    def take_new(self) -> list[Upload]:
        """The uploads added since the last call (the runner records them)."""
        new, self._new = self._new, []
        return new


@dataclass(frozen=True)
class Part:
    """One publishable unit: a whole post, or one part of a thread.

    ``idempotency_key`` is deterministic for (campaign, post, occurrence, channel, account) and the part
    index, so a retry of the same part carries the same key. ``reply_to`` is the previous part's receipt and
    ``root`` the first part's (both None for a single post or a thread's first part).
    """

    post_id: str
    idempotency_key: str
    text: str
    index: int = 0
    #: Campaign name (webhook payloads carry it).
    campaign: str = ""
    count: int = 1
    link: LinkCard | None = None
    reply_to: Receipt | None = None
    root: Receipt | None = None
    #: Hashtags in the text, as written (adapters that send tags separately use them).
    hashtags: tuple[str, ...] = ()
    #: Media to attach (first part only): prepared, content-addressed files with their alt text, in order.
    media: tuple[PreparedMedia, ...] = ()
    #: The link card's thumbnail (first part only), where the platform builds the card from an upload.
    link_image: PreparedMedia | None = None
    #: Public https URL serving the media store (``media_base_url``), for platforms that fetch by URL.
    media_base_url: str | None = None
    #: BCP 47 tag of the text when it differs from the account's ``language`` setting (a post of a campaign
    #: in several languages); adapters send ``part.language or settings["language"]`` where the platform
    #: takes one.
    language: str | None = None
    #: The post's recorded uploads, when the dispatcher keeps them (media on a platform with an
    #: :attr:`Adapter.upload_lifetime`); None otherwise (dry runs, no media): then every upload is made.
    uploads: Uploads | None = None


@dataclass(frozen=True)
class SampleAccount:
    """A minimal valid account of an adapter, used by the contract suite (:mod:`campaign.channels.contract`).

    ``credentials`` names the credentials the sample has, each with a template in which the suite puts a
    canary value: ``{canary}`` (letters, digits and ``+/=``) or ``{token}`` (letters, digits, ``_`` and ``-``
    only, for a platform whose format allows no more, or where the secret sits in a URL). None (the
    default) means every required credential, each just ``{canary}``. Settings must point at the platform's
    real https hosts or reserved example names; nothing is ever sent to them.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] | None = None


#: The names a ``metrics`` exchange reports counts under (each platform's own names map onto these):
#: interactions (their sum is a post's engagement) and reach (views, impressions; never added to engagement).
METRIC_NAMES: tuple[str, ...] = (
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "clicks",
    "views",
    "impressions",
)
#: What a ``metrics`` exchange returns: counts by remote id; None for a post the platform says is gone.
PostMetrics = dict[str, dict[str, int] | None]


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` posts per account in any moving ``window``."""

    limit: int
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class RateLimit:
    """What a response said about the account's remaining budget. ``reset_at`` is aware UTC."""

    remaining: int | None
    reset_at: datetime | None
    limit: int | None = None


class Adapter:
    """Base class of every channel adapter. Subclasses set the class attributes and implement ``publish``.

    One adapter instance serves one account for the life of a dispatcher, so it may cache a session.
    """

    #: Entry-point name, as used in campaign files (``channel: mastodon``).
    name: ClassVar[str]
    #: Display name.
    title: ClassVar[str]
    #: The platform's text rules (shared with renderer, fitter and validator).
    rules: ClassVar[TextRules]
    #: The platform's media rules (:data:`campaign.media.rules.PLATFORM_MEDIA_RULES`), read by `check` and
    #: `preview` before anything is queued. The default allows no media at all, so an adapter that does not
    #: declare how it attaches media makes a post with ``media:`` a check error, never a text-only post.
    media_rules: ClassVar[MediaRules] = MediaRules(platform="", max_items=0, types=frozenset())
    #: Credential names this adapter reads, with what each must hold.
    credential_names: ClassVar[Mapping[str, str]] = {}
    #: Credentials from ``credential_names`` that an account may leave out.
    optional_credentials: ClassVar[frozenset[str]] = frozenset()
    #: Settings that must be present in the account block, with what each means.
    required_settings: ClassVar[Mapping[str, str]] = {}
    #: Settings that may be present, with what each means.
    optional_settings: ClassVar[Mapping[str, str]] = {}
    #: True when the platform itself deduplicates a retried part by our idempotency key, so a retry after an
    #: ambiguous outcome cannot publish twice (Mastodon's Idempotency-Key, Bluesky's record key). Adapters
    #: whose answer depends on the account (a webhook receiver) override :attr:`deduplicates` instead.
    dedup_by_key: ClassVar[bool] = False
    #: How long the platform keeps deduplicating a key; None where it never forgets (Bluesky's record keys).
    #: After the window an ``unknown`` post is looked up or left to a person, never retried blindly.
    dedup_window: ClassVar[timedelta | None] = None
    #: How many posts one ``metrics`` request may ask about (X: 100 ids, Bluesky: 25 URIs; 1: one each).
    metrics_batch: ClassVar[int] = 1
    #: What the credentials need for ``metrics`` (scopes, permissions), or why the platform has no read API.
    metrics_scopes: ClassVar[str] = "no API to read a post's counts back"
    #: The platform's documented publishing quota per account, if any (Threads: 250 per moving 24 hours).
    #: An account's ``daily_quota`` setting overrides it.
    default_quota: ClassVar[Quota | None] = None
    #: Where the platform facts this adapter relies on are documented (shown by `channels list --verbose`).
    docs: ClassVar[str] = ""
    #: URL paths of the platform's documented login or session calls (Bluesky's createSession, an OAuth
    #: token refresh): the only requests other than GET and HEAD that :meth:`verify` may send.
    login_paths: ClassVar[frozenset[str]] = frozenset()
    #: A minimal valid account for the contract suite; the default has only the required credentials.
    sample_account: ClassVar[SampleAccount] = SampleAccount()
    #: How long the platform keeps an upload that no post uses yet, so a retry or restart may reuse it
    #: (:class:`Upload`); None where media go with the post in one request (Telegram, Discord) or are
    #: fetched by URL: nothing to record. A platform answer naming the expiry (X) wins when earlier.
    upload_lifetime: ClassVar[timedelta | None] = None
    #: A recorded upload is reused only while at least this much of its life is left (the post request
    #: that uses it must reach the platform before it expires).
    upload_margin: ClassVar[timedelta] = timedelta(minutes=15)

    def __init__(self, account: Account, *, clock: Callable[[], datetime] | None = None) -> None:
        self.account = account
        #: The dispatcher's clock (aware UTC); adapters read time only through it (signatures, createdAt).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    @property
    def deduplicates(self) -> bool:
        """Whether a retry of an ambiguous outcome for this account cannot publish twice."""
        return self.dedup_by_key

    # -- what subclasses implement ------------------------------------------------------------------------

    def publish(self, part: Part) -> Exchange[Receipt]:
        """The exchange that publishes ``part``; returns its receipt or raises a ChannelError."""
        raise NotImplementedError

    def lookup(self, part: Part) -> Exchange[Receipt | None] | None:
        """An exchange that finds ``part`` if it was already published (for reconciling ``unknown`` posts).

        Returns None when the platform offers no way to look a post up; the exchange returns None when the
        post is absent.
        """
        return None

    def metrics(self, receipts: Sequence[Receipt]) -> Exchange[PostMetrics]:
        """An exchange that reads the public counts of published posts (at most :attr:`metrics_batch`).

        Returns counts under :data:`METRIC_NAMES` keyed by each receipt's ``remote_id`` (a count the platform
        does not give is left out, never reported as 0), and None for a post the platform says no longer
        exists. Raises a ChannelError like :meth:`publish` (a rate limit as RateLimitedError). Only GET
        requests. Adapters of platforms without a read API do not override it (:attr:`has_metrics`).
        """
        raise NotImplementedError

    def followers(self) -> Exchange[int | None]:
        """An exchange reading how many followers the account has (None where the answer does not say), for
        engagement per follower in reports. Only GET requests; adapters of platforms that do not give the
        count do not override it (:attr:`has_followers`)."""
        raise NotImplementedError

    @property
    def has_followers(self) -> bool:
        """True when this adapter can read the account's follower count (it overrides :meth:`followers`)."""
        return type(self).followers is not Adapter.followers

    @property
    def has_metrics(self) -> bool:
        """True when this adapter can read counts back (it overrides :meth:`metrics`)."""
        return type(self).metrics is not Adapter.metrics

    def verify(self) -> Exchange[str]:
        """A harmless authenticated call; returns who the credentials belong to.

        Never publishes: only GET and HEAD requests, plus the documented login calls in :attr:`login_paths`.
        """
        raise NotImplementedError

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        """A plausible success response for a dry run, with server-assigned values marked as placeholders."""
        raise NotImplementedError

    # -- shared helpers -----------------------------------------------------------------------------------

    def reuse_upload(self, part: Part, key: str) -> Upload | None:
        """The upload ``key`` an earlier attempt recorded for ``part``'s post, if still valid long enough."""
        if part.uploads is None:
            return None
        return part.uploads.reusable(key, self.clock() + self.upload_margin)

    def drop_refused(self, part: Part, reused: Mapping[str, str], answer: str) -> bool:
        """After the platform refused a request that named recorded uploads (``reused``: remote id -> key,
        only uploads this attempt *reused*, never fresh ones), forget the ones its ``answer`` names, or all
        of them when it names none. True when something was dropped: the adapter then uploads those again
        and repeats the request once (a second refusal is the normal error)."""
        if part.uploads is None or not reused:
            return False
        named = [key for remote_id, key in reused.items() if names_id(answer, remote_id)]
        for key in named or reused.values():
            part.uploads.drop(key, self.clock())
        return True

    def record_upload(
        self,
        part: Part,
        key: str,
        remote_id: str,
        *,
        data: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        """Report a finished upload (kept ``upload_lifetime``, or until ``expires_at`` if earlier); the
        dispatcher records it with the post before the next request leaves. No-op where nothing is kept."""
        if part.uploads is None or self.upload_lifetime is None:
            return
        now = self.clock()
        until = now + self.upload_lifetime
        if expires_at is not None:
            until = min(until, expires_at)
        part.uploads.add(Upload(key, remote_id, now, until, dict(data or {})))

    def text_rules(self) -> TextRules:
        """The platform's rules with this account's ``limit`` setting applied."""
        limit = self.account.settings.get("limit")
        return self.rules.with_limit(int(limit) if limit is not None else None)

    def secret(self, name: str) -> str:
        return self.account.credentials.get(name)

    def setting(self, name: str, default: str | None = None) -> str:
        value = self.account.settings.get(name, default)
        if value is None:
            raise PermanentError(f"account {self.account.name!r}: setting {name!r} is missing")
        return str(value)

    @staticmethod
    def json_request(
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """A request with a compact, deterministic JSON body (keys in insertion order, UTF-8, no spaces)."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        content: bytes | None = None
        if json_body is not None:
            content = _COMPACT_JSON.encode(json_body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if params is not None or not _AUTO_HEADERS.isdisjoint(k.lower() for k in all_headers):
            return httpx.Request(method, _parsed(url), content=content, headers=all_headers, params=params)
        return _built(method.upper(), _parsed(url), all_headers, content)

    def read_rate_limit(self, response: httpx.Response, now: datetime) -> RateLimit | None:
        """The rate-limit budget a response reports; the default reads the common header families."""
        return parse_rate_limit_headers(response.headers, now)

    def raise_for_status(self, response: httpx.Response, *, message: str | None = None) -> None:
        """Raise the classified error for a non-2xx response (generic HTTP semantics).

        Adapters with platform error codes inspect the body first and call this for the rest.
        """
        if response.is_success:
            return
        raise classify_status(response, message or platform_message(response), now=self.clock())


def names_id(text: str, ident: str) -> bool:
    """True when ``text`` names ``ident`` as a whole word (media id 12 is not named by "Media 123")."""
    return re.search(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", text) is not None


def platform_message(response: httpx.Response, limit: int = 300) -> str:
    """The error text a platform returned, from common JSON shapes or the raw body, :func:`shown`."""
    text = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("error_description", "message", "error", "detail", "description", "title"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                text = value
                break
    return shown(text or response.text, limit)


def classify_status(response: httpx.Response, message: str, *, now: datetime) -> ChannelError:
    """Generic HTTP classification used when a platform has nothing more specific to say.

    - 429, or any status with a ``Retry-After``: rate limited (wait given by the headers)
    - 401 / 403: credentials rejected (permanent)
    - 408, 502, 503: transient (the request was not processed)
    - 500, 504: ambiguous (the platform may have processed it before failing)
    - other 4xx and 3xx (redirects are never followed with credentials): permanent
    """
    status = response.status_code
    what = f"HTTP {status}" + (f": {message}" if message else "")
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        wait = retry_after_seconds(response.headers, now)
        limit = parse_rate_limit_headers(response.headers, now)
        retry_at = limit.reset_at if limit and limit.reset_at else None
        return RateLimitedError(
            what, retry_after=wait, retry_at=retry_at, status=status, platform_message=message
        )
    if status in (401, 403):
        return AuthError(what, status=status, platform_message=message)
    if status in (408, 502, 503):
        return TransientError(what, status=status, platform_message=message)
    if status in (500, 504):
        return AmbiguousError(what, status=status, platform_message=message)
    return PermanentError(what, status=status, platform_message=message)


def as_seconds(value: object) -> float | None:
    """Non-negative seconds from a JSON number or a header's text; None for anything else, NaN included."""
    try:
        number = math.nan if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return max(0.0, number) if math.isfinite(number) else None


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date), or None."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    seconds = as_seconds(raw)  # None for a number no clock reaches too: no date parses from "inf"
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_reset(raw: str, now: datetime) -> datetime | None:
    """A rate-limit reset value as an aware UTC time: epoch seconds, ISO 8601, or seconds from now.

    Numbers above 10^9 are epoch seconds (X, Bluesky); smaller numbers are a delta (GitHub-style
    ``X-RateLimit-Reset-After``, Discord's ``X-RateLimit-Reset-After``); anything else is tried as ISO 8601
    (Mastodon).
    """
    raw = raw.strip()
    try:
        number = float(raw)
    except ValueError:
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    if not math.isfinite(number) or not 0 <= number < 2.5e11:  # past 2.5e11 (year 9892) no datetime holds it
        return None
    if number >= 1e9:
        return datetime.fromtimestamp(number, UTC)
    return now + timedelta(seconds=number)


def parse_rate_limit_headers(headers: httpx.Headers, now: datetime) -> RateLimit | None:
    """Read ``X-RateLimit-*``, ``x-rate-limit-*`` and ``RateLimit-*`` families (case-insensitive)."""
    # One pass over the headers (names lower-cased, repeated ones joined as ``get`` joins them) instead of
    # up to ten lookups that each scan them all: this runs on every answer.
    found = {name: value for name, value in headers.items() if name.startswith(_RATE_PREFIXES)}
    if not found:
        return None
    for prefix in _RATE_PREFIXES:
        remaining = found.get(prefix + "remaining")
        reset = found.get(prefix + "reset") or found.get(prefix + "reset-after")
        if remaining is None and reset is None:
            continue
        limit = found.get(prefix + "limit")
        return RateLimit(
            remaining=_int_or_none(remaining),
            reset_at=parse_reset(reset, now) if reset else None,
            limit=_int_or_none(limit),
        )
    return None


_RATE_PREFIXES = ("x-ratelimit-", "x-rate-limit-", "ratelimit-")


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.split(",")[0].split(";")[0]))
    except (ValueError, OverflowError):  # not a number, NaN, or infinite
        return None


def fake_json(request: httpx.Request, body: Any, status: int = 200) -> httpx.Response:
    """A dry-run response carrying ``body`` as JSON, bound to ``request``."""
    return httpx.Response(status, json=body, request=request)
