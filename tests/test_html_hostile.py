"""Hostile input in every HTML page campaign writes, end to end through the CLI: the preview (`campaign
preview --format html`, with `--db` for platform answers), the report (`campaign report --format html`) and
the rehearsal's report (`campaign simulate --report x.html`).

Payloads come from where CI gets them: a pull request's campaign file (text, vars, link, media file name and
alt text, account settings), its release, and a platform's answers (a post's URL). Each page is parsed with
``html.parser`` (entities decoded, as a browser does) and must hold no element or attribute a payload made: no
``on*`` attribute, no ``style`` attribute, no foreign script, every link http(s) and every image an inline
thumbnail of ours. Where Chromium is installed the pages are loaded too, and no payload may run
(``window.__pwned`` stays undefined) or be blocked by the Content-Security-Policy (the console stays clean).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from campaign.channels.base import Receipt
from campaign.cli import main
from tests.test_html_browser import browser  # noqa: F401  (the shared headless Chromium fixture)
from tests.test_html_preview import Node, parse

NOW = "2030-01-01T00:00:00+00:00"
PWN = "window.__pwned=1"
#: Markup and script payloads; each must reach the page as text, exactly.
MARKUP = [
    f"<img src=x onerror={PWN}>",
    f'"><script>{PWN}</script>',
    f"</script><script>{PWN}</script>",
    f"'><svg onload={PWN}>",
    f"<b onmouseover={PWN}>bold</b>",
    "<!-- -->",
]
#: Link payloads: none may become a clickable link or a loaded resource.
SCHEMES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "https://[oops/1",  # urlsplit cannot parse it (a platform may answer anything)
    f"https://x.example/\"'><img src=x onerror={PWN}>",
]
LINE_SEPARATORS = "a\u2028b\u2029c"
QUOTED_LINK = "https://www.hkstp.org/a\"b'c"

CAMPAIGN = """\
campaign: hostile
release: release.txt
templates: templates
zone: Asia/Hong_Kong
start: "2030-03-02 09:00"
link: "https://www.hkstp.org/?q=%22'><script>window.__pwned=1</script>"
accounts:
  main_x:
    channel: x
    username: "u\\"><svg onload=window.__pwned=1>a\\u2028b\\u2029c"
    credentials: {token: MINI_X_TOKEN}
  main_bsky:
    channel: bluesky
    handle: hkstp.bsky.social
    credentials: {app_password: MINI_BSKY_PASSWORD}
  main_mastodon:
    channel: mastodon
    instance: https://mastodon.example
    credentials: {token: MINI_MASTODON_TOKEN}
posts:
"""
POST = """\
  - key: p{n}
    when: "+0d {hour:02d}:00"
    text: {text}
    vars: {{v: {var}}}
"""
MEDIA = """\
    media:
      - file: "media/{name}"
        alt: {alt}
"""


def hostile_campaign(folder: Path) -> Path:
    """A campaign file whose every free text is a payload; one post per payload, the first with an image."""
    from PIL import Image

    from tests.conftest import RELEASE

    release = RELEASE.read_text(encoding="utf-8")
    (folder / "release.txt").write_text(f"<script>{PWN}</script> {release}", encoding="utf-8")
    (folder / "templates").mkdir()
    (folder / "media").mkdir()
    image = f'a"><img src=x onerror={PWN}>.png'
    Image.new("RGB", (40, 30), (200, 30, 30)).save(folder / "media" / image)
    # U+2028/U+2029 are refused in post text (tests/test_post_text_characters.py); the handle carries them.
    texts = [*MARKUP, *SCHEMES, f"see {QUOTED_LINK} now"]
    body = CAMPAIGN
    for n, text in enumerate(texts):
        template = text + " {{ vars.v }} {{ release.title[:9] }}"
        var = MARKUP[n % len(MARKUP)]
        body += POST.format(n=n, hour=9 + n % 12, text=json.dumps(template), var=json.dumps(var))
        if n == 0:
            body += MEDIA.format(name=image.replace('"', '\\"'), alt=json.dumps(MARKUP[1]))
    path = folder / "hostile.yaml"
    path.write_text(body, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------------
# What an inert page is
# ----------------------------------------------------------------------------------------------------------

#: Elements no page of ours has; a payload that made one broke out of its text.
FOREIGN = {"iframe", "object", "embed", "base", "form", "frame", "frameset", "math", "applet", "audio",
           "video"}
URL_ATTRIBUTES = ("href", "src", "srcset", "action", "formaction", "poster", "data", "background", "ping",
                  "xlink:href")


def scheme(url: str) -> str:
    """The scheme a browser reads in ``url`` (WHATWG: leading controls and blanks dropped, tabs and new
    lines ignored), lower case, or "" for a relative URL."""
    cleaned = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))))
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", cleaned)
    return found.group(1).lower() if found else ""


def assert_inert(html: str, *, scripts: int) -> Node:
    """``html`` holds only what its template makes: ``scripts`` script elements, no event handler, no style
    attribute, links only to http(s), images only as our inline PNG/JPEG thumbnails. Returns the tree."""
    root = parse(html)
    assert len(root.all("script")) == scripts
    assert all("__pwned" not in s.text() for s in root.all("script") + root.all("style"))
    for node in root.iter():
        assert node.tag not in FOREIGN, node
        for name, value in node.attrs.items():
            assert not name.startswith("on") and name != "style", (node.tag, name, value)
            if name not in URL_ATTRIBUTES:
                continue
            if node.tag == "link" and node.attrs.get("rel") == "icon":
                assert value == "data:,"  # the preview's empty favicon: nothing is fetched
            elif node.tag == "img" and name == "src":
                assert re.fullmatch(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=]+", value), value[:80]
            else:
                assert node.tag == "a" and name == "href", (node.tag, name, value)
                assert scheme(value) in ("http", "https"), value
    metas = [m.attrs.get("http-equiv", "").lower() for m in root.all("meta")]
    assert metas.count("content-security-policy") == 1 and "refresh" not in metas
    csp = root.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    return root


def loads_inert(driver: Any, page: Path) -> None:
    """Chromium loads ``page``: no payload ran, the CSP blocked nothing, every link is http(s) to the
    browser's own URL parser."""
    driver.get_log("browser")  # reading the log clears it
    driver.get(page.as_uri())
    assert driver.execute_script("return window.__pwned") is None
    protocols = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(function (a) { return a.protocol; })")
    assert set(protocols) <= {"http:", "https:"}, protocols
    problems = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []


def shown(root: Node) -> str:
    """The page's text as a reader gets it."""
    return root.text()


# ----------------------------------------------------------------------------------------------------------
# The pages, made by the CLI
# ----------------------------------------------------------------------------------------------------------

OWNER = "test:hostile"


@pytest.fixture(scope="module")
def campaign_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_campaign(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def queue(campaign_file: Path) -> str:
    """A queue of the hostile campaign: every post sent, each platform answering a hostile URL, two readings
    each; plus a post whose key itself is a payload (the queue is the report's input)."""
    from campaign.plan.compile import compile_campaign
    from campaign.plan.posts import PlannedPost
    from campaign.queue.metrics import MetricResult
    from campaign.queue.store import Store

    compiled = compile_campaign(str(campaign_file), now=datetime.fromisoformat(NOW))
    assert compiled.errors == [] and compiled.posts
    first = min(p.scheduled_at for p in compiled.posts)
    odd = PlannedPost(campaign="hostile", post_key=MARKUP[3], occurrence="", channel="mastodon",
                      account="main_mastodon", scheduled_at=first, zone="Asia/Hong_Kong",
                      parts=(f"{MARKUP[0]} https://www.hkstp.org/?utm_content={quote(MARKUP[2])}",))
    path = str(campaign_file.parent / "q.db")
    last = max(p.scheduled_at for p in compiled.posts)
    with Store.open(path) as store:
        store.apply_changes(add=[*compiled.posts, odd], now=first - timedelta(days=1))
        claimed = store.claim_due(last, OWNER, 600, 1000)
        assert len(claimed) == len(compiled.posts) + 1
        for n, post in enumerate(claimed):
            store.mark_sending(post.id, owner=OWNER, now=last)
            url = (SCHEMES + MARKUP)[n % (len(SCHEMES) + len(MARKUP))]
            receipt = Receipt(remote_id=MARKUP[n % len(MARKUP)], url=url)
            store.mark_sent(post.id, receipt, owner=OWNER, now=last)
        store.schedule_sent(last, lambda c: (3600, 86400))
        for hours in (1, 24):
            now = last + timedelta(hours=hours)
            tasks = store.claim_metrics(now)
            results = [MetricResult(t.post_id, values={"likes": hours, "views": 7}) for t in tasks]
            store.record_metrics(results, now=now)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI; fail with what it said unless it succeeded."""
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    return out + err


def preview_page(campaign_file: Path, target: Path, capsys: pytest.CaptureFixture[str], *db: str) -> Path:
    run(capsys, "preview", str(campaign_file), "--format", "html", "-o", str(target), "--now", NOW, *db)
    return target


def report_page(queue: str, target: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    run(capsys, "report", "hostile", "--db", queue, "--format", "html", "-o", str(target))
    return target


def simulate_page(campaign_file: Path, target: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    run(capsys, "simulate", str(campaign_file), "--report", str(target), "--now", NOW,
        "--start", "2030-03-02 09:00")
    return target


def test_the_preview_of_a_hostile_campaign_shows_every_payload_as_text(
    campaign_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = preview_page(campaign_file, tmp_path / "p.html", capsys)
    root = assert_inert(page.read_text("utf-8"), scripts=1)
    text = shown(root)
    for payload in [*MARKUP, *SCHEMES, LINE_SEPARATORS, f"<script>{PWN}</script>"]:
        assert payload in text, payload
    # The image's alt text and file name are attribute and caption text; the handle is text.
    images = root.all("img")
    assert images and {i.attrs["alt"] for i in images} == {MARKUP[1]}
    assert f'a"><img src=x onerror={PWN}>.png' in text
    assert '@u"><svg onload=window.__pwned=1>' in text
    # The link that holds both quotes is a link, whole, and nothing else is: no javascript:, data: or
    # vbscript: in any disguise.
    hrefs = {a.attrs["href"] for a in root.all("a")}
    assert QUOTED_LINK in hrefs
    assert all(scheme(h) in ("http", "https") for h in hrefs)


def test_the_preview_with_hostile_platform_answers_links_only_http_urls(
    campaign_file: Path, queue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A platform's answer is a post's live URL: shown as text unless a browser would open it as http(s).
    ``https://[oops/1`` used to stop the whole page (ValueError: Invalid IPv6 URL)."""
    page = preview_page(campaign_file, tmp_path / "p.html", capsys, "--db", queue)
    root = assert_inert(page.read_text("utf-8"), scripts=1)
    live = {n.attrs.get("href") or n.text() for n in root.all(cls="live")}
    assert {u for u in SCHEMES if u in live} == set(SCHEMES)  # every answer is shown
    linked = {a.attrs["href"] for a in root.all("a", "live")}
    assert linked == {SCHEMES[-1]}  # only the (escaped) https one is a link


def test_the_report_of_hostile_posts_and_answers_is_inert(
    queue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = assert_inert(report_page(queue, tmp_path / "r.html", capsys).read_text("utf-8"), scripts=0)
    text = shown(root)
    assert MARKUP[3] in text and MARKUP[2] in text  # the key (tables, chart legend) and its utm_content
    assert {a.attrs["href"] for a in root.all("a")} == {SCHEMES[-1]}
    assert root.all("svg") and all(s.attrs.get("aria-label") for s in root.all("svg"))


def test_the_report_allows_its_own_style_and_nothing_else(
    queue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Content-Security-Policy: the one style block by hash; no script, image, font or fetch at all."""
    import base64
    import hashlib

    root = parse(report_page(queue, tmp_path / "r.html", capsys).read_text("utf-8"))
    csp = root.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    digest = base64.b64encode(hashlib.sha256(root.one("style").text().encode()).digest()).decode()
    assert csp.split("; ")[:2] == ["default-src 'none'", f"style-src 'sha256-{digest}'"]


def test_the_rehearsals_report_of_a_hostile_campaign_is_inert(
    campaign_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = simulate_page(campaign_file, tmp_path / "s.html", capsys)
    root = assert_inert(page.read_text("utf-8"), scripts=0)
    assert "hostile" in shown(root) and root.all("table")


@pytest.mark.browser
def test_no_payload_runs_in_a_real_browser(
    campaign_file: Path, queue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    browser: Any,  # noqa: F811 (the fixture)
) -> None:
    pages = [
        preview_page(campaign_file, tmp_path / "p.html", capsys),
        preview_page(campaign_file, tmp_path / "q.html", capsys, "--db", queue),
        report_page(queue, tmp_path / "r.html", capsys),
        simulate_page(campaign_file, tmp_path / "s.html", capsys),
    ]
    for page in pages:
        loads_inert(browser, page)
