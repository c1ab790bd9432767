"""Media in campaign files: ``media:`` items, ``link_image:`` and ``media_base_url`` (issue 14)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.errors import ConfigError
from campaign.source.config import load_campaign
from tests.conftest import MINI_CAMPAIGN

WITH_MEDIA = MINI_CAMPAIGN.replace(
    '  - key: launch\n    when: "+0d 09:00"\n',
    """\
  - key: launch
    when: "+0d 09:00"
    link_image: card.png
    media:
      - file: banner.png
        alt: "Banner: {{ release.title }}"
        focus: [0.0, -0.5]
        skip: [x]
      - file: swirl.png
        decorative: true
    overrides:
      main_mastodon:
        media:
          - file: other.png
            alt: Another picture
""",
).replace("threads: [x]\n", "threads: [x]\nmedia_base_url: https://media.example/campaign\n")


def test_media_keys_load_with_paths_relative_to_the_campaign_file(mini: Callable[..., Path]) -> None:
    path = mini(WITH_MEDIA)
    campaign = load_campaign(path)
    assert campaign.media_base_url == "https://media.example/campaign"
    launch = campaign.posts[0]
    banner, swirl = launch.media
    assert banner.file == path.parent / "banner.png" and banner.label == "banner.png"
    assert banner.alt == "Banner: {{ release.title }}" and not banner.decorative
    assert banner.focus == (0.0, -0.5) and banner.skip == frozenset({"x"})
    assert swirl.decorative and swirl.alt == ""
    assert launch.link_image is not None and launch.link_image.file == path.parent / "card.png"
    override = launch.overrides["main_mastodon"]
    assert override.media is not None and [m.label for m in override.media] == ["other.png"]
    assert campaign.posts[1].media == () and campaign.posts[1].link_image is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '        alt: "Banner: {{ release.title }}"\n',
            "",
            r"mini\.yaml:\d+: post 'launch': media 'banner\.png' needs alt",
        ),
        ('alt: "Banner: {{ release.title }}"', 'alt: "  "', r"media 'banner\.png' needs alt"),
        ("focus: [0.0, -0.5]", "focus: [2, 0]", r"'focus' of media 'banner\.png' of post 'launch' must be"),
        (
            "        skip: [x]\n",
            "        skip: [x]\n        crop: yes\n",
            r"unknown key 'crop' in a media item",
        ),
        ("media_base_url: https://", "media_base_url: http://", r"'media_base_url' must be an https:// URL"),
        (
            "    media:\n      - file: banner",
            "    media: banner.png\n    x_media:\n      - file: banner",
            "unknown key",
        ),
    ],
)
def test_media_errors_name_file_line_and_post(
    mini: Callable[..., Path], old: str, new: str, message: str
) -> None:
    assert old in WITH_MEDIA
    with pytest.raises(ConfigError, match=message):
        load_campaign(mini(WITH_MEDIA.replace(old, new, 1)))
