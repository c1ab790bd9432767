"""Sentence splitting shared by the release parser and the templates' ``first_sentence`` filter.

Contract: :func:`split_sentences` never loses a non-space character; white space inside each sentence is
collapsed. Rule based (why no library: see :mod:`campaign.source.release`). Imports only ``re`` and ``regex``.
"""

from __future__ import annotations

import bisect
import itertools
import re as _re
from collections.abc import Callable, Iterator

import regex

__all__ = ["Lazy", "sentence_spans", "split_sentences", "squash"]


class Lazy:
    """A pattern compiled on first use: compiling all of them costs ~25 ms, which `import` by commands that
    never split text should not pay."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: regex.Pattern[str] | None = None

    def _get(self) -> regex.Pattern[str]:
        if self._compiled is None:
            self._compiled = regex.compile(self._pattern, self._flags)
        return self._compiled

    def match(self, string: str, pos: int = 0) -> regex.Match[str] | None:
        return self._get().match(string, pos)

    def fullmatch(self, string: str) -> regex.Match[str] | None:
        return self._get().fullmatch(string)

    def search(self, string: str, pos: int = 0) -> regex.Match[str] | None:
        return self._get().search(string, pos)

    def finditer(self, string: str, pos: int = 0, endpos: int | None = None) -> Iterator[regex.Match[str]]:
        return self._get().finditer(string, pos, endpos)

    def sub(self, repl: str | Callable[[regex.Match[str]], str], string: str) -> str:
        return self._get().sub(repl, string)


# --------------------------------------------------------------------------------------------------------
# White space and inline Markdown

# Python's `re` \s is exactly str.isspace(), so squashing never drops a character that is not white space.
_WS = _re.compile(r"\s+")
CJK = Lazy(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\u3000-\u303f\uff00-\uffef]")


def squash(text: str) -> str:
    """Collapse white space runs to one space; a line break between two CJK characters joins them (Chinese
    is written without spaces, so the break is only wrapping)."""

    def repl(m: _re.Match[str]) -> str:
        a, b = m.start(), m.end()
        if "\n" in m.group() and a > 0 and b < len(text) and CJK.match(text[a - 1]) and CJK.match(text[b]):
            return ""
        return " "

    return _WS.sub(repl, text).strip()


# URLs and e-mail addresses: never split inside one (the release parser finds links with the same patterns).
URL_CHARS = r"[^\s<>\"“”‘’「」『』\p{Han}\u3000-\u303f\uff00-\uffef]"
URL = Lazy(rf"(?<![A-Za-z0-9@/._-])(?:https?://|www\.){URL_CHARS}+", regex.I)
# An address starts where its run of local-part characters starts, or where the previous match ended (\G):
# a start inside the run would find the same "@" and domain, so trying it only re-read the run (quadratic on
# "a.a.a..." without "@"). Possessive runs: none can give back a character the next part could use.
EMAIL = Lazy(r"(?:(?<![\w.+-])|\G)[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
URL_TRAIL = set(".,;:!?'\"”’)]}>。，、！？」』）")


def trim_url(url: str) -> str:
    """A URL found in text without the punctuation that ends the sentence around it. One pass: the end
    moves back and the brackets are counted once (slicing and recounting per character was quadratic on a
    URL followed by thousands of ")")."""
    end = len(url)
    opens, closes = url.count("("), url.count(")")
    while end and url[end - 1] in URL_TRAIL:
        if url[end - 1] == ")":
            if opens >= closes:
                break  # balanced: part of the URL (".../Foo_(bar)")
            closes -= 1
        end -= 1
    return url[:end]


# --------------------------------------------------------------------------------------------------------
# Sentence splitting

_TERM = Lazy(r"(?P<term>[。！？]+[!?！？]*|[.!?…]+)(?P<close>[\"'”’)\]」』》）]*)")
CJK_TERM = frozenset("。！？")
# What may start a sentence after a terminator and white space.
_STARTS = Lazy(r"[\p{Lu}\p{Lt}\p{Lo}\p{N}\"“‘'(\[「『《（#@]")
_URL_START = Lazy(r"(?i:https?://|www\.)")  # "... since 1987. www.acme.example" starts a sentence
_GLUED_NEXT = Lazy(r"\p{Lu}\p{Ll}|[\"“]\p{Lu}")
_GLUED_NEXT_AFTER_QUOTE = Lazy(r"[\"“]?\p{Lu}")
_WORD = Lazy(r"[\p{L}'’]+")

# Abbreviations after which a period never ends a sentence (case as written).
_ABBR_NEVER = frozenset(
    """Mr Mrs Ms Mx Dr Prof Messrs Mme Mlle St Mt No Nos Nr Fig Figs fig figs vs v approx Approx Dept dept
    est Gen Gov Hon Rev Sen Rep Capt Col Lt Sgt Ir cf al ca vol Vol pp p op Jan Feb Mar Apr Jun Jul Aug
    Sep Sept Oct Nov Dec Tel tel Ext ext Ave Blvd Rd Assoc Univ viz resp incl Incl e.g i.e E.g I.e bzw
    Bzw""".split()  # noqa: SIM905
)
# Abbreviations that often end a sentence too: a break only before a typical sentence opener.
_ABBR_MAYBE = frozenset(
    """Inc Ltd Co Corp LLC Plc plc PLC GmbH AG Bros etc Jr Sr a.m p.m A.M P.M U.S U.K U.N E.U Ph.D S.A N.V
    B.V Mio Mrd Mill Tsd""".split()  # noqa: SIM905
)
_OPENERS = frozenset(
    """The This That These Those It Its We Our They Their He She His Her I In On At For As With By From A
    An According Additionally However Meanwhile Today Since After Before During While When If Both All
    Each More Further Furthermore Also Following Founded Established There Under To Through Moreover
    Other Many Most Some Now Next Finally Separately Der Die Das Wir Damit""".split()  # noqa: SIM905
)
_INITIALISM = Lazy(r"(?:\p{L}\.)+\p{L}")
_OPEN_PUNCT = "([\"“‘'«「『《（"


def abbreviation(word: str) -> str | None:
    """ "never" / "maybe" (see the sets above) or None when ``word.`` is not an abbreviation."""
    if word in _ABBR_NEVER or (len(word) == 1 and word.isalpha()):
        return "never"  # a single letter is an initial ("John F. Kennedy", "p. 5")
    if word in _ABBR_MAYBE:
        return "maybe"
    if _INITIALISM.fullmatch(word):
        return "maybe"  # "N.Y." may close a sentence
    return None


_TOKEN = _re.compile(r"\S+")  # `re`: \S is exactly "not str.isspace()"
_OPENING = _re.compile(f"[{_re.escape(_OPEN_PUNCT)}]*")
_CHAIN = Lazy(r"(?:\p{L}\.)*+\p{L}?")  # letter, dot, letter, ...: the longest run of an initialism
_LONGEST_ABBR = max(len(w) for w in _ABBR_NEVER | _ABBR_MAYBE)


class _WordsBefore:
    """:func:`abbreviation` of the word before each full stop of ``text``: the white-space delimited token
    that ends at the stop, opening punctuation stripped.

    Contract: :meth:`kind` is asked for positions in increasing order, and all the answers cost one pass
    over ``text``. Each token is read once, when the first stop inside it is asked for; a word longer than
    any listed abbreviation can only be an initialism ("U.S.A"), decided from the length of the letter-dot
    run at the token's start. (Reading back to the white space for each stop was quadratic on thousands of
    stops without a space: "a.a.a.", "x.yx.y", "Mr.Mr.".)
    """

    __slots__ = ("_chain", "_end", "_text", "_tokens", "_word")

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _TOKEN.finditer(text)
        self._end = 0  # end of the current token
        self._word = 0  # where its word starts: after the opening punctuation
        self._chain = 0  # where the letter-dot run from there ends

    def kind(self, t: int) -> str | None:
        """``abbreviation`` of the word that ends at ``t`` ("" after white space: None)."""
        text = self._text
        if t == 0 or text[t - 1].isspace():
            return None
        while self._end < t:  # the token holding t - 1 (one exists: text[t - 1] is not white space)
            token = next(self._tokens)
            self._end = token.end()
            opening = _OPENING.match(text, token.start())
            self._word = opening.end() if opening else token.start()
            chain = _CHAIN.match(text, self._word)
            self._chain = chain.end() if chain else self._word
        word = min(self._word, t)
        size = t - word
        if size <= _LONGEST_ABBR:
            return abbreviation(text[word:t])
        # Only an initialism is this long: letters at even offsets, dots at odd ones, ending in a letter.
        return "maybe" if size <= self._chain - word and size % 2 == 1 else None


def _protected(text: str) -> list[tuple[int, int]]:
    """Spans (URLs, e-mail addresses) inside which a period never ends a sentence."""
    spans = [(m.start(), m.start() + len(trim_url(m.group()))) for m in URL.finditer(text)]
    spans.extend(m.span() for m in EMAIL.finditer(text))
    return spans


def _inside(spans: list[tuple[int, int]]) -> Callable[[int], bool]:
    """A test for "position ``t`` is inside one of ``spans``" in O(log n) (spans may overlap).

    Sorted by start with a running maximum of the ends: ``t`` is inside a span iff the largest end among
    the spans starting at or before ``t`` is beyond ``t``. (Scanning every span for each full stop was
    quadratic: a release of 100,000 URLs took minutes.)
    """
    spans = sorted(spans)
    starts = [a for a, _ in spans]
    reach = list(itertools.accumulate((b for _, b in spans), max))

    def inside(t: int) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and reach[i] > t

    return inside


# Long because it is one scan with shared state (the previous cut, the quote balance): each rule is a few
# lines in order, and splitting them apart would hide the order that decides a boundary.
def sentence_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, glued) for each sentence of one paragraph; spans exclude surrounding white space.

    ``glued`` is True when the sentence was stuck to the previous one without white space (damage to
    repair by starting a new paragraph). CJK terminators (。！？) always end a sentence.
    """
    spans: list[tuple[int, int, bool]] = []
    inside = _inside(_protected(text))
    words = _WordsBefore(text)
    n = len(text)
    cur = 0
    glued_cur = False
    quotes, quotes_to = 0, 0  # the number of '"' in text[:quotes_to], counted on as the scan moves

    def cut(at: int, glued_next: bool) -> None:
        nonlocal cur, glued_cur
        piece = text[cur:at]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            spans.append((cur + lead, cur + trail, glued_cur))
            glued_cur = glued_next
        cur = at

    for m in _TERM.finditer(text):
        t0 = m.start("term")
        end = m.end()
        if t0 < cur:
            continue
        term = m.group("term")
        if term[0] in CJK_TERM:
            cut(end, False)
            continue
        if inside(t0):
            continue
        j = end
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            continue  # end of text: the tail is the last sentence
        close = m.group("close")
        if j > end:  # white space after the terminator: an ordinary boundary?
            if not (_STARTS.match(text[j]) or _URL_START.match(text, j)):
                continue
            if term == ".":
                kind = words.kind(t0)
                if kind == "never":
                    continue
                if kind == "maybe":
                    w = _WORD.match(text, j)
                    if text[j] not in "\"“‘'" and (w is None or w.group() not in _OPENERS):
                        continue
            cut(end, False)
            continue
        # Glued: no white space. Only a lower-case word, a digit or ")" may precede the terminator, so
        # "U.S.A", "e.g.The", "ASP.NET", "3.5" and domain names are left alone.
        prev = text[t0 - 1] if t0 > 0 else ""
        if not (prev.islower() or prev.isdigit() or prev in ")%"):
            continue
        if words.kind(t0) is not None:
            continue
        at = end
        if close:
            if close.endswith('"'):
                quotes, quotes_to = quotes + text.count('"', quotes_to, end - 1), end - 1
                if quotes % 2 == 0:
                    at = end - 1  # an even count before it: this '"' opens the next sentence
            if not _GLUED_NEXT_AFTER_QUOTE.match(text, at):
                continue
        elif not _GLUED_NEXT.match(text, at):
            continue
        cut(at, True)
    cut(n, False)
    return spans


def _chunks(text: str) -> list[str]:
    """Paragraph chunks: text split at blank lines."""
    chunks: list[str] = []
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            lines.append(line)
        elif lines:
            chunks.append("\n".join(lines))
            lines = []
    if lines:
        chunks.append("\n".join(lines))
    return chunks


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, white space collapsed in each; never loses a non-space character.

    A blank line always ends a sentence. ``.``, ``!``, ``?``, ``…`` end one when followed by white space and
    a capital, digit, opening quote or bracket, a URL (``www.``, ``https://``), or CJK text; not after
    abbreviations (Dr, Prof, Mr, Ms, St., No., e.g., i.e., single initials), and after Inc., Ltd., Co., U.S.
    and the like only before a typical sentence opener ("The", "We", ...) or an opening quote (never before
    a bracket: "Acme Inc. (NYSE: ACME)" names a ticker). Decimals (3.5) and domains (www.hkstp.org) never
    split.
    Glued boundaries (``word.Word``, ``word."Word``, ``."Word``) split too. ``。！？`` always end a sentence.
    """
    out: list[str] = []
    for chunk in _chunks(text):
        out.extend(squash(chunk[a:b]) for a, b, _ in sentence_spans(chunk))
    return out


def repair(paragraph: str) -> list[str]:
    """One paragraph, or several where sentences were glued together without white space."""
    pieces: list[str] = []
    start: int | None = None
    for a, _b, glued in sentence_spans(paragraph):
        if start is None:
            start = a
        elif glued:
            pieces.append(paragraph[start:a])
            start = a
    if start is not None:
        pieces.append(paragraph[start:])
    return [p for p in (squash(x) for x in pieces) if p]
