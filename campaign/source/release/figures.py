"""Figures: sentences that state numbers, with the number phrases as written (currencies before the number,
scale words after it: "US$1.2 billion", "€2,5 Mio.", "3,2 millones de euros", "港幣5億元", "120億円")."""

from __future__ import annotations

import bisect

import regex

from campaign.source.release.dates import MONTH as _MONTH
from campaign.source.release.model import Figure
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import squash as _squash

# 1,234.5 (en, zh, ja); 1.234,5 (de, es); 1 234,5 with a (narrow) no-break or plain space (fr)
_EU_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d{1,3}(?:[\u00a0\u202f ]\d{3})+(?:,\d+)?"
# A decimal comma (de, fr, es) counts only before a European scale word: "€2,5 Mio.", "3,2 millones".
_EU_SCALE = (
    r"(?:Mio|Mrd|Mill|millones|millón|millions?|milliards?|Millionen|Million|Milliarden|Milliarde)\.?"
    r"(?:\s(?:de\s|d'|d’)?(?:euros?|dólares|dollars|Euro|Dollar))?"
)
_NUM = rf"\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|{_EU_NUM}|\d+,\d{{1,2}}(?=\s{_EU_SCALE})|\d+(?:\.\d+)?"
# European thousands and the word after them: "45.000 Quadratmetern", "50 000 patients" (any case: German
# nouns are capitalised, so the English plural test of _counted_noun_end does not apply).
_FIG_EU = _Lazy(rf"(?<![\p{{L}}\p{{N}}.,/#:$@\-])(?:{_EU_NUM})(?:\s+[\p{{L}}][\p{{L}}\-]*)?(?![\p{{N}}])")
_CUR = (
    r"(?:US\$|HK\$|S\$|A\$|C\$|CA\$|AU\$|NZ\$|NT\$|R\$|RMB\s?|USD\s?|HKD\s?|EUR\s?|GBP\s?|CHF\s?"
    r"|INR\s?|[$€£¥₹])"
)
_SCALE = (
    rf"(?:\s(?:million|billion|trillion|thousand|mn|bn|crore|lakh)|(?:mn|bn|m|k|M|B|K)|\s{_EU_SCALE})"
    r"(?!\p{L})"
)
_UNIT = (
    r"(?:\s?%|\s?per\s?cent|\spercent(?:age points?)?"
    r"|\s(?:square|sq\.?)\s?(?:meters|metres|feet|foot|ft|m|kilometres|kilometers|km|miles)"
    r"|\s(?:km|kilometres|kilometers|meters|metres|miles|hectares|acres|tonnes|tons|kg|times|fold"
    r"|litres|liters|gallons|barrels|GW|MW|kW|GWh|MWh|TB|GB))(?!\p{L})"
)
_QUAL = (
    r"(?i:more than|over|around|about|approximately|nearly|almost|up to|at least|some|roughly|close to"
    r"|upwards of|in excess of|under|less than|fewer than|exceeding|as many as|as much as)"
)
_FIG_QUAL = _Lazy(
    rf"(?<!\p{{L}}){_QUAL}\s+(?:{_CUR})?(?:{_NUM})(?:{_SCALE})?(?:{_UNIT})?(?![\p{{L}}\p{{N}}])"
)
_FIG_BARE = _Lazy(
    rf"(?<![\p{{L}}\p{{N}}.,/#:$@\-])(?P<cur>{_CUR})?(?P<num>{_NUM})(?P<tail>(?:{_SCALE})?(?:{_UNIT})?)"
    r"(?![\p{L}\p{N}])(?P<noun>(?:\s+\p{Ll}[\p{Ll}\-]*\p{Ll}){1,3})?"
)
_CN_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CN_QUAL = r"(?:超過|超过|逾|約|约|接近|近|多於|多于|大約|大约|達|达|至少|最少)"
# Currencies written before the number: "港幣5億元", "人民币3000万元", "US$1億".
_CN_CUR = r"(?:港幣|港币|港元|人民幣|人民币|新台幣|新台币|美元|美金|日圓|日元|HK\$|US\$|NT\$|RMB\s?)"
_CN_MEASURE = (
    r"(?:元|美元|港元|円|ドル|平方米|平方呎|平方英尺|平方公尺|公里|公頃|公顷|名|家|個|个|間|间|位|人|項|项|所|款|座|倍|%|％"
    r"|キロ|トン|社|台|件|店舗|カ国|か国|拠点|万人)"
)
_FIG_CN = _Lazy(
    rf"(?<![\d,.]){_CN_CUR}{_CN_NUM}(?:萬|万|億|亿|千|百)?多?{_CN_MEASURE}?(?!\d)"
    rf"|(?<![\d,.]){_CN_QUAL}{_CN_NUM}(?:萬|万|億|亿|千|百)?多?{_CN_MEASURE}?(?!\d)"
    rf"|(?<![\d,.]){_CN_NUM}(?:萬|万|億|亿|千|百)?多?{_CN_MEASURE}"
)
_NOT_NOUNS = frozenset(
    """to and or of in on at per by from than the a an with for is are was were has have had will would as
    that which who its their this these those into over under between during since after before until
    while when where am pm""".split()  # noqa: SIM905
)
_YEAR = _Lazy(r"1[89]\d\d|20\d\d|2100")
_MONTH_BEFORE = _Lazy(rf"{_MONTH}\s*$")
# "Phase 2", "Level 3": labels, not counts; an article or a qualifier opening a sentence is no label
# ("El 45 % de los clientes", "Die 250 Mitarbeiter", "Rund 1.200 Räder").
_LABEL_BEFORE = _Lazy(
    r"(?<![\p{L}.])(?!(?:The|A|An|El|La|Las|Los|Le|Les|Un|Une|Una|Unos|Unas|Der|Die|Das|Ein|Eine|Rund|Über"
    r"|Mehr|Fast|Plus|Près|Más|Casi|Around|About|Over|Nearly|Some|Only|Just)\s)\p{Lu}[\p{L}.]*\s+$"
)


_IRREGULAR_PLURALS = frozenset(
    """people staff children women men personnel alumni faculty""".split()  # noqa: SIM905
)
_WORDS_AFTER = _Lazy(r"\s+(\p{Ll}[\p{Ll}\-]*\p{Ll})")


def _counted_noun_end(m: regex.Match[str]) -> int | None:
    """End of "N [adjectives] nouns" ("24 countries", "14 data centres", "250 young entrepreneurs"): the
    first plural-looking word within three; None when there is none (a bare number may be a label)."""
    pos = m.end("num")
    for w in _WORDS_AFTER.finditer(m.string, pos, m.end("noun")):
        word = w.group(1)
        if word in _NOT_NOUNS:
            return None
        if word in _IRREGULAR_PLURALS or (word.endswith("s") and not word.endswith(("ss", "us", "is"))):
            return w.end()
    return None


#: Characters before a number that decide whether a month name or a label precedes it (the longest month
#: name and a label word, with room to spare): the look never scans the whole sentence before the number.
_LOOK_BEHIND = 64


def _figure_phrases(sentence: str) -> tuple[str, ...]:
    # Phrases found so far, kept sorted and never overlapping: a new one is checked against its two
    # neighbours only (a sentence of thousands of figures stays linear, not quadratic).
    found: list[tuple[int, int, str]] = []
    starts: list[int] = []

    def add(a: int, b: int, phrase: str) -> None:
        i = bisect.bisect_right(starts, a)
        if (i == 0 or found[i - 1][1] <= a) and (i == len(found) or b <= found[i][0]):
            found.insert(i, (a, b, _squash(phrase)))
            starts.insert(i, a)

    for m in _FIG_QUAL.finditer(sentence):
        add(m.start(), m.end(), m.group())
    for m in _FIG_BARE.finditer(sentence):
        before = sentence[max(0, m.start() - _LOOK_BEHIND) : m.start()]
        if _MONTH_BEFORE.search(before) or _LABEL_BEFORE.search(before):
            continue
        if m.group("cur") or m.group("tail"):
            add(m.start(), m.end("tail"), sentence[m.start() : m.end("tail")])
        elif m.group("noun") and not _YEAR.fullmatch(m.group("num")):
            end = _counted_noun_end(m)
            if end is not None:
                add(m.start(), end, sentence[m.start() : end])
    for m in _FIG_EU.finditer(sentence):
        add(m.start(), m.end(), m.group())
    for m in _FIG_CN.finditer(sentence):
        add(m.start(), m.end(), m.group())
    return tuple(p for _, _, p in found)


def figures(sentences: list[str]) -> list[Figure]:
    out = []
    for s in sentences:
        phrases = _figure_phrases(s)
        if phrases:
            out.append(Figure(sentence=s, phrases=phrases))
    return out
