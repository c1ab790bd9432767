"""`campaign init --from-release`: the derived campaign passes `campaign check` unchanged."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campaign.cli import main
from campaign.errors import UsageError
from campaign.plan.compile import compile_campaign
from campaign.source.config import load_campaign
from campaign.source.scaffold import scaffold
from tests.conftest import RELEASE

RELEASES = Path(__file__).parent / "data" / "releases"


def test_init_from_the_real_release_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the operator's default allow-list (CAMPAIGN_*), as on a fresh machine: the suite widens it.
    monkeypatch.delenv("CAMPAIGN_SECRET_ENV", raising=False)
    code = main(
        [
            "init",
            "--from-release",
            str(RELEASE),
            "--dir",
            str(tmp_path),
            "--name",
            "demo",
            "--zone",
            "Asia/Hong_Kong",
            "--start",
            "2030-01-07 09:00",
        ]
    )
    assert code == 0
    schedule = tmp_path / "schedules" / "demo.yaml"
    assert f"wrote {schedule}" in capsys.readouterr().out
    campaign = load_campaign(schedule)
    assert campaign.hashtags == ("#HKSTP", "#InnovationMixer", "#technology")
    assert [p.key for p in campaign.posts] == [
        "launch",
        "quote",
        "figure-1",
        "figure-2",
        "figure-3",
        "people",
        "about",
    ]
    assert {a.channel for a in campaign.accounts.values()} >= {
        "x",
        "linkedin",
        "mastodon",
        "bluesky",
        "facebook",
        "threads",
        "telegram",
        "slack",
        "discord",
    }
    code = main(["check", str(schedule), "--now", "2029-12-01T00:00:00Z"])
    assert code == 0
    compiled = compile_campaign(str(schedule))
    quote = next(p for p in compiled.posts if p.post_key == "quote" and p.channel == "linkedin")
    assert "The sheer talent" in quote.text and "Albert Wong" in quote.text
    # spread over the first days, never two posts of one account at the same time
    times = {(p.account, p.scheduled_at) for p in compiled.posts}
    assert len(times) == len(compiled.posts)


@pytest.mark.parametrize("release", [*sorted(p.name for p in RELEASES.glob("*.md")), "hkstp-zh.txt"])
def test_init_from_other_layouts(tmp_path: Path, release: str) -> None:
    written = scaffold(
        RELEASES / release,
        root=tmp_path,
        name="other",
        channels=["x", "mastodon", "linkedin"],
        today=date(2029, 12, 1),
    )
    compiled = compile_campaign(str(written[0]))
    assert compiled.ok, [str(e) for e in compiled.errors]
    assert compiled.posts


def test_refuses_to_overwrite_and_unknown_channels(tmp_path: Path) -> None:
    scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"])
    with pytest.raises(UsageError, match="exists"):
        scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"])
    scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"], force=True)
    with pytest.raises(UsageError, match="unknown channel 'myspace'"):
        scaffold(RELEASE, root=tmp_path, name="other", channels=["myspace"])


# --------------------------------------------------------------------------------------------------------
# issue 13: what `init` writes from each layout and language is publishable as it stands

LAYOUTS = RELEASES / "layouts"
_BOILERPLATE = ("FOR IMMEDIATE RELEASE", "###", "NNNN", "-30-", "- ende -", "- 完 -", "Ends/", "/PRNewswire",
                "(BUSINESS WIRE)", "(GLOBE NEWSWIRE)", "Media OutReach", "ACCESS Newswire", "EINPresswire",
                "(亞太商訊)", "/美通社/", "News Direct", "報道関係者各位", "EMBARGOED",
                "SOURCE ")  # fmt: skip


def _visible(text: str) -> str:
    """Post text without its links and hashtags (what the language detector should read)."""
    return " ".join(w for w in text.split() if not w.startswith(("http", "#")))


@pytest.mark.parametrize("release_name", sorted(p.name for p in LAYOUTS.iterdir()))
def test_init_rules_on_each_layout(tmp_path: Path, release_name: str) -> None:
    from campaign.source.release import load_release
    from campaign.source.release.languages import detect_language

    path = LAYOUTS / release_name
    release = load_release(path)
    written = scaffold(path, root=tmp_path, today=date(2029, 12, 1))
    schedule = written[0]
    campaign = load_campaign(schedule)
    # the zone is the dateline's; the file passes `check` unchanged
    expected_zone = release.dateline.zone if release.dateline and release.dateline.zone else "UTC"
    assert campaign.zone == expected_zone
    assert main(["check", str(schedule), "--now", "2029-12-01T00:00:00Z"]) == 0
    compiled = compile_campaign(str(schedule))
    assert compiled.ok, [str(e) for e in compiled.errors]
    zone = ZoneInfo(campaign.zone)
    contact_bits = [w for line in release.contacts for w in line.split() if "@" in w or w.startswith("+")]
    by_account: dict[str, list[str]] = {}
    for post in compiled.posts:
        local = post.scheduled_at.astimezone(zone)
        assert local.weekday() < 5 and 9 <= local.hour < 18, (post.post_key, local)  # business hours
        text = "\n".join(post.parts)
        for junk in (*_BOILERPLATE, *contact_bits):
            assert junk not in text, (junk, post.post_key, post.channel)
        if release.dateline is not None and release.dateline.source:
            assert release.dateline.source not in text  # the dateline prefix was stripped from the lead
        if release.dateline is not None and release.dateline.place.isupper():
            assert f"{release.dateline.place} " not in text and f"{release.dateline.place}," not in text
        by_account.setdefault(post.account, []).append(text)
    for account, texts in by_account.items():
        assert len(texts) == len(set(texts)), account  # no two posts of one account share a text
    # the link is the release's main link; hashtags are the release's as written
    assert campaign.link == release.link
    assert set(campaign.hashtags) <= set(release.hashtags)
    # figure posts: distinct sentences and numbers, each reading on its own
    figure_posts = [p for p in campaign.posts if p.key.startswith("figure-")]
    from campaign.source.scaffold import figure_choices

    chosen = figure_choices(release)
    assert len(figure_posts) == len(chosen)
    sentences = [release.figures[i].sentence for i in chosen]
    phrases = [p for i in chosen for p in release.figures[i].phrases]
    assert len(set(sentences)) == len(sentences) and len(set(phrases)) == len(phrases)
    assert release.lead not in sentences
    # a quote post carries a whole quote where the platform has room
    for post in compiled.posts:
        if post.post_key == "quote" and post.channel == "linkedin":
            assert any(q.text in post.parts[0] for q in release.quotes)
    # posts are in the release's language
    launch = next(p for p in compiled.posts if p.post_key == "launch" and p.channel == "linkedin")
    if release.language:
        found = detect_language(_visible(launch.parts[0]))
        assert found is not None and found.split("-")[0] == release.language.split("-")[0], found
    about = [p for p in compiled.posts if p.post_key == "about" and p.channel == "linkedin"]
    if about and release.language in ("zh-Hant", "de", "fr", "es", "pt"):
        assert about[0].parts[0].startswith(("關於", "Über", "À propos", "Acerca", "Sobre"))


def test_init_refuses_a_second_campaign_for_the_same_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = LAYOUTS / "prnewswire-taipo.txt"
    args = ["init", "--from-release", str(release), "--dir", str(tmp_path), "--start", "2030-01-07 09:00"]
    assert main(args) == 0
    out = capsys.readouterr().out
    first = tmp_path / "schedules" / "prnewswire-taipo.yaml"
    assert f"next: campaign check {first}" in out
    # the same release again (the README tour run twice): refused, nothing written
    (tmp_path / "schedules" / "prnewswire-taipo.yaml").rename(tmp_path / "schedules" / "renamed.yaml")
    assert main(args) == 2
    assert "already uses" in capsys.readouterr().err
    assert not first.exists()
    # on purpose: a new name, or --force
    assert main([*args, "--name", "second"]) == 0
    assert "next: campaign check" in capsys.readouterr().out
    assert main([*args, "--force"]) == 0


def test_business_days() -> None:
    from campaign.source.scaffold import business_day_offsets

    assert business_day_offsets(date(2026, 3, 5), 5) == [0, 1, 4, 5, 6]  # Thursday start
    assert business_day_offsets(date(2026, 3, 7), 2) == [2, 3]  # Saturday start: Monday, Tuesday


def test_init_starts_after_the_embargo(tmp_path: Path) -> None:
    # EMBARGOED UNTIL 16:00 GMT, Wednesday 15 April 2026; London is on BST (+01:00) then
    written = scaffold(LAYOUTS / "research-embargo.txt", root=tmp_path, today=date(2026, 4, 1))
    campaign = load_campaign(written[0])
    assert campaign.zone == "Europe/London"
    compiled = compile_campaign(str(written[0]))
    assert compiled.ok, [str(e) for e in compiled.errors]
    first = min(p.scheduled_at for p in compiled.posts)
    assert first.isoformat() >= "2026-04-15T15:00:00+00:00"
    assert first.astimezone(ZoneInfo("Europe/London")).date() == date(2026, 4, 16)  # the next 09:00


@pytest.mark.parametrize(
    "text",
    [
        "Only a title here",
        "HONG KONG SAR - Media OutReach Newswire - 25 January 2024 - Acme opened a shop today.",
        'Acme opens a shop\n\n"'
        + "We are very happy. " * 400
        + '" said Jane Doe, CEO of Acme.\n\nAbout Acme\n\n'
        + "Acme sells things " * 300
        + ".",
        "香港 – 2026年5月12日 – 翠峰今日開業。",
        "12345 67890\n\nBody text without a title, with a link https://acme.example and #AcmeNews.",
    ],
)
def test_init_on_odd_releases_still_passes_check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.txt"
    path.write_text(text, encoding="utf-8")
    written = scaffold(path, root=tmp_path, today=date(2029, 12, 1))
    compiled = compile_campaign(str(written[0]))
    assert compiled.ok, [str(e) for e in compiled.errors][:3]
    assert all(p.parts and p.parts[0].strip() for p in compiled.posts)
