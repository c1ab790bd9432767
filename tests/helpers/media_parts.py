"""Prepared media for the adapter media tests: real images prepared into a real media store."""

from __future__ import annotations

from pathlib import Path

from campaign.channels.base import LinkCard, Part
from campaign.media.model import MediaItem, PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import noisy, save

ALT = "The HKSTP delegation outside a Stanford building"


def photo(
    tmp_path: Path, channel: str, name: str = "delegation.jpg", size: tuple[int, int] = (320, 200)
) -> PreparedMedia:
    source = save(noisy(*size), tmp_path / name, "JPEG")
    item = MediaItem(file=source, alt=ALT, focus=(0.25, -0.5), label=name)
    return prepare(item, PLATFORM_MEDIA_RULES[channel], MediaStore(tmp_path / "media"))


def media_part(*media: PreparedMedia, link: LinkCard | None = None, link_image: PreparedMedia | None = None,
               base_url: str | None = None) -> Part:  # fmt: skip
    return Part(
        post_id="launch/acct",
        idempotency_key="0123456789abcdef0123456789abcdef",
        text="HKSTP heads to the US West Coast",
        media=media,
        link=link,
        link_image=link_image,
        media_base_url=base_url,
    )
