"""Bluesky rich-text facets, and where each platform would make links, hashtags and mentions (for previews).

:func:`detect_facets` reproduces ``RichText.detectFacetsWithoutResolution`` of the reference client
(npm ``@atproto/api`` 0.21, ``src/rich-text/detection.ts`` and ``util.ts``), rule for rule:

* mentions: ``(^|\\s|\\()@([a-zA-Z0-9.-]+)\\b`` whose handle ends in ``.<known TLD>`` (or ``.test``);
* links: ``https?://\\S+`` or a bare ``domain.tld\\S*`` after start, white space or ``(``; a bare domain
  needs a known TLD and becomes ``https://domain``; one trailing ``.,;:!?`` is stripped, then one ``)``
  when the link holds no ``(``;
* tags: ``#`` or full-width ``＃`` after start or white space, not followed by U+FE0F (keycap), made of
  non-space characters with at least one that is neither digit nor punctuation; trailing punctuation is
  stripped and tags over 64 graphemes are dropped;
* cashtags: ``$`` + a letter + up to 4 letters or digits, followed by a space, the end or punctuation; they
  become tag facets ``$TICKER`` (upper case).

Offsets are UTF-8 byte offsets (``byteEnd`` exclusive) as app.bsky.richtext.facet requires. Facets come sorted
by start (stable: mentions, links, tags, cashtags on ties), exactly as the reference returns them.

Mentions need a DID, which only the network knows. :meth:`Facet.to_record` takes it as an argument, and
:func:`facet_records` takes a resolver: a mention whose handle does not resolve is dropped (its text stays
plain), where the reference would write an empty DID that a PDS rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import regex

from campaign.text import _bluesky_data, counting

__all__ = ["Facet", "FacetKind", "Span", "detect_facets", "facet_records", "is_hashtag", "link_spans"]

FacetKind = Literal["link", "tag", "mention"]

# JavaScript's \s (ECMAScript WhiteSpace and LineTerminator), which differs from Python's.
_JS_SPACE = "\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ZERO_WIDTH = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"

# util.ts MENTION_REGEX = /(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)/g (non-unicode: \b is ASCII).
_MENTION = re.compile(f"(?:^|[{_JS_SPACE}(])@([a-zA-Z0-9.\\-]+)\\b", re.ASCII)
# util.ts URL_REGEX, flags gim. "^" with the m flag also matches after a line break, but a line break is
# also \s, which the second alternative takes, so start-of-text is the only case left to write out.
_URL = re.compile(
    f"(?:^|[{_JS_SPACE}(])((https?://[^{_JS_SPACE}]+)|((?P<domain>[a-z][a-z0-9]*(?:\\.[a-z0-9]+)+)[^{_JS_SPACE}]*))",
    re.IGNORECASE | re.ASCII,
)
# util.ts TAG_REGEX, flags gu (code points; \d is ASCII digits; \p{P} is Unicode punctuation).
_TAG_CHAR = f"[^{_JS_SPACE}{_ZERO_WIDTH}]"
_TAG = regex.compile(
    f"(^|[{_JS_SPACE}])[#\uff03]((?!\ufe0f){_TAG_CHAR}*[^0-9{_JS_SPACE}\\p{{P}}{_ZERO_WIDTH}]+{_TAG_CHAR}*)?",
    regex.VERSION0,
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+\Z")
# util.ts CASHTAG_REGEX, flags gu.
_CASHTAG = re.compile(
    f"(?:^|[{_JS_SPACE}(])\\$([A-Za-z][A-Za-z0-9]{{0,4}})(?=[{_JS_SPACE}]|\\Z|[.,;:!?)\"'\u2019])"
)
_JS_TRIM = f"{_JS_SPACE}".replace("\u2000-\u200a", "".join(chr(c) for c in range(0x2000, 0x200B)))


def _valid_domain(text: str) -> bool:
    """detection.ts isValidDomain: ``text`` ends in "." and a TLD of the ``tlds`` package (case-sensitive)."""
    _, dot, tld = text.rpartition(".")
    return bool(dot) and tld in _bluesky_data.TLDS


@dataclass(frozen=True)
class Facet:
    """One app.bsky.richtext.facet: ``text.encode()[byte_start:byte_end]`` is the linked text.

    ``value`` is the link's URI (bare domains get ``https://``), the tag without ``#`` (a cashtag keeps its
    ``$``), or the mention's handle without ``@``.
    """

    byte_start: int
    byte_end: int
    kind: FacetKind
    value: str

    def to_record(self, did: str | None = None) -> dict[str, Any]:
        """The facet as the app.bsky.richtext.facet JSON object; a mention needs its resolved ``did``."""
        feature: dict[str, str]
        if self.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": self.value}
        elif self.kind == "tag":
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": self.value}
        else:
            if not did:
                raise ValueError(f"mention facet @{self.value} needs its DID")
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        return {"index": {"byteStart": self.byte_start, "byteEnd": self.byte_end}, "features": [feature]}


def facet_records(facets: Iterable[Facet], resolve_did: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Facet records for a post; ``resolve_did(handle)`` gives a mention's DID, or None to leave it plain."""
    records: list[dict[str, Any]] = []
    for facet in facets:
        if facet.kind == "mention":
            did = resolve_did(facet.value)
            if not did:
                continue
            records.append(facet.to_record(did))
        else:
            records.append(facet.to_record())
    return records


class _Bytes:
    """Code-point index to UTF-8 byte offset, computed incrementally (texts are short; facets few)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()

    def __call__(self, index: int) -> int:
        return index if self.ascii else len(self.text[:index].encode("utf-8"))


def detect_facets(text: str) -> list[Facet]:
    """Facets in ``text`` exactly as @atproto/api's RichText.detectFacetsWithoutResolution finds them."""
    to_byte = _Bytes(text)
    found: list[tuple[int, int, FacetKind, str]] = []  # (start, end) in code points
    if "@" in text:
        for m in _MENTION.finditer(text):
            handle = m.group(1)
            if not _valid_domain(handle) and not handle.endswith(".test"):
                continue  # probably not a handle
            found.append((m.start(1) - 1, m.end(1), "mention", handle))
    if "." in text:
        for m in _URL.finditer(text):
            uri = m.group(1)
            if not uri.startswith("http"):
                domain = m.group("domain")
                if not domain or not _valid_domain(domain):
                    continue
                uri = f"https://{uri}"
            start, end = m.start(1), m.end(1)
            if uri[-1] in ".,;:!?":
                uri, end = uri[:-1], end - 1
            if uri.endswith(")") and "(" not in uri:
                uri, end = uri[:-1], end - 1
            found.append((start, end, "link", uri))
    if "#" in text or "\uff03" in text:
        for t in _TAG.finditer(text):
            tag = t.group(2)
            if not tag:
                continue
            tag = _TRAILING_PUNCTUATION.sub("", tag.strip(_JS_TRIM))
            if not tag or (counting.utf16_units(tag) > 64 and counting.graphemes(tag) > 64):
                continue
            start = t.start() + len(t.group(1))
            found.append((start, start + 1 + len(tag), "tag", tag))
    if "$" in text:
        for m in _CASHTAG.finditer(text):
            ticker = m.group(1).upper()
            start = m.start(1) - 1
            found.append((start, start + 1 + len(ticker), "tag", "$" + ticker))
    facets = [Facet(to_byte(s), to_byte(e), kind, value) for s, e, kind, value in found]
    facets.sort(key=lambda f: f.byte_start)
    return facets


def is_hashtag(token: str) -> bool:
    """True when ``token`` (``#`` or ``＃`` and what follows, no white space) starts a hashtag that Bluesky's
    reference detection makes a tag facet of. ``#2024``, ``#!!`` and a bare ``#`` are not tags: a tag needs
    a character that is neither a digit nor punctuation (the rule X's twitter-text and Mastodon share in
    spirit). Trailing punctuation does not matter (``#launch!`` is the tag ``launch``)."""
    if not token or token[0] not in "#\uff03":
        return False
    return any(f.kind == "tag" and f.byte_start == 0 for f in detect_facets(token))


# ----------------------------------------------------------------------------------------------------------
# Preview spans
# ----------------------------------------------------------------------------------------------------------

SpanKind = Literal["link", "tag", "mention"]


@dataclass(frozen=True)
class Span:
    """A run of ``text[start:end]`` (code points) that the platform would turn into a link of ``kind``."""

    start: int
    end: int
    kind: SpanKind


# X's hashtags and mentions, for highlighting only (they do not change x_length): twitter-text's rules in
# short: a tag needs a letter and follows no word character or "&"; a mention is 1-15 word characters.
_X_TAG = regex.compile(r"(?<![\w&])[#\uff03](?!\ufe0f|\u20e3)([\w]*[^\W\d][\w]*)")
_X_MENTION = regex.compile(r"(?<![\w@\uff20!#$%&*])[@\uff20]([A-Za-z0-9_]{1,15})(?![\w@\uff20])")
# Mastodon's Tag::HASHTAG_RE in short: a tag follows no "/", ")" or word character and holds a letter.
_MASTODON_TAG = regex.compile(r"(?<![/)\w])#([\w\u00b7\u30fb\u200c]*[\p{L}\p{M}_][\w\u00b7\u30fb\u200c]*)")
_GENERIC_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’]")


def _non_overlapping(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s.start, -s.end))
    kept: list[Span] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def link_spans(text: str, channel: str) -> list[Span]:
    """Where ``channel`` would make links, hashtags and mentions in ``text``, for the HTML preview.

    Bluesky's spans are its facets; X's URLs are exactly those :func:`campaign.text.counting.x_length` counts
    (on
    the NFC form of ``text``; its tags and mentions follow twitter-text's rules in short); Mastodon's URLs and
    mentions are those its length validator rewrites. Other channels get http(s) URLs only.
    """
    spans: list[Span] = []
    if channel == "bluesky":
        data = text.encode("utf-8")
        for facet in detect_facets(text):
            start = len(data[: facet.byte_start].decode("utf-8"))
            end = start + len(data[facet.byte_start : facet.byte_end].decode("utf-8"))
            spans.append(Span(start, end, facet.kind))
        return spans
    if channel == "x":
        spans.extend(Span(s, e, "link") for s, e in counting.x_url_spans(text))
        spans.extend(Span(m.start(), m.end(), "tag") for m in _X_TAG.finditer(text))
        spans.extend(Span(m.start(), m.end(), "mention") for m in _X_MENTION.finditer(text))
    elif channel == "mastodon":
        for start, end, replacement in counting.mastodon_entities(text):
            spans.append(Span(start, end, "mention" if replacement.startswith("@") else "link"))
        spans.extend(Span(m.start(), m.end(), "tag") for m in _MASTODON_TAG.finditer(text))
    else:
        spans.extend(Span(m.start(), m.end(), "link") for m in _GENERIC_URL.finditer(text))
    return _non_overlapping(spans)
