"""Press-release parser: plain text or Markdown in, structured :class:`Release` out.

Contract
--------
* Input is UTF-8 (a BOM is dropped), with LF, CRLF or CR line ends. :func:`load_release` reads a file;
  :func:`parse_release` takes text. Every failure is a :class:`~campaign.errors.ReleaseError` whose one-line
  message starts with the file name (``FILE: message``): missing or unreadable file, empty or white-space
  only, binary (NUL bytes, UTF-16, not UTF-8), no title.
* Damaged text is repaired only by separating glued sentences (``ecosystem.The``, ``beyond."During``,
  ``Asia.Albert``): a glued boundary becomes a sentence *and* paragraph break. Nothing is invented or
  corrected: ``9in`` and ``thatattracted`` stay as written. Markdown markup (emphasis, links, headings,
  bullets) is removed from the text fields; link targets are kept in :attr:`Release.urls`.
* Layout that is recognised: a title (first line, or ``# Title``; a leading ``FOR IMMEDIATE RELEASE`` line is
  skipped), a subtitle (``## Subtitle``, an italic line, or the paragraphs between title and dateline), a
  dateline (``PLACE - SOURCE - DATE -``, ``PLACE, DATE /SOURCE/ --``, ``**PLACE, DATE** –``,
  ``PLACE--(SOURCE)--``, ``（香港，2024年1月25日）``, ``香港，2024年1月25日 —``), the body, an end mark
  (``###``, ``- ENDS -``, ``-30-``, ``- 完 -``), an "About X" section (heading or line, or the organisation's
  name alone on a line followed by a paragraph that starts with it), and contacts, which are ignored.
* Sentence splitting is rule based (see :func:`split_sentences`). Libraries were considered and not used:
  pySBD can alter text (https://github.com/nipunsadvilkar/pySBD/issues/83, /issues/30) and is unmaintained
  since 2021; sentencex (https://pypi.org/project/sentencex/) prefers not splitting; neither splits glued
  ``word.Word`` boundaries, which this parser must repair and tell apart from ordinary ones.

This module imports only the standard library and ``regex`` (``release show`` must start fast).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from campaign.errors import ReleaseError
from campaign.source.files import FileRefused, read_regular
from campaign.text.sentences import CJK as _CJK
from campaign.text.sentences import URL as _URL
from campaign.text.sentences import Lazy as _Lazy
from campaign.text.sentences import abbreviation as _abbreviation
from campaign.text.sentences import repair as _repair
from campaign.text.sentences import sentence_spans as _sentence_spans
from campaign.text.sentences import split_sentences
from campaign.text.sentences import squash as _squash
from campaign.text.sentences import trim_url as _trim_url

__all__ = [
    "Dateline",
    "Figure",
    "Organization",
    "Quote",
    "Release",
    "load_release",
    "parse_release",
    "split_sentences",
]


# --------------------------------------------------------------------------------------------------------
# Public values


@dataclass(frozen=True)
class Dateline:
    """Where, through whom and when the release was issued. ``source`` is "" when the dateline names no
    wire service; ``date`` is ISO ``yyyy-mm-dd``, or None when the written date is not a real date."""

    place: str
    source: str
    date: str | None


@dataclass(frozen=True)
class Quote:
    """A quotation with its attribution; ``role`` is "" when none is written. ``text`` is the words inside
    the quotation marks (a trailing comma of ``"...," said X`` is dropped)."""

    speaker: str
    role: str
    text: str


@dataclass(frozen=True)
class Figure:
    """A sentence that states numbers, and the number phrases as written (``"over 250"``, ``"24 countries"``).
    Years and dates are not figures."""

    sentence: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Organization:
    """The issuer named by the boilerplate, and its "About" text (paragraphs joined by blank lines)."""

    name: str
    about: str


@dataclass(frozen=True)
class Release:
    """A parsed press release. Text fields have white space collapsed and Markdown markup removed.

    ``paragraphs`` and ``sentences`` are the body's (after the dateline, before the end mark or the About
    section); ``lead`` is the first body sentence ("" when the body is empty). ``hashtags`` and ``urls`` are
    gathered from the whole file in order of appearance: hashtags as written (first spelling wins when
    duplicates differ in case), URLs with scheme and host normalised to ``https://host`` (a bare ``www.``
    link gains ``https://``). ``figures`` come from the body, then the About text.
    """

    source: str
    title: str
    subtitle: str | None
    dateline: Dateline | None
    lead: str
    paragraphs: tuple[str, ...]
    sentences: tuple[str, ...]
    quotes: tuple[Quote, ...]
    hashtags: tuple[str, ...]
    urls: tuple[str, ...]
    figures: tuple[Figure, ...]
    organization: Organization | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data (lists, dicts, str, None) in field order; the Jinja context of templates."""
        dl = self.dateline
        org = self.organization
        return {
            "source": self.source,
            "title": self.title,
            "subtitle": self.subtitle,
            "dateline": None if dl is None else {"place": dl.place, "source": dl.source, "date": dl.date},
            "lead": self.lead,
            "paragraphs": list(self.paragraphs),
            "sentences": list(self.sentences),
            "quotes": [{"speaker": q.speaker, "role": q.role, "text": q.text} for q in self.quotes],
            "hashtags": list(self.hashtags),
            "urls": list(self.urls),
            "figures": [{"sentence": f.sentence, "phrases": list(f.phrases)} for f in self.figures],
            "organization": None if org is None else {"name": org.name, "about": org.about},
        }


# --------------------------------------------------------------------------------------------------------
# Reading


def load_release(path: str | Path) -> Release:
    """Read and parse a release file. Raises ReleaseError naming the file for every failure."""
    p = Path(path)
    name = str(path)
    try:
        data = read_regular(p)
    except FileNotFoundError as exc:
        raise ReleaseError(f"{name}: release file not found") from exc
    except IsADirectoryError as exc:
        raise ReleaseError(f"{name}: is a directory, not a release file") from exc
    except FileRefused as exc:
        raise ReleaseError(f"{name}: release file refused: {exc.strerror}") from None
    except OSError as exc:
        raise ReleaseError(f"{name}: cannot read release file ({exc.strerror or exc})") from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReleaseError(f"{name}: release is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in data:
        raise ReleaseError(f"{name}: binary file (contains NUL bytes), not a text release")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    return parse_release(text, source=name)


def _normalise(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------------------
# Inline Markdown

_MD_INLINE: tuple[tuple[_Lazy, str], ...] = (
    (_Lazy(r"!\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"), r"\1"),  # image -> alt text
    (_Lazy(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)"), r"\1"),  # link -> its text
    (_Lazy(r"<((?:https?://|www\.)[^>\s]+)>", regex.I), r"\1"),  # autolink
    (_Lazy(r"`([^`\n]+)`"), r"\1"),
    (_Lazy(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (_Lazy(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"), r"\1"),
    (_Lazy(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"), r"\1"),
    (_Lazy(r"\\([\\`*_{}\[\]()#+\-.!])"), r"\1"),
)


def _inline(text: str) -> str:
    """Text without inline Markdown markup, white space collapsed."""
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return _squash(text)


# --------------------------------------------------------------------------------------------------------
# Hashtags and URLs

# A hashtag: '#' not preceded by a word character, '&' (HTML entity), '/' (URL fragment) or '#' (heading),
# with at least one non-digit ("#1" is not a tag).
_HASHTAG = _Lazy(r"(?<![\w&/#])#(?=\w*[^\W\d])\w+")
_TAGS = r"#[^\s#,，、]+(?:[\s,，、]+#[^\s#,，、]+)*[\s,，、]*"
# A "Hashtag: #a #b" line, possibly glued to the end of a sentence ("year.Hashtag: #HKSTP").
_HASHTAG_LINE = _Lazy(
    rf"[ \t]*(?:Hashtags?|HASHTAGS?|Tags?|標籤|标签|話題標籤|话题标签)[ \t]*[:：][ \t]*{_TAGS}$"
)
_HASHTAG_ONLY = _Lazy(rf"[ \t]*{_TAGS}")

def _normalise_url(url: str) -> str:
    if url[:4].lower() == "www.":
        url = "https://" + url
    m = regex.match(r"(?i)https?://([^/?#]*)(.*)", url, regex.S)
    assert m is not None  # _URL only matches http(s):// or www.
    return f"https://{m.group(1).lower()}{m.group(2)}"


def _find_urls(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for m in _URL.finditer(text):
        raw = _trim_url(m.group())
        if len(raw) > 4 and "." in raw.split("//")[-1]:
            seen.setdefault(_normalise_url(raw), None)
    return list(seen)


def _find_hashtags(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for m in _HASHTAG.finditer(text):
        seen.setdefault(m.group().casefold(), m.group())
    return list(seen.values())


# --------------------------------------------------------------------------------------------------------
# Blocks: the file as headings, paragraphs, list items and end marks


@dataclass
class _Item:
    kind: str  # "para" | "item" | "heading" | "end" | "rule"
    text: str  # raw text (lines joined by "\n"); heading text without the #'s
    level: int = 0


_ATX = _Lazy(r"\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*")
_END_MARK = _Lazy(
    r"(?:#\s*){3}|[-–—~*]+\s*(?i:ends?)\s*[-–—~*]+|ENDS?|-\s*30\s*-|\((?i:end)\)|[-–—－]+\s*完\s*[-–—－]+"
    r"|【完】|［完］|\[(?i:end)\]"
)
_RULE = _Lazy(r"(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+")
_BULLET = _Lazy(r"\s{0,3}(?:[-*+•·]|\d{1,2}[.)])\s+(\S.*)")


def _items(text: str) -> list[_Item]:
    items: list[_Item] = []
    para: list[str] = []
    bullet: list[str] | None = None

    def flush() -> None:
        nonlocal para, bullet
        if bullet is not None:
            items.append(_Item("item", "\n".join(bullet)))
            bullet = None
        if para:
            items.append(_Item("para", "\n".join(para)))
            para = []

    for raw in text.split("\n"):
        line = _HASHTAG_LINE.sub("", raw)
        if _HASHTAG_ONLY.fullmatch(line):
            line = ""
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if _END_MARK.fullmatch(stripped):
            flush()
            items.append(_Item("end", stripped))
            continue
        if _RULE.fullmatch(stripped):
            if len(para) == 1 and bullet is None and stripped[0] in "=-":  # setext heading
                items.append(_Item("heading", para[0].strip(), 1 if stripped[0] == "=" else 2))
                para = []
            else:
                flush()
                items.append(_Item("rule", stripped))
            continue
        m = _ATX.fullmatch(line)
        if m:
            flush()
            items.append(_Item("heading", m.group(2), len(m.group(1))))
            continue
        b = _BULLET.fullmatch(line)
        if b:
            flush()
            bullet = [b.group(1)]
            continue
        if bullet is not None and line[:1].isspace():
            bullet.append(line)  # an indented continuation of the list item
            continue
        if bullet is not None:
            flush()
        para.append(line)
    flush()
    return items


# --------------------------------------------------------------------------------------------------------
# Title, dateline, section headings

_PREAMBLE = _Lazy(
    r"(?i)(?:for immediate release|press release|news release|media release|for release)\b.{0,40}"
    r"|新聞稿|新闻稿|即時發布|即时发布"
)
_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?!\p{L})\.?"
)
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ]
    )
    for name in names.split()
}
_WEEKDAY = r"(?:(?i:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_DATE = (
    rf"(?P<date>{_WEEKDAY}(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日))"
)
_DASH = r"(?:--|[-–—―－]{1,2})"
# "AUSTIN, Texas": the second part is tried last, so "BERLIN, Thursday, February 29, 2024" keeps its weekday.
_PLACE = r"[^\W\d_][^\n,，\d]{0,40}?(?:[,，]\s*[^\W\d_][^\n,，\d]{0,30}?)??"
_DATELINES = tuple(
    _Lazy(p)
    for p in (
        # HONG KONG SAR - Media OutReach Newswire - 25 January 2024 - ...
        rf"(?P<place>[^\W\d_][^\n\-–—,，]{{0,59}}?)\s+{_DASH}\s+(?P<source>[^\n\-–—]{{2,60}}?)\s+{_DASH}\s+"
        rf"{_DATE}\s*{_DASH}\s*",
        # NEW YORK, Jan. 25, 2024 /PRNewswire/ -- ...   BERLIN, 25 January 2024 – ...   香港，2024年1月25日 —
        rf"(?P<place>{_PLACE})\s*[,，]\s*{_DATE}\s*(?:/(?P<source>[^/\n]{{2,40}})/|\((?P<source>[^()\n]{{2,40}})\))?"
        rf"\s*(?:{_DASH}|[:：]|$)\s*",
        # SAN FRANCISCO--(BUSINESS WIRE)--...
        rf"(?P<place>{_PLACE})\s*--\s*\((?P<source>[^()\n]{{2,40}})\)\s*--\s*",
        # （香港，2024年1月25日） or 【香港 – 2024年1月25日】
        rf"[（(【\[]\s*(?P<place>[^\W\d_][^，,、）)】\]\n\d]{{0,20}}?)\s*(?:[，,、]|{_DASH})\s*{_DATE}\s*[）)】\]]"
        rf"\s*(?:{_DASH}\s*)?",
        # （2024年1月25日，香港）
        rf"[（(【\[]\s*{_DATE}\s*[，,、]\s*(?P<place>[^，,、）)】\]\n\d]{{1,20}}?)\s*[）)】\]]\s*(?:{_DASH}\s*)?",
    )
)
_DMY = _Lazy(r"(\d{1,2})(?:st|nd|rd|th)?\s+(\p{L}+)\.?,?\s+(\d{4})")
_MDY = _Lazy(r"(\p{L}+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_YMD = _Lazy(r"(\d{4})(?:-|\s*年\s*)(\d{1,2})(?:-|\s*月\s*)(\d{1,2})\s*日?")


def _iso_date(written: str) -> str | None:
    s = regex.sub(r"^(?i:\p{L}+day),?\s+", "", written.strip())
    y = mo = d = 0
    if m := _YMD.fullmatch(s):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _DMY.fullmatch(s):
        y, mo, d = int(m.group(3)), _MONTHS.get(m.group(2).lower(), 0), int(m.group(1))
    elif m := _MDY.fullmatch(s):
        y, mo, d = int(m.group(3)), _MONTHS.get(m.group(1).lower(), 0), int(m.group(2))
    try:
        return _dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def _dateline(text: str) -> tuple[Dateline, str] | None:
    """The dateline at the start of ``text`` and the text after it, or None."""
    for pattern in _DATELINES:
        m = pattern.match(text)
        if m:
            groups = m.groupdict()
            date = groups.get("date")
            dl = Dateline(
                place=_squash(m.group("place")).rstrip(",，"),
                source=_squash(groups.get("source") or ""),
                date=None if date is None else _iso_date(date),
            )
            return dl, text[m.end() :]
    return None


_ABOUT = _Lazy(
    r"(?:About|ABOUT)\s+(?P<name>[\p{Lu}\p{Lo}\p{N}][^!?。！？]{1,100}?)\s*[:：]?"
    r"|(?:關於|关于)\s*(?P<name>[^\s。！？，]{2,40}?)\s*[:：]?"
)
# Where the body (or the About text) stops: contacts and legal boilerplate. One-word headings ("Contact",
# "Source", "Disclaimer") count only alone or before a colon, so "Contact lenses maker Acme ..." stays prose.
_STOP = _Lazy(
    r"(?i)(?:(?:media|press|investor|news)\s+(?:contacts?|enquiries|inquiries|relations|office)"
    r"|for (?:further|more) (?:information|details),? (?:please )?contact"
    r"|forward[- ]looking statements|safe harbou?r|the issuer is solely responsible)\b.{0,300}"
    r"|(?i:contacts?|source|disclaimer)\s*(?:[:：].{0,300})?"
    r"|(?:傳媒查詢|传媒查询|媒體查詢|媒体查询|媒體聯絡|媒体联络|新聞聯絡|新闻联络|傳媒聯絡|传媒联络).{0,100}",
    regex.S,
)
_TERMINAL = tuple(".!?:;。！？：；")


def _about_name(line: str) -> str | None:
    """ "Acme Corp" for an "About Acme Corp" heading line, else None."""
    if "\n" in line or len(line) > 120:
        return None
    m = _ABOUT.fullmatch(line.strip())
    if m is None or len(m.group("name").split()) > 10:
        return None
    # A period only in abbreviations ("About Acme Robotics Inc."): "About Face is a film." is prose.
    if any("." in w and _abbreviation(w.strip(".")) is None for w in m.group("name").split()):
        return None
    return _squash(m.group("name"))


def _org_line(items: list[_Item], i: int) -> str | None:
    """The organisation's name when items[i] is a lone short line that the next paragraph starts with
    (``Hong Kong Science and Technology Parks Corporation`` / ``Hong Kong Science ... (HKSTP) was ...``)."""
    it = items[i]
    if it.kind != "para" or "\n" in it.text.strip() or i + 1 >= len(items) or items[i + 1].kind != "para":
        return None
    line = _inline(it.text)
    if not line or len(line) > 120 or len(line.split()) > 12 or line.endswith(_TERMINAL) or line[0].isdigit():
        return None
    following = _inline(items[i + 1].text)
    if not following.startswith(line) or len(following) <= len(line):
        return None
    nxt = following[len(line)]
    return line if nxt in " (（,，" or _CJK.match(nxt) else None


def _title_problem(line: str) -> str | None:
    if _dateline(line) is not None:
        return "it starts with a dateline"
    if len(line) > 300:
        return "the first line is a whole paragraph"
    if not regex.search(r"\p{L}", line):
        return "the first line has no words"
    if _URL.fullmatch(line):
        return "the first line is a link"
    return None


# --------------------------------------------------------------------------------------------------------
# Quotes

_QUOTED = _Lazy(
    r"\"(?P<t>[^\"\n]+)\"|“(?P<t>[^”\n]+)”|「(?P<t>[^」\n]+)」|『(?P<t>[^』\n]+)』|«\s?(?P<t>[^»\n]+?)\s?»"
)
_VERB = (
    r"(?:said|says|added|adds|noted|notes|commented|comments|explained|explains|stated|states|remarked|"
    r"remarks|emphasi[sz]ed|emphasi[sz]es|highlighted|highlights|observed|observes|continued|continues|"
    r"concluded|concludes|shared|shares|declared|declares|affirmed|affirms|pointed out|points out)"
)
_HON = r"(?:(?:Dr|Prof|Professor|Mr|Mrs|Ms|Mx|Sir|Dame|Ir)\.?\s+)"
_NAME_WORD = r"\p{Lu}[\p{L}'’\-]*\.?"
_PARTICLE = r"(?:van|von|de|der|den|da|di|du|del|della|la|le|bin|binti|al)"
_NAME = rf"{_HON}?{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{0,5}}"
_ROLE = r"[^\"“”「」]+?"
_PRE = (
    # [Commenting on X, ]Jane Doe[, CTO of Acme,] said[ in a statement][:|,]
    _Lazy(
        rf"(?:.*?,\s+)??(?P<name>{_NAME})(?:\s*,\s*(?P<role>{_ROLE})\s*,)?\s+{_VERB}(?:\s+\p{{Ll}}+){{0,4}}?"
        r"\s*[,:：]?\s*"
    ),
    _Lazy(rf"(?:.*?\s)??[Aa]ccording to (?P<name>{_NAME})(?:\s*,\s*(?P<role>{_ROLE}))?\s*[,:：]\s*"),
)
_POST = (
    # ," said Jane Doe, CTO of Acme.   ," said Acme CTO Jane Doe.
    _Lazy(rf"\s*[,，]?\s*{_VERB}\s+(?P<name>{_NAME})(?:\s*,\s*(?P<role>.+?))?\s*[.!?]?\s*"),
    # ," Jane Doe, CTO of Acme, said.
    _Lazy(rf"\s*[,，]?\s*(?P<name>{_NAME})(?:\s*,\s*(?P<role>{_ROLE})\s*,)?\s+{_VERB}\s*[.!?]?\s*"),
)
_CN_VERB = r"(?:表示|說|说|指出|稱|称|強調|强调|補充|补充|坦言|認為|认为)"
_CN_WHO = r"[^，,。！？；「」“”：:\s]{2,40}"
_CN_PRE = _Lazy(rf"(?P<who>{_CN_WHO}){_CN_VERB}\s*[：:，,]?\s*$")
_CN_POST = _Lazy(rf"\s*[，,]?\s*(?P<who>{_CN_WHO}?){_CN_VERB}\s*[。.]?\s*")
_CN_ROLES = _Lazy(
    r"行政總裁|行政总裁|首席執行官|首席执行官|執行長|执行长|總裁|总裁|副主席|主席|董事長|董事长|總經理|总经理|"
    r"執行董事|执行董事|創辦人|创办人|創始人|创始人|院長|院长|校長|校长|局長|局长|司長|司长|總監|总监|經理|经理|"
    r"教授|博士|CEO|CTO|CFO|COO"
)
_ROLE_WORDS = frozenset(
    """CEO CTO CFO COO CMO CIO CSO President Chairman Chairwoman Chair Director Founder Co-founder
    Co-Founder Head Manager Officer Chief VP Minister Secretary Dean Partner Principal Lead Executive
    Vice""".split()  # noqa: SIM905
)
_PRONOUNS = frozenset(
    """He She They It We I You""".split()  # noqa: SIM905
)


def _split_role(name: str) -> tuple[str, str]:
    """("Jane Doe", "Acme CTO") from "Acme CTO Jane Doe"; unchanged name and "" when no role word."""
    words = name.split()
    for i in range(len(words) - 2, -1, -1):
        if words[i] in _ROLE_WORDS:
            return " ".join(words[i + 1 :]), " ".join(words[: i + 1])
    return name, ""


def _attribution(m: regex.Match[str]) -> tuple[str, str] | None:
    name = _squash(m.group("name"))
    last = name.split()[-1] if name else ""
    if last.endswith(".") and len(last) > 2 and _abbreviation(last[:-1]) is None:
        name = name[:-1]  # the sentence's full stop, not an initial ("J.") or "Jr."
    role = _squash(m.group("role") or "")
    if not role:
        name, role = _split_role(name)
    if name in _PRONOUNS or not name:
        return None
    return name, role


def _cn_attribution(who: str) -> tuple[str, str]:
    last = None
    for m in _CN_ROLES.finditer(who):
        last = m
    if last is not None and 2 <= len(who) - last.end() <= 4:
        return who[last.end() :], who[: last.end()]
    return who, ""


def _quotes_in(paragraph: str) -> list[Quote]:
    spans = _sentence_spans(paragraph)
    if not spans:
        return []
    quotes: list[Quote] = []
    previous: tuple[str, str] | None = None
    for m in _QUOTED.finditer(paragraph):
        text = _squash(m.group("t")).rstrip(",，").rstrip()
        if not text:
            continue
        open_i, close_i = m.start(), m.end()
        s_start = max((a for a, _, _ in spans if a <= open_i), default=0)
        s_end = min((b for _, b, _ in spans if b >= close_i), default=len(paragraph))
        pre, post = paragraph[s_start:open_i], paragraph[close_i:s_end]
        if not post.strip():
            # The quotation ends its sentence ("「……。」陳大文說。", '"...." Jane Doe said.'): the
            # attribution, if any, is the whole next sentence.
            post = next((paragraph[a:b] for a, b, _ in spans if a >= close_i), "")
        found: tuple[str, str] | None = None
        for pattern in _PRE:
            pm = pattern.fullmatch(pre)
            if pm and (found := _attribution(pm)):
                break
        if found is None:
            for pattern in _POST:
                qm = pattern.fullmatch(post)
                if qm and (found := _attribution(qm)):
                    if found[1] and post.rstrip().endswith(".") and _abbreviation(found[1].split()[-1]):
                        found = (found[0], found[1] + ".")  # "CTO of Acme Inc." keeps its period
                    break
        if found is None:
            cm = _CN_PRE.search(pre) or _CN_POST.fullmatch(post)
            if cm is not None and cm.group("who"):
                found = _cn_attribution(cm.group("who"))
        if found is None:
            # '"A," said X. "B."': an unattributed quotation that follows an attributed one in the same
            # paragraph continues it (PR convention), so it is the same speaker's.
            found = previous
        if found is not None:
            quotes.append(Quote(speaker=found[0], role=found[1], text=text))
            previous = found
    return quotes


# --------------------------------------------------------------------------------------------------------
# Figures

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CUR = r"(?:US\$|HK\$|S\$|A\$|C\$|NT\$|RMB\s?|USD\s?|HKD\s?|EUR\s?|GBP\s?|[$€£¥])"
_SCALE = r"(?:\s(?:million|billion|trillion|thousand|mn|bn)|(?:mn|bn|m|k|M|B|K))(?!\p{L})"
_UNIT = (
    r"(?:\s?%|\s?per\s?cent|\spercent(?:age points?)?"
    r"|\s(?:square|sq\.?)\s?(?:meters|metres|feet|foot|ft|m|kilometres|kilometers|km|miles)"
    r"|\s(?:km|kilometres|kilometers|meters|metres|miles|hectares|acres|tonnes|tons|kg|times|fold"
    r"|GW|MW|kW|GWh|MWh|TB|GB))(?!\p{L})"
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
_CN_MEASURE = (
    r"(?:平方米|平方呎|平方英尺|平方公尺|公里|公頃|公顷|名|家|個|个|間|间|位|人|項|项|所|款|座|倍|%|％)"
)
_FIG_CN = _Lazy(
    rf"(?<![\d,.]){_CN_QUAL}{_CN_NUM}(?:萬|万|億|亿|千|百)?多?{_CN_MEASURE}?(?!\d)"
    rf"|(?<![\d,.]){_CN_NUM}(?:萬|万|億|亿|千|百)?多?{_CN_MEASURE}"
)
_NOT_NOUNS = frozenset(
    """to and or of in on at per by from than the a an with for is are was were has have had will would as
    that which who its their this these those into over under between during since after before until
    while when where am pm""".split()  # noqa: SIM905
)
_YEAR = _Lazy(r"1[89]\d\d|20\d\d|2100")
_MONTH_BEFORE = _Lazy(rf"{_MONTH}\s*$")
_LABEL_BEFORE = _Lazy(r"\p{Lu}[\p{L}.]*\s+$")  # "Phase 2", "Level 3": labels, not counts


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


def _figure_phrases(sentence: str) -> tuple[str, ...]:
    found: list[tuple[int, int, str]] = []

    def add(a: int, b: int, phrase: str) -> None:
        if all(b <= x or a >= y for x, y, _ in found):
            found.append((a, b, _squash(phrase)))

    for m in _FIG_QUAL.finditer(sentence):
        add(m.start(), m.end(), m.group())
    for m in _FIG_BARE.finditer(sentence):
        before = sentence[: m.start()]
        if _MONTH_BEFORE.search(before) or _LABEL_BEFORE.search(before):
            continue
        if m.group("cur") or m.group("tail"):
            add(m.start(), m.end("tail"), sentence[m.start() : m.end("tail")])
        elif m.group("noun") and not _YEAR.fullmatch(m.group("num")):
            end = _counted_noun_end(m)
            if end is not None:
                add(m.start(), end, sentence[m.start() : end])
    for m in _FIG_CN.finditer(sentence):
        add(m.start(), m.end(), m.group())
    return tuple(p for _, _, p in sorted(found))


def _figures(sentences: list[str]) -> list[Figure]:
    out = []
    for s in sentences:
        phrases = _figure_phrases(s)
        if phrases:
            out.append(Figure(sentence=s, phrases=phrases))
    return out


# --------------------------------------------------------------------------------------------------------
# The parser


_ITALIC_LINE = _Lazy(r"\s*([*_])(?!\1)[^\n]+\1\s*")


def _first_words(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 60 else line[:57] + "..."


def parse_release(text: str, *, source: str = "<string>") -> Release:
    """Parse release text (see the module docstring for the layouts understood).

    Raises ReleaseError (``source: message``) when the text is empty, white space only, binary, or has no
    title.
    """
    text = _normalise(text)
    if "\x00" in text:
        raise ReleaseError(f"{source}: binary file (contains NUL bytes), not a text release")
    if not text:
        raise ReleaseError(f"{source}: release is empty")
    if not text.strip():
        raise ReleaseError(f"{source}: release is empty (only white space)")
    items = _items(text)
    n = len(items)

    # Title: the first heading, or the first line of the first paragraph after preamble lines.
    i = 0
    title = ""
    while i < n and not title:
        it = items[i]
        if it.kind == "rule":
            i += 1
        elif it.kind == "heading":
            title = _inline(it.text)
            i += 1
        elif it.kind == "para":
            lines = [ln for ln in it.text.split("\n") if not _PREAMBLE.fullmatch(_inline(ln))]
            if not lines:
                i += 1
                continue
            title = _inline(lines[0])
            if problem := _title_problem(title):
                raise ReleaseError(f"{source}: no title ({problem}: {_first_words(lines[0])!r})")
            if len(lines) > 1:
                items[i] = _Item("para", "\n".join(lines[1:]))
            else:
                i += 1
        else:
            what = "a list item" if it.kind == "item" else "an end mark"
            raise ReleaseError(f"{source}: no title (the release starts with {what}: {it.text[:60]!r})")
    if not title:
        raise ReleaseError(f"{source}: no title (nothing but preamble lines)")

    # Subtitle and dateline.
    subtitle: str | None = None
    dateline: Dateline | None = None
    if i < n and (
        (items[i].kind == "heading" and items[i].level >= 2 and _about_name(items[i].text) is None)
        or (items[i].kind == "para" and _ITALIC_LINE.fullmatch(items[i].text))  # *An italic subtitle*
    ):
        subtitle = _inline(items[i].text)
        i += 1
    window = 1 if subtitle is not None else 3  # plain text: subtitle paragraphs may precede the dateline
    for k in range(i, min(i + window, n)):
        if items[k].kind != "para":
            break
        found = _dateline(_inline(items[k].text))
        if found is not None:
            dateline, rest = found
            if k > i:
                subtitle = " ".join(_inline(items[x].text) for x in range(i, k))
            items[k] = _Item("para", rest)
            i = k
            break

    # Body: up to an end mark, an About section, contacts, or the organisation's name on its own line.
    paragraphs: list[str] = []
    while i < n:
        it = items[i]
        if it.kind == "end":
            break
        if it.kind == "heading":
            if _about_name(it.text) is not None or _STOP.fullmatch(_inline(it.text)):
                break
            i += 1  # section headings inside the body are not prose
            continue
        if it.kind == "para" and paragraphs:
            line = _inline(it.text)
            if _about_name(line) is not None or _STOP.fullmatch(line) or _org_line(items, i) is not None:
                break
        if it.kind in ("para", "item"):
            paragraphs.extend(_repair(_inline(it.text)))
        i += 1

    # Organisation: the first About section (or name line) after the body, up to contacts or an end mark.
    organization: Organization | None = None
    while i < n and organization is None:
        it = items[i]
        name = None
        if it.kind == "heading":
            name = _about_name(_inline(it.text))
        elif it.kind == "para":
            name = _about_name(_inline(it.text)) or _org_line(items, i)
        i += 1
        if name is None:
            continue
        about: list[str] = []
        while i < n and items[i].kind in ("para", "item"):
            line = _inline(items[i].text)
            if _STOP.fullmatch(line) or _about_name(line) is not None:
                break
            about.extend(_repair(line))
            i += 1
        organization = Organization(name=name, about="\n\n".join(about))

    sentences = [s for p in paragraphs for s in split_sentences(p)]
    about_sentences = [] if organization is None else split_sentences(organization.about)
    return Release(
        source=source,
        title=title,
        subtitle=subtitle,
        dateline=dateline,
        lead=sentences[0] if sentences else "",
        paragraphs=tuple(paragraphs),
        sentences=tuple(sentences),
        quotes=tuple(q for p in paragraphs for q in _quotes_in(p)),
        hashtags=tuple(_find_hashtags(text)),
        urls=tuple(_find_urls(text)),
        figures=tuple(_figures(sentences + about_sentences)),
        organization=organization,
    )
