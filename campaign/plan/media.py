"""A post's media on one account, for `compile`: alt text rendered and fitted, files prepared and checked.

:class:`PostMediaPlanner` is the step between a post's ``media:`` items (:class:`~campaign.source.config.
MediaSpec`) and the prepared, content-addressed files a :class:`~campaign.plan.posts.PlannedPost` carries:

- the items in force are the override's list when it has one (it replaces the post's), minus the items whose
  ``skip`` names the account or its channel;
- ``alt`` is a template, rendered in the post's sandbox context (it can read release fields);
- each file is prepared for the channel's :class:`~campaign.media.rules.MediaRules` once, cached by
  :class:`~campaign.media.batch.MediaPreparer` in the media store (``db/media`` beside the queue by default);
- alt text holding a character refused in post text (controls, unbalanced bidi formatting: the table in
  :mod:`campaign.text.characters`) is a MediaError (rule ``alt-characters``), newlines normalised first;
- alt text over the platform's limit is cut at a sentence or word end (with a warning), then
  :func:`~campaign.media.check.check_media` reports every remaining violation;
- ``link_image`` is prepared with the platform's link-card thumbnail limits where the platform builds cards
  from an uploaded image (Bluesky), and left out elsewhere (those platforms fetch the card from the URL).

Every violation is a :class:`~campaign.errors.MediaError` naming the file and rule; the caller prefixes the
campaign file, line, post, account and channel.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign.errors import CampaignError, MediaError
from campaign.media.model import MediaIssue, MediaItem, PreparedMedia
from campaign.media.rules import IMAGE_TYPES, MediaRules
from campaign.source.accounts import AccountConfig
from campaign.source.config import Campaign, PostConfig, Variant
from campaign.source.media_config import MediaSpec
from campaign.text import characters

#: Where the media store is when neither the caller nor ``$CAMPAIGN_DB`` says: beside the default queue.
DEFAULT_MEDIA_ROOT = Path("db/media")
_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s)")


def default_media_root() -> Path:
    """The media store beside the queue: ``<dir of $CAMPAIGN_DB>/media`` (SQLite path), else ``db/media``."""
    db = os.environ.get("CAMPAIGN_DB")
    if db and "://" not in db:
        return Path(db).expanduser().absolute().parent / "media"
    return DEFAULT_MEDIA_ROOT


@dataclass(frozen=True)
class PostMedia:
    """What one post carries on one account: its prepared media, link thumbnail, warnings and issues."""

    media: tuple[PreparedMedia, ...] = ()
    link_image: PreparedMedia | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[CampaignError, ...] = field(default_factory=tuple)


NO_MEDIA = PostMedia()


def fit_alt(text: str, limit: int, measure: Callable[[str], int]) -> str:
    """``text`` cut to ``limit`` (as ``measure`` counts) at the last sentence end, else word end, plus "…"."""
    if measure(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if measure(text[:mid].rstrip() + "…") <= limit:
            low = mid
        else:
            high = mid - 1
    head = text[:low]
    ends = [m.end() for m in _SENTENCE_END.finditer(head + " ")]
    if ends and ends[-1] > low // 2:
        return head[: ends[-1]].rstrip()
    space = head.rfind(" ")
    if space > low // 2:
        head = head[:space]
    return head.rstrip() + "…"


class PostMediaPlanner:
    """Prepares the media of every (post, account) of one compile; the store is opened on first use."""

    def __init__(self, campaign: Campaign, root: Path | None = None) -> None:
        self.campaign = campaign
        self.root = root
        self._preparer: Any = None

    def _prepare_post(
        self, items: list[MediaItem], rules: MediaRules, channel: str, post_key: str
    ) -> tuple[list[PreparedMedia], list[MediaIssue]]:
        if self._preparer is None:
            from campaign.media.batch import MediaPreparer
            from campaign.media.store import MediaStore

            # Absolute: the queue keeps each file's path, and the daemon may run from another directory.
            self._preparer = MediaPreparer(MediaStore((self.root or default_media_root()).absolute()))
        prepared, issues = self._preparer.prepare_post(
            items, rules, channel, post_key, media_base_url=self.campaign.media_base_url
        )
        return list(prepared), list(issues)

    def plan(
        self,
        post: PostConfig,
        account: AccountConfig,
        variant: Variant,
        rules: MediaRules,
        render_alt: Callable[[str, int], str],
    ) -> PostMedia:
        """The media of ``post`` on ``account``; ``render_alt(template, line)`` renders an alt template."""
        specs = variant.media if variant.media is not None else post.media
        wanted = [s for s in specs if not s.skip & {account.name, account.channel}]
        thumb = variant.link_image or post.link_image
        if not wanted and thumb is None:
            return NO_MEDIA
        errors: list[CampaignError] = []
        items: list[MediaItem] = []
        for spec in wanted:
            try:
                alt = _checked_alt(spec, render_alt(spec.alt, spec.line)) if spec.alt else ""
                items.append(_item(spec, alt))
            except CampaignError as exc:
                errors.append(exc)
        prepared, issues = self._prepare_post(items, rules, account.channel, post.key)
        media, warnings = self._fit_alts(prepared, rules, account.channel)
        issues = [i for i in issues if i.rule != "alt-length"]  # every such alt was cut to fit
        errors.extend(_error(issue) for issue in issues)
        link_image = None
        if thumb is not None and rules.link_image is not None:
            card_rules = dataclasses.replace(
                rules,
                max_items=1,
                types=IMAGE_TYPES & rules.types,
                image=rules.link_image,
                gif=rules.link_image,
            )
            done, card_issues = self._prepare_post([_item(thumb, "")], card_rules, account.channel, post.key)
            errors.extend(_error(issue, "link_image ") for issue in card_issues)
            link_image = done[0] if done else None
        return PostMedia(tuple(media), link_image, tuple(warnings), tuple(errors))

    @staticmethod
    def _fit_alts(
        prepared: list[PreparedMedia], rules: MediaRules, channel: str
    ) -> tuple[list[PreparedMedia], list[str]]:
        """Alt texts cut to the platform's limit where they are over it, with one warning per cut."""
        out: list[PreparedMedia] = []
        warnings: list[str] = []
        for media in prepared:
            limit = rules.alt_max(media.mime)
            if limit is None or not rules.alt_supported or rules.alt_length(media.alt) <= limit:
                out.append(media)
                continue
            alt = fit_alt(media.alt, limit, rules.alt_length)
            warnings.append(
                f"alt text of {media.source} cut to {rules.alt_length(alt):,} of {limit:,} {rules.alt_unit} "
                f"for {channel}"
            )
            out.append(dataclasses.replace(media, alt=alt))
        return out, warnings


def _checked_alt(spec: MediaSpec, alt: str) -> str:
    """The rendered alt text with its newlines normalised; a MediaError (rule ``alt-characters``) when it
    holds a character refused in post text (:mod:`campaign.text.characters`)."""
    alt = characters.normalise_newlines(alt)
    refused = characters.first_refused(alt)
    if refused is not None:
        at = characters.position(alt, refused.index)
        message = f"alt text: {characters.describe(refused.char)} at {at} {refused.why}"
        raise MediaError(message, file=spec.label, rule="alt-characters")
    return alt


def _item(spec: MediaSpec, alt: str) -> MediaItem:
    return MediaItem(
        file=spec.file,
        alt=alt,
        decorative=spec.decorative,
        focus=spec.focus,
        skip=spec.skip,
        label=spec.label,
    )


def _error(issue: MediaIssue, prefix: str = "") -> MediaError:
    return MediaError(issue.message, file=prefix + (issue.file or "media"), rule=issue.rule)
