"""Length functions: each platform's own way of counting a text (PROVISIONAL: being replaced by exact ones)."""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")
_URL = regex.compile(r"https?://\S+")


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (what a person sees as characters)."""
    return len(_GRAPHEME.findall(text))


def codepoints(text: str) -> int:
    return len(text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def x_length(text: str) -> int:
    return len(_URL.sub("x" * 23, text))


def mastodon_length(text: str) -> int:
    return graphemes(_URL.sub("x" * 23, text))


def threads_length(text: str) -> int:
    return len(text)
