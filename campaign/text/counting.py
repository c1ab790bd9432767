"""Length functions: each platform's own way of counting a text, exactly as the platform does.

Every function here is pure and cheap enough to run on every render; each states the platform rule it
implements and where that rule is documented. Units:

============================  =====================================================================
:func:`x_length`              X's weighted length (twitter-text ``parseTweet``, config v3)
:func:`mastodon_length`       Mastodon's ``StatusLengthValidator`` (URLs as 23, remote mentions short)
:func:`graphemes`             extended grapheme clusters (Bluesky's 300 limit; what a person sees)
:func:`threads_length`        Threads: characters, an emoji counting its UTF-8 bytes
:func:`utf16_units`           UTF-16 code units (Telegram; JavaScript/Java/.NET ``length``)
:func:`codepoints`            Unicode code points (Python ``len``)
:func:`utf8_bytes`            UTF-8 bytes (Bluesky's 3000-byte cap, Teams' payload cap)
============================  =====================================================================

The X counter reimplements twitter-text 3.1.0 (the reference JavaScript, npm ``twitter-text``) rather than
calling the PyPI port ``twitter-text-parser``, which is exact on ordinary text but costs ~0.8 ms a call; the
port and the npm package are both kept as test oracles (tests/test_counting.py, tests/oracles/). Where the
two disagree we follow the JavaScript reference (see :func:`x_length`).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from functools import cache

import regex

from campaign.text import _twitter_data

__all__ = [
    "codepoints",
    "graphemes",
    "mastodon_entities",
    "mastodon_length",
    "threads_length",
    "utf8_bytes",
    "utf16_units",
    "x_length",
    "x_url_spans",
]

# ----------------------------------------------------------------------------------------------------------
# Simple units
# ----------------------------------------------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


# Characters that may join a neighbour into one cluster (UAX #29), and emoji; every other character is a
# cluster boundary on both sides unless a neighbour is one of these. Written as "a Grapheme_Cluster_Break
# value other than Other, or Extended_Pictographic" (a set union in regex's V1 syntax): the same characters
# as a class naming the thirteen other values one by one (tests compare both over every code point), and
# scanned about five times faster.
_CLUSTERING = regex.compile(r"(?V1)[[^\p{GCB=Other}]||\p{Extended_Pictographic}]+")


def _cluster_chunks(text: str) -> Iterator[str]:
    """Pieces of ``text`` made of whole clusters, outside of which every character is a cluster of its own:
    each run of clustering characters with one neighbour on either side (overlapping pieces merged)."""
    start = end = -1
    for m in _CLUSTERING.finditer(text):
        s, e = max(m.start() - 1, 0), m.end() + 1
        if s < end:
            end = e
            continue
        if end > 0:
            yield text[start:end]
        start, end = s, e
    if end > 0:
        yield text[start:end]


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (UAX #29, as the ``regex`` module's ``\\X`` finds them)."""
    if text.isascii():
        # In ASCII every character is its own cluster except CR LF, which is one (UAX #29 rule GB3).
        return len(text) - text.count("\r\n")
    total = len(text)
    for chunk in _cluster_chunks(text):
        total -= len(chunk) - len(_GRAPHEME.findall(chunk))
    return total


def codepoints(text: str) -> int:
    """Number of Unicode code points."""
    return len(text)


def utf16_units(text: str) -> int:
    """Number of UTF-16 code units: what JavaScript, Java and .NET report as a string's length.

    Telegram measures message text (1-4096 "characters after entities parsing") and entity offsets in UTF-16
    code units (https://core.telegram.org/bots/api#sendmessage, #messageentity).
    """
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def utf8_bytes(text: str) -> int:
    """Number of bytes of the UTF-8 encoding."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


# ----------------------------------------------------------------------------------------------------------
# X (twitter-text 3.1.0, config v3)
# ----------------------------------------------------------------------------------------------------------
#
# Facts, from twitter-text's config/v3.json and js/src/parseTweet.js (github.com/twitter/twitter-text):
#   scale 100, defaultWeight 200, transformedURLLength 23, emojiParsingEnabled true, ranges weighing 100:
#   0-4351, 8192-8205, 8208-8223, 8242-8247. The text is NFC-normalised; each URL that extractUrlsWithIndices
#   finds weighs 23 (even a bare domain such as "example.com"); each emoji that twemoji-parser's regex finds
#   weighs 200/100 = 2 in total, however many code points it has; every other code point weighs by its range
#   (an astral code point is a surrogate pair in JS, weighed by its low surrogate: 2).
#
# Known divergences of the PyPI port (twitter-text-parser 3.0.0) from the JavaScript reference, where we
# follow the reference: the port rewrites CR LF and CR to LF before counting (JS counts each CR); its emoji
# table (Unicode emoji-test 12.0) also matches text-style symbols without U+FE0F such as a bare "©" (JS:
# weight 1); it validates domains with Python's IDNA codec (JS only checks each label's punycode length
# <= 63); and it matches on code points where JS matches UTF-16 units (a URL can start inside an emoji).

_X_URL = 23
_X_EMOJI = 2
# Code points outside the weight-1 ranges weigh 2.
_X_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")
_X_EMOJI_RE = re.compile(_twitter_data.EMOJI_PATTERN)
_X_EMOJI_TRIGGER = re.compile(
    "[\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff\U0001f1e6-\U0001f1ff\U000e0020-\U000e007f]"
)


def _js_canon_char(ch: str) -> str:
    """ECMAScript's Canonicalize(ch) for a case-insensitive, non-unicode RegExp (ES2015 21.2.2.8.2).

    The upper-case mapping is used unless it is not a single code unit, or it would map a non-ASCII character
    to an ASCII one (so U+017F LATIN SMALL LETTER LONG S does not match "s"). Astral characters are surrogate
    pairs in such a RegExp and are never case-mapped.
    """
    if ord(ch) > 0xFFFF:
        return ch
    up = ch.upper()
    if len(up) != 1 or ord(up) > 0xFFFF or (ord(ch) >= 128 and ord(up) < 128):
        return ch
    return up


# The only non-ASCII characters whose upper case is ASCII (tests check this against every BMP character).
_UPPER_TO_ASCII = re.compile("[\u0131\u017f]")


def _js_canon(text: str) -> str:
    """``text`` with every character canonicalised as a case-insensitive JS RegExp compares it.

    Matching a case-sensitive, canonicalised pattern against this string is exactly matching the original
    case-insensitive pattern against ``text`` (positions are unchanged: the mapping is one-to-one per char).
    """
    up = text.upper()
    # str.upper never contracts, so an unchanged length means every character mapped to one character; astral
    # case pairs may differ from JS here, but no pattern below names an astral character, so that is harmless.
    if len(up) == len(text) and not _UPPER_TO_ASCII.search(text):
        return up
    return "".join(map(_js_canon_char, text))


def _class_body(chars: Iterable[str]) -> str:
    """A regex character-class body matching exactly ``chars`` (ranges collapsed, everything escaped)."""
    cps = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = chr(cps[i]), chr(cps[j])
        parts.append(re.escape(lo) if i == j else f"{re.escape(lo)}-{re.escape(hi)}")
        i = j + 1
    return "".join(parts)


def _ranges(spec: str) -> list[str]:
    """Expand a class body written as single characters and ``a-b`` ranges (no escapes) into characters."""
    out: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return out


def _canon_class(spec: str) -> str:
    """Class body matching the JS-canonical forms of the characters in ``spec`` (see :func:`_ranges`)."""
    return _class_body(_js_canon_char(c) for c in _ranges(spec))


_Trie = dict[str, "_Trie"]


def _trie_pattern(words: Iterable[str]) -> str:
    """An alternation of ``words`` as a trie, preferring the longest word at each branch.

    twitter-text lists TLDs longest-first wherever one is a prefix of another, so this matches what its
    ordered alternation matches (tests check the ordering premise).
    """
    trie: _Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: _Trie) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        end = "" in node
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return emit(trie)


# twitter-text regexp/*.js building blocks (written out from the grammar, in JS-canonical upper case).
_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263\u0268"
    "\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_PUNCT = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$"
_SPACES = "\t\n\u000b\u000c\r \u0085\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"


def _x_tld() -> str:
    """twitter-text's TLD pattern (canonical upper case): every gTLD and ccTLD, then a boundary."""
    canon = ["".join(map(_js_canon_char, t)) for t in _twitter_data.GTLDS + _twitter_data.CCTLDS]
    tld_boundary = r"(?=[^0-9A-Z@+\-]|\Z)"
    return f"(?:{_trie_pattern(canon)}){tld_boundary}|XN--[\\-0-9A-Z]+"


def _x_domain_char() -> str:
    invalid_domain = _class_body(_ranges(_SPACES) + list(_PUNCT) + list(_INVALID) + _ranges(_DIRECTIONAL))
    return f"[^{invalid_domain}]"


def _build_x_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(URL, t.co URL, candidate): the patterns every text with a candidate needs."""
    latin = _canon_class(_LATIN_ACCENTS)
    cyr = _canon_class(_CYRILLIC)
    dchar = _x_domain_char()
    tld = _x_tld()
    subdomain = f"(?:(?:{dchar}(?:[_\\-]|{dchar})*)?{dchar}\\.)"
    domain_name = f"(?:(?:{dchar}(?:-|{dchar})*)?{dchar}\\.)"
    domain = f"(?:{subdomain}*{domain_name}(?:{tld}))"
    path_char = f"[A-Z{cyr}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{latin}]"
    parens = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
    path_end = f"(?:[+\\-A-Z{cyr}0-9=_#/{latin}]|{parens})"
    path = f"(?:(?:{path_char}*(?:{parens}{path_char}*)*{path_end})|(?:@{path_char}+/))"
    query_char = r"[A-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[A-Z0-9\-_&=#/]"
    preceding = (
        f"(?:[^A-Z0-9@\uff20$#\uff03{_class_body(_INVALID)}]|[{_class_body(_ranges(_DIRECTIONAL))}]|^)"
    )
    url = re.compile(
        f"(?P<before>{preceding})"
        f"(?P<url>(?P<protocol>HTTPS?://)?(?P<domain>{domain})(?::[0-9]+)?"
        f"(?P<path>/{path}*)?(?:\\?{query_char}*{query_end})?)"
    )
    tco = re.compile(f"HTTPS?://T\\.CO/([A-Z0-9]+)(?:\\?{query_char}*{query_end})?")
    # A URL needs "<domain char>.<TLD>" somewhere: a cheap test that lets most texts skip the full pattern.
    # It asks only for the first character of a TLD after the dot (a superset of "<domain char>.<TLD>",
    # which is all _scan and _url_entities need of it): the TLD alternation costs ~14 ms to compile each
    # time a pattern holds it, and `preview` compiles these patterns on every run.
    firsts = {_js_canon_char(t[0]) for t in _twitter_data.GTLDS + _twitter_data.CCTLDS} | {"X"}  # X: XN--
    candidate = re.compile(f"{dchar}\\.[{_class_body(firsts)}]")
    return url, tco, candidate


@cache
def _x_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Built on first use (~20 ms), so importing this module stays cheap.
    return _build_x_patterns()


@cache
def _x_ascii_domain() -> re.Pattern[str]:
    """The ASCII domain of a URL without protocol (and of ``xn--`` domains); built when one is first met."""
    latin = _canon_class(_LATIN_ACCENTS)
    return re.compile(f"(?:[\\-A-Z0-9{latin}]+\\.)+(?:{_x_tld()})")


_PUNYCODE_DOTS = re.compile("[\u3002\uff0e\uff61]")
_NON_PRINTABLE_ASCII = re.compile("[^\x20-\x7e]")


def _js_label_ok(label: str) -> bool:
    """twitter-text lib/idna.js: a label is valid when punycode.js toASCII makes it 1-63 characters long."""
    if label.isascii() and not _NON_PRINTABLE_ASCII.search(label):
        return 1 <= len(label) <= 63
    # The label may hold UTF-16 surrogates (see _to_js); punycode.js decodes pairs to code points first.
    label = label.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    # punycode.js 1.4.1 mapDomain treats the ideographic full stops as label separators too.
    parts = _PUNYCODE_DOTS.sub(".", label).split(".")
    encoded = sum(
        len(p) if not _NON_PRINTABLE_ASCII.search(p) else 4 + len(p.encode("punycode")) for p in parts
    )
    return 1 <= encoded + len(parts) - 1 <= 63


def _js_domain_ok(domain: str) -> bool:
    if domain[:4] == "xn--" and not _x_ascii_domain().search(_js_canon(domain)):
        return False
    return all(_js_label_ok(label) for label in domain.split("."))


def _to_js(text: str) -> str:
    """``text`` as a JavaScript string: one character per UTF-16 code unit (astral characters become pairs).

    twitter-text's regular expressions are non-unicode JS RegExps, which match surrogate halves on their own
    (a URL may even begin in the middle of an emoji), so its URL extraction is reproduced on this form.
    """
    if not _ASTRAL.search(text):
        return text
    return _ASTRAL.sub(_surrogate_pair, text)


def _surrogate_pair(m: re.Match[str]) -> str:
    """The astral character ``m`` matched, as its two UTF-16 surrogates (one Python character each)."""
    offset = ord(m.group()) - 0x10000
    return chr(0xD800 + (offset >> 10)) + chr(0xDC00 + (offset & 0x3FF))


def _scan(url_re: re.Pattern[str], candidate_re: re.Pattern[str], canon: str) -> Iterator[re.Match[str]]:
    """``url_re.finditer(canon)``, but starting each search near the next "<domain char>.<TLD>" candidate.

    Every URL match holds a candidate, and no match spans a space or line feed (neither may occur in a
    domain, path, query or protocol), so the searches that finditer would run between a space before the next
    candidate and the previous match end all fail: skipping them changes nothing but the cost.
    """
    pos = 0
    while True:
        cand = candidate_re.search(canon, pos)
        if cand is None:
            return
        lo = max(pos, canon.rfind(" ", pos, cand.start()), canon.rfind("\n", pos, cand.start()))
        m = url_re.search(canon, lo)
        if m is None:
            return
        yield m
        pos = m.end()


def _url_entities(js: str, *, protocol_only: bool = False) -> dict[int, int]:
    """URLs as twitter-text extractUrlsWithIndices finds them in ``js``, as ``{start: length}``.

    ``length`` is the length of the entity's ``url`` string, which parseTweet skips from ``start``. Quirks of
    the reference kept on purpose: a protocol-less URL's start is ``domain.indexOf(asciiDomain)`` (the first
    textual occurrence), its length with a path is ``url.replace(domain, asciiDomain).length``, and a later
    entity with the same start replaces an earlier one (transformEntitiesToHash). ``protocol_only`` mirrors
    the Ruby port's ``extract_url_without_protocol: false`` (Mastodon).
    """
    if "." not in js:
        return {}
    url_re, tco_re, candidate_re = _x_patterns()
    canon = _js_canon(js)
    if not candidate_re.search(canon):
        return {}
    out: dict[int, int] = {}
    for m in _scan(url_re, candidate_re, canon):
        start, end = m.span("url")
        d_start, d_end = m.span("domain")
        protocol = m.group("protocol")
        domain = js[d_start:d_end]
        if len(protocol or "https://") + (end - start) > 4096 or not _js_domain_ok(domain):
            continue
        if protocol is None:
            if protocol_only or m.group("before") in ("-", "_", ".", "/"):
                continue
            last: tuple[int, int] | None = None
            ascii_end = 0
            for a in _x_ascii_domain().finditer(canon, d_start, d_end):
                found = js[a.start() : a.end()]
                rel = domain.find(found, ascii_end)
                ascii_end = rel + len(found)
                last = (d_start + rel, len(found))
                out[last[0]] = last[1]
            if last is None:
                continue
            if m.group("path"):
                out[last[0]] = (end - start) - (d_end - d_start) + last[1]
        else:
            tco = tco_re.match(canon, start, end)
            if tco:
                if len(tco.group(1)) > 40:
                    continue
                end = tco.end()
            out[start] = end - start
    return out


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _js_to_cp(js: str) -> Callable[[int], int]:
    """Map a UTF-16 index of ``js`` to the index of its code point (a low surrogate maps to its pair)."""
    starts = [m.start() for m in _SURROGATE_PAIR.finditer(js)]
    return lambda i: i - bisect_right(starts, i - 1)


def x_url_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` code-point spans of the URLs X links in ``text`` (after NFC normalisation).

    For the preview's link highlighting; the spans index ``unicodedata.normalize("NFC", text)``.
    """
    norm = unicodedata.normalize("NFC", text)
    js = _to_js(norm)
    entities = sorted(_url_entities(js).items())
    if js is norm:
        return [(s, min(s + n, len(norm))) for s, n in entities]
    to_cp = _js_to_cp(js)
    return [(to_cp(s), to_cp(min(s + n, len(js)))) for s, n in entities]


def _urls_to_cp(js: str, urls: dict[int, int]) -> dict[int, int] | None:
    """URL entities moved from UTF-16 to code-point offsets, or None when that would change parseTweet's walk.

    The walk steps over a surrogate pair as one unit, so an entity starting on a low surrogate is never
    visited (dropped here), unless an entity ends in the middle of a pair: then only the unit walk is exact.
    """

    def mid_pair(i: int) -> bool:
        return 0 < i < len(js) and "\udc00" <= js[i] <= "\udfff" and "\ud800" <= js[i - 1] <= "\udbff"

    if any(mid_pair(s + n) for s, n in urls.items()):
        return None
    to_cp = _js_to_cp(js)
    return {to_cp(s): to_cp(s + n) - to_cp(s) for s, n in urls.items() if not mid_pair(s)}


def _all_emoji_js(norm: str) -> dict[int, int]:
    """Every emoji match in ``norm`` as ``{start: length}`` in UTF-16 offsets (for :func:`_x_walk`)."""
    cp_to_js: list[int] = []
    pos = 0
    for ch in norm:
        cp_to_js.append(pos)
        pos += 2 if ch > "\uffff" else 1
    cp_to_js.append(pos)
    return {cp_to_js[m.start()]: cp_to_js[m.end()] - cp_to_js[m.start()] for m in _X_EMOJI_RE.finditer(norm)}


def _multi_emoji(norm: str) -> dict[int, int]:
    """The emoji matches of more than one code point, as ``{start: length}``, as finditer would find them.

    The second code point of every multi-code-point sequence twemoji-parser's pattern matches is a trigger
    (U+FE0F, ZWJ, keycap, skin tone, regional indicator or tag; tests check this). So such a match starts just
    before a trigger, and trying the pattern only there, skipping what an earlier match consumed, finds the
    same matches as scanning every position; single-code-point matches weigh 2 anyway and are not needed.
    """
    out: dict[int, int] = {}
    pos = 0
    for t in _X_EMOJI_TRIGGER.finditer(norm, 1):
        p = t.start() - 1
        if p < pos:
            continue
        m = _X_EMOJI_RE.match(norm, p)
        if m is not None:
            if m.end() - p > 1:
                out[p] = m.end() - p
            pos = m.end()
    return out


def _x_unit_weight(ch: str) -> int:
    return 2 if _X_HEAVY.match(ch) else 1


def _x_walk(js: str, urls: dict[int, int], emoji: dict[int, int]) -> int:
    """parseTweet's loop over UTF-16 units, for the rare text where a URL meets astral characters."""
    total = 0
    i, n = 0, len(js)
    while i < n:
        if i in urls:
            total += _X_URL
            i += urls[i]
            continue
        if i in emoji:
            total += _X_EMOJI
            i += emoji[i]
            continue
        if "\ud800" <= js[i] <= "\udbff" and i + 1 < n and "\udc00" <= js[i + 1] <= "\udfff":
            i += 1  # a pair weighs as its low surrogate does: 2
        total += _x_unit_weight(js[i])
        i += 1
    return total


def x_length(text: str) -> int:
    """X's weighted length of ``text``, equal to twitter-text 3.1.0 ``parseTweet(text).weightedLength``.

    See the module comments above for the rules and their source. Pure ASCII text without a dot (no URL can
    occur) is its plain length; other text takes the full path (tens of microseconds for a long post).
    """
    if text.isascii():
        if "." not in text:
            return len(text)
        norm = text
        heavy = 0
    else:
        norm = unicodedata.normalize("NFC", text)
        heavy = len(_X_HEAVY.findall(norm))
    js = _to_js(norm)
    urls = _url_entities(js)
    if urls and js is not norm:
        cp_urls = _urls_to_cp(js, urls)
        if cp_urls is None:
            return _x_walk(js, urls, _all_emoji_js(norm))
        urls = cp_urls
    emoji = _multi_emoji(norm) if heavy else {}
    total = len(norm) + heavy
    if not urls and not emoji:
        return total
    pos = 0
    for start in sorted(urls.keys() | emoji.keys()):
        if start < pos:
            continue  # parseTweet never visits an index inside an entity it already consumed
        is_url = start in urls
        length = urls[start] if is_url else emoji[start]
        piece = norm[start : start + length]
        plain = len(piece) + (len(_X_HEAVY.findall(piece)) if heavy else 0)
        total += (_X_URL if is_url else _X_EMOJI) - plain
        pos = start + length
    return total


# ----------------------------------------------------------------------------------------------------------
# Mastodon
# ----------------------------------------------------------------------------------------------------------
#
# app/validators/status_length_validator.rb (mastodon/mastodon, v4): the text is rewritten before counting:
# every URL that Extractor.extract_urls_with_indices(str, extract_url_without_protocol: false) finds (the
# twitter-text grammar, http(s) URLs only) becomes 23 "x", every mention Account::MENTION_RE finds becomes
# "@username" (its domain dropped); overlapping entities are removed (first by start wins); then
# `each_grapheme_cluster.size`. A blank text (`str.blank?`) counts 0.
# Account::MENTION_RE (app/models/account.rb):
#   (?<![=/[:word:]])@((USERNAME_RE)(?:@[[:word:].-]+[[:word:]]+)?)   /i
#   USERNAME_RE = [a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?
# and app/lib/extractor.rb drops a mention followed by twitter-text's end_mention_match (an @ sign, a Latin
# accented letter, or "://").

_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@((?:[a-z0-9_]+(?:[a-z0-9_.\-]+[a-z0-9_]+)?)(?:@[\w.\-]+\w+)?)", regex.IGNORECASE
)
_MASTODON_END_MENTION = regex.compile("(?:[@\uff20]|[" + _LATIN_ACCENTS + "]|://)", regex.IGNORECASE)
_MASTODON_URL_PLACEHOLDER = "x" * 23


def mastodon_entities(text: str) -> list[tuple[int, int, str]]:
    """Mastodon's URL and mention entities in ``text``, sorted, as ``(start, end, replacement)``."""
    found: list[tuple[int, int, str]] = []
    if "://" in text:
        urls = _url_entities(text, protocol_only=True)
        found.extend((s, s + n, _MASTODON_URL_PLACEHOLDER) for s, n in urls.items())
    if "@" in text or "\uff20" in text:
        for m in _MASTODON_MENTION.finditer(text):
            if _MASTODON_END_MENTION.match(text, m.end()):
                continue
            found.append((m.start(), m.end(1), "@" + m.group(1).split("@")[0]))
    found.sort(key=lambda e: e[0])
    kept: list[tuple[int, int, str]] = []
    for entity in found:
        if kept and kept[-1][1] > entity[0]:
            continue
        kept.append(entity)
    return kept


def mastodon_length(text: str) -> int:
    """Length of ``text`` as Mastodon's StatusLengthValidator counts it (the rule is in the comment above)."""
    if not text.strip():
        return 0
    entities = mastodon_entities(text)
    if not entities:
        return graphemes(text)
    pieces: list[str] = []
    pos = 0
    for start, end, replacement in entities:
        pieces.append(text[pos:start])
        pieces.append(replacement)
        pos = end
    pieces.append(text[pos:])
    return graphemes("".join(pieces))


# ----------------------------------------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------------------------------------
#
# Meta's Threads API (https://developers.facebook.com/documentation/threads/posts, "Limitations"):
# "Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8 bytes."
# We read "an emoji" as a grapheme cluster that is an emoji (it holds an Extended_Pictographic code point, a
# regional-indicator pair or a keycap) and count its whole UTF-8 encoding; every other character counts one
# per code point (never fewer than the graphemes a person sees, so a text that fits here fits there).

_THREADS_EMOJI_TEST = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")


def threads_length(text: str) -> int:
    """Length of ``text`` as Threads counts it: an emoji counts its UTF-8 bytes, the rest its code points."""
    if text.isascii() or not _THREADS_EMOJI_TEST.search(text):
        return len(text)
    total = len(text)
    for chunk in _cluster_chunks(text):
        if _THREADS_EMOJI_TEST.search(chunk):
            for cluster in _GRAPHEME.findall(chunk):
                if _THREADS_EMOJI_TEST.search(cluster):
                    total += len(cluster.encode("utf-8")) - len(cluster)
    return total
