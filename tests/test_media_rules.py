"""The per-platform media rules table: complete, cited, consistent, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from campaign.media.rules import ALL_TYPES, MP4, PLATFORM_MEDIA_RULES, MediaRules, kind_of

ROOT = Path(__file__).resolve().parent.parent


def test_every_built_in_channel_has_media_rules() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    channels = set(project["project"]["entry-points"]["campaign.channels"])
    assert channels == set(PLATFORM_MEDIA_RULES)
    assert all(name == rules.platform for name, rules in PLATFORM_MEDIA_RULES.items())


@pytest.mark.parametrize("rules", PLATFORM_MEDIA_RULES.values(), ids=list(PLATFORM_MEDIA_RULES))
def test_rules_are_consistent_and_cited(rules: MediaRules) -> None:
    assert rules.types <= ALL_TYPES and rules.types
    assert rules.max_items >= 1 and 0 <= rules.max_videos <= rules.max_items
    assert (MP4 in rules.types) == (rules.max_videos > 0)
    if rules.platform != "webhook":  # our own payload: nothing to cite
        assert rules.docs and all(url.startswith("https://") for url in rules.docs)
    for limits in (rules.image, rules.gif, rules.video):
        if limits.min_aspect is not None and limits.max_aspect is not None:
            assert limits.min_aspect < 1 < limits.max_aspect


def test_alt_text_limits_as_documented() -> None:
    r = PLATFORM_MEDIA_RULES
    assert (r["mastodon"].alt_limit, r["mastodon"].alt_unit) == (1500, "characters")
    assert (r["bluesky"].alt_limit, r["bluesky"].alt_unit, r["bluesky"].video_alt_limit) == (
        2000,
        "graphemes",
        1000,
    )
    assert r["x"].alt_limit == 1000 and r["discord"].alt_limit == 1024 and r["slack"].alt_limit == 2000
    assert r["telegram"].alt_supported is False and r["telegram"].caption_limit == 1024
    assert {n for n, rules in r.items() if rules.needs_public_url} == {"threads", "slack", "teams", "webhook"}
    assert r["bluesky"].image.max_bytes == 1_000_000 and r["bluesky"].link_image is not None


def test_kinds() -> None:
    assert [kind_of(m) for m in ("image/jpeg", "image/gif", "video/mp4")] == ["image", "gif", "video"]


def test_importing_the_media_package_does_not_import_pillow() -> None:
    code = (
        "import sys, campaign.media.rules, campaign.media.check, campaign.media.store, "
        "campaign.media.prepare; print('PIL' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
