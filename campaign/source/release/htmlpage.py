"""A release saved from a newsroom web page, read as Markdown-ish text in one pass; and inline HTML
(``<br>``, ``<b>``, ``&amp;``) pasted into a plain-text release (:func:`html_fragments`).

A release is untrusted input, and no library fits: the standard library's ``html.parser`` (Python 3.11 before
3.11.13) is quadratic on unclosed tags (``<a x`` repeated) and raises ``AssertionError`` on ``<![x``; HTML5
tree builders (Lexbor through selectolax, html5lib) check the stack of open elements for every block tag, so
20,000 nested ``<div>`` cost them a second and the 4 MB a release may hold, hours. Only tags and text matter
here, so this module tokenizes as HTML5 does where it counts and builds no tree:

- a tag ends at the first ``>`` outside a quoted attribute value; a ``<`` that starts no tag is text;
- comments, ``<!...>`` (the doctype, CDATA) and ``<?...>`` are skipped; ``<script>`` and ``<style>`` hold raw
  text up to their end tag;
- an unclosed tag, comment or script swallows the rest of the page, as in a browser.

Every scan starts where the last one ended, so reading is linear in the page.
"""

from __future__ import annotations

import html as _html

import regex

from campaign.text.sentences import Lazy as _Lazy

_HTML_SNIFF = _Lazy(r"(?is)\s*(?:<!doctype html|<html|<body|<p[\s>]|<div[\s>]|<h1[\s>])")
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol table tr blockquote section article header footer".split()  # noqa: SIM905
)
_SKIPPED = frozenset(("script", "style", "head", "nav"))
# Elements whose content is raw text up to their end tag.
_RAW_TEXT = {name: _Lazy(rf"</{name}", regex.I) for name in ("script", "style")}

# A start or end tag from its '<': the name, then attributes up to '>'. A quoted value may hold '>'; each
# alternative is atomic and the repetition possessive, so a failed match never backtracks into it.
_TAG = _Lazy(r"<(/?)([A-Za-z][^\s/>]*)((?>[=]\s*\"[^\"]*\"|[=]\s*'[^']*'|[^>])*+)>")
_ATTR = _Lazy(r"([^\s/>=][^\s/>=]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


def looks_like_html(text: str) -> bool:
    """Whether the text is an HTML page or fragment (a release saved from a newsroom web page)."""
    return _HTML_SNIFF.match(text) is not None


def html_to_text(page: str) -> str:
    """Markdown-ish text of an HTML release: block elements become paragraphs, ``<h1>``-``<h6>`` headings,
    ``<li>`` bullets, ``<img>`` image references, http(s) links keep their target; scripts, styles, the head
    and navigation are dropped. Character references are decoded."""
    reader = _Reader()
    pos = 0
    while (lt := page.find("<", pos)) >= 0:
        reader.text(page[pos:lt])
        pos = _markup(page, lt, reader)
        if pos < 0:  # an unclosed tag, comment or script: the rest of the page is inside it
            return reader.result()
    reader.text(page[pos:])
    return reader.result()


def _markup(page: str, lt: int, reader: _Reader) -> int:
    """Read the markup at ``page[lt] == '<'``; where reading goes on, or -1 when the page ends inside it."""
    if page.startswith("<!--", lt):
        if page.startswith(("<!-->", "<!--->"), lt):
            return page.index(">", lt) + 1
        end = page.find("-->", lt + 4)
        return -1 if end < 0 else end + 3
    after = page[lt + 1 : lt + 3]
    if after[:1] in ("!", "?") or (after[:1] == "/" and not _letter(after[1:])):  # a bogus comment
        end = page.find(">", lt + 2)
        return -1 if end < 0 else end + 1
    if not _letter(after[:1]) and after[:1] != "/":
        reader.text("<")
        return lt + 1
    m = _TAG.match(page, lt)
    if m is None:
        return -1
    name = m.group(2).lower()
    if m.group(1):
        reader.end(name)
        return m.end()
    reader.start(name, _attributes(m.group(3)))
    if name not in _RAW_TEXT:
        return m.end()
    close = _RAW_TEXT[name].search(page, m.end())
    if close is None:
        return -1
    reader.end(name)
    end = page.find(">", close.end())
    return -1 if end < 0 else end + 1


def _letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        value = next((v for v in m.group(2, 3, 4) if v is not None), "")
        found.setdefault(m.group(1).lower(), _html.unescape(value))
    return found


class _Reader:
    """Writes the text as tags and text arrive, in the shape :func:`html_to_text` documents."""

    def __init__(self) -> None:
        self._out: list[str] = []
        self._skip = 0
        self._href: str | None = None

    def result(self) -> str:
        return "".join(self._out)

    def text(self, data: str) -> None:
        if data and not self._skip:
            self._out.append(_html.unescape(data).replace("\n", " "))

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        out = self._out
        if tag in _SKIPPED:
            self._skip += 1
        elif self._skip:
            return
        elif tag in _BLOCK_TAGS:
            out.append("\n\n")
            if tag[0] == "h" and tag[1:].isdigit():
                out.append("#" * int(tag[1:]) + " ")
            elif tag == "li":
                out.append("- ")
        elif tag == "br":
            out.append("\n")
        elif tag == "img" and attrs.get("src"):
            out.append(f"\n\n![{attrs.get('alt') or ''}]({attrs['src']})\n\n")
        elif tag == "a" and attrs.get("href", "").startswith(("http://", "https://")):
            out.append("[")
            self._href = attrs["href"]

    def end(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in _BLOCK_TAGS:
            self._out.append("\n\n")
        elif tag == "a" and self._href:
            self._out.append(f"]({self._href})")
            self._href = None


# Inline HTML in a plain-text or Markdown release (copied from a CMS or an e-mail): line breaks, emphasis
# and spans; the tag is bounded and holds no "<", so a scan never passes the next one.
_INLINE_TAG = _Lazy(
    r"(?i)<(?P<br>br\s*/?)>|</?(?:b|strong|i|em|u|span|font|sup|sub|small)(?:\s[^<>\n]{0,200})?>"
)
# Character references with their semicolon only: "&copy2026" and "AT&T" stay as written.
_CHAR_REF = _Lazy(r"&(?:[A-Za-z][A-Za-z0-9]{1,30}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def html_fragments(text: str) -> str:
    """A plain-text or Markdown release with its inline HTML read: ``<br>`` is a line break, emphasis and
    span tags are dropped (their text stays), character references (``&amp;``, ``&nbsp;``, ``&#8217;``) are
    decoded. Other ``<...>`` (a Markdown autolink, "a < b") is left as written."""
    if "<" not in text and "&" not in text:
        return text
    text = _INLINE_TAG.sub(lambda m: "\n" if m.group("br") else "", text)
    return _CHAR_REF.sub(lambda m: _html.unescape(m.group()), text)
