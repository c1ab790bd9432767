"""Markdown, hashtag lines, headings and HTML pages of a hostile release are read in one pass.

Before, each candidate mark rescanned the rest of its text: 100,000 characters of ``**a `` took minutes, of
``# a`` and spaces 30 s, of ``Tags: #Tags:`` cubic time, and ``<![x`` in an HTML page was an internal error.
The readers that replaced the patterns must give what the patterns gave on every text (the old patterns are
the oracles below, run on small random texts) and must never start a scan over again (asserted by counting).
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.source.release import blocks, htmlpage, markup, parse_release
from campaign.text.sentences import Lazy

HEAD = "Title of the release\n\nHONG KONG, 1 Jan 2024 – "

# --------------------------------------------------------------------------------------------------------
# The patterns the one-pass readers replaced, kept as oracles.

OLD_EMPHASIS = (
    regex.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    regex.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"),
    regex.compile(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"),
)
OLD_ATX = regex.compile(r"\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*")
_OLD_TAGS = r"#[^\s#,，、]+(?:[\s,，、]+#[^\s#,，、]+)*[\s,，、]*"
OLD_HASHTAG_LINE = regex.compile(
    rf"[ \t]*(?:Hashtags?|HASHTAGS?|Tags?|標籤|标签|話題標籤|话题标签)[ \t]*[:：][ \t]*{_OLD_TAGS}$"
)
OLD_HASHTAG_ONLY = regex.compile(rf"[ \t]*{_OLD_TAGS}")


def old_emphasis(text: str, which: int) -> str:
    return OLD_EMPHASIS[which].sub(r"\2" if which == 0 else r"\1", text)


def old_hashtags(line: str) -> str:
    line = OLD_HASHTAG_LINE.sub("", line)
    return "" if OLD_HASHTAG_ONLY.fullmatch(line) else line


def old_heading(line: str) -> tuple[str, int] | None:
    m = OLD_ATX.fullmatch(line)
    return None if m is None else (m.group(2), len(m.group(1)))


def old_html_to_text(page: str) -> str:
    """The reader the release parser used before, on ``html.parser``: the oracle on well-formed pages."""
    out: list[str] = []
    skip = [0]
    href: list[str | None] = [None]

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag in ("script", "style", "head", "nav"):
                skip[0] += 1
            elif skip[0]:
                return
            elif tag in htmlpage._BLOCK_TAGS:
                mark = "#" * int(tag[1:]) + " " if tag[1:].isdigit() else "- " if tag == "li" else ""
                out.append("\n\n" + mark)
            elif tag == "br":
                out.append("\n")
            elif tag == "img" and a.get("src"):
                out.append(f"\n\n![{a.get('alt') or ''}]({a['src']})\n\n")
            elif tag == "a" and (a.get("href") or "").startswith(("http://", "https://")):
                out.append("[")
                href[0] = a["href"]

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style", "head", "nav"):
                skip[0] = max(0, skip[0] - 1)
            elif skip[0]:
                return
            elif tag in htmlpage._BLOCK_TAGS:
                out.append("\n\n")
            elif tag == "a" and href[0]:
                out.append(f"]({href[0]})")
                href[0] = None

        def handle_data(self, data: str) -> None:
            if not skip[0]:
                out.append(data.replace("\n", " "))

    reader = Reader(convert_charrefs=True)
    reader.feed(page)
    reader.close()
    return "".join(out)


# --------------------------------------------------------------------------------------------------------
# Same results as the patterns


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="*_a b\\\n.", max_size=40), st.integers(0, 2))
def test_emphasis_pairs_as_the_lazy_pattern_did(text: str, which: int) -> None:
    assert markup._unwrap(text, markup._EMPHASIS[which]) == old_emphasis(text, which)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="# \ta\t#b", max_size=24))
def test_atx_headings_read_as_the_pattern_did(line: str) -> None:
    heading = blocks._heading(line)
    assert (None if heading is None else (heading.text, heading.level)) == old_heading(line)


TAG_LINE_PARTS = ["Tags", "Hashtag", "標籤", ":", "：", " ", "\t", "#", "a", "x", ",", "、", ".", "#T"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TAG_LINE_PARTS), max_size=14).map("".join))
def test_hashtag_lines_read_as_the_patterns_did(line: str) -> None:
    assert blocks._without_hashtags(line) == old_hashtags(line)


FRAGMENTS = [
    "<p>", "</p>", "<h2>", "</h2>", "<li>", "<a href='http://x.example/a?b=1&amp;c'>", "</a>", "<br>",
    "<br/>",
    '<img src=i.png alt="A &amp; B">', "<script>x<p>y</script>", "<style>a{}</style>", "<!-- c -->",
    "<!DOCTYPE html>", "text ", "&amp;", "&#x41;", "\n", "<b>", "</b>", "<nav>menu</nav>",
    "<head><title>T</title></head>", '<div class="a > b">', "</div>", "a < b ", "x > y ",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join))
def test_html_pages_read_as_html_parser_read_them(page: str) -> None:
    assert htmlpage.html_to_text(page) == old_html_to_text(page)


# --------------------------------------------------------------------------------------------------------
# Hostile shapes: right results, and no scan started over


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How many times patterns are searched or matched from a position, and how many full scans start."""
    counts = {"search": 0, "match": 0, "finditer": 0}
    originals = {name: getattr(Lazy, name) for name in counts}

    def counted(name: str) -> Any:
        def wrapped(self: Lazy, *args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return originals[name](self, *args, **kwargs)

        return wrapped

    for name in counts:
        monkeypatch.setattr(Lazy, name, counted(name))
    yield counts


@pytest.mark.parametrize("mark", ["**a ", "__a ", " *a", " _a"])
def test_unclosed_emphasis_marks_are_paired_by_one_scan_each(mark: str, searches: dict[str, int]) -> None:
    text = mark * 20_000
    kind = next(k for k in markup._EMPHASIS if k.opening.search(mark.strip() + "a"))
    searches.update(search=0, finditer=0)
    assert markup._unwrap(text, kind) == text  # nothing closes, so nothing is taken
    assert searches["finditer"] == 1  # every closing mark found in one pass
    assert searches["search"] <= text.count(mark.strip()[0]) + 1  # one search per candidate opening mark


@pytest.mark.parametrize(
    ("which", "text", "found"),
    [
        (0, "![x ![y](u.png)", ["![y](u.png)"]),  # image: its alt text holds no '['
        (0, "![a](b![c](d.png)", ["![c](d.png)"]),  # nor its URL
        (1, "[x [y](https://u.example)", ["[y](https://u.example)"]),  # link
        (1, "[a](b[c](https://d.example)", ["[c](https://d.example)"]),
        (2, "<www.a<www.b.example>", ["<www.b.example>"]),  # autolink: its URL holds no '<'
    ],
)
def test_a_bracket_scan_stops_at_the_next_bracket(which: int, text: str, found: list[str]) -> None:
    """So 100,000 unclosed brackets cost one pass: no scan from one runs past the next."""
    assert [m.group() for m in markup._LINKS[which][0].finditer(text)] == found


def test_hostile_inline_markdown_keeps_the_text() -> None:
    assert markup.inline("**a " * 5_000) == ("**a " * 5_000).strip()
    plain = markup.inline("see **this** and _that_ and [a link](https://x.example)")
    assert plain == "see this and that and a link"


def test_a_heading_with_a_hundred_thousand_spaces_is_read_once(searches: dict[str, int]) -> None:
    line = "# a" + " " * 100_000 + "b ##"
    heading = blocks._heading(line)
    assert heading is not None and heading.text == "a" + " " * 100_000 + "b" and heading.level == 1
    assert searches["match"] + searches["search"] + searches["finditer"] == 0  # one fullmatch, no rescans


@pytest.mark.parametrize("shape", ["Tags: #Tags:", "Tags: #.Tags:", "Hashtags: #a, #b "])
def test_a_line_of_tag_lists_is_read_in_two_passes(shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    tags_from = blocks._tags_from
    monkeypatch.setattr(blocks, "_tags_from", lambda line: calls.append(len(line)) or tags_from(line))
    line = shape * 10_000 + " x"
    assert blocks._without_hashtags(line) == line  # ends in a word, so it is no list of hashtags
    assert len(calls) == 1
    assert blocks._without_hashtags("Read more.Hashtag: #HKSTP #Innovation") == "Read more."
    assert blocks._without_hashtags("  #HKSTP, #Innovation、#Mixer ") == ""


@pytest.mark.parametrize(
    ("page", "text"),
    [
        ("<p>a<![x]>b<![CDATA[c]]>d</p>", "\n\nabd\n\n"),  # was AssertionError from html.parser
        ("<p>kept</p>" + "<a x" * 20_000, "\n\nkept\n\n"),  # an unclosed tag swallows the rest, once
        ("<p>kept</p><!--" + "<p>x" * 1_000, "\n\nkept\n\n"),
        ("<p>kept</p><script>" + "<p>x" * 1_000, "\n\nkept\n\n"),
        ('<p title="a > b">c</p>', "\n\nc\n\n"),  # '>' in a quoted value does not end the tag
        ("<p>a < b &amp;&lt;c&gt;</p>", "\n\na < b &<c>\n\n"),
    ],
)
def test_hostile_html_is_read_in_one_pass(page: str, text: str, searches: dict[str, int]) -> None:
    assert htmlpage.html_to_text(page) == text
    assert searches["match"] <= page.count("<")  # at most one tag match per '<', never a rescan


def test_a_hostile_html_release_parses() -> None:
    release = parse_release("<html><body><h1>Title</h1><p>Body text of the release.</p>" + "<![" * 50_000)
    assert release.title == "Title"
    assert parse_release(HEAD + "**a " * 20_000 + "\n").title == "Title of the release"
