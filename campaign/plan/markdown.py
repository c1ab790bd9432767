"""Markdown that hostile text cannot restructure: the escaping rules of the preview's and the report's
GitHub-flavoured Markdown (a CI job summary or a pull-request comment, where campaign files are untrusted).

Contracts, for any input string:

- :func:`inline` is one line that renders as the text itself, wherever inline text goes (a paragraph, a
  list item, a heading, a table cell): new lines become spaces, control characters and bidirectional overrides
  show as escapes (``\\x1b``, ``\\u202e``), Markdown's and GFM's markup characters are backslash-escaped
  (no emphasis, code span, link but a URL's to itself, image, raw HTML, entity, math or table pipe), and
  ``@name`` / ``#123`` / ``GH-123`` get an invisible U+2060 WORD JOINER after the ``@``, ``#`` or ``-`` so
  that GitHub neither pings a user or team nor cross-references an issue (an e-mail address stops being a
  ``mailto:`` autolink too); so does the first colon of an emoji shortcode (``:tada:`` stays text). An
  http(s) URL in the text is an autolink to itself (GitHub links a bare one anyway, and put its own
  reading of our backslash escapes into the link), its trailing punctuation and unbalanced ``)`` left out
  as GFM's autolinks do; a bare ``www.`` or ``ftp://`` stays text. A leading ``#``, ``-``, ``+``, ``1.``
  or ``1)`` is escaped, so the text starts no heading or list where it starts a list item. Outer spaces
  are dropped. Cut to ``limit`` characters with ``…``.
- :func:`url` is an http(s) URL as an autolink, anything else as :func:`inline` text.
- :func:`html_text` is the same for the text of an HTML block (our ``<summary>`` line), where Markdown is
  not parsed: HTML-escaped instead of backslash-escaped.
- :func:`code_span` is one line shown verbatim as inline code (GitHub links no mention inside code).
- :func:`fence` is a fenced code block showing the text verbatim (GitHub links no mention inside code): its
  fence is longer than any run of backticks in the text (CommonMark's closing rule), so no line can close it;
  only control characters and bidirectional overrides are escaped (new lines and tabs kept). A text longer
  than ``limit`` is cut and says how many characters are not shown.
- :func:`fit` joins well-formed blocks, dropping whole blocks from the end once the next would take the
  document past ``limit`` characters (GitHub refuses a comment over 65,536), and says what it dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from campaign.logs import printable

#: GitHub's limit for one comment (issue, pull request); a longer one is refused, not cut.
COMMENT_LIMIT = 65_536

_LINE_BREAK = re.compile("\r\n|[\n\r\u2028\u2029]")
#: Every character with a meaning in inline Markdown or GFM (``$``: GitHub's math; ``|``: table cells).
_MARKUP = re.compile(r"([\\`*_~\[\]<>&|$])")
#: Where GitHub would ping or cross-reference: ``@user``, ``@org/team``, ``#123``, ``o/r#123``, ``GH-123``.
_REFERENCE = re.compile(r"(@)(?=[A-Za-z0-9_])|(#)(?=\d)|(\b[Gg][Hh]-)(?=\d)")
WORD_JOINER = "\u2060"


def shown(text: str) -> str:
    """``text`` with control characters (but new line and tab) and bidi overrides as escapes."""
    return printable(text, lines=True)


def _one_line(text: str, limit: int) -> str:
    text = shown(_LINE_BREAK.sub(" ", text)).replace("\t", " ")
    return text[: limit - 1] + "…" if len(text) > limit else text


#: An emoji shortcode GitHub would draw (``:tada:``): a word joiner after its first colon keeps it text.
_EMOJI = re.compile(r"(:)(?=[a-z0-9_+-]+:)", re.I)


def _unlinked(text: str) -> str:
    return _REFERENCE.sub(lambda m: m[0] + WORD_JOINER, _EMOJI.sub(":" + WORD_JOINER, text))


#: An http(s) URL that can be an angle-bracket autolink whole: no blank, control, bidi override, ``<``, ``>``,
#: table pipe, backslash, backtick, square bracket or ``…`` (our cut), and no ``&name;`` (an autolink decodes
#: entities). Its end is then trimmed as GFM trims a bare URL's (:func:`_url_end`).
_URL = re.compile(
    r"https?://(?:(?!&#?[A-Za-z0-9]+;)[^\s<>|\\`\[\]\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069…])+",
    re.I,
)
#: Left out of a URL's end: sentence punctuation, emphasis marks and quotes.
_TRAILING = "?!.,:;*_~'\""
#: After escaping: where GitHub's autolink extension would still link plain text (a backslash goes there).
_BARE = re.compile(r"(?<=www)(?=\.)|(?<=http)(?=:)|(?<=https)(?=:)|(?<=ftp)(?=:)", re.I)
#: A start that makes a block where inline text opens a list item or a paragraph: a heading, a list item (a
#: number's ``.`` or ``)`` is escaped) or a thematic break.
_BLOCK_START = re.compile(r"#{1,6}(?= |$)|[-+](?= |$)|-(?=[- ]*$)|(\d{1,9})(?=[.)](?: |$))")


def _url_end(candidate: str) -> int:
    """The length of ``candidate`` that is the URL: without trailing punctuation, and without a ``)`` that
    closes nothing in it."""
    end = len(candidate)
    while end:
        last = candidate[end - 1]
        unbalanced = last == ")" and candidate.count(")", 0, end) > candidate.count("(", 0, end)
        if last not in _TRAILING and not unbalanced:
            break
        end -= 1
    return end


def _escaped(text: str) -> str:
    """Plain text (no URL of ours) as Markdown that shows it: references broken, markup and bare links
    escaped."""
    return _BARE.sub(r"\\", _MARKUP.sub(r"\\\1", _unlinked(text)))


def inline(text: object, limit: int = 500) -> str:
    """``text`` (``str()`` of it) as inline Markdown that renders as itself (see the module docstring)."""
    plain = _one_line(str(text), limit).strip(" ")
    out: list[str] = []
    done = 0
    for match in _URL.finditer(plain):
        end = match.start() + _url_end(match[0])
        if end - match.start() > match[0].index("//") + 2:  # more than the scheme
            out += [_escaped(plain[done : match.start()]), f"<{plain[match.start() : end]}>"]
            done = end
    out.append(_escaped(plain[done:]))
    markdown = "".join(out)
    start = _BLOCK_START.match(markdown)
    if start is None:
        return markdown
    at = start.end() if start[1] else 0
    return f"{markdown[:at]}\\{markdown[at:]}"


def url(text: object, limit: int = 500) -> str:
    """``text`` as an autolink (``<https://…>``) when it is an http(s) URL that fits whole, else as
    :func:`inline` text: a link is never to another scheme, and a mention inside a URL (Mastodon's
    ``/@user/1``) stays part of the link, which GitHub does not scan for mentions."""
    value = str(text)
    return f"<{value}>" if len(value) <= limit and _URL.fullmatch(value) else inline(value, limit)


def html_text(text: object, limit: int = 500) -> str:
    """``text`` as the text of a raw HTML element (``<summary>``): entities for ``& < > "``, one line."""
    plain = _one_line(str(text), limit)
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _unlinked(plain)


def code_span(text: object, limit: int = 200) -> str:
    """``text`` as one inline code span (a heading's name): delimited by more backticks than any run in it,
    padded where it starts or ends with one, on one line (a new line would end a heading)."""
    body = _one_line(str(text), limit)
    mark = "`" * (max((len(run) for run in re.findall("`+", body)), default=0) + 1)
    pad = " " if body[:1] == "`" or body[-1:] == "`" else ""
    return f"{mark}{pad}{body}{pad}{mark}"


def fence(text: str, info: str = "", limit: int = 5_000) -> str:
    """A fenced code block showing ``text`` verbatim; ``info`` is the language (fixed text of ours)."""
    cut = len(text) - limit if len(text) > limit else 0
    body = shown(text[:limit] if cut else text)
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    mark = "`" * max(3, longest + 1)
    block = f"{mark}{info}\n{body}\n{mark}"
    if cut:
        block += f"\n\n_… {cut:,} more characters not shown (the whole text: `--format json`)._"
    return block


def fit(blocks: Sequence[str], limit: int, dropped: Callable[[int], str]) -> str:
    """``blocks`` joined by new lines, as many as fit in ``limit`` characters with ``dropped(n)`` (the note
    saying ``n`` blocks were left out) appended when some were; the first block is always kept."""
    if not blocks:
        return ""
    out, size = [blocks[0]], len(blocks[0])
    reserve = len(dropped(len(blocks))) + 1  # the longest note this call can write
    for index, block in enumerate(blocks[1:], start=1):
        room = limit if index == len(blocks) - 1 else limit - reserve
        if size + 1 + len(block) > room:
            out.append(dropped(len(blocks) - index))
            break
        out.append(block)
        size += 1 + len(block)
    return "\n".join(out)
