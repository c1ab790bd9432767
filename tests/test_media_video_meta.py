"""Video on LinkedIn and Facebook Pages is checked against each adapter's declared media rules (issue 14):
duration, bytes, frame size, aspect ratio, codecs, one video alone. Each violation is one line naming the
post, channel, file and rule; a video inside the limits has no issue."""

from __future__ import annotations

import pytest

from campaign.channels.facebook import FacebookAdapter
from campaign.channels.linkedin import LinkedInAdapter
from campaign.media.check import check_media
from campaign.media.model import PreparedMedia
from campaign.media.rules import MP4
from tests.test_media_check import image, video

ADAPTERS = {"linkedin": LinkedInAdapter, "facebook": FacebookAdapter}


def lines(items: list[PreparedMedia], channel: str) -> list[str]:
    rules = ADAPTERS[channel].media_rules
    return [str(issue) for issue in check_media(items, rules, channel, "launch")]


@pytest.mark.parametrize("channel", sorted(ADAPTERS))
def test_a_video_within_the_limits_passes(channel: str) -> None:
    assert MP4 in ADAPTERS[channel].media_rules.types
    assert lines([video()], channel) == []


CASES: list[tuple[str, PreparedMedia | list[PreparedMedia], str, str]] = [
    ("too long", video(duration=1801.0), "linkedin", "teaser.mp4: 1,801 s long > 1,800 s (duration)"),
    ("too short", video(duration=2.0), "linkedin", "teaser.mp4: 2 s long < 3 s (duration)"),
    ("too big", video(size=500_000_001), "linkedin", "(bytes)"),
    ("too small", video(width=200, height=120), "linkedin", "(pixels)"),
    ("too wide", video(width=2560, height=1000), "linkedin", "(aspect)"),
    ("codec", video(video_codec="hvc1"), "linkedin", "(codec)"),
    ("two", [video("a.mp4"), video("b.mp4")], "linkedin", "2 videos > 1 per post (count)"),
    ("mixed", [image(), video()], "linkedin", "(mix)"),
    ("too long", video(duration=4 * 3600.0 + 1), "facebook", "(duration)"),
    ("too wide", video(width=1920, height=800), "facebook", "(aspect)"),
    ("too tall", video(width=600, height=1200), "facebook", "(aspect)"),
    ("audio", video(audio_codec="Opus"), "facebook", "(codec)"),
    ("mixed", [image(), video()], "facebook", "(mix)"),
]


@pytest.mark.parametrize(
    ("what", "items", "channel", "expected"), CASES, ids=[f"{c[2]}-{c[0]}" for c in CASES]
)
def test_violations_are_one_line_each(
    what: str, items: PreparedMedia | list[PreparedMedia], channel: str, expected: str
) -> None:
    found = lines(items if isinstance(items, list) else [items], channel)
    assert any(expected in line for line in found), (what, found)
    assert all(line.startswith(f"post 'launch' on {channel}") for line in found)
