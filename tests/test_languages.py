"""Campaigns in several languages: `languages:`, release and hashtags per language, template lookup, keys,
the language sent to the platforms, and the previews side by side."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from campaign.cli import main
from campaign.errors import ConfigError, TemplateError
from campaign.plan import preview
from campaign.plan.compile import compile_campaign
from campaign.plan.html_preview import to_html
from campaign.plan.posts import language_key, part_for, split_key
from campaign.source.config import load_campaign
from campaign.source.languages import canonical_tag
from campaign.text.render import Renderer
from tests.conftest import MINI_CAMPAIGN
from tests.test_html_browser import browser  # noqa: F401  (the shared headless Chromium fixture)

PAIR = Path(__file__).parent / "data" / "releases" / "bilingual"

BILINGUAL = """\
campaign: tide
languages: [en, zh-Hant]
release:
  en: releases/tidewater.en.txt
  zh-Hant: releases/tidewater.zh-Hant.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-04 09:00"
hashtags:
  en: ["#TidalPower"]
  zh-Hant: ["#潮汐發電"]
link: https://tidewater.example
accounts:
  tide_x_en:
    channel: x
    language: en
    credentials:
      token: TIDE_X_TOKEN
  tide_bsky_zh:
    channel: bluesky
    language: zh-hant
    handle: tide.example.com
    credentials:
      app_password: TIDE_BSKY_PASSWORD
  tide_masto:
    channel: mastodon
    instance: https://mastodon.example
    credentials:
      token: TIDE_MASTO_TOKEN
posts:
  - key: launch
    when: "+0d 09:00"
"""

EN_TEMPLATE = "{{ release.title }}\n\n{{ link }}\n\n{{ tags | hashtags }}\n"
ZH_TEMPLATE = "【{{ language }}】{{ release.title }}\n\n{{ link }}\n\n{{ tags | hashtags }}\n"


@pytest.fixture
def bilingual(tmp_path: Path) -> Callable[..., Path]:
    """Write the bilingual campaign (optionally other YAML or templates); returns the campaign file."""

    def write(yaml_text: str = BILINGUAL, templates: dict[str, str] | None = None) -> Path:
        (tmp_path / "releases").mkdir(exist_ok=True)
        for name in ("tidewater.en.txt", "tidewater.zh-Hant.txt"):
            shutil.copyfile(PAIR / name, tmp_path / "releases" / name)
        folder = tmp_path / "templates"
        folder.mkdir(exist_ok=True)
        files = {"launch.j2": EN_TEMPLATE, "launch.zh-Hant.j2": ZH_TEMPLATE}
        files = templates if templates is not None else files
        for name, body in files.items():
            (folder / name).write_text(body, encoding="utf-8")
        path = tmp_path / "tide.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        return path

    return write


# -- the campaign file ------------------------------------------------------------------------------------


def test_languages_release_and_hashtags_per_language_load(bilingual: Callable[..., Path]) -> None:
    campaign = load_campaign(bilingual())
    assert campaign.languages == ("en", "zh-Hant") and campaign.default_language == "en"
    assert campaign.release is not None and campaign.release.name == "tidewater.en.txt"
    assert campaign.release_for("zh-Hant") == campaign.releases["zh-Hant"]
    assert campaign.releases["zh-Hant"].name == "tidewater.zh-Hant.txt"
    assert campaign.hashtags == () and campaign.language_hashtags == {
        "en": ("#TidalPower",), "zh-Hant": ("#潮汐發電",)
    }  # fmt: skip
    accounts = campaign.accounts
    assert accounts["tide_bsky_zh"].language == "zh-Hant"  # written zh-hant: the campaign's spelling
    assert accounts["tide_masto"].language is None
    assert accounts["tide_masto"].settings["language"] == "en"  # what adapters see: the default
    assert campaign.languages_of(accounts["tide_x_en"]) == ("en",)
    assert campaign.languages_of(accounts["tide_masto"]) == ("en", "zh-Hant")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("languages: [en, zh-Hant]", "languages: [en, 'zh Hant']",
         r"tide\.yaml:2: 'languages': 'zh Hant' is not a BCP 47 language tag"),
        ("languages: [en, zh-Hant]", "languages: [en, zh-Hant, EN]",
         r"tide\.yaml:2: 'languages' names 'en' twice"),
        ("languages: [en, zh-Hant]", "languages: []", r"tide\.yaml:2: 'languages' must be a list"),
        ("languages: [en, zh-Hant]", "languages: [en, 7]",
         r"tide\.yaml:2: 'languages' must be a language tag"),
        ("    language: en\n", "    language: fr\n",
         r"tide\.yaml:16: 'language' of account 'tide_x_en': 'fr' is not one of the campaign's languages "
         r"\(en, zh-Hant\)"),
        ("    language: en\n", "    language: english!\n",
         r"tide\.yaml:16: 'language' of account 'tide_x_en': 'english!' is not a BCP 47 language tag"),
        ("  zh-Hant: releases/tidewater.zh-Hant.txt\n", "",
         r"tide\.yaml:3: 'release' has no file for zh-Hant \(give one per language, or one file for all\)"),
        ("  zh-Hant: releases/tidewater.zh-Hant.txt\n",
         "  zh-Hant: releases/tidewater.zh-Hant.txt\n  ja: x.txt\n",
         r"tide\.yaml:6: 'release': 'ja' is not one of the campaign's languages"),
        ("languages: [en, zh-Hant]\n", "", r"tide\.yaml:2: 'release' per language needs 'languages"),
        ('  zh-Hant: ["#潮汐發電"]', '  fr: ["#marée"]',
         r"tide\.yaml:11: 'hashtags' of the campaign: 'fr' is not one of the campaign's languages"),
        ("link: https://tidewater.example\n", "link: {en: https://tidewater.example, de: https://x.example}\n",
         r"tide\.yaml:12: 'link': 'de' is not one of the campaign's languages"),
        ("link: https://tidewater.example\n", "link:\n  en: https://tidewater.example\n  zh-Hant: 7\n",
         r"tide\.yaml:14: 'link' of zh-Hant must be a URL"),
        ('  zh-Hant: ["#潮汐發電"]', '  zh-Hant: ["#潮汐 發電"]',
         r"tide\.yaml:11: invalid hashtag '#潮汐 發電' in the campaign \(zh-Hant\)"),
    ],
)  # fmt: skip
def test_language_errors_name_file_and_line(
    bilingual: Callable[..., Path], old: str, new: str, message: str
) -> None:
    assert old in BILINGUAL
    path = bilingual(BILINGUAL.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        load_campaign(path)
    # `campaign check` refuses it too (one line, see the next test)
    assert main(["check", str(path)]) != 0


def test_check_prints_one_clear_line(
    bilingual: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = bilingual(BILINGUAL.replace("    language: en\n", "    language: fr\n", 1))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tide.yaml:16:" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("raw", "tag"),
    [("en", "en"), ("zh-hant", "zh-Hant"), ("ZH-HANT-hk", "zh-Hant-HK"), ("pt-br", "pt-BR"),
     ("es-419", "es-419"),
     ("de-CH-1996", "de-CH-1996"), ("en-a-bbb-x-Priv", "en-a-bbb-x-priv"), ("zh_Hant", None), ("e", None),
     ("en--gb", None), ("toolonglanguage", None), ("", None)],
)  # fmt: skip
def test_language_tags_are_checked_and_cased(raw: str, tag: str | None) -> None:
    assert canonical_tag(raw) == tag


def test_single_language_campaigns_keep_their_account_language(mini: Callable[..., Path]) -> None:
    instance = "instance: https://mastodon.example"
    text = MINI_CAMPAIGN.replace(instance, f"{instance}\n    language: EN")
    campaign = load_campaign(mini(text))
    assert campaign.languages == () and campaign.languages_of(campaign.accounts["main_mastodon"]) == (None,)
    assert campaign.accounts["main_mastodon"].settings["language"] == "en"
    with pytest.raises(ConfigError, match=r"'language' of account 'main_mastodon': 'e' is not a BCP 47"):
        load_campaign(mini(text.replace("language: EN", "language: e")))


# -- template lookup --------------------------------------------------------------------------------------


BRANCHES = "{% if language == 'en' %}Hello{% else %}你好{% endif %}"


@pytest.mark.parametrize(
    ("files", "language", "used"),
    [
        (["T.j2", "T.zh-Hant.j2"], "zh-Hant", "T.zh-Hant.j2"),
        (["T.j2", "T.zh-Hant.j2"], "en", "T.j2"),
        (["T.x.j2", "T.x.zh-Hant.j2", "T.zh-Hant.j2"], "zh-Hant", "T.x.zh-Hant.j2"),
        (["T.j2", "T.x.zh-Hant.j2", "T.zh-Hant.j2"], None, "T.j2"),
        (["T.x.j2", "T.x.en.j2", "T.en.j2"], "en", "T.x.en.j2"),
        (["T.x.j2", "T.en.j2"], "en", "T.x.j2"),  # unmarked files are the default language's
        (["T.acct.j2", "T.j2"], "en", "T.acct.j2"),
        # an unmarked file holds the default language's words: another language passes it over ...
        (["T.zh-Hant.j2", "T.x.j2"], "zh-Hant", "T.zh-Hant.j2"),
        (["T.x.zh-Hant.j2", "T.acct.j2"], "zh-Hant", "T.x.zh-Hant.j2"),
        # ... unless it reads `language` (written for every language)
        (["T.j2:branches"], "zh-Hant", "T.j2"),
        (["T.x.j2:branches", "T.zh-Hant.j2"], "zh-Hant", "T.x.j2"),
    ],
)
def test_template_lookup_order(tmp_path: Path, files: list[str], language: str | None, used: str) -> None:
    for entry in files:
        name, _, kind = entry.partition(":")
        (tmp_path / name).write_text(BRANCHES if kind else "x", encoding="utf-8")
    default = "en" if language else None
    assert Renderer(tmp_path).template_name("T", "x", "acct", language, default_language=default) == used


def test_an_accounts_own_template_serves_the_accounts_own_language(tmp_path: Path) -> None:
    (tmp_path / "T.acct.j2").write_text("只有中文", encoding="utf-8")
    (tmp_path / "T.zh-Hant.j2").write_text("x", encoding="utf-8")
    renderer = Renderer(tmp_path)
    assert renderer.template_name("T", "x", "acct", "zh-Hant", default_language="en") == "T.zh-Hant.j2"
    chosen = renderer.template_name(
        "T", "x", "acct", "zh-Hant", default_language="en", account_language="zh-Hant"
    )
    assert chosen == "T.acct.j2"


def test_no_template_names_the_language_and_every_file_looked_for(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).template_name("T", "x", "acct", "zh-Hant")
    assert str(caught.value).endswith(
        "no template for 'T' in zh-Hant on acct "
        "(looked for T.acct.j2, T.x.zh-Hant.j2, T.x.j2, T.zh-Hant.j2, T.j2)"
    )


def test_a_default_language_file_passed_over_is_named(tmp_path: Path) -> None:
    (tmp_path / "T.x.j2").write_text("Hello", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).template_name("T", "x", "acct", "zh-Hant", default_language="en")
    assert str(caught.value).endswith(
        "(looked for T.acct.j2, T.x.zh-Hant.j2, T.x.j2, T.zh-Hant.j2, T.j2; "
        "T.x.j2 in en only (add T.zh-Hant.j2, or read `language` in it))"
    )


def test_a_language_without_a_template_is_a_check_error(
    bilingual: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = bilingual(templates={"launch.zh-Hant.j2": ZH_TEMPLATE})  # no template the English posts can use
    compiled = compile_campaign(str(path))
    messages = [str(e) for e in compiled.errors]
    assert len(messages) == 2, messages  # tide_x_en and tide_masto in en; zh-Hant posts are fine
    assert any(
        "tide.yaml:" in m and "post 'launch' on tide_x_en in en" in m
        and "looked for launch.tide_x_en.j2, launch.x.en.j2, launch.x.j2, launch.en.j2, launch.j2" in m
        for m in messages
    )  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        main(["check", str(path)])
    assert exited.value.code == 1
    assert "post 'launch' on tide_masto in en" in capsys.readouterr().err


# -- compile: render per language, keys ---------------------------------------------------------------------


def _by_id(path: Path) -> dict[str, Any]:
    compiled = compile_campaign(str(path))
    assert compiled.ok, [str(e) for e in compiled.errors]
    return {p.label: p for p in compiled.posts}


def test_each_post_renders_in_its_accounts_language(bilingual: Callable[..., Path]) -> None:
    posts = _by_id(bilingual())
    # tide_masto has no language: one post per language; the others post theirs only
    assert sorted(posts) == [
        "launch/tide_masto", "launch/tide_x_en", "launch:zh-Hant/tide_bsky_zh", "launch:zh-Hant/tide_masto"
    ]  # fmt: skip
    en, zh = posts["launch/tide_masto"], posts["launch:zh-Hant/tide_masto"]
    assert (en.language, zh.language) == ("en", "zh-Hant") and zh.base_key == "launch"
    assert en.text.startswith("Tidewater Energy Switches On") and "#TidalPower" in en.text
    assert "潮汐發電" not in en.text
    assert zh.text.startswith("【zh-Hant】潮匯能源啟動香港首個海港潮汐渦輪機組") and "#潮汐發電" in zh.text
    assert "#TidalPower" not in zh.text
    assert zh.link is not None and zh.link.title == "潮匯能源啟動香港首個海港潮汐渦輪機組"  # its release's
    assert posts["launch:zh-Hant/tide_bsky_zh"].text.startswith("【zh-Hant】")
    # two posts of one account in two languages are distinct posts, at the same time
    assert en.idempotency_key != zh.idempotency_key and en.scheduled_at == zh.scheduled_at


def test_adding_languages_only_adds_posts(mini: Callable[..., Path]) -> None:
    before = {p.label: p.idempotency_key for p in compile_campaign(str(mini())).posts}
    text = MINI_CAMPAIGN.replace("campaign: mini\n", "campaign: mini\nlanguages: [en, zh-Hant]\n")
    chinese = {
        "launch.zh-Hant.j2": "新聞：{{ release.title }} {{ link }}",
        "quote.zh-Hant.j2": "「引言」{{ link }}",
    }
    after = {p.label: p.idempotency_key for p in compile_campaign(str(mini(text, chinese))).posts}
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == [
        "launch:zh-Hant/main_mastodon", "launch:zh-Hant/main_x", "quote:zh-Hant/main_mastodon"
    ]  # fmt: skip


def test_language_keys_round_trip() -> None:
    assert language_key("launch", "zh-Hant", "en") == "launch:zh-Hant"
    assert language_key("launch", "en", "en") == language_key("launch", None, None) == "launch"
    assert split_key("launch:zh-Hant") == ("launch", "zh-Hant") and split_key("launch") == ("launch", None)


# -- what is sent -------------------------------------------------------------------------------------------


def _bodies(item: dict[str, Any]) -> list[Any]:
    return [r["body"] for r in item["requests"] if r["body"] is not None]


def test_requests_carry_the_posts_language(bilingual: Callable[..., Path]) -> None:
    compiled = compile_campaign(str(bilingual()))
    doc = preview.build(compiled, requests=True)
    items = {p["id"]: p for p in doc["posts"]}
    masto_en = _bodies(items["launch/tide_masto"])[-1]
    masto_zh = _bodies(items["launch:zh-Hant/tide_masto"])[-1]
    assert masto_en["language"] == "en" and masto_zh["language"] == "zh"  # Mastodon: ISO 639, no script
    record = next(b["record"] for b in _bodies(items["launch:zh-Hant/tide_bsky_zh"]) if "record" in b)
    assert record["langs"] == ["zh-Hant"]  # Bluesky: BCP 47 as written
    x_body = _bodies(items["launch/tide_x_en"])[-1]
    assert "lang" not in json.dumps(x_body)  # X's POST /2/tweets takes no language


def test_the_daemon_reads_the_language_back_from_the_queued_key(bilingual: Callable[..., Path]) -> None:
    """A queued row has no language column: part_for reads it from the stored key, so the daemon sends what
    the preview showed."""
    from dataclasses import dataclass

    posts = _by_id(bilingual())

    @dataclass(frozen=True)
    class Queued:  # what the queue gives back: no language field
        campaign: str
        post_key: str
        occurrence: str
        account: str
        parts: tuple[str, ...]
        link: Any
        idempotency_key: str
        media: tuple[Any, ...] = ()
        link_image: Any = None
        media_base_url: str | None = None

    for label, post in posts.items():
        queued = Queued(post.campaign, post.post_key, post.occurrence, post.account, post.parts, post.link,
                        post.idempotency_key)  # fmt: skip
        assert part_for(queued, 0, []) == part_for(post, 0, []), label
    zh = posts["launch:zh-Hant/tide_masto"]
    assert part_for(zh, 0, []).language == "zh-Hant"
    assert part_for(posts["launch/tide_masto"], 0, []).language is None  # the account's setting: en


# -- previews -----------------------------------------------------------------------------------------------


def test_text_preview_groups_each_post_with_its_languages(bilingual: Callable[..., Path]) -> None:
    doc = preview.build(compile_campaign(str(bilingual())))
    assert doc["campaign"]["languages"] == ["en", "zh-Hant"]
    assert {(p["post"], p["language"]) for p in doc["posts"]} == {("launch", "en"), ("launch", "zh-Hant")}
    text = preview.to_text(doc)
    assert "posts on bluesky, mastodon, x in en, zh-Hant" in text
    assert "== launch (en, zh-Hant)" in text
    heads = [line for line in text.splitlines() if "Asia/Hong_Kong (" in line]
    assert [h.split("  ")[1:] for h in heads] == [
        ["bluesky/tide_bsky_zh", "launch [zh-Hant]"],
        ["mastodon/tide_masto", "launch [en]"],
        ["mastodon/tide_masto", "launch [zh-Hant]"],
        ["x/tide_x_en", "launch [en]"],
    ]
    assert "[zh-Hant]" in preview.to_markdown(doc)


def test_html_preview_puts_the_languages_of_a_post_side_by_side(bilingual: Callable[..., Path]) -> None:
    doc = preview.build(compile_campaign(str(bilingual())))
    page = to_html(doc)
    start = page.index('<div class="languages" data-post="launch" data-channel="mastodon">')
    second = page.index("</article>", page.index("</article>", start) + 1) + len("</article>")
    row = page[start:second]
    ids = [chunk.split('"', 1)[0] for chunk in row.split('data-post-id="')[1:]]
    assert ids == ["launch/tide_masto", "launch:zh-Hant/tide_masto"]  # one column per language, in order
    assert page[second:].lstrip().startswith("</div>")  # the row holds exactly those two cards
    assert 'data-language="zh-Hant" lang="zh-Hant"' in row and '<span class="language"' in row
    assert page.count('class="languages"') == 1  # one language only on x and on bluesky: no row
    assert page.count('<article class="card') == 4 and "<script src" not in page


def test_the_readme_example_compiles(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Campaigns in several languages") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    (tmp_path / ".git").mkdir()  # the project root
    for folder in ("schedules", "releases", "templates/harbour-lab"):
        (tmp_path / folder).mkdir(parents=True)
    for lang in ("en", "zh-Hant"):
        shutil.copyfile(PAIR / f"tidewater.{lang}.txt", tmp_path / "releases" / f"harbour-lab.{lang}.txt")
    (tmp_path / "templates" / "harbour-lab" / "launch.j2").write_text(EN_TEMPLATE, encoding="utf-8")
    (tmp_path / "templates" / "harbour-lab" / "launch.zh-Hant.j2").write_text(ZH_TEMPLATE, encoding="utf-8")
    path = tmp_path / "schedules" / "harbour-lab.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    labels = sorted(_by_id(path))
    assert labels == [
        "launch/lab_linkedin", "launch/lab_x_en", "launch:zh-Hant/lab_linkedin", "launch:zh-Hant/lab_x_zh"
    ]  # fmt: skip


@pytest.mark.browser
def test_the_languages_of_a_post_are_columns_in_the_browser(
    browser: Any,  # noqa: F811
    bilingual: Callable[..., Path],
    tmp_path: Path,
) -> None:
    page = tmp_path / "preview.html"
    page.write_text(to_html(preview.build(compile_campaign(str(bilingual())))), encoding="utf-8")
    browser.get_log("browser")
    browser.get(page.as_uri())
    boxes = browser.execute_script("""
        return Array.from(document.querySelectorAll(".languages article.card")).map(function (card) {
          var r = card.getBoundingClientRect();
          return [card.dataset.language, r.left, r.top, r.width, getComputedStyle(card.querySelector(".text"))
                  .getPropertyValue("font-family").length > 0];
        });""")
    assert [b[0] for b in boxes] == ["en", "zh-Hant"]
    (_, en_left, en_top, en_width, _), (_, zh_left, zh_top, zh_width, _) = boxes
    assert en_top == zh_top and zh_left >= en_left + en_width  # side by side: one column per language
    assert abs(en_width - zh_width) < 2  # columns of equal width
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_dispatcher_sends_each_language_from_the_queue(
    bilingual: Callable[..., Path], tmp_path: Path
) -> None:
    """Queued in a real SQLite queue and sent by the dispatch core over httpx.MockTransport: the account
    without a language sends its English post as `en` and its Chinese one as `zh`, with distinct keys."""
    import asyncio
    from datetime import timedelta

    import httpx

    from campaign.dispatch.campaigns import CampaignDirectory
    from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher
    from campaign.queue.store import Store
    from tests.helpers.clock import Clock

    compiled = compile_campaign(str(bilingual()), only_channels=["mastodon"])
    assert compiled.ok and compiled.campaign is not None and len(compiled.posts) == 2
    sent: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        sid = f"s{len(sent)}"
        return httpx.Response(200, json={"id": sid, "url": f"https://mastodon.example/@tide/{sid}"})

    store = Store.open(str(tmp_path / "q.db"))
    try:
        due = compiled.posts[0].scheduled_at
        store.apply_changes(add=compiled.posts, now=due - timedelta(days=1))
        clock = Clock(due)
        directory = CampaignDirectory([compiled.campaign], environ={"TIDE_MASTO_TOKEN": "tok-tide-1"})
        client = httpx.AsyncClient(transport=httpx.MockTransport(platform))
        config = DispatchConfig(owner="daemon:test:1")
        dispatcher = Dispatcher(store, directory, config, client=client, clock=clock)
        asyncio.run(dispatcher.dispatch_due(clock.now))
    finally:
        store.close()
    bodies = {json.loads(r.content)["language"]: r for r in sent}
    assert sorted(bodies) == ["en", "zh"]
    assert json.loads(bodies["zh"].content)["status"].startswith("【zh-Hant】潮匯能源")
    keys = {lang: r.headers["idempotency-key"] for lang, r in bodies.items()}
    assert keys == {p.language and ("zh" if p.language == "zh-Hant" else "en"): p.idempotency_key
                    for p in compiled.posts}  # fmt: skip
    assert keys["en"] != keys["zh"]


def test_a_post_only_in_another_language_is_not_reported_as_never_firing(
    bilingual: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = bilingual(BILINGUAL + "    accounts: [tide_bsky_zh]\n")
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert "never fires" not in captured.err and "1 posts, 0 warnings, 0 errors" in captured.out


def test_a_link_per_language(bilingual: Callable[..., Path]) -> None:
    zh_page = "https://tidewater.example/zh/news/lei-yue-mun"
    text = BILINGUAL.replace(
        "link: https://tidewater.example\n", f"link:\n  en: https://tidewater.example\n  zh-Hant: {zh_page}\n"
    )
    campaign = load_campaign(bilingual(text))
    assert campaign.link is None and campaign.language_links["zh-Hant"] == zh_page
    posts = _by_id(bilingual(text))
    zh, en = posts["launch:zh-Hant/tide_masto"], posts["launch/tide_masto"]
    assert zh.link is not None and zh.link.url.startswith(f"{zh_page}?utm_source=mastodon")
    assert en.link is not None and en.link.url.startswith("https://tidewater.example/?utm_source=mastodon")
    assert zh_page in zh.text and zh_page not in en.text


def test_the_same_text_in_two_languages_of_one_account_is_a_warning(bilingual: Callable[..., Path]) -> None:
    when = '    when: "+0d 09:00"\n'
    text = BILINGUAL.replace(when, when + '    text: "Open day {{ link }}"\n')
    compiled = compile_campaign(str(bilingual(text)))
    assert compiled.ok
    warned = {p.label: p.warnings for p in compiled.posts if p.warnings}
    assert list(warned) == ["launch:zh-Hant/tide_masto"]  # the only account posting both languages
    assert warned["launch:zh-Hant/tide_masto"] == (
        "the same text as in en: the platform may refuse it as a duplicate",
    )


def test_a_webhook_receives_the_posts_language(tmp_path: Path) -> None:
    from campaign.channels.base import Account, Part
    from campaign.channels.webhook import WebhookAdapter
    from campaign.secrets import Credentials

    def hook(settings: dict[str, Any]) -> WebhookAdapter:
        settings = {"url": "https://hook.example/in", **settings}
        return WebhookAdapter(Account("hook", "webhook", settings, Credentials({}, account="hook")))

    zh = Part(post_id="launch:zh-Hant/hook", idempotency_key="k", text="潮匯能源", language="zh-Hant")
    plain = Part(post_id="launch/hook", idempotency_key="k", text="t")
    assert hook({"language": "en"}).payload(zh)["language"] == "zh-Hant"
    assert hook({"language": "en"}).payload(plain)["language"] == "en"
    assert "language" not in hook({}).payload(plain)  # receivers written before languages: the same body
