"""The HTML preview page without a browser: structure, escaping, highlighting, summary, queue state.

The page is parsed with the standard library's HTMLParser into a small tree, so assertions read elements and
attributes rather than searching the markup as text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campaign import channels
from campaign.channels.base import LinkCard
from campaign.errors import ConfigError
from campaign.plan import preview
from campaign.plan.compile import Compiled
from campaign.plan.html_preview import Segment, attach_queue_state, display_handle, highlight, to_html
from campaign.plan.posts import PlannedPost
from campaign.source.config import load_campaign
from campaign.text.facets import detect_facets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "schedules" / "hkstp-innovation-mixer-us.yaml"
#: "now" for compiling the example: well before any of its posts.
EXAMPLE_NOW = datetime(2020, 1, 1, tzinfo=UTC)

# ----------------------------------------------------------------------------------------------------------
# A small campaign written by the test (used when the project's example campaign is absent, and always for
# the exact assertions below)
# ----------------------------------------------------------------------------------------------------------

TEST_CAMPAIGN = """\
campaign: html-demo
zone: Asia/Hong_Kong
start: "2027-01-18 09:00"
accounts:
  hk_x:
    channel: x
    username: hkstp
    credentials: {token: HK_X_TOKEN}
  hk_bsky:
    channel: bluesky
    handle: hkstp.bsky.social
    credentials: {app_password: HK_BSKY_PASSWORD}
  hk_masto:
    channel: mastodon
    instance: https://mastodon.example
    credentials: {token: HK_MASTO_TOKEN}
  hk_li:
    channel: linkedin
    author: "urn:li:organization:1"
    credentials: {token: HK_LI_TOKEN}
posts:
  - key: launch
    when: "+0d 09:00"
"""

HK = "Asia/Hong_Kong"
NY = "America/New_York"
DAY1 = datetime(2027, 1, 18, 1, 0, tzinfo=UTC)  # 09:00 in Hong Kong
LINK = LinkCard("https://www.hkstp.org/mixer?utm_source=x&lang=en", "HKSTP Innovation Mixer <2027>",
                "Founders & investors meet in Hong Kong")

X_TEXT = "我們的創新 🚀 #創新科技 詳情 https://www.hkstp.org/zh?a=1 與 @HKSTPofficial 😀👍🏽 見面"
BSKY_TEXT = "香港 🚀 #創新科技 https://hkstp.org/a 和 @hkstp.bsky.social 👋🏽 see hkstp.org."
MASTO_TEXT = "👩‍💻 日本語のテキスト #タグ https://example.com/p?q=1 @alice@mastodon.social と @bob"
SCRIPT_TEXT = "Join us <script>alert(1)</script> & <b>bold</b> https://www.hkstp.org"


def _planned(
    channel: str, account: str, key: str, at: datetime, parts: tuple[str, ...], *, zone: str = HK,
    link: LinkCard | None = None, warnings: tuple[str, ...] = (), occurrence: str = "",
) -> PlannedPost:
    rules = channels.load(channel).rules
    return PlannedPost(
        campaign="html-demo", post_key=key, occurrence=occurrence, channel=channel, account=account,
        scheduled_at=at, zone=zone, parts=parts, link=link,
        lengths=tuple(rules.measure(p) for p in parts), limit=rules.limit, warnings=warnings,
    )


def demo_posts() -> list[PlannedPost]:
    """Posts over three days and four channels: a thread, a link card, warnings, an audience zone, CJK."""
    day2, day3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2, hours=3, minutes=30)
    return [
        _planned("x", "hk_x", "launch", DAY1, (X_TEXT,), link=LINK),
        _planned("bluesky", "hk_bsky", "launch", DAY1, (BSKY_TEXT,), link=LINK),
        _planned("mastodon", "hk_masto", "launch", DAY1 + timedelta(minutes=30), (MASTO_TEXT,), zone=NY,
                 warnings=("2 hashtags dropped to fit <500>",)),
        _planned("linkedin", "hk_li", "launch", DAY1 + timedelta(hours=1), (SCRIPT_TEXT,), link=LINK),
        _planned("x", "hk_x", "figures", day2, ("1/ Over 250 start-ups 🚀 #HKSTP", "2/ and 30 investors",
                                                 "3/ https://www.hkstp.org/figures"),
                 warnings=("split into a thread of 3 parts",)),
        _planned("bluesky", "hk_bsky", "figures", day2, ("Over 250 start-ups and 30 investors #HKSTP",)),
        _planned("x", "hk_x", "weekly", day3, ("Weekly recap " + "x" * 290,), zone=NY,
                 occurrence="2027-01-20T12:30", warnings=("too long: 303/280",)),
    ]


def demo_doc(tmp: Path) -> dict[str, Any]:
    """The preview document of the test campaign, through preview.build (the same path the CLI takes)."""
    path = tmp / "html-demo.yaml"
    path.write_text(TEST_CAMPAIGN, encoding="utf-8")
    campaign = load_campaign(path)
    compiled = Compiled(campaign, posts=demo_posts(), errors=[ConfigError("a broken <template> here")],
                        start=datetime(2027, 1, 18, 9, 0, tzinfo=ZoneInfo(HK)))
    return preview.build(compiled)




def example_doc(tmp: Path) -> dict[str, Any]:
    """The project's example campaign's preview document when it exists, else the test campaign's."""
    if EXAMPLE.exists():
        from campaign.plan.compile import compile_campaign

        # Relative, so that the page names the file as a user would type it.
        return preview.build(compile_campaign(os.path.relpath(EXAMPLE), now=EXAMPLE_NOW))
    return demo_doc(tmp)


# ----------------------------------------------------------------------------------------------------------
# A small HTML tree
# ----------------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        [node] = self.all(tag, cls, **attrs)
        return node


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert any(n.tag == tag for n in self.stack), f"stray </{tag}>"
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    unclosed = [n.tag for n in builder.stack[1:]]
    assert not unclosed, f"unclosed elements: {unclosed}"
    return builder.root


def card_text(card: Node) -> str:
    return "\n\n".join(part.text() for part in card.all("div", "text"))


@pytest.fixture
def doc(tmp_path: Path) -> dict[str, Any]:
    return demo_doc(tmp_path)


@pytest.fixture
def page(doc: dict[str, Any]) -> Node:
    return parse(to_html(doc))


# ----------------------------------------------------------------------------------------------------------
# Structure
# ----------------------------------------------------------------------------------------------------------


def test_one_card_per_post_grouped_by_campaign_day_in_time_order(doc: dict[str, Any], page: Node) -> None:
    cards = page.all("article", "card")
    assert len(cards) == len(doc["posts"]) == 7
    # Days are the campaign zone's (Hong Kong): the 09:00 HKT posts are on the 18th although UTC says 01:00.
    days = [section.attrs["data-day"] for section in page.all("section", "day")]
    assert days == ["2027-01-18", "2027-01-19", "2027-01-20"]
    for section in page.all("section", "day"):
        times = [c.one("time", "campaign-time").attrs["datetime"] for c in section.all("article", "card")]
        assert times == sorted(times)
        assert all(c.attrs["data-day"] == section.attrs["data-day"] for c in section.all("article", "card"))
    assert Counter(c.attrs["data-channel"] for c in cards) == Counter(p["channel"] for p in doc["posts"])
    assert {c.attrs["data-post-id"] for c in cards} == {p["id"] for p in doc["posts"]}


def test_card_shows_account_time_text_length_link_card_and_warnings(doc: dict[str, Any], page: Node) -> None:
    post = next(p for p in doc["posts"] if p["channel"] == "mastodon")
    card = page.one("article", data_post_id=post["id"])
    assert card.one(cls="name").text() == "hk_masto"
    assert card.one(cls="handle").text() == "hk_masto"  # no handle in the document: the account name
    assert card.one(cls="platform").text() == "Mastodon"
    assert page.one("p", "meta").one("time").text() == "Mon 18 Jan 2027 09:00 HKT"
    assert card.one(cls="campaign-time").text() == "09:30 HKT"
    # The audience (New York) reads the same moment as the evening before.
    assert "Sun 17 Jan 20:30 EST" in card.one(cls="audience-time").text()
    assert card_text(card) == post["text"] == MASTO_TEXT
    assert card.one(cls="count").text() == f"{post['length']} / 500"
    assert card.one("meter").attrs["value"] == str(post["length"])
    assert [w.text() for w in card.all("li", "warning")] == ["2 hashtags dropped to fit <500>"]
    assert card.all(cls="link-card") == []  # the post has no link

    x = page.one("article", data_post_id="launch/hk_x")
    assert x.all(cls="audience-time") == []  # same zone as the campaign: one time only
    link_card = x.one("a", "link-card")
    assert link_card.attrs["href"] == LINK.url
    assert link_card.one(cls="link-host").text() == "www.hkstp.org"
    assert link_card.one(cls="link-title").text() == LINK.title
    assert link_card.one(cls="link-description").text() == LINK.description


def test_thread_parts_are_shown_as_a_thread_with_a_length_each(doc: dict[str, Any], page: Node) -> None:
    post = next(p for p in doc["posts"] if p["post"] == "figures" and p["channel"] == "x")
    card = page.one("article", data_post_id=post["id"])
    thread = card.one("ol", "parts")
    assert "thread" in thread.classes
    parts = thread.all("li", "part")
    assert [p.one(cls="text").text() for p in parts] == post["parts"]
    assert [p.one(cls="part-no").text() for p in parts] == ["1/3", "2/3", "3/3"]
    assert [p.one(cls="count").text() for p in parts] == [f"{n} / 280" for n in post["lengths"]]
    assert card_text(card) == post["text"]
    single = page.one("article", data_post_id="launch/hk_bsky").one("ol", "parts")
    assert "thread" not in single.classes and single.all(cls="part-no") == []


def test_over_limit_parts_are_marked(page: Node) -> None:
    card = page.one("article", data_post_id="weekly@2027-01-20T12:30/hk_x")
    assert "over" in card.one("p", "length").classes
    assert card.one(cls="post-key").text() == "weekly @2027-01-20T12:30"
    fits = page.one("article", data_post_id="launch/hk_x")
    assert all("over" not in p.classes for p in fits.all("p", "length"))


def test_filters_list_every_channel_and_day(doc: dict[str, Any], page: Node) -> None:
    boxes = page.all("input", name="channel")
    assert [b.attrs["value"] for b in boxes] == sorted({p["channel"] for p in doc["posts"]})
    assert all("checked" in b.attrs for b in boxes)
    options = page.one("select", id="filter-day").all("option")
    assert [o.attrs["value"] for o in options] == ["", "2027-01-18", "2027-01-19", "2027-01-20"]
    assert page.one(id="shown-count").text() == "7"


def test_summary_counts_per_channel_and_day_warnings_and_errors(doc: dict[str, Any], page: Node) -> None:
    posts = doc["posts"]
    warnings = sum(len(p["warnings"]) for p in posts)
    assert page.one(id="total-posts").attrs["data-count"] == str(len(posts))
    assert page.one(id="total-warnings").attrs["data-count"] == str(warnings) == "3"
    assert page.one(id="total-errors").attrs["data-count"] == "1"
    per_channel = {row.attrs["data-channel"]: int(row.all("td")[0].attrs["data-count"])
                   for row in page.one("table", id="per-channel").all("tr") if "data-channel" in row.attrs}
    assert per_channel == dict(Counter(p["channel"] for p in posts)) == {
        "x": 3, "bluesky": 2, "mastodon": 1, "linkedin": 1}
    calendar = page.one("table", id="calendar")
    per_day = {row.attrs["data-day"]: int(row.all("td")[-1].attrs["data-count"])
               for row in calendar.all("tr") if "data-day" in row.attrs}
    assert per_day == {"2027-01-18": 4, "2027-01-19": 2, "2027-01-20": 1}
    # The day-by-channel grid: columns in channel order (sorted), "·" for none.
    header = [th.text() for th in calendar.one("thead").all("th")]
    assert header == ["day", "Bluesky", "LinkedIn", "Mastodon", "X", "all"]
    first = [td.text() for td in calendar.one("tr", data_day="2027-01-18").all("td")]
    assert first == ["1", "1", "1", "1", "4"]
    third = [td.text() for td in calendar.one("tr", data_day="2027-01-20").all("td")]
    assert third == ["·", "·", "·", "1", "1"]
    errors = page.one("section", id="errors")
    assert [li.text() for li in errors.all("li")] == ["a broken <template> here"]


def test_a_campaign_without_errors_or_posts_renders() -> None:
    empty: dict[str, Any] = {"schema": 1, "campaign": None, "posts": [], "errors": []}
    root = parse(to_html(empty))
    assert root.all("article") == [] and root.all(id="errors") == []
    assert root.one(id="total-posts").attrs["data-count"] == "0"


# ----------------------------------------------------------------------------------------------------------
# Escaping and self-containment
# ----------------------------------------------------------------------------------------------------------


def test_text_from_posts_is_escaped_never_markup(doc: dict[str, Any]) -> None:
    doc["campaign"]["name"] = "<script>alert('name')</script>"
    html = to_html(doc)
    root = parse(html)
    # Exactly one script element, ours; the post's <script> and <b> are text.
    assert len(root.all("script")) == 1 and "alert" not in root.one("script").text()
    assert all(b.text() != "bold" for b in root.all("b"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert" not in html
    card = root.one("article", data_post_id="launch/hk_li")
    assert card_text(card) == SCRIPT_TEXT
    assert root.one("span", "campaign-name").text() == "<script>alert('name')</script>"
    # Attribute values are escaped too (the link card's URL holds "&").
    assert 'href="https://www.hkstp.org/mixer?utm_source=x&amp;lang=en"' in html


def test_a_release_and_a_template_with_markup_show_as_text(mini: Callable[..., Path]) -> None:
    """End to end (release -> template -> compile -> preview document -> page): markup stays text."""
    from campaign.plan.compile import compile_campaign

    path = mini(templates={"launch.j2": "{{ release.title }} <img src=x onerror=alert(2)>\n\n{{ link }}\n"})
    release = path.parent / "release.txt"
    title, rest = release.read_text(encoding="utf-8").split("\n", 1)
    release.write_text("<script>alert(1)</script> " + title + "\n" + rest, encoding="utf-8")
    doc = preview.build(compile_campaign(str(path), now=datetime(2030, 1, 1, tzinfo=UTC)))
    assert doc["errors"] == []
    html = to_html(doc)
    root = parse(html)
    assert len(root.all("script")) == 1 and root.all("img") == []
    launch = [c for c in root.all("article", "card") if c.attrs["data-post-id"].startswith("launch/")]
    assert launch and all("<script>alert(1)</script>" in card_text(c) for c in launch)
    for post in doc["posts"]:
        assert card_text(root.one("article", data_post_id=post["id"])) == post["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_page_loads_nothing_from_the_network(doc: dict[str, Any]) -> None:
    html = to_html(doc)
    root = parse(html)
    own_links = {p["link"]["url"] for p in doc["posts"] if p["link"]}
    own_links |= {s.href for p in doc["posts"] for part in p["parts"] for s in highlight(part, p["channel"])
                  if s.href}
    for node in root.iter():
        for name in ("src", "href", "srcset", "action", "poster", "data"):
            value = node.attrs.get(name)
            if value is None:
                continue
            if node.tag == "a" and name == "href":
                assert value in own_links, value  # only the posts' own links may point outside
            else:
                assert not re.match(r"\s*(https?:)?//", value), (node.tag, name, value)
    assert root.all("iframe") == [] and root.all("img") == []
    for block in root.all("style") + root.all("script"):
        assert not re.search(r"https?://|url\(|@import|fetch\(|XMLHttpRequest", block.text())
    # A Content-Security-Policy forbids any other script, style or fetch, even if something slipped through.
    csp = root.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp


def one_post_linking(link: str, remote_url: str) -> dict[str, Any]:
    """A preview document of one sent post on X whose link card is ``link`` and live URL ``remote_url``."""
    return {"schema": 1, "campaign": None, "errors": [], "posts": [{
        "id": "p/a", "post": "p", "occurrence": None, "channel": "x", "account": "a",
        "scheduled_at": "2027-01-18T01:00:00Z", "local_time": "2027-01-18T01:00:00+00:00", "zone": "UTC",
        "campaign_time": "2027-01-18T01:00:00+00:00", "text": "t", "parts": ["t"], "length": 1,
        "lengths": [1], "limit": 280, "unit": "weighted characters", "warnings": [],
        "link": {"url": link, "title": "t", "description": ""}, "idempotency_key": "k",
        "queue": {"status": "sent", "remote_url": remote_url, "id": 1},
    }]}


def test_only_http_links_become_hrefs() -> None:
    root = parse(to_html(one_post_linking("javascript:alert(1)", "javascript:alert(2)")))
    assert all("javascript" not in a.attrs.get("href", "") for a in root.all("a"))
    assert root.one(cls="link-card").attrs.get("href") is None
    assert root.one("span", "live").text() == "javascript:alert(2)"  # shown, not linked


def test_a_url_that_cannot_be_parsed_is_text_not_a_crash() -> None:
    """A platform may answer any URL; ``https://[x`` (urlsplit: "Invalid IPv6 URL") used to stop the page."""
    root = parse(to_html(one_post_linking("https://[oops/a", "https://[oops/1")))
    assert all("href" not in a.attrs for a in root.all("a"))
    assert root.one("span", "live").text() == "https://[oops/1"
    assert root.one(cls="link-host").text() == "https://[oops/a"


# ----------------------------------------------------------------------------------------------------------
# Highlighting: where each platform makes links, hashtags and mentions
# ----------------------------------------------------------------------------------------------------------


def marked(segments: list[Segment]) -> list[tuple[str, int, str]]:
    """(kind, code-point offset, text) of each highlighted segment."""
    out, pos = [], 0
    for s in segments:
        if s.kind:
            out.append((s.kind, pos, s.text))
        pos += len(s.text)
    return out


def at(text: str, kind: str, piece: str) -> tuple[str, int, str]:
    return (kind, text.index(piece), piece)


# Expected entities follow each platform's documented rules:
# X: twitter-text (github.com/twitter/twitter-text, extractHashtags/extractUrls/extractMentions): a hashtag
#   may be CJK; a URL keeps its query; a mention is @ + up to 15 word characters.
# Bluesky: @atproto/api RichText detection (facets.py cites it): bare domains with a known TLD are links and
#   lose one trailing ".", handles need a TLD.
# Mastodon: Account::MENTION_RE (remote mentions keep @domain) and Tag::HASHTAG_RE; http(s) URLs only.
HIGHLIGHT_CASES: list[tuple[str, str, Callable[[str], list[tuple[str, int, str]]]]] = [
    ("x", X_TEXT, lambda t: [at(t, "tag", "#創新科技"), at(t, "link", "https://www.hkstp.org/zh?a=1"),
                             at(t, "mention", "@HKSTPofficial")]),
    ("bluesky", BSKY_TEXT, lambda t: [at(t, "tag", "#創新科技"), at(t, "link", "https://hkstp.org/a"),
                                      at(t, "mention", "@hkstp.bsky.social"),
                                      ("link", t.rindex("hkstp.org"), "hkstp.org")]),
    ("mastodon", MASTO_TEXT, lambda t: [at(t, "tag", "#タグ"), at(t, "link", "https://example.com/p?q=1"),
                                        at(t, "mention", "@alice@mastodon.social"),
                                        at(t, "mention", "@bob")]),
    # Other channels: http(s) URLs only (no tags or mentions become links there).
    ("linkedin", "Visit https://www.hkstp.org/a. #HKSTP @someone", lambda t: [
        at(t, "link", "https://www.hkstp.org/a")]),
    # X links bare domains too, and never a tag glued to a word or a mention in an e-mail address.
    ("x", "😀 hkstp.org/zh 和#tag mail a@b.co #ok", lambda t: [at(t, "link", "hkstp.org/zh"),
                                                              at(t, "tag", "#ok")]),
]


@pytest.mark.parametrize(("channel", "text", "expected"), HIGHLIGHT_CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(HIGHLIGHT_CASES)])
def test_highlighting_marks_exactly_what_the_platform_links(
    channel: str, text: str, expected: Callable[[str], list[tuple[str, int, str]]]
) -> None:
    segments = highlight(text, channel)
    assert "".join(s.text for s in segments) == text
    assert marked(segments) == expected(text)
    for s in segments:
        assert (s.href is not None) == (s.kind == "link")


def test_bluesky_highlights_are_its_facets_at_their_utf8_byte_offsets() -> None:
    data = BSKY_TEXT.encode("utf-8")
    from_facets = [(f.kind, data[f.byte_start:f.byte_end].decode("utf-8")) for f in detect_facets(BSKY_TEXT)]
    assert [(k, piece) for k, _, piece in marked(highlight(BSKY_TEXT, "bluesky"))] == from_facets
    # The emoji and CJK before the link move its byte offset well past its code-point offset.
    link = next(f for f in detect_facets(BSKY_TEXT) if f.value == "https://hkstp.org/a")
    assert link.byte_start > BSKY_TEXT.index("https://hkstp.org/a")


def test_x_highlights_text_that_is_not_nfc_on_the_characters_as_written() -> None:
    # "é" written as e + COMBINING ACUTE: X matches on the NFC form; the mark stays inside the tag and the
    # URL's path (twitter-text lets Latin accented letters end a path).
    text = "Cafe\u0301 #cafe\u0301 👍🏽 https://example.com/cafe\u0301 end"
    assert marked(highlight(text, "x")) == [at(text, "tag", "#cafe\u0301"),
                                            at(text, "link", "https://example.com/cafe\u0301")]
    assert "".join(s.text for s in highlight(text, "x")) == text


def test_highlighted_segments_are_rendered_as_links_and_tags(page: Node) -> None:
    text = page.one("article", data_post_id="launch/hk_bsky").one("div", "text")
    pieces = [(n.tag, sorted(n.classes - {"hl"})[0], n.text()) for n in text.all(cls="hl")]
    assert pieces == [("span", "hl-tag", "#創新科技"), ("a", "hl-link", "https://hkstp.org/a"),
                      ("span", "hl-mention", "@hkstp.bsky.social"), ("a", "hl-link", "hkstp.org")]
    assert [a.attrs["href"] for a in text.all("a")] == ["https://hkstp.org/a", "https://hkstp.org"]


# ----------------------------------------------------------------------------------------------------------
# Queue state
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: int
    idempotency_key: str
    status: str
    remote_url: str | None = None


def test_attach_queue_state_matches_by_idempotency_key(doc: dict[str, Any]) -> None:
    posts = doc["posts"]
    rows = [Row(7, posts[0]["idempotency_key"], "sent", "https://x.com/hkstp/status/1"),
            Row(8, posts[1]["idempotency_key"], "scheduled"),
            Row(9, "not-in-this-campaign", "sent", "https://example.org/elsewhere")]
    assert attach_queue_state(doc, rows) == 2
    assert posts[0]["queue"] == {"status": "sent", "remote_url": "https://x.com/hkstp/status/1", "id": 7}
    assert posts[1]["queue"] == {"status": "scheduled", "remote_url": None, "id": 8}
    assert all(p["queue"] is None for p in posts[2:])
    json.dumps(doc)  # still a JSON document

    root = parse(to_html(doc))
    sent = root.one("article", data_post_id=posts[0]["id"])
    assert sent.attrs["data-status"] == "sent"
    assert sent.one(cls="queue").text() == "#7 sent"
    assert sent.one("a", "live").attrs["href"] == "https://x.com/hkstp/status/1"
    waiting = root.one("article", data_post_id=posts[1]["id"])
    assert waiting.one(cls="queue").text() == "#8 scheduled" and waiting.all(cls="live") == []
    unqueued = root.one("article", data_post_id=posts[2]["id"])
    assert unqueued.one(cls="queue").text() == "not queued"
    totals = {n.attrs["data-status"]: n.attrs["data-count"] for n in root.all(cls="queue-total")}
    assert totals == {"not queued": "5", "scheduled": "1", "sent": "1"}


def test_without_the_queue_cards_show_no_queue_state(page: Node) -> None:
    assert page.all(cls="queue") == [] and page.all(cls="queue-total") == []


def test_queue_state_from_a_real_store(doc: dict[str, Any], tmp_path: Path) -> None:
    from campaign.channels.base import Receipt
    from campaign.queue.store import Store

    posts = demo_posts()
    store = Store.open(str(tmp_path / "q.db"))
    try:
        store.apply_changes(add=posts, now=DAY1 - timedelta(days=1))
        claimed = store.claim_due(DAY1, "test", 60, 1)
        assert [c.idempotency_key for c in claimed] == [posts[0].idempotency_key]
        store.mark_sending(claimed[0].id, owner="test", now=DAY1)
        store.mark_sent(claimed[0].id, Receipt("1", "https://x.com/hkstp/status/1"), owner="test", now=DAY1)
        rows = store.campaign_posts("html-demo")
    finally:
        store.close()
    assert attach_queue_state(doc, rows) == len(posts)
    statuses = Counter(p["queue"]["status"] for p in doc["posts"])
    assert statuses == {"sent": 1, "scheduled": len(posts) - 1}
    root = parse(to_html(doc))
    live = root.one("article", data_post_id=doc["posts"][0]["id"]).one("a", "live")
    assert live.attrs["href"] == "https://x.com/hkstp/status/1"


# ----------------------------------------------------------------------------------------------------------
# Handles, the example campaign, and cost
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "settings", "handle"), [
    ("x", {"username": "hkstp"}, "@hkstp"),
    ("bluesky", {"handle": "hkstp.bsky.social"}, "@hkstp.bsky.social"),
    ("mastodon", {"instance": "https://mastodon.social/", "username": "hkstp"}, "@hkstp@mastodon.social"),
    ("mastodon", {"instance": "https://mastodon.social/"}, None),
    ("telegram", {"chat_id": "@hkstp_news"}, "@hkstp_news"),
    ("telegram", {"chat_id": "-1001234"}, None),
    ("linkedin", {"author": "urn:li:organization:1"}, None),
    ("slack", {"handle": "#announcements"}, "@#announcements"),
])
def test_display_handle(channel: str, settings: dict[str, str], handle: str | None) -> None:
    assert display_handle(channel, settings) == handle


def test_a_handle_in_the_document_is_shown(doc: dict[str, Any]) -> None:
    doc["posts"][0]["handle"] = "@hkstp"
    card = parse(to_html(doc)).one("article", data_post_id=doc["posts"][0]["id"])
    assert (card.one(cls="name").text(), card.one(cls="handle").text()) == ("hk_x", "@hkstp")


def test_example_campaign_page(tmp_path: Path) -> None:
    """The example campaign (or, until it exists, the test campaign) renders one card per post."""
    doc = example_doc(tmp_path)
    root = parse(to_html(doc))
    cards = root.all("article", "card")
    assert len(cards) == len(doc["posts"]) > 0
    for post, card in zip(sorted(doc["posts"], key=lambda p: p["id"]),
                          sorted(cards, key=lambda c: c.attrs["data-post-id"]), strict=True):
        assert card_text(card) == post["text"]


def test_import_is_light_and_jinja2_loads_on_first_render() -> None:
    code = ("import sys, campaign.plan.html_preview as h; assert 'jinja2' not in sys.modules; "
            "assert 'sqlalchemy' not in sys.modules and 'httpx' not in sys.modules; "
            "h.to_html({'schema': 1, 'campaign': None, 'posts': [], 'errors': []}); "
            "assert 'jinja2' in sys.modules and 'sqlalchemy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
