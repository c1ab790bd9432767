"""Which characters a rendered post may carry: invisible controls and unbalanced bidi formatting are refused.

Templates and campaign files are untrusted (CI previews pull requests), and a platform shows what it is
sent: a control character, or a bidi override that reorders the rest of the line (the "Trojan Source" trick,
CVE-2021-42574), would reach readers looking unlike what a reviewer read. :func:`first_refused` finds the
first such character of a text; :func:`campaign.text.fit.fit` refuses the post with it (one
:class:`campaign.errors.TextCharacterError` line naming the character, its name and its ``line:column``).

=====================================================  ==========  ===========================================
characters                                             decision    why
=====================================================  ==========  ===========================================
TAB U+0009, LF U+000A                                  pass        ordinary text
CR U+000D (alone or in CR LF)                          LF          normalised before fitting, never refused
other C0 controls U+0000-U+001F, DEL U+007F            refused     invisible; some platforms drop or reject
C1 controls U+0080-U+009F                              refused     invisible (NEL U+0085 breaks a line in
                                                                   some readers, not in others)
LINE/PARAGRAPH SEPARATOR U+2028, U+2029                refused     shown as a break, a box or nothing
                                                                   depending on the reader; write LF
noncharacters U+FDD0-U+FDEF, U+xFFFE, U+xFFFF           refused     not for interchange (Unicode ch. 23.7)
lone surrogates U+D800-U+DFFF                          refused     not encodable as UTF-8
LRM, RLM, ALM U+200E, U+200F, U+061C                   pass        needed in right-to-left text
ZWNJ, ZWJ U+200C, U+200D                               pass        emoji sequences, Persian and Indic scripts
LRE, RLE, LRO, RLO U+202A, U+202B, U+202D, U+202E      balanced    each closed by PDF U+202C in its paragraph
LRI, RLI, FSI U+2066-U+2068                            balanced    each closed by PDI U+2069 in its paragraph
PDF U+202C, PDI U+2069 that close nothing              refused     a stray closer
=====================================================  ==========  ===========================================

"Balanced" is stricter than UAX #9 (which closes what a paragraph leaves open, and lets PDI close
embeddings inside its isolate): openers and closers must nest, each closer matching the innermost opener,
all closed before the next LF (a paragraph end) or the end of the text, at most 125 deep (UAX #9's
``max_depth``). What fitting makes of a text (each thread part, or the text without the hashtags it
dropped) is checked the same way, so a split or a dropped tag never leaves an override open.

Cost: the common text has none of these characters and costs one precompiled regex search
(:data:`_SUSPECT`); only a text that has one is walked, and then only at its formatting characters and
line feeds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["MAX_DEPTH", "Refused", "describe", "first_refused", "has_bidi", "normalise_newlines", "position"]

_OPENERS = {
    "\u202a": "\u202c",
    "\u202b": "\u202c",
    "\u202d": "\u202c",
    "\u202e": "\u202c",
    "\u2066": "\u2069",
    "\u2067": "\u2069",
    "\u2068": "\u2069",
}
_CLOSERS = frozenset("\u202c\u2069")
#: Everything refused outright, and the bidi formatting characters that must balance.
_EXACT_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(chr(plane * 0x10000 + low) for plane in range(1, 17) for low in (0xFFFE, 0xFFFF))
)
#: The first look, a superset of :data:`_EXACT_CLASS`: the noncharacters past the BMP as the one range
#: U+1FFFE-U+10FFFF (a class listing the 32 of them made every search ten times slower; emoji lie below it,
#: so a text that matches only here is mostly one with CJK Extension B or later, walked and found clean).
_SUSPECT = re.compile("[" + _EXACT_CLASS[: _EXACT_CLASS.index("\uffff") + 1] + "\U0001fffe-\U0010ffff]")
#: The exact characters and line feeds (paragraph ends), for the walk through a text :data:`_SUSPECT` matched.
_WALK = re.compile(f"[\n{_EXACT_CLASS}]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: UAX #9's deepest embedding level: deeper openers are ignored by a reader, so their closers pair wrongly.
MAX_DEPTH = 125


@dataclass(frozen=True)
class Refused:
    """The first refused character of a text: its index, the character, and why (a clause: "is ...")."""

    index: int
    char: str
    why: str


def normalise_newlines(text: str) -> str:
    """``text`` with CR LF and lone CR as LF (the common text has no CR and is returned as is)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and its Unicode name (or its category's)."""
    name = unicodedata.name(char, "")
    if not name:  # as UnicodeData.txt labels the code points that have no name
        category = unicodedata.category(char)
        name = {"Cc": "<control>", "Cs": "<surrogate>", "Cn": "<noncharacter>"}.get(category, f"<{category}>")
    return f"U+{ord(char):04X} {name}"


def position(text: str, index: int) -> str:
    """``line:column`` (both from 1, columns in code points) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return f"{line}:{index - text.rfind(chr(10), 0, index)}"


def has_bidi(text: str) -> bool:
    """Whether ``text`` holds a bidi embedding, override or isolate character (opener or closer)."""
    return _BIDI.search(text) is not None


def first_refused(text: str) -> Refused | None:
    """The first character of ``text`` the table in the module docstring refuses, or None.

    ``text`` has its newlines normalised already (:func:`normalise_newlines`): a CR here is refused.
    """
    if _SUSPECT.search(text) is None:
        return None
    open_: list[tuple[int, str]] = []  # (index, opener), innermost last
    for match in _WALK.finditer(text):
        char, index = match.group(), match.start()
        if char == "\n" or char in _OPENERS or char in _CLOSERS:
            refused = _bidi_step(open_, char, index)
            if refused is not None:
                return refused
        else:
            return Refused(index, char, _kind(char))
    if open_:
        return _unclosed(*open_[-1])
    return None


def _bidi_step(open_: list[tuple[int, str]], char: str, index: int) -> Refused | None:
    """Track one line feed, opener or closer on the stack of open embeddings and isolates."""
    if char == "\n":
        return _unclosed(*open_[-1]) if open_ else None
    if char in _OPENERS:
        if len(open_) >= MAX_DEPTH:
            return Refused(index, char, f"is nested deeper than {MAX_DEPTH} bidi levels")
        open_.append((index, char))
        return None
    if not open_ or _OPENERS[open_[-1][1]] != char:
        why = "matches no embedding, override or isolate still open in its paragraph (they must nest)"
        return Refused(index, char, why)
    open_.pop()
    return None


def _unclosed(index: int, opener: str) -> Refused:
    closer = describe(_OPENERS[opener])
    return Refused(index, opener, f"is not closed by {closer} in its paragraph (an unbalanced bidi control)")


def _kind(char: str) -> str:
    """Why ``char`` (refused whatever surrounds it) is refused, as a clause."""
    code = ord(char)
    if code in (0x2028, 0x2029):
        return "is shown as a line break, a box or nothing depending on the reader (write a line feed)"
    if code < 0x20 or code == 0x7F:
        return "is an invisible control character"
    if code <= 0x9F:
        return "is an invisible C1 control character"
    if 0xD800 <= code <= 0xDFFF:
        return "is a lone surrogate (not encodable as UTF-8)"
    return "is a Unicode noncharacter (not for interchange)"
