"""Planned posts: the concrete, fitted, timed posts a campaign file compiles to, before they are queued.

A :class:`PlannedPost` is what `preview` shows and what `plan`/`apply` compare with the queue. It is a plain
value: no database, no network. Its identity is (campaign, post key, occurrence, channel, account); its
idempotency key is derived from that identity alone, so it survives edits of text and time.

In a campaign with ``languages:``, a post in a language other than the default one has the language in its
key: ``launch:zh-Hant`` (``:`` is never part of a key written in a campaign file). So two posts of one account
in two languages are distinct posts (distinct idempotency keys, so no platform deduplicates one against the
other), the default language's posts keep the keys they had before the campaign declared languages, and the
queue, which stores the key, gives the daemon the language to send (:func:`part_for`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from campaign.channels.base import LinkCard, Part, Receipt
from campaign.media.model import PreparedMedia

DEFAULT_LATE_WINDOW = timedelta(hours=24)
#: Between a post's key and its language in the key of a post in a non-default language.
LANGUAGE_MARK = ":"


def language_key(post_key: str, language: str | None, default: str | None) -> str:
    """The key of post ``post_key`` in ``language``: the key itself in the default language (or none)."""
    return post_key if language is None or language == default else f"{post_key}{LANGUAGE_MARK}{language}"


def split_key(key: str) -> tuple[str, str | None]:
    """(the post's key as written, the language the key names or None): inverse of :func:`language_key`."""
    base, mark, language = key.partition(LANGUAGE_MARK)
    return (base, language) if mark and language else (key, None)


def idempotency_key(campaign: str, post: str, occurrence: str, channel: str, account: str) -> str:
    """A stable 32-hex-digit key for one queued post (the same inputs always give the same key)."""
    raw = "\x1f".join((campaign, post, occurrence, channel, account)).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class PlannedPost:
    """One post on one account at one time, with its final text (thread parts when split)."""

    campaign: str
    post_key: str
    #: "" for a one-off post; the occurrence's local ISO time (``2027-01-18T09:00``) for recurring ones.
    occurrence: str
    channel: str
    account: str
    #: Aware UTC time the post is due.
    scheduled_at: datetime
    #: IANA zone the time was written in (for display).
    zone: str
    #: Final text parts (one for a single post, several for a thread).
    parts: tuple[str, ...]
    link: LinkCard | None = None
    #: Send even when found due after the lateness window (or in the past at apply time).
    send_late: bool = False
    #: Its written time had passed (``send_late``), so ``scheduled_at`` is the plan's ``now``: a later plan,
    #: with a later ``now``, wants the same thing (the queue's planner compares accordingly).
    due_now: bool = False
    late_window: timedelta = DEFAULT_LATE_WINDOW
    #: Length of each part as the platform counts it, and the limit.
    lengths: tuple[int, ...] = ()
    limit: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: Never sent before this (aware UTC): the campaign's or the release's embargo, enforced by the claim too.
    not_before: datetime | None = None
    #: Media of the first part, prepared for this channel (content-addressed in the media store).
    media: tuple[PreparedMedia, ...] = ()
    #: The link card's thumbnail, prepared for this channel (None: none, or the platform takes none).
    link_image: PreparedMedia | None = None
    #: ``media_base_url`` of the campaign (for platforms that fetch media by URL).
    media_base_url: str | None = None
    #: The post's language in a campaign with ``languages:`` (None otherwise); not part of the identity
    #: beyond what ``post_key`` says (:func:`language_key`).
    language: str | None = None

    @property
    def base_key(self) -> str:
        """The post's key as written in the campaign file (``post_key`` without its language)."""
        return split_key(self.post_key)[0]

    @property
    def text(self) -> str:
        """All parts joined by blank lines (what a person reads as "the post")."""
        return "\n\n".join(self.parts)

    @property
    def ident(self) -> tuple[str, str, str, str, str]:
        return (self.campaign, self.post_key, self.occurrence, self.channel, self.account)

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(*self.ident)

    @property
    def content_hash(self) -> str:
        """Hash of what would be published (parts, link, media bytes and alt text) and of its embargo, not of
        the time. Posts without media or embargo hash as they did before either existed, so old queues show no
        change."""
        link = None if self.link is None else [self.link.url, self.link.title, self.link.description]
        content: list[Any] = [list(self.parts), link]
        if self.media or self.link_image is not None:
            content.append([[m.sha256, m.alt, list(m.focus or ())] for m in self.media])
            content.append(self.link_image.sha256 if self.link_image else None)
        if self.not_before is not None:
            content.append(self.not_before.astimezone(UTC).isoformat())
        raw = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    @property
    def label(self) -> str:
        """Human name: ``post@occurrence/account`` (occurrence omitted for one-off posts)."""
        occ = f"@{self.occurrence}" if self.occurrence else ""
        return f"{self.post_key}{occ}/{self.account}"


class Publishable(Protocol):
    """What :func:`part_for` needs of a post: a PlannedPost or a queued one."""

    @property
    def campaign(self) -> str: ...
    @property
    def post_key(self) -> str: ...
    @property
    def occurrence(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def parts(self) -> tuple[str, ...]: ...
    @property
    def link(self) -> LinkCard | None: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def media(self) -> tuple[PreparedMedia, ...]: ...
    @property
    def link_image(self) -> PreparedMedia | None: ...
    @property
    def media_base_url(self) -> str | None: ...


def part_for(post: Publishable, index: int, receipts: Sequence[Receipt]) -> Part:
    """Thread part ``index`` of ``post``, given the receipts of the parts before it.

    The one place parts are built, so a dry run (preview --requests) and the daemon send the same requests:
    a thread's parts get ``<key>-<index>`` idempotency keys, the link card and the media go on the first
    part, and each later part replies to the previous one with the first as root. The part's ``language``
    is the one its key names (:func:`language_key`; None: the account's ``language`` setting).
    """
    count = len(post.parts)
    occ = f"@{post.occurrence}" if post.occurrence else ""
    return Part(
        post_id=f"{post.post_key}{occ}/{post.account}",
        idempotency_key=f"{post.idempotency_key}-{index}" if count > 1 else post.idempotency_key,
        text=post.parts[index],
        index=index,
        campaign=post.campaign,
        count=count,
        link=post.link if index == 0 else None,
        reply_to=receipts[index - 1] if index > 0 else None,
        root=receipts[0] if index > 0 else None,
        media=post.media if index == 0 else (),
        link_image=post.link_image if index == 0 else None,
        media_base_url=post.media_base_url,
        language=split_key(post.post_key)[1],
    )
