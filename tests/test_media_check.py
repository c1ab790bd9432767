"""check_media: every rule violation, each reported as one line naming post, channel, file and rule.

The items are PreparedMedia values built directly (the facts a prepare run records), so each rule is tested
on its own, table-driven.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from campaign.media.check import check_media
from campaign.media.model import MediaIssue, PreparedMedia
from campaign.media.rules import PLATFORM_MEDIA_RULES, MediaRules

RULES = PLATFORM_MEDIA_RULES


def image(name: str = "banner.jpg", **kw: object) -> PreparedMedia:
    base: dict[str, object] = {
        "sha256": "a" * 64, "mime": "image/jpeg", "size": 200_000, "width": 1200, "height": 675,
        "path": Path("/store") / name, "source": name, "alt": "The HKSTP delegation on stage",
    }  # fmt: skip
    base.update(kw)
    return PreparedMedia(**base)  # type: ignore[arg-type]


def video(name: str = "teaser.mp4", **kw: object) -> PreparedMedia:
    base: dict[str, object] = {
        "mime": "video/mp4", "size": 5_000_000, "width": 1280, "height": 720, "duration": 30.0,
        "video_codec": "avc1", "audio_codec": "mp4a",
    }  # fmt: skip
    base.update(kw)
    return image(name, **base)


def gif(name: str = "loop.gif", **kw: object) -> PreparedMedia:
    return image(name, **{"mime": "image/gif", "frames": 12, **kw})


def lines(items: list[PreparedMedia], channel: str, **kw: object) -> list[str]:
    return [str(issue) for issue in check_media(items, RULES[channel], channel, "launch", **kw)]  # type: ignore[arg-type]


def test_nothing_to_report() -> None:
    assert check_media([image(), image("b.jpg")], RULES["bluesky"], "bluesky", "launch") == []
    assert check_media([], RULES["slack"], "slack", "launch") == []


CASES: list[tuple[str, list[PreparedMedia], str, dict[str, object], str]] = [
    ("count", [image(f"{i}.jpg") for i in range(5)], "x", {},
     "post 'launch' on x: 5 media items > 4 per post (count)"),
    ("videos", [video("a.mp4"), video("b.mp4")], "mastodon", {},
     "post 'launch' on mastodon: 2 videos > 1 per post (count)"),
    ("gif alone", [gif(), image()], "x", {},
     "post 'launch' on x: an animated image must be the only media item of a post on x (gif-alone)"),
    ("mix", [image(), video()], "bluesky", {},
     "post 'launch' on bluesky: bluesky does not mix images and video in one post (mix)"),
    ("public url", [image()], "threads", {},
     "post 'launch' on threads: threads shows media only from a public URL: set media_base_url (public-url)"),
    ("type", [image(mime="image/webp", source="shot.webp")], "linkedin", {},
     "post 'launch' on linkedin: shot.webp: image/webp is not accepted on linkedin "
     "(takes image/gif, image/jpeg, image/png, video/mp4) (type)"),
    ("bytes", [image(size=1_250_000)], "bluesky", {},
     "post 'launch' on bluesky: banner.jpg: 1,250,000 bytes > 1,000,000 (bytes)"),
    ("min bytes", [video(size=50_000)], "linkedin", {},
     "post 'launch' on linkedin: teaser.mp4: 50,000 bytes < 75,000 (bytes)"),
    ("pixels", [image(width=4000, height=3000)], "mastodon", {},
     "post 'launch' on mastodon: banner.jpg: 4000x3000 = 12,000,000 pixels > 8,294,400 (pixels)"),
    ("width", [image(width=1600, height=900)], "threads", {"media_base_url": "https://cdn.example/m"},
     "post 'launch' on threads: banner.jpg: 1600 pixels wide > 1440 (pixels)"),
    ("height", [gif(width=600, height=1200)], "x", {},
     "post 'launch' on x: loop.gif: 1200 pixels high > 1080 (pixels)"),
    ("min size", [image(width=3, height=30)], "x", {},
     "post 'launch' on x: banner.jpg: 3 pixels wide < 4 (pixels)"),
    ("dimension sum", [image(width=8000, height=2500)], "telegram", {},
     "post 'launch' on telegram: banner.jpg: width + height = 10,500 > 10,000 (pixels)"),
    ("too wide", [video(width=1280, height=400)], "x", {},
     "post 'launch' on x: teaser.mp4: aspect ratio 1280:400 is wider than 3:1 (aspect)"),
    ("too narrow", [image(width=100, height=1100)], "threads", {"media_base_url": "https://cdn.example/m"},
     "post 'launch' on threads: banner.jpg: aspect ratio 100:1100 is narrower than 1:10 (aspect)"),
    ("frames", [gif(frames=400, width=400, height=300)], "x", {},
     "post 'launch' on x: loop.gif: 400 frames > 350 (frames)"),
    ("animation", [gif(size=500_000)], "bluesky", {},
     "post 'launch' on bluesky: loop.gif: bluesky shows animated images as stills; "
     "use an MP4 video (animation)"),
    ("long", [video(duration=141.5)], "x", {},
     "post 'launch' on x: teaser.mp4: 141.50 s long > 140 s (duration)"),
    ("short", [video(duration=0.25)], "x", {},
     "post 'launch' on x: teaser.mp4: 0.25 s long < 0.50 s (duration)"),
    ("video codec", [video(video_codec="hvc1")], "mastodon", {},
     "post 'launch' on mastodon: teaser.mp4: video codec hvc1 is not accepted (takes avc1, avc3) (codec)"),
    ("audio codec", [video(audio_codec="Opus")], "mastodon", {},
     "post 'launch' on mastodon: teaser.mp4: audio codec Opus is not accepted (takes mp4a) (codec)"),
    ("alt missing", [image(alt="")], "mastodon", {},
     "post 'launch' on mastodon: banner.jpg: alt text is missing: describe the image in alt:, "
     "or mark it decorative: true (alt)"),
    ("alt blank", [image(alt="   \n")], "x", {},
     "post 'launch' on x: banner.jpg: alt text is missing: describe the image in alt:, "
     "or mark it decorative: true (alt)"),
    ("alt too long", [image(alt="a" * 1001)], "x", {},
     "post 'launch' on x: banner.jpg: alt text is 1,001 characters > 1,000 (alt-length)"),
    ("mastodon alt", [image(alt="é" * 1501)], "mastodon", {},
     "post 'launch' on mastodon: banner.jpg: alt text is 1,501 characters > 1,500 (alt-length)"),
    ("bluesky video alt", [video(alt="b" * 1001)], "bluesky", {},
     "post 'launch' on bluesky: teaser.mp4: alt text is 1,001 graphemes > 1,000 (alt-length)"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "items", "channel", "kw", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_has_one_clear_line(
    why: str, items: list[PreparedMedia], channel: str, kw: dict[str, object], expected: str
) -> None:
    assert lines(items, channel, **kw) == [expected]


def test_every_violation_is_reported_together() -> None:
    items = [
        video(duration=300.0, alt=""),
        image(size=9_000_000),
        image("c.jpg"),
        image("d.jpg"),
        image("e.jpg"),
    ]
    issues = check_media(items, RULES["x"], "x", "launch")
    assert [(i.file, i.rule) for i in issues] == [
        ("", "count"),
        ("", "mix"),
        ("teaser.mp4", "duration"),
        ("teaser.mp4", "alt"),
        ("banner.jpg", "bytes"),
    ]


def test_decorative_items_need_no_alt_text() -> None:
    assert lines([image(alt="", decorative=True)], "mastodon") == []


def test_bluesky_counts_alt_text_in_graphemes() -> None:
    family = "👩‍👩‍👧‍👦"  # one grapheme, seven code points
    assert lines([image(alt=family * 2000)], "bluesky") == []
    assert lines([image(alt=family * 2001)], "bluesky") == [
        "post 'launch' on bluesky: banner.jpg: alt text is 2,001 graphemes > 2,000 (alt-length)"
    ]
    assert len(family * 2000) > 2000


def test_alt_text_is_required_even_where_the_platform_cannot_send_it() -> None:
    assert lines([image(alt="")], "telegram")[0].endswith("(alt)")
    assert lines([image(alt="x" * 50_000)], "telegram") == []  # no field, so no limit to break


def test_url_only_platforms_pass_with_a_base_url() -> None:
    assert lines([image()], "slack", media_base_url="https://cdn.example/media/") == []
    assert image().public_url("https://cdn.example/media/") == f"https://cdn.example/media/{'a' * 64}.jpg"


def test_issue_without_a_file() -> None:
    issue = MediaIssue("p", "x", "", "count", "5 media items > 4 per post")
    assert str(issue) == "post 'p' on x: 5 media items > 4 per post (count)"


def test_rules_can_be_narrowed_for_one_account() -> None:
    strict: MediaRules = dataclasses.replace(RULES["mastodon"], max_items=2, alt_limit=10)
    assert [i.rule for i in check_media([image(), image(), image()], strict, "mastodon", "p")] == [
        "count", "alt-length", "alt-length", "alt-length",
    ]  # fmt: skip
