"""Inline Markdown of a release: stripped to plain text, and its image references, in linear time.

A release arrives in a pull request, so its text is untrusted: no pattern here may rescan the rest of the text
from every candidate mark (100,000 unclosed ``**`` once took minutes). Two rules keep it linear:

- A link's text and an image's alt text hold no ``[``, a URL no ``[`` or ``]``, an autolink no ``<``: a scan
  from an opening bracket stops at the next one. (``[a [b] c](u)`` stays as written; the parser read it
  wrongly before too.)
- Emphasis is paired by :func:`_unwrap`: every closing mark is listed once, then each opening mark takes the
  first closing mark after it on its line (by bisect), exactly what the lazy pattern ``(\\*\\*)(.+?)\\1``
  did by rescanning.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import regex

from campaign.source.release.model import Image
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import squash as _squash

_ALT = r"[^\[\]]*"  # alt text or link text: no bracket of either kind (see the module docstring)
_URL_CHARS = r"[^)\s\[\]]"
_TITLE = r"(?:\s+\"[^\"]*\")?"

_IMAGE = _Lazy(rf"!\[(?P<alt>{_ALT})\]\((?P<url>{_URL_CHARS}+){_TITLE}\)")
_LINKS: tuple[tuple[_Lazy, str], ...] = (
    (_Lazy(rf"!\[{_ALT}\]\({_URL_CHARS}*{_TITLE}\)"), ""),  # images: see find_images
    (_Lazy(rf"\[([^\[\]]+)\]\({_URL_CHARS}+{_TITLE}\)"), r"\1"),  # link -> its text
    (_Lazy(r"<((?:https?://|www\.)[^<>\s]+)>", regex.I), r"\1"),  # autolink
    (_Lazy(r"`([^`\n]+)`"), r"\1"),  # code span
)
_ESCAPE = _Lazy(r"\\([\\`*_{}\[\]()#+\-.!])")


@dataclass(frozen=True)
class _Emphasis:
    """One kind of emphasis: where a mark may open (group 1 is the mark) and where one may close (a zero-width
    match at the mark, its group 1 the mark), the same conditions as the lookarounds of a lazy pattern."""

    opening: _Lazy
    closing: _Lazy


_EMPHASIS = (
    _Emphasis(_Lazy(r"(\*\*|__)(?=\S)"), _Lazy(r"(?<=\S)(?=(\*\*|__))")),
    _Emphasis(_Lazy(r"(?<![\w*\\])(\*)(?=[^\s*])"), _Lazy(r"(?<=[^\s*\\])(?=(\*)(?![\w*]))")),
    _Emphasis(_Lazy(r"(?<![\w\\])(_)(?=[^\s_])"), _Lazy(r"(?<=[^\s_])(?=(_)(?!\w))")),
)


def _positions(text: str, char: str) -> list[int]:
    found: list[int] = []
    at = text.find(char)
    while at >= 0:
        found.append(at)
        at = text.find(char, at + 1)
    return found


def _unwrap(text: str, kind: _Emphasis) -> str:
    """``text`` with each emphasised span replaced by its content: an opening mark pairs with the first
    closing mark of the same kind at least one character after it on the same line; unpaired marks stay.
    Spans are taken left to right and do not nest (one pass, as ``regex.sub`` would)."""
    closing: dict[str, list[int]] = {}
    for end in kind.closing.finditer(text):
        closing.setdefault(end.group(1), []).append(end.start())
    if not closing:
        return text
    newlines: list[int] | None = None
    out: list[str] = []
    kept = pos = 0
    while (m := kind.opening.search(text, pos)) is not None:
        mark, body = m.group(1), m.end()
        ends = closing.get(mark, ())
        at = bisect_left(ends, body + 1)
        if newlines is None:
            newlines = _positions(text, "\n")
        line_end = newlines[i] if (i := bisect_left(newlines, body)) < len(newlines) else len(text)
        if at < len(ends) and ends[at] <= line_end:
            out += (text[kept : m.start()], text[body : ends[at]])
            kept = pos = ends[at] + len(mark)
        else:
            pos = m.start() + 1
    out.append(text[kept:])
    return "".join(out)


def inline(text: str) -> str:
    """Text without inline Markdown markup (images, links, autolinks, code spans, emphasis, escapes), white
    space collapsed."""
    for pattern, repl in _LINKS:
        text = pattern.sub(repl, text)
    for kind in _EMPHASIS:
        text = _unwrap(text, kind)
    return _squash(_ESCAPE.sub(r"\1", text))


def find_images(text: str) -> list[Image]:
    """Markdown image references ``![alt](url)`` in order, alt text with white space collapsed."""
    return [Image(alt=_squash(m.group("alt")), url=m.group("url")) for m in _IMAGE.finditer(text)]
