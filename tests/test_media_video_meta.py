"""Video on LinkedIn and Facebook Pages is checked against each adapter's declared media rules (issue 14):
duration, bytes, frame size, aspect ratio, codecs, one video alone. Each violation is one line naming the
post, channel, file and rule; a video inside the limits has no issue."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.channels.facebook import FacebookAdapter
from campaign.channels.linkedin import LinkedInAdapter
from campaign.cli import main
from campaign.media.check import check_media
from campaign.media.model import PreparedMedia
from campaign.media.rules import MP4
from campaign.media.store import file_sha256
from tests.conftest import MINI_CAMPAIGN
from tests.helpers.media import write_mp4
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


VIDEO_CAMPAIGN = MINI_CAMPAIGN.replace(
    "accounts:\n",
    """accounts:
  main_linkedin:
    channel: linkedin
    author: urn:li:organization:2414183
    credentials:
      token: MINI_LINKEDIN_TOKEN
  main_facebook:
    channel: facebook
    page_id: "104832967715566"
    credentials:
      token: MINI_FACEBOOK_TOKEN
""",
).replace(
    '  - key: launch\n    when: "+0d 09:00"\n',
    '  - key: launch\n    when: "+0d 09:00"\n    channels: [linkedin, facebook]\n    media:\n'
    '      - file: teaser.mp4\n        alt: "A teaser of the Innovation Mixer"\n',
)


def test_preview_requests_show_every_video_part_by_size_and_hash(
    mini: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAMPAIGN_DB", str(tmp_path / "queue" / "campaign.db"))
    write_mp4(tmp_path / "teaser.mp4", seconds=12.0, mdat_size=5 * 1024 * 1024)
    campaign_file = mini(VIDEO_CAMPAIGN)
    args = ["preview", str(campaign_file), "--format", "json", "--requests", "--now", "2030-03-01T00:00:00Z"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    posts = {p["account"]: p for p in doc["posts"] if p["post"] == "launch"}
    size = (tmp_path / "teaser.mp4").stat().st_size
    for account, method, content_type in [
        ("main_linkedin", "PUT", "application/octet-stream"),
        ("main_facebook", "POST", "multipart/form-data"),
    ]:
        sent = posts[account]["requests"]
        bodies = [r["body"] if r["method"] == method and isinstance(r["body"], dict) else {} for r in sent]
        parts = [{"body": b} for b in bodies if "offset" in b.get("upload", {})]
        assert len(parts) == 2, account
        assert sum(p["body"]["upload"]["length"] for p in parts) == size
        assert {p["body"]["content_type"] for p in parts} == {content_type}
        assert {p["body"]["upload"]["sha256"] for p in parts} == {file_sha256(tmp_path / "teaser.mp4")}
