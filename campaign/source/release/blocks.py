"""The file as blocks (headings, paragraphs, list items, end marks); front matter; inline Markdown;
hashtags, URLs and images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import regex

from campaign.source.release.model import Image
from campaign.text.sentences import URL as _URL
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import squash as _squash
from campaign.text.sentences import trim_url as _trim_url


def normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------------------
# Inline Markdown

_MD_INLINE: tuple[tuple[_Lazy, str], ...] = (
    (_Lazy(r"!\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"), ""),  # images: see find_images
    (_Lazy(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)"), r"\1"),  # link -> its text
    (_Lazy(r"<((?:https?://|www\.)[^>\s]+)>", regex.I), r"\1"),  # autolink
    (_Lazy(r"`([^`\n]+)`"), r"\1"),
    (_Lazy(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (_Lazy(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"), r"\1"),
    (_Lazy(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"), r"\1"),
    (_Lazy(r"\\([\\`*_{}\[\]()#+\-.!])"), r"\1"),
)


def inline(text: str) -> str:
    """Text without inline Markdown markup, white space collapsed."""
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return _squash(text)


# --------------------------------------------------------------------------------------------------------
# Hashtags and URLs

# A hashtag: '#' not preceded by a word character, '&' (HTML entity), '/' (URL fragment) or '#' (heading),
# with at least one non-digit ("#1" is not a tag).
_HASHTAG = _Lazy(r"(?<![\w&/#])#(?=\w*[^\W\d])\w+")
_TAGS = r"#[^\s#,，、]+(?:[\s,，、]+#[^\s#,，、]+)*[\s,，、]*"
# A "Hashtag: #a #b" line, possibly glued to the end of a sentence ("year.Hashtag: #HKSTP").
_HASHTAG_LINE = _Lazy(
    rf"[ \t]*(?:Hashtags?|HASHTAGS?|Tags?|標籤|标签|話題標籤|话题标签)[ \t]*[:：][ \t]*{_TAGS}$"
)
_HASHTAG_ONLY = _Lazy(rf"[ \t]*{_TAGS}")


def normalise_url(url: str) -> str:
    if url[:4].lower() == "www.":
        url = "https://" + url
    m = regex.match(r"(?i)https?://([^/?#]*)(.*)", url, regex.S)
    assert m is not None  # _URL only matches http(s):// or www.
    return f"https://{m.group(1).lower()}{m.group(2)}"


def find_urls(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for m in _URL.finditer(text):
        raw = _trim_url(m.group())
        if len(raw) > 4 and "." in raw.split("//")[-1]:
            seen.setdefault(normalise_url(raw), None)
    return list(seen)


def find_hashtags(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for m in _HASHTAG.finditer(text):
        seen.setdefault(m.group().casefold(), m.group())
    return list(seen.values())


# --------------------------------------------------------------------------------------------------------
# Blocks: the file as headings, paragraphs, list items and end marks


@dataclass
class Item:
    kind: str  # "para" | "item" | "heading" | "end" | "rule"
    text: str  # raw text (lines joined by "\n"); heading text without the #'s
    level: int = 0


_ATX = _Lazy(r"\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*")
_END_MARK = _Lazy(
    r"(?:[#＃]\s*){3}|NNNN|完|（完）|\(完\)|(?i:ends?)\s*/.{0,60}|以上|[-–—]\s*(?i:ende|fin)\s*[-–—]|[-–—~*]+\s*(?i:ends?)\s*[-–—~*]+|ENDS?|-\s*30\s*-|\((?i:end)\)|[-–—－]+\s*完\s*[-–—－]+"
    r"|【完】|［完］|\[(?i:end)\]"
)
_RULE = _Lazy(r"(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+")
_BRACKET_HEADING = _Lazy(r"[■◆●□]\s*[^\n]{1,30}|【[^】\n]{1,30}】")
_BULLET = _Lazy(r"\s{0,3}(?:[-*+•·]|\d{1,2}[.)])\s+(\S.*)")


def items(text: str) -> list[Item]:
    items: list[Item] = []
    para: list[str] = []
    bullet: list[str] | None = None

    def flush() -> None:
        nonlocal para, bullet
        if bullet is not None:
            items.append(Item("item", "\n".join(bullet)))
            bullet = None
        if para:
            items.append(Item("para", "\n".join(para)))
            para = []

    for raw in text.split("\n"):
        line = _HASHTAG_LINE.sub("", raw)
        if _HASHTAG_ONLY.fullmatch(line):
            line = ""
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if _END_MARK.fullmatch(stripped):
            flush()
            items.append(Item("end", stripped))
            continue
        if _RULE.fullmatch(stripped):
            if len(para) == 1 and bullet is None and stripped[0] in "=-":  # setext heading
                items.append(Item("heading", para[0].strip(), 1 if stripped[0] == "=" else 2))
                para = []
            else:
                flush()
                items.append(Item("rule", stripped))
            continue
        m = _ATX.fullmatch(line)
        if m:
            flush()
            items.append(Item("heading", m.group(2), len(m.group(1))))
            continue
        if _BRACKET_HEADING.fullmatch(stripped):
            flush()
            items.append(Item("heading", stripped, 2))
            continue
        b = _BULLET.fullmatch(line)
        if b:
            flush()
            bullet = [b.group(1)]
            continue
        if bullet is not None and line[:1].isspace():
            bullet.append(line)  # an indented continuation of the list item
            continue
        if bullet is not None:
            flush()
        para.append(line)
    flush()
    return items


_IMAGE = _Lazy(r"!\[(?P<alt>[^\]]*)\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def find_images(text: str) -> list[Image]:
    """Markdown image references ``![alt](url)`` in order, alt text with white space collapsed."""
    return [Image(alt=_squash(m.group("alt")), url=m.group("url")) for m in _IMAGE.finditer(text)]


_FRONT = _Lazy(r"---[ \t]*\n(?P<body>(?:.*\n)*?)(?:---|\.\.\.)[ \t]*(?:\n|$)")


def front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """(YAML front matter as a dict, the text after it, the number of lines it took). A block that is not a
    mapping, or not valid YAML, is returned as ({}, text, 0) and read as text."""
    m = _FRONT.match(text)
    if m is None:
        return {}, text, 0
    import yaml  # only for files that have front matter (keeps `release show` light otherwise)

    try:
        data = yaml.safe_load(m.group("body"))
    except Exception:  # YAMLError, or ValueError from a date such as 2026-13-45: read the block as text
        return {}, text, 0
    if not isinstance(data, dict):
        return {}, text, 0
    return {str(k).lower(): v for k, v in data.items()}, text[m.end() :], m.group().count("\n")


_HTML_SNIFF = _Lazy(r"(?is)\s*(?:<!doctype html|<html|<body|<p[\s>]|<div[\s>]|<h1[\s>])")
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol table tr blockquote section article header footer".split()  # noqa: SIM905
)


def looks_like_html(text: str) -> bool:
    """Whether the text is an HTML page or fragment (a release saved from a newsroom web page)."""
    return _HTML_SNIFF.match(text) is not None


def html_to_text(html: str) -> str:
    """Markdown-ish text of an HTML release: block elements become paragraphs, ``<h1>``-``<h6>`` headings,
    ``<li>`` bullets, ``<img>`` image references, links keep their target; scripts and styles are dropped.
    Standard library only (``html.parser``)."""
    from html.parser import HTMLParser

    out: list[str] = []
    skip = [0]
    href: list[str | None] = [None]

    class _Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag in ("script", "style", "head", "nav"):
                skip[0] += 1
            elif skip[0]:
                return
            elif tag in _BLOCK_TAGS:
                out.append("\n\n")
                if tag[0] == "h" and tag[1:].isdigit():
                    out.append("#" * int(tag[1:]) + " ")
                elif tag == "li":
                    out.append("- ")
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
            elif tag in _BLOCK_TAGS:
                out.append("\n\n")
            elif tag == "a" and href[0]:
                out.append(f"]({href[0]})")
                href[0] = None

        def handle_data(self, data: str) -> None:
            if not skip[0]:
                out.append(data.replace("\n", " "))

    reader = _Reader(convert_charrefs=True)
    reader.feed(html)
    reader.close()
    return "".join(out)
