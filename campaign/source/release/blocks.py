"""The file as blocks (headings, paragraphs, list items, end marks; a Markdown block quote is read without its
``>`` marks); front matter; hashtags and URLs.

Every reader here takes time linear in the text (a release is untrusted input): each pattern either is
anchored to one line and cannot backtrack over it more than once, or is replaced by a one-pass scan
(:func:`_without_hashtags`, :func:`_heading`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import regex

from campaign.text.sentences import URL as _URL
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import trim_url as _trim_url


def normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------------------
# Hashtags and URLs

# A hashtag: '#' not preceded by a word character, '&' (HTML entity), '/' (URL fragment) or '#' (heading),
# with at least one non-digit ("#1" is not a tag).
_HASHTAG = _Lazy(r"(?<![\w&/#])#(?=\w*[^\W\d])\w+")
# A "Hashtag: #a #b" list ending a line, possibly glued to the end of a sentence ("year.Hashtag: #HKSTP").
_TAG_LIST = _Lazy(r"(?:Hashtags?|HASHTAGS?|Tags?|標籤|标签|話題標籤|话题标签)[ \t]*[:：][ \t]*(?=#)")
# A line as tokens: '#', a run of separators, a run of tag characters.
_TAG_TOKEN = _Lazy(r"(?P<hash>#)|(?P<sep>[\s,，、]+)|(?P<tag>[^\s#,，、]+)")


def _tags_from(line: str) -> set[int]:
    """Where the rest of the line is hashtags only: ``#tag`` items separated by white space, commas or
    ideographic commas, maybe followed by separators. One pass over the line's tokens, from its end."""
    tokens = [(m.start(), m.lastgroup) for m in _TAG_TOKEN.finditer(line)]
    count, starts = len(tokens), set()
    valid = [False] * (count + 1)  # valid[i]: the tokens from i on are such a list
    for i in range(count - 2, -1, -1):
        if tokens[i][1] != "hash" or tokens[i + 1][1] != "tag":
            continue
        after = i + 2  # the token after "#tag"
        if after == count or (tokens[after][1] == "sep" and (after + 1 == count or valid[after + 1])):
            valid[i] = True
            starts.add(tokens[i][0])
    return starts


def _without_hashtags(line: str) -> str:
    """The line without a "Hashtags: #a #b" list at its end; empty if the line is a list of hashtags alone."""
    if "#" not in line:
        return line
    starts = _tags_from(line)
    for m in _TAG_LIST.finditer(line):
        if m.end() in starts:
            line = line[: m.start()].rstrip(" \t")
            starts = _tags_from(line)
            break
    rest = line.lstrip(" \t")
    return "" if rest and len(line) - len(rest) in starts else line


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


_ATX = _Lazy(r"\s{0,3}(#{1,6})\s(.*)")
_END_MARK = _Lazy(
    r"(?:[#＃]\s*){3}|NNNN|完|（完）|\(完\)|(?i:ends?)\s*/.{0,60}|以上|[-–—]\s*(?i:ende|fin)\s*[-–—]|[-–—~*]+\s*(?i:ends?)\s*[-–—~*]+|ENDS?|-\s*30\s*-|\((?i:end)\)|[-–—－]+\s*完\s*[-–—－]+"
    r"|【完】|［完］|\[(?i:end)\]"
)
_RULE = _Lazy(r"(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+")
_BRACKET_HEADING = _Lazy(r"[■◆●□]\s*[^\n]{1,30}|【[^】\n]{1,30}】")
_BULLET = _Lazy(r"\s{0,3}(?:[-*+•·]|\d{1,2}[.)])\s+(\S.*)")


def _heading(line: str) -> Item | None:
    """An ATX heading (``## Title ##``): its text without the marks and the white space around it."""
    m = _ATX.fullmatch(line)
    if m is None:
        return None
    text = m.group(2).strip()
    if (bare := text.rstrip("#")) != text and bare[-1:].isspace():  # a closing run of '#' after a space
        text = bare.rstrip()
    return Item("heading", text, len(m.group(1)))


# Markdown block quotes ("> text", nested "> > text"): the marks go, the text is read as any other line.
_QUOTE_MARKS = _Lazy(r"(?:[ \t]{0,3}>[ \t]?)+")


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
        if (marks := _QUOTE_MARKS.match(raw)) is not None:
            raw = raw[marks.end() :]
        line = _without_hashtags(raw)
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
        if heading := _heading(line):
            flush()
            items.append(heading)
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
