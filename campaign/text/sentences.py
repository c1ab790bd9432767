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

    def sub(self, repl: str, string: str) -> str:
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
EMAIL = Lazy(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL_TRAIL = set(".,;:!?'\"”’)]}>。，、！？」』）")


def trim_url(url: str) -> str:
    """A URL found in text without the punctuation that ends the sentence around it."""
    while url and url[-1] in URL_TRAIL:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # balanced: part of the URL (".../Foo_(bar)")
        url = url[:-1]
    return url


# --------------------------------------------------------------------------------------------------------
# Sentence splitting

_TERM = Lazy(r"(?P<term>[。！？]+[!?！？]*|[.!?…]+)(?P<close>[\"'”’)\]」』》）]*)")
CJK_TERM = frozenset("。！？")
# What may start a sentence after a terminator and white space.
_STARTS = Lazy(r"[\p{Lu}\p{Lt}\p{Lo}\p{N}\"“‘'(\[「『《（#@]")
_GLUED_NEXT = Lazy(r"\p{Lu}\p{Ll}|[\"“]\p{Lu}")
_GLUED_NEXT_AFTER_QUOTE = Lazy(r"[\"“]?\p{Lu}")
_WORD = Lazy(r"[\p{L}'’]+")

# Abbreviations after which a period never ends a sentence (case as written).
_ABBR_NEVER = frozenset(
    """Mr Mrs Ms Mx Dr Prof Messrs Mme Mlle St Mt No Nos Nr Fig Figs fig figs vs v approx Approx Dept dept
    est Gen Gov Hon Rev Sen Rep Capt Col Lt Sgt Ir cf al ca vol Vol pp p op Jan Feb Mar Apr Jun Jul Aug
    Sep Sept Oct Nov Dec Tel tel Ext ext Ave Blvd Rd Assoc Univ viz resp incl Incl e.g i.e E.g I.e""".split()  # noqa: SIM905
)
# Abbreviations that often end a sentence too: a break only before a typical sentence opener.
_ABBR_MAYBE = frozenset(
    """Inc Ltd Co Corp LLC Plc plc PLC GmbH AG Bros etc Jr Sr a.m p.m A.M P.M U.S U.K U.N E.U Ph.D S.A N.V
    B.V""".split()  # noqa: SIM905
)
_OPENERS = frozenset(
    """The This That These Those It Its We Our They Their He She His Her I In On At For As With By From A
    An According Additionally However Meanwhile Today Since After Before During While When If Both All
    Each More Further Furthermore Also Following Founded Established There Under To Through Moreover
    Other Many Most Some Now Next Finally Separately""".split()  # noqa: SIM905
)
_INITIALISM = Lazy(r"(?:\p{L}\.)+\p{L}")
_OPEN_PUNCT = "([\"“‘'«「『《（"


def _word_before(text: str, i: int) -> str:
    j = i
    while j > 0 and not text[j - 1].isspace():
        j -= 1
    return text[j:i].lstrip(_OPEN_PUNCT)


def abbreviation(word: str) -> str | None:
    """ "never" / "maybe" (see the sets above) or None when ``word.`` is not an abbreviation."""
    if word in _ABBR_NEVER or (len(word) == 1 and word.isalpha()):
        return "never"  # a single letter is an initial ("John F. Kennedy", "p. 5")
    if word in _ABBR_MAYBE:
        return "maybe"
    if _INITIALISM.fullmatch(word):
        return "maybe"  # "N.Y." may close a sentence
    return None


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
    n = len(text)
    cur = 0
    glued_cur = False

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
            if not _STARTS.match(text[j]):
                continue
            if term == ".":
                kind = abbreviation(_word_before(text, t0))
                if kind == "never":
                    continue
                if kind == "maybe":
                    w = _WORD.match(text, j)
                    if text[j] not in "\"“‘'(" and (w is None or w.group() not in _OPENERS):
                        continue
            cut(end, False)
            continue
        # Glued: no white space. Only a lower-case word, a digit or ")" may precede the terminator, so
        # "U.S.A", "e.g.The", "ASP.NET", "3.5" and domain names are left alone.
        prev = text[t0 - 1] if t0 > 0 else ""
        if not (prev.islower() or prev.isdigit() or prev in ")%"):
            continue
        if abbreviation(_word_before(text, t0)) is not None:
            continue
        at = end
        if close:
            if close.endswith('"') and text.count('"', 0, end - 1) % 2 == 0:
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
    a capital, digit, opening quote or bracket, or CJK text; not after abbreviations (Dr, Prof, Mr, Ms, St.,
    No., e.g., i.e., single initials), and after Inc., Ltd., Co., U.S. and the like only before a typical
    sentence opener ("The", "We", ...). Decimals (3.5) and domains (www.hkstp.org) never split.
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
