"""`campaign init --from-release en.txt --from-release zh.txt`: one bilingual campaign that passes `check`
unchanged and meets the init rules (no boilerplate, no text twice on an account, each language's posts in that
language, the zone from the dateline). Replaces the former ``test_init_takes_one_release_for_now``."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from campaign.cli import main
from campaign.plan.compile import compile_campaign
from campaign.source.config import load_campaign
from campaign.source.release import load_release
from campaign.source.release.languages import detect_language

RELEASES = Path(__file__).parent / "data" / "releases"
PAIRS = {
    "tidewater": (RELEASES / "bilingual" / "tidewater.en.txt",
                  RELEASES / "bilingual" / "tidewater.zh-Hant.txt"),
    "taipo": (RELEASES / "layouts" / "prnewswire-taipo.txt",
              RELEASES / "translations" / "prnewswire-taipo.zh-Hant.txt"),
}  # fmt: skip
BOILERPLATE = ("Media OutReach", "/PRNewswire/", "/美通社/", "- 完 -", "傳媒查詢", "Media contact", "press@",
               "The issuer is solely", "即時發布", "FOR IMMEDIATE RELEASE", "HONG KONG SAR -")  # fmt: skip
CJK = re.compile(r"[\u3400-\u9fff]")


def _visible(text: str) -> str:
    """Post text without links and hashtags (what the language detector should read)."""
    return " ".join(w for w in text.split() if not w.startswith(("http", "#")))


def _init(tmp_path: Path, pair: str, *extra: str) -> int:
    en, zh = PAIRS[pair]
    args = ["init", "--from-release", str(en), "--from-release", str(zh), "--dir", str(tmp_path)]
    return main([*args, "--start", "2030-01-07 09:00", *extra])


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_init_with_a_release_and_its_translation_writes_one_bilingual_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str
) -> None:
    en_file, zh_file = PAIRS[pair]
    assert _init(tmp_path, pair) == 0
    out = capsys.readouterr().out
    schedule = tmp_path / "schedules" / f"{pair if pair == 'tidewater' else en_file.stem}.yaml"
    assert f"next: campaign check {schedule}" in out
    # the file passes `check` unchanged
    assert main(["check", str(schedule), "--now", "2029-12-01T00:00:00Z"]) == 0
    campaign = load_campaign(schedule)
    en, zh = load_release(en_file), load_release(zh_file)
    assert campaign.languages == ("en", "zh-Hant")
    assert {lang: p.name for lang, p in campaign.releases.items()} == {
        "en": en_file.name, "zh-Hant": zh_file.name
    }  # fmt: skip
    assert campaign.zone == "Asia/Hong_Kong" == en.dateline.zone  # type: ignore[union-attr]
    assert campaign.language_hashtags["zh-Hant"] == tuple(zh.hashtags[:3])
    assert {a.language for a in campaign.accounts.values()} == {"en", "zh-Hant"}  # one account per language
    compiled = compile_campaign(str(schedule))
    assert compiled.ok, [str(e) for e in compiled.errors]
    zone = ZoneInfo(campaign.zone)
    by_account: dict[str, list[str]] = {}
    for post in compiled.posts:
        text = "\n".join(post.parts)
        local = post.scheduled_at.astimezone(zone)
        assert local.weekday() < 5 and 9 <= local.hour < 18, (post.label, local)
        for junk in BOILERPLATE:
            assert junk not in text, (junk, post.label)
        account = campaign.accounts[post.account]
        assert post.language == account.language
        visible = _visible(text)
        if post.language == "zh-Hant":
            assert post.post_key.endswith(":zh-Hant") and CJK.search(visible), post.label
            assert not re.search(r"[A-Za-z]{4,}", visible.replace("ColdChain", "")), (post.label, visible)
        else:
            assert ":" not in post.post_key and not CJK.search(visible), post.label
        by_account.setdefault(post.account, []).append(text)
    for account_name, texts in by_account.items():
        assert len(texts) == len(set(texts)), account_name  # no two posts of one account share a text
    for lang, release in (("en", en), ("zh-Hant", zh)):
        launch = next(p for p in compiled.posts if p.base_key == "launch" and p.language == lang
                      and p.channel == "linkedin")  # fmt: skip
        found = detect_language(_visible(launch.parts[0]))
        assert found is not None and found.split("-")[0] == (release.language or "").split("-")[0]
        assert launch.link is not None and launch.link.url.startswith(release.link or "-")
        assert launch.link.title == release.title  # the link card reads its own language's release


def test_the_same_releases_again_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(tmp_path, "tidewater") == 0
    schedule = tmp_path / "schedules" / "tidewater.yaml"  # the first release's name without its language
    schedule.rename(schedule.with_name("renamed.yaml"))
    capsys.readouterr()
    assert _init(tmp_path, "tidewater") == 2
    assert "already uses" in capsys.readouterr().err
    # one of them alone is refused too: the bilingual campaign names it in its `release:` map
    zh = PAIRS["tidewater"][1]
    assert main(["init", "--from-release", str(zh), "--dir", str(tmp_path)]) == 2
    assert "renamed.yaml already uses" in capsys.readouterr().err
    assert _init(tmp_path, "tidewater", "--name", "second") == 0


def test_two_releases_in_one_language_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release = str(RELEASES / "layouts" / "acn-newswire-zh-hant.txt")
    code = main(["init", "--from-release", release, "--from-release", release, "--dir", str(tmp_path)])
    assert code == 2
    assert "the releases must be in different languages (found zh-Hant, zh-Hant)" in capsys.readouterr().err
    assert not (tmp_path / "schedules").exists()


def test_the_bilingual_layout(tmp_path: Path) -> None:
    """What the file says: languages, release per language, hashtags per language, accounts per language
    with their own credentials, templates per language, a link per language."""
    assert _init(tmp_path, "taipo", "--channels", "x,mastodon") == 0
    data = yaml.safe_load((tmp_path / "schedules" / "prnewswire-taipo.yaml").read_text(encoding="utf-8"))
    assert data["languages"] == ["en", "zh-Hant"] and set(data["release"]) == {"en", "zh-Hant"}
    assert data["hashtags"]["zh-Hant"] == ["#港燈機械人", "#冷鏈"]
    assert {a: v["language"] for a, v in data["accounts"].items()} == {
        "main_x_en": "en", "main_mastodon_en": "en", "main_x_zh-Hant": "zh-Hant",
        "main_mastodon_zh-Hant": "zh-Hant",
    }  # fmt: skip
    assert data["accounts"]["main_x_zh-Hant"]["credentials"]["token"] == "CAMPAIGN_MAIN_X_ZH_HANT_TOKEN"
    assert data["link"] == {"en": "https://harbourlight.example", "zh-Hant": "https://harbourlight.example/zh"}
    assert all("overrides" not in post for post in data["posts"])
    names = sorted(p.name for p in (tmp_path / "templates" / "prnewswire-taipo").iterdir())
    assert "launch.j2" in names and "launch.zh-Hant.j2" in names
