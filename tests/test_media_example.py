"""The example campaign's banner (scripts/make_example_media.py) prepares and checks on every channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign.media.check import check_media
from campaign.media.model import MediaItem
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore

ROOT = Path(__file__).resolve().parent.parent
BANNER = ROOT / "schedules" / "media" / "innovation-mixer-us-banner.png"
ALT = (
    "Banner on a dark blue background: the words HKSTP Innovation Mixer US tour in large white letters, and "
    "beneath them, Connecting the US and Hong Kong innovation communities. A dotted arc links a point marked "
    "Hong Kong on the left to a point marked US West Coast on the right."
)


def test_the_banner_is_small_and_16_by_9() -> None:
    assert BANNER.stat().st_size < 200_000
    assert BANNER.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("channel", sorted(PLATFORM_MEDIA_RULES))
def test_the_banner_prepares_and_passes_every_channel(tmp_path: Path, channel: str) -> None:
    rules = PLATFORM_MEDIA_RULES[channel]
    item = MediaItem(file=BANNER, alt=ALT, label="media/innovation-mixer-us-banner.png")
    prepared = prepare(item, rules, MediaStore(tmp_path))
    assert (prepared.width, prepared.height) == (1200, 675)
    assert check_media([prepared], rules, channel, "launch", media_base_url="https://media.example/c") == []


def test_the_banner_has_a_small_inline_thumbnail_for_the_html_preview(tmp_path: Path) -> None:
    import base64
    import io

    from PIL import Image

    from campaign.media.preview import thumbnail_data_url

    prepared = prepare(MediaItem(file=BANNER, alt=ALT), PLATFORM_MEDIA_RULES["x"], MediaStore(tmp_path))
    url = thumbnail_data_url(prepared)
    assert url is not None and url.startswith("data:image/jpeg;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert thumb.size == (480, 270) and len(url) < 40_000


def test_thumbnails_keep_transparency_and_videos_have_none(tmp_path: Path) -> None:
    from PIL import Image

    from campaign.media.preview import thumbnail_data_url
    from tests.helpers.media import item, write_mp4

    logo = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (100, 100, 800, 200))
    logo.save(tmp_path / "logo.png")
    store = MediaStore(tmp_path / "media")
    prepared = prepare(item(tmp_path / "logo.png"), PLATFORM_MEDIA_RULES["mastodon"], store)
    assert (thumbnail_data_url(prepared) or "").startswith("data:image/png;base64,")
    clip = prepare(item(write_mp4(tmp_path / "clip.mp4")), PLATFORM_MEDIA_RULES["mastodon"], store)
    assert thumbnail_data_url(clip) is None
