"""Media through compile and the queue (issue 14): alt templates, per-channel preparation and checks, the
content hash, and the media a queued post hands its adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from campaign.plan.compile import compile_campaign
from campaign.plan.media import fit_alt
from campaign.plan.posts import part_for
from campaign.queue import planner
from campaign.queue.store import Store
from tests.conftest import MINI_CAMPAIGN

NOW = datetime(2030, 1, 1, tzinfo=UTC)
MEDIA_POST = """\
  - key: launch
    when: "+0d 09:00"
    media:
      - file: banner.png
        alt: "Banner: {{ release.title }}"
        focus: [0.0, -0.5]
      - file: swirl.png
        decorative: true
        skip: [main_x]
"""
WITH_MEDIA = MINI_CAMPAIGN.replace('  - key: launch\n    when: "+0d 09:00"\n', MEDIA_POST)


@pytest.fixture
def media_campaign(mini: Callable[..., Path]) -> Callable[..., Path]:
    def write(text: str = WITH_MEDIA) -> Path:
        path = mini(text)
        Image.new("RGB", (800, 400), (10, 30, 90)).save(path.parent / "banner.png")
        Image.new("RGB", (64, 64), (200, 200, 200)).save(path.parent / "swirl.png")
        return path

    return write


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def test_media_are_prepared_per_channel_with_rendered_alt_text(
    media_campaign: Callable[..., Path], tmp_path: Path
) -> None:
    compiled = compile_campaign(str(media_campaign()), now=NOW, media_root=tmp_path / "media")
    assert compiled.ok, compiled.errors
    launch = {p.account: p for p in compiled.posts if p.post_key == "launch"}
    masto = launch["main_mastodon"]
    banner, swirl = masto.media
    assert banner.alt.startswith("Banner: ") and "{{" not in banner.alt and len(banner.alt) > 20
    assert (
        banner.focus == (0.0, -0.5)
        and banner.mime == "image/png"
        and (banner.width, banner.height) == (800, 400)
    )
    assert banner.path.parent == tmp_path / "media" and banner.path.is_file()
    assert swirl.decorative and swirl.alt == ""
    assert [m.source for m in launch["main_x"].media] == ["banner.png"]  # swirl skips main_x


def test_media_change_the_content_hash_and_posts_without_keep_theirs(
    media_campaign: Callable[..., Path], tmp_path: Path
) -> None:
    with_media = compile_campaign(str(media_campaign()), now=NOW, media_root=tmp_path / "m")
    without = compile_campaign(str(media_campaign(MINI_CAMPAIGN)), now=NOW, media_root=tmp_path / "m")
    hashes = {(p.post_key, p.account): p.content_hash for p in with_media.posts}
    plain = {(p.post_key, p.account): p.content_hash for p in without.posts}
    assert hashes[("launch", "main_x")] != plain[("launch", "main_x")]
    assert hashes[("quote", "main_mastodon")] == plain[("quote", "main_mastodon")]


def test_media_errors_name_file_line_post_account_channel_file_and_rule(
    media_campaign: Callable[..., Path], tmp_path: Path
) -> None:
    path = media_campaign(WITH_MEDIA.replace("file: swirl.png", "file: missing.png"))
    compiled = compile_campaign(str(path), now=NOW, media_root=tmp_path / "media")
    assert [str(e) for e in compiled.errors] == [
        f"{path}:20: post 'launch' on main_mastodon (mastodon): missing.png: cannot read the file: "
        "No such file or directory (file)"
    ]
    path = media_campaign()
    (path.parent / "banner.png").write_bytes(b"%PDF-1.4 not an image")
    compiled = compile_campaign(str(path), now=NOW, media_root=tmp_path / "media")
    assert len(compiled.errors) == 2 and all(
        "banner.png: application/pdf files are not supported" in str(e) and str(e).endswith("(type)")
        for e in compiled.errors
    )
    assert {str(e).split(": post ")[1].split(":")[0] for e in compiled.errors} == {
        "'launch' on main_x (x)",
        "'launch' on main_mastodon (mastodon)",
    }


def test_alt_text_over_the_platform_limit_is_cut_with_a_warning(
    media_campaign: Callable[..., Path], tmp_path: Path
) -> None:
    long_alt = "A long description. " * 80  # 1,600 characters: over X's 1,000
    path = media_campaign(WITH_MEDIA.replace('"Banner: {{ release.title }}"', f'"{long_alt.strip()}"'))
    compiled = compile_campaign(str(path), now=NOW, media_root=tmp_path / "media")
    assert compiled.ok, compiled.errors
    x = next(p for p in compiled.posts if p.account == "main_x")
    assert len(x.media[0].alt) <= 1000 and x.media[0].alt.endswith("description.")
    assert any("alt text of banner.png cut to" in w for w in x.warnings)
    masto = next(p for p in compiled.posts if p.account == "main_mastodon" and p.post_key == "launch")
    assert len(masto.media[0].alt) <= 1500


def test_fit_alt_cuts_at_a_sentence_else_a_word() -> None:
    assert fit_alt("Short.", 10, len) == "Short."
    assert fit_alt("One two three four five six", 15, len) == "One two three…"
    assert fit_alt("First sentence here. Second one is long", 30, len) == "First sentence here."


def test_the_queue_keeps_the_media_and_part_for_hands_them_to_the_adapter(
    media_campaign: Callable[..., Path], tmp_path: Path, store: Store
) -> None:
    compiled = compile_campaign(str(media_campaign()), now=NOW, media_root=tmp_path / "media")
    planner.apply(store, planner.plan(store, "mini", compiled.posts, NOW), now=NOW)
    planned = next(p for p in compiled.posts if p.account == "main_mastodon" and p.post_key == "launch")
    queued = next(q for q in store.campaign_posts("mini") if q.ident == planned.ident)
    assert queued.media == planned.media and queued.content_hash == planned.content_hash
    assert planner.plan(store, "mini", compiled.posts, NOW).is_empty
    edited = media_campaign(WITH_MEDIA.replace("Banner: ", "The banner: "))
    recompiled = compile_campaign(str(edited), now=NOW, media_root=tmp_path / "media")
    changed = planner.plan(store, "mini", recompiled.posts, NOW)
    assert {c.new.account for c in changed.update} >= {"main_mastodon", "main_x"}
    claimed = store.claim_due(planned.scheduled_at, "me", 60, 10)
    post = next(c for c in claimed if c.account == "main_mastodon" and c.post_key == "launch")
    part = part_for(post, 0, ())
    assert part.media == planned.media and part.media[0].path.is_file()


def test_url_only_channels_need_media_base_url_and_captions_are_fitted(
    media_campaign: Callable[..., Path], tmp_path: Path
) -> None:
    accounts = """\
  chat:
    channel: slack
    credentials:
      webhook_url: MINI_SLACK_HOOK
  tg:
    channel: telegram
    chat_id: "@mini"
    credentials:
      token: MINI_TG_TOKEN
posts:"""
    text = WITH_MEDIA.replace("posts:", accounts, 1).replace(
        'when: "+0d 09:00"\n',
        'when: "+0d 09:00"\n    text: "{{ release.lead }} {{ release.lead }} {{ release.lead }}"\n'
        "    accounts: [chat, tg]\n",
        1,
    )
    compiled = compile_campaign(str(media_campaign(text)), now=NOW, media_root=tmp_path / "media")
    assert [str(e).split(": ", 2)[1:] for e in compiled.errors] == [
        [
            "post 'launch' on chat (slack)",
            "media: slack shows media only from a public URL: set media_base_url (public-url)",
        ]
    ]
    telegram = next(p for p in compiled.posts if p.account == "tg" and p.post_key == "launch")
    assert telegram.limit == 1024 and all(n <= 1024 for n in telegram.lengths)
    with_url = text.replace("threads: [x]\n", "threads: [x]\nmedia_base_url: https://media.example/c\n")
    compiled = compile_campaign(str(media_campaign(with_url)), now=NOW, media_root=tmp_path / "media")
    assert compiled.ok, compiled.errors
    slack = next(p for p in compiled.posts if p.account == "chat" and p.post_key == "launch")
    assert slack.media_base_url == "https://media.example/c" and len(slack.media) == 2
