"""Hostile input in the Markdown campaign writes for CI (`campaign preview --format markdown`, `campaign
report --format markdown`), end to end through the CLI. CI posts it as a pull-request comment or job summary
(GitHub-flavoured Markdown), and the pull request's campaign file is untrusted.

Payloads reach every free text: post texts, media file names and alt text, error messages (a template name),
post keys and a platform's answers (a post's URL) in the report. The output is parsed by markdown-it-py
(CommonMark plus GFM tables and strikethrough; every link syntax is kept as a link, even ``javascript:``, so
that the test sees what the Markdown asks for rather than what a sanitizer would drop) and must hold: no raw
HTML but our own ``<details>`` blocks, no image, no link but http(s), no heading, quote or list item of a
payload's making, every table row with the header's cells, every post part verbatim in one code block, and no
``@name`` or ``#123`` that GitHub would ping or cross-reference outside code.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a test dependency (pyproject)")

from markdown_it import MarkdownIt  # noqa: E402
from markdown_it.token import Token  # noqa: E402

from campaign.channels.base import Receipt  # noqa: E402
from campaign.plan.markdown import WORD_JOINER, inline, shown  # noqa: E402
from tests.helpers.cli import run_cli  # noqa: E402

NOW = "2030-01-01T00:00:00+00:00"
TRACKER = "https://tracker.example/p.png"
#: One-line payloads: each must render as its own text, and as nothing else.
PAYLOADS = [
    f"![]({TRACKER})",
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    f"<img src={TRACKER}>",
    "<a href=https://evil.example>x</a>",
    "<!-- the rest is hidden",
    "</details></details>",
    "@octo-org/security-team @octocat #1 octo-org/repo#2 GH-3 me@example.com",
    "*em* **strong** ~~gone~~ `code` $x^2$ &lt;b&gt; a\\|b",
    "a | b | c",
    "\u202eevil\u202c",
]
#: Payloads that try to start a block of their own on the next line.
BREAKS = ["a\n# heading", "b\r> quote", "c\n- item", "d\n\n| x | y |\n|---|---|"]
#: Post texts: each must be one code block, verbatim.
TEXTS = [
    f"```\n</details>\n\n<img src={TRACKER}>\n```",
    "````\n# not a heading\n````` @octocat #1",
    "`` ` ``` ```` `````",
    "~~~\n</details>\n~~~",
    *PAYLOADS,
    *BREAKS,
]
#: A media file name (no '/' in a file name).
IMAGE = "![t](pixel.png) [c](javascript:alert(1)) @octocat #1 | x <b>.png"
#: GitHub's live references: a mention (@user, @org/team, an e-mail autolink) or an issue (#1, o/r#2, GH-3).
LIVE = re.compile(r"@[A-Za-z0-9_]|#\d|\bGH-\d", re.IGNORECASE)

CAMPAIGN = """\
campaign: hostile
release: release.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
link: https://www.hkstp.org
accounts:
  main_x:
    channel: x
    credentials: {token: MINI_X_TOKEN}
  main_mastodon:
    channel: mastodon
    instance: https://mastodon.example
    credentials: {token: MINI_MASTODON_TOKEN}
posts:
"""


def hostile_campaign(folder: Path) -> Path:
    """One post per text payload, one per alt text payload (with a hostile file name), and one post whose
    template name is a payload (a campaign error quoting it)."""
    from PIL import Image

    from tests.conftest import RELEASE

    (folder / "release.txt").write_bytes(RELEASE.read_bytes())
    (folder / "templates").mkdir()
    (folder / "media").mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(folder / "media" / IMAGE)
    body = CAMPAIGN
    for n, text in enumerate(TEXTS):
        body += f'  - key: t{n}\n    when: "+0d {9 + n % 12:02d}:00"\n    text: {json.dumps(text)}\n'
    for n, alt in enumerate([*PAYLOADS, *BREAKS]):
        body += (
            f'  - key: m{n}\n    when: "+1d 09:00"\n    accounts: [main_mastodon]\n    text: "m{n}"\n'
            f"    media:\n      - file: {json.dumps('media/' + IMAGE)}\n        alt: {json.dumps(alt)}\n"
        )
    name = PAYLOADS[0] + " " + PAYLOADS[7]
    body += f'  - key: broken\n    when: "+2d 09:00"\n    text: "{{% include \'{name}\' %}}"\n'
    path = folder / "hostile.yaml"
    path.write_text(body, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------------
# Reading the Markdown as GitHub would
# ----------------------------------------------------------------------------------------------------------


def parse(text: str) -> list[Token]:
    """The block tokens of ``text``; every link and image kept whatever its scheme."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser.parse(text)


def inlines(tokens: list[Token]) -> list[Token]:
    return [child for t in tokens if t.type == "inline" for child in t.children or ()]


def rendered(token: Token) -> str:
    """The text an inline token shows (code spans as their text, breaks as spaces), word joiners dropped."""
    parts = [c.content if c.type in ("text", "code_inline") else " " for c in token.children or ()
             if c.type in ("text", "code_inline", "softbreak", "hardbreak")]
    return "".join(parts).replace("\u2060", "")


def tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Each table's rows (the header first), each row its cells' text."""
    found: list[list[list[str]]] = []
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            found[-1].append([])
        elif token.type in ("th_open", "td_open"):
            found[-1][-1].append(rendered(tokens[i + 1]))
    return found


OUR_HTML = re.compile(r"<details><summary>[^<>]*<b>[^<>]*</b>[^<>]*</summary>\n|</details>\n")


def assert_inert(text: str) -> list[Token]:
    """``text`` holds no raw HTML but our ``<details>`` lines, no image, no link but http(s), and no live
    mention or issue reference outside code. Returns the tokens."""
    tokens = parse(text)
    for token in tokens:
        if token.type == "html_block":
            assert OUR_HTML.fullmatch(token.content), token.content
            assert not LIVE.search(html.unescape(token.content)), token.content
    in_link = False  # GitHub scans no link's text for mentions
    for child in inlines(tokens):
        assert child.type not in ("html_inline", "image"), (child.type, child.content)
        if child.type == "link_open":
            assert re.match(r"https?://", str(child.attrs["href"])), child.attrs
        in_link = child.type == "link_open" or (in_link and child.type != "link_close")
        if child.type == "text" and not in_link:
            assert not LIVE.search(child.content), child.content
    return tokens


def one_line(payload: str) -> str:
    """A payload as inline text shows it: on one line, bidi overrides as escapes."""
    return re.sub("\r\n|[\r\n]", " ", payload).replace("\u202e", "\\u202e").replace("\u202c", "\\u202c")


# ----------------------------------------------------------------------------------------------------------
# The preview
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def campaign_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_campaign(tmp_path_factory.mktemp("mdhostile"))


def preview(capsys: pytest.CaptureFixture[str], path: Path, fmt: str, *more: str) -> str:
    code, out, err = run_cli(["preview", str(path), "--format", fmt, "--now", NOW, *more], capsys)
    assert code == 1 and "campaign: error:" in err, err  # the post with the hostile template name
    return out


@pytest.fixture
def markdown(campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return preview(capsys, campaign_file, "markdown")


@pytest.fixture
def document(campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(preview(capsys, campaign_file, "json"))  # type: ignore[no-any-return]


def test_the_preview_makes_no_html_image_foreign_link_or_mention(markdown: str) -> None:
    """Alt text, a file name and an error message (``![](tracker)``, ``[c](javascript:..)``, ``@org/team``,
    ``#1``) used to become images, links and pings; raw HTML needs ``<`` escaped everywhere."""
    tokens = assert_inert(markdown)
    blocks = [t.content for t in tokens if t.type == "html_block"]
    assert blocks.count("</details>\n") == len(blocks) // 2 > len(TEXTS)


def test_every_post_part_is_one_code_block_verbatim(
    markdown: str, document: dict  # type: ignore[type-arg]
) -> None:
    """Backticks, ``</details>`` and new lines in a post stay in its code block, unchanged: the fence is
    longer than any run of backticks (a zero-width space used to be slipped into each run of three)."""
    fences = [t.content for t in parse(markdown) if t.type == "fence"]
    parts = [part for post in document["posts"] for part in post["parts"]]
    assert len(fences) == len(parts)
    for part in parts:
        assert one_line_bidi(part) + "\n" in fences, part


def one_line_bidi(text: str) -> str:
    return text.replace("\u202e", "\\u202e").replace("\u202c", "\\u202c")


def test_inline_text_reads_as_itself_and_starts_no_block(
    markdown: str, document: dict  # type: ignore[type-arg]
) -> None:
    """Every media line, warning and error is one list item whose text is the payload's own (no emphasis, code
    span, math or entity; a new line in alt text is a space, not a heading, quote or list of its own)."""
    tokens = parse(markdown)
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h2", "h3"]
    assert not [t for t in tokens if t.type in ("blockquote_open", "hr", "code_block")]
    assert sum(t.type == "table_open" for t in tokens) == 1
    items = [rendered(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == "list_item_open"]
    media = [m for post in document["posts"] for m in post["media"]]
    errors = document["errors"]
    assert len(items) == len(media) + len(errors) + sum(len(p["warnings"]) for p in document["posts"])
    for entry in media:
        alt = one_line(entry["alt"])
        assert any(item.startswith(f"🖼️ media media/{IMAGE} (") and item.endswith(f" alt: {alt}")
                   for item in items), alt
    for error in errors:
        assert f"- {one_line(error['message'])}" in [f"- {item}" for item in items]
    assert not any(t.type in ("strong_open", "em_open", "s_open") for t in inlines(tokens))


def test_bidi_overrides_and_controls_are_shown_as_escapes(markdown: str) -> None:
    """A right-to-left override reorders what a reviewer reads (Trojan Source): shown as ``\\u202e``."""
    assert "\u202e" not in markdown and "\u202c" not in markdown
    assert "\\u202eevil\\u202c" in markdown


WEBHOOK = """\
campaign: big
zone: UTC
start: "2030-03-02 09:00"
accounts:
  hook:
    channel: webhook
    url: https://hooks.example/in
posts:
"""


def test_a_huge_post_is_cut_to_fit_a_comment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GitHub refuses a comment over 65,536 characters, and the whole preview is lost: a 90,000-character post
    (a webhook takes 100,000) used to be printed whole. Each code block is cut, then whole posts, and the
    preview says so."""
    def run(posts: list[str]) -> str:
        path = tmp_path / "big.yaml"
        body = "".join(f'  - key: k{n}\n    when: "+{n}d 10:00"\n    text: {json.dumps(text)}\n'
                       for n, text in enumerate(posts))
        path.write_text(WEBHOOK + body, encoding="utf-8")
        code, out, err = run_cli(["preview", str(path), "--format", "markdown", "--now", NOW], capsys)
        assert code == 0, err
        assert len(out) <= 60_001
        assert_inert(out)
        return out

    out = run(["word " * 18_000])
    assert re.search(r"\n```\n\n_… 84,99\d more characters not shown", out)
    out = run(["w " * 2_400] * 20)
    assert out.rstrip().endswith("shows them all.")
    blocks = [t.content for t in parse(out) if t.type == "html_block"]
    assert blocks.count("</details>\n") == len(blocks) // 2 < 20


# ----------------------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------------------

OWNER = "test:mdhostile"
#: A post's URL with a mention and a fragment in it: a link, whole.
MASTODON_URL = "https://mastodon.example/@hkstp_news/42#1"


@pytest.fixture(scope="module")
def queue(campaign_file: Path) -> str:
    """A queue with one sent post per payload as its key, each platform answering a payload as its URL."""
    from campaign.plan.compile import compile_campaign
    from campaign.plan.posts import PlannedPost
    from campaign.queue.metrics import MetricResult
    from campaign.queue.store import Store

    first = datetime.fromisoformat("2030-03-02T01:00:00+00:00")
    keys = [*PAYLOADS, *BREAKS, "mastodon"]
    posts = [
        PlannedPost(campaign="hostile", post_key=key, occurrence="", channel="mastodon",
                    account="main_mastodon", scheduled_at=first + timedelta(hours=n), zone="Asia/Hong_Kong",
                    parts=(f"x https://www.hkstp.org/?utm_content={n}",))
        for n, key in enumerate(keys)
    ]
    assert compile_campaign(str(campaign_file), now=datetime.fromisoformat(NOW)).posts
    path = str(campaign_file.parent / "q.db")
    last = first + timedelta(hours=len(keys))
    with Store.open(path) as store:
        store.apply_changes(add=posts, now=first - timedelta(days=1))
        claimed = store.claim_due(last, OWNER, 600, 1000)
        top = next(p.id for p in claimed if p.post_key == "mastodon")
        for n, post in enumerate(claimed):
            store.mark_sending(post.id, owner=OWNER, now=last)
            receipt = Receipt(remote_id=str(n), url=MASTODON_URL if post.post_key == "mastodon" else keys[n])
            store.mark_sent(post.id, receipt, owner=OWNER, now=last)
        store.schedule_sent(last, lambda c: (3600, 86400))
        for hours in (1, 24):
            now = last + timedelta(hours=hours)
            results = [MetricResult(t.post_id, values={"likes": hours * (100 if t.post_id == top else 1)})
                       for t in store.claim_metrics(now)]
            store.record_metrics(results, now=now)
    return path


def test_the_reports_tables_keep_their_shape_and_show_each_key_as_text(
    queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A post key or a platform's URL with a carriage return used to start a block (a quote) and end the
    table; ``<img src=tracker>`` passed through as raw HTML, ``![](tracker)`` as an image; a post's http(s)
    URL is a link, whole (a mention in it is the link's, not a ping), and so is an http(s) URL in a key: a
    link to itself, never an image."""
    code, out, err = run_cli(["report", "hostile", "--db", queue, "--format", "markdown"], capsys)
    assert code == 0, err
    tokens = assert_inert(out)
    assert not [t for t in tokens if t.type in ("blockquote_open", "bullet_list_open", "hr")]
    headings = [rendered(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[:4] == ["Campaign report: hostile", "By channel", "By post", "By day (Asia/Hong_Kong)"]
    assert set(headings[4:]) <= {"Best posts", "Weakest posts"}
    cells: list[str] = []
    for table in tables(tokens):
        assert {len(row) for row in table} == {len(table[0])}, table  # every row as wide as the header
        cells += [cell for row in table for cell in row]
    for key in [*PAYLOADS, *BREAKS]:
        assert one_line(key) in cells, key
    links = inlines(tokens)
    hrefs = {str(t.attrs["href"]) for t in links if t.type == "link_open"}
    # the best post's URL, and the http(s) URLs in payloads: each a link to itself (GitHub links them anyway)
    assert hrefs == {MASTODON_URL, TRACKER, "https://evil.example"}
    for i, token in enumerate(links):
        if token.type == "link_open":
            assert links[i + 1].content == token.attrs["href"] and links[i + 2].type == "link_close"


#: The tags GitHub's renderer may emit for our Markdown: our own ``<details>``/``<summary>``/``<b>``, and what
#: CommonMark/GFM itself makes of headings, code, lists, tables, emphasis of our own and autolinks.
GITHUB_TAGS = frozenset(
    "details summary b p h2 h3 pre code ul li table thead tbody tr th td a em strong".split()  # noqa: SIM905
)


def github_html(markdown_text: str) -> str:
    """The HTML GitHub's own renderer (cmark-gfm, with raw HTML allowed, before GitHub's sanitizer) makes."""
    cmarkgfm = pytest.importorskip("cmarkgfm", reason="cmarkgfm is a test dependency (pyproject)")
    from cmarkgfm.cmark import Options

    return str(cmarkgfm.github_flavored_markdown_to_html(markdown_text, options=Options.CMARK_OPT_UNSAFE))


def assert_github_inert(markdown_text: str) -> None:
    page = github_html(markdown_text)
    tags = {m.lower() for m in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", page)}
    assert tags <= GITHUB_TAGS, tags - GITHUB_TAGS  # no <img>, <a> of a payload's, <!--, <script>
    assert "<!--" not in page and "<img" not in page
    # GitHub links every bare http(s) URL in any text (GFM's autolink extension), so a payload's URL is a
    # link here, never an image; what no payload may make is a link of another scheme (e-mail autolinks
    # are broken by the word joiner after '@').
    hrefs = re.findall(r'<a href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs), hrefs


def test_githubs_own_renderer_makes_nothing_of_the_payloads(
    campaign_file: Path, queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The preview and the report as GitHub's renderer (cmark-gfm) reads them: no tag of a payload's making,
    no comment, no image, no link but http(s). markdown-it-py above is CommonMark without GFM's autolinks;
    this is GitHub's own fork of cmark."""
    assert_github_inert(preview(capsys, campaign_file, "markdown"))
    code, out, err = run_cli(["report", "hostile", "--db", queue, "--format", "markdown"], capsys)
    assert code == 0, err
    assert_github_inert(out)


# ----------------------------------------------------------------------------------------------------------
# Inline text with URLs, as GitHub's renderer reads it
# ----------------------------------------------------------------------------------------------------------


class ListItem(HTMLParser):
    """GitHub's HTML for one list item: the tags, the text shown, and each link as (href, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._link: list[str] | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            self._href, self._link = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((self._href, "".join(self._link)))
            self._link = None

    def handle_data(self, data: str) -> None:
        if data != "\n":
            self.text.append(data)
            if self._link is not None:
                self._link.append(data)


def github_inline(text: str) -> ListItem:
    """What GitHub's renderer makes of ``inline(text)`` opening a list item (our media and error lines)."""
    item = ListItem()
    item.feed(github_html(f"- {inline(text, 10_000)}"))
    item.close()
    return item


def expected(text: str) -> str:
    """The text ``inline`` promises to show: one line, controls as escapes, outer spaces dropped."""
    return shown(re.sub("\r\n|[\n\r\u2028\u2029]", " ", text)).replace("\t", " ").strip(" ")


#: Outside a link, a live reference or an emoji shortcode GitHub would draw.
LIVE_OR_EMOJI = re.compile(f"{LIVE.pattern}|:[a-z0-9_+-]+:", re.IGNORECASE)


def assert_reads_as_itself(text: str) -> None:
    item = github_inline(text)
    assert item.tags <= {"ul", "li", "a"}, (text, item.tags)  # no heading, nested list, emphasis, code
    assert "".join(item.text).replace(WORD_JOINER, "") == expected(text), text
    outside = "".join(item.text)
    for href, shows in item.links:
        assert re.match(r"https?://", href, re.I) and unquote(href) == unquote(shows), (text, href, shows)
        outside = outside.replace(shows, "\0", 1)  # a link parts the text around it
    assert not LIVE_OR_EMOJI.search(outside), (text, outside)


@pytest.mark.parametrize("text", [
    "see https://a.example/x. and (https://b.example/y) ok",
    "https://en.wikipedia.org/wiki/Foo_(bar)_baz, end",
    "__init__ https://x.example/a_b_ *x* and https://x.example/*y*",
    "https://x.example/?a=1&lt;b &amp; c&copy;https://y.example/&#65;",
    f"![]({TRACKER}) <a href=https://evil.example>x</a> [c](https://z.example)",
    "~~https://a.example/~~ `https://b.example` $https://c.example$",
    "x\\https://a.example y https:// http://. https://.. HTTPS://UPPER.EXAMPLE/",
    "www.example.com ftp://x.example mailto:me@example.com",
    ":tada: :+1: a:b:c @octocat #1 GH-2",
    "# x", "###### y", "1. y", "12) q", "- z", "+ w", "---", "- - -", "-", "  # spaced  ",
    "https://a.example/@hkstp_news/42#1 and https://b.example/#:tada:",
])
def test_inline_text_with_urls_reads_as_itself_in_githubs_renderer(text: str) -> None:
    """An http(s) URL in a file name, alt text, error or report cell is a link to itself: GitHub links a bare
    URL anyway, and used to put our backslash escapes (``\\_``) in it and cut it at a ``&lt;``; an emoji
    shortcode was drawn, and a leading ``# ``, ``1. `` or ``- `` made a heading or a list in a list item."""
    assert_reads_as_itself(text)


PIECES = [
    "https://a.example/p_q", "http://b.example/(x)", "https://c.example/?a=1&b=2", "www.d.example", "ftp://e",
    "https://", "HTTPS://F.EXAMPLE", "x", "é", " ", "\n", "\t", "\u202e", "\x1b", ".", ",", ":", ";", "!",
    "?", "(", ")", "[", "]", "<", ">", "&", "&lt;", "&amp;", "&#65;", "*", "_", "~", "~~", "`", "$", "|",
    "\\", "'", '"', "#", "# ", "- ", "1. ", "+ ", "---", "@octocat", "#1", "GH-2", "me@example.com", ":tada:",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_any_mix_of_urls_and_markup_reads_as_itself(text: str) -> None:
    """Any mix of URLs, Markdown marks, entities, references and block starts shows as its own text in
    GitHub's renderer, every link to itself."""
    assert_reads_as_itself(text)
