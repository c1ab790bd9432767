"""Where the body ends: "About" headings, contacts, legal boilerplate, the organisation's name line; embargo
lines. Headings are recognised in English, German, French, Spanish, Portuguese, Chinese and Japanese."""

from __future__ import annotations

import datetime as _dt

import regex

from campaign.source.release.blocks import Item
from campaign.source.release.dates import find_date
from campaign.source.release.markup import inline
from campaign.text.sentences import CJK, Lazy, abbreviation, squash

_ABOUT = Lazy(
    r"(?:About|ABOUT|Über|ÜBER|Uber|(?:À|A) (?i:propos) (?i:des\s|du\s|de\s|d')|Acerca de|ACERCA DE"
    # Portuguese "Sobre a Acme" / "SOBRE A ACME": the article only before a space
    r"|Sobre(?:\s+(?:a|o|as|os)(?=\s))?|SOBRE(?:\s+(?:A|O|AS|OS)(?=\s))?"
    r"|Informations sur|Qui est)\s*(?:(?i:the|la|el|los|las|le|les|l'|die|der|das|des|du)\s*)?"
    r"(?P<name>[\p{Lu}\p{Lo}\p{N}][^!?。！？]{1,100}?)\s*[:：]?"
    r"|(?:關於|关于|有關|有关)\s*(?P<name>[^\s。！？，]{2,40}?)\s*[:：]?"
    r"|[【■〈<]?\s*(?P<name>[^\s【】■。！？]{2,40}?)\s*(?:について|の概要|会社概要)\s*[】〉>]?"
    r"|[【■]?\s*(?:会社概要|企業概要)\s*[】]?\s*(?P<name>)"
)
# Where the body (or the About text) stops: contacts and legal boilerplate. One-word headings ("Contact",
# "Source", "Disclaimer") count only alone or before a colon, so "Contact lenses maker Acme ..." stays prose.
_CONTACT_PHRASE = (
    r"(?i:(?:media|press|investor|news)\s+(?:contacts?|enquiries|inquiries|relations|office)"
    r"|for (?:further|more) (?:information|details),? (?:please )?contact"
    r"|pressekontakt|medienkontakt|kontakt für (?:die )?medien|medienanfragen|contacts? presse"
    r"|relations? (?:presse|médias)|contacts? médias?|contacto de prensa|contacto para medios"
    r"|contacto con (?:los )?medios"
    r"|contatos? (?:com|para) a imprensa|contactos? (?:com|para) a imprensa|assessoria de imprensa"
    r"|informações (?:para a )?imprensa"
    r"|contact (?:information|details))"
    r"|傳媒查詢|传媒查询|媒體查詢|媒体查询|媒體聯絡|媒体联络|新聞聯絡|新闻联络|傳媒聯絡|传媒联络|傳媒聯繫|媒体联系"
    r"|如有查詢|如有查询"
    r"|本件に関するお問い合わせ|報道関係者(?:様)?(?:から)?の?お問い合わせ(?:先)?"
)
# One-word headings count only alone or before a colon.
_CONTACT_WORD = (
    r"(?i:contacts?|kontakt|contacto|prensa)|お問い合わせ(?:先)?|(?:聯絡|联络|聯繫|联系)人?|查詢|查询"
)
_CONTACT_START = Lazy(
    rf"[【■]?\s*(?:(?:{_CONTACT_PHRASE})(?!\p{{Ll}}).{{0,300}}"
    rf"|(?:{_CONTACT_WORD})\s*[】]?\s*(?:[:：].{{0,300}})?)",
    regex.S,
)
_STOP = Lazy(
    # "Cautionary Note Regarding Forward-Looking Statements"; an unheaded "This press release contains
    # forward-looking statements ..." paragraph
    r"(?i:(?:(?:cautionary|special|important)\s+(?:note|statement|information)s?\s+"
    r"(?:regarding|concerning|about|on|with respect to)\s+)?forward[- ]looking (?:statements|information)"
    r"|this (?:press |news )?(?:release|announcement) (?:contains|includes|may contain) (?:certain )?"
    r"(?:\"|“)?forward[- ]looking"
    r"|safe harbou?r|the issuer is solely responsible"
    r"|zukunftsgerichtete aussagen|déclarations prospectives|declaraciones prospectivas"
    r"|notes? to editors?|editor'?s'? notes?|hinweis für redaktionen|notes? aux rédactions"
    r"|nota para (?:los )?editores|legal disclaimer|view (?:the )?original (?:content|press release)"
    r"|view source version|cision view original content|ver a versão original|notas? aos editores"
    r"|declarações prospectivas|declarações sobre o futuro)"
    r"\b.{0,300}"
    r"|編輯注意事項|编辑注意事项|編者按|编者按"
    # forward-looking statements and disclaimers in Chinese and Japanese (headings)
    r"|(?:有關|有关|關於|关于)?前瞻性(?:陳述|陈述|聲明|声明)[^\n]{0,300}|(?:免責聲明|免责声明|免責事項)\s*(?:[:：].{0,300})?"
    r"|将来(?:予測|の見通し)に関する(?:記述|注意事項)[^\n]{0,300}"
    # PR Newswire's last line: "SOURCE Acme Corp." (capitals, no colon); "FONTE" in Portuguese
    r"|(?:SOURCE|FONTE)\s+\p{Lu}[^\n]{0,200}"
    r"|(?i:source|disclaimer|haftungsausschluss|avertissement|aviso legal|attachments?|related images?"
    r"|related links?)\s*(?:[:：].{0,300})?",
    regex.S,
)
TERMINAL = tuple(".!?:;。！？：；")


def about_name(line: str) -> str | None:
    """ "Acme Corp" for an "About Acme Corp" heading line ("" for a nameless 会社概要), else None."""
    if "\n" in line or len(line) > 120:
        return None
    m = _ABOUT.fullmatch(line.strip())
    if m is None or len(m.group("name").split()) > 10:
        return None
    # A period only in abbreviations ("About Acme Robotics Inc."): "About Face is a film." is prose.
    if any("." in w and abbreviation(w.strip(".")) is None for w in m.group("name").split()):
        return None
    return squash(m.group("name"))


_RELEASE_LINK = Lazy(
    r"(?i)(?:cision\s+)?(?:view (?:the )?original (?:content|press release)(?: to download multimedia)?"
    r"|view source version on [\w.]+|ver a versão original em [\w.]+)\s*(?:on [\w .]+)?[:：]?\s*(?P<url>https?://\S+)"
)
_PHOTO_CAPTION = Lazy(r"\((?i:PRNewsfoto|photo|image|foto|photo credit)\b[^()]{0,200}\)")


def release_link(line: str) -> str | None:
    """The release's own URL from a wire's "View original content: URL" line, else None."""
    m = _RELEASE_LINK.search(line)
    return m.group("url").rstrip(".,;") if m else None


def is_photo_caption(line: str) -> bool:
    """``(PRNewsfoto/Acme Inc.)``, ``(Photo: ...)``: a caption line, not prose."""
    return _PHOTO_CAPTION.fullmatch(line.strip()) is not None


def is_stop(line: str) -> bool:
    """Whether a line starts the contacts or legal boilerplate (the body ends there)."""
    return _STOP.fullmatch(line) is not None or is_contact(line)


_PHONE = Lazy(r"(?:\+\d[\d ()-]{6,}\d|\(?\d{3}\)?[ -]\d{3}-\d{4})")
_EMAIL = Lazy(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?i:email us here)")


def is_contact_block(raw: str) -> bool:
    """A block of short lines with a phone number or an e-mail address: a contact signature without a
    heading (EIN Presswire and others end with one)."""
    lines = [ln.strip() for ln in raw.split("\n") if ln.strip()]
    if len(lines) < 2 or any(len(ln) > 60 or ln.endswith((".", "。")) for ln in lines):
        return False
    return any(_PHONE.search(ln) or _EMAIL.search(ln) for ln in lines)


def is_contact(line: str) -> bool:
    """Whether a line starts a media-contacts block."""
    return _CONTACT_START.fullmatch(line) is not None


def org_line(items: list[Item], i: int) -> str | None:
    """The organisation's name when items[i] is a lone short line that the next paragraph starts with
    (``Hong Kong Science and Technology Parks Corporation`` / ``Hong Kong Science ... (HKSTP) was ...``)."""
    it = items[i]
    if it.kind != "para" or "\n" in it.text.strip() or i + 1 >= len(items) or items[i + 1].kind != "para":
        return None
    line = inline(it.text)
    if not line or len(line) > 120 or len(line.split()) > 12 or line.endswith(TERMINAL) or line[0].isdigit():
        return None
    following = inline(items[i + 1].text)
    if not following.startswith(line) or len(following) <= len(line):
        return None
    nxt = following[len(line)]
    return line if nxt in " (（,，" or CJK.match(nxt) else None


# --------------------------------------------------------------------------------------------------------
# Embargo

_EMBARGO = Lazy(
    r"(?i:embargo(?:ed)?(?:\s+(?:until|till|to|for release until))?"
    r"|not for (?:release|publication) (?:until|before)"
    r"|sperrfrist(?:\s+bis)?|embargo jusqu'(?:au|à)|sous embargo jusqu'(?:au|à)|embargo hasta(?: el)?)"
    r"\s*[:：]?\s*(?P<when>.{4,120})"
    r"|(?:解禁|報道解禁)(?:日時)?\s*[:：]?\s*(?P<when>.{4,60})"
)
_TIME = Lazy(r"(?<!\d)(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?P<ampm>(?i:a\.?m\.?|p\.?m\.?))?(?!\d)")
_OFFSETS = {
    "GMT": 0, "UTC": 0, "Z": 0, "BST": 60, "CET": 60, "MEZ": 60, "CEST": 120, "MESZ": 120, "HKT": 480,
    "SGT": 480, "CST": -360, "JST": 540, "EST": -300, "EDT": -240, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AEST": 600, "AEDT": 660,
}  # fmt: skip
# US wires' "ET"/"PT": the zone's offset on the day (standard or daylight time).
_US_ZONES = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver", "PT": "America/Los_Angeles",
}  # fmt: skip
_ZONE_ABBR = Lazy(
    rf"(?<!\p{{L}})(?P<z>{'|'.join(sorted([*_OFFSETS, *_US_ZONES], key=len, reverse=True))})(?!\p{{L}})"
)


def is_embargo(line: str) -> bool:
    return _EMBARGO.match(line) is not None


def embargo(line: str, zone: str | None) -> str | None:
    """ISO 8601 of an embargo line: ``yyyy-mm-dd`` when only a date is written; ``yyyy-mm-ddTHH:MM±hh:mm``
    when a time is written with a zone abbreviation (``HKT``, ``CET``; ``ET``/``PT`` take the US zone's
    offset on that day), or with ``zone`` (the dateline's) as fallback; a naive
    ``yyyy-mm-ddTHH:MM:SS`` when neither is known. None when the line has no date."""
    m = _EMBARGO.match(line)
    if m is None:
        return None
    when = m.group("when")
    day = find_date(when)
    if day is None:
        return None
    rest = regex.sub(
        r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{4}", " ", when
    )
    rest = regex.sub(
        r"\b\d{1,2}(?:st|nd|rd|th|er)?\.?\s+\p{L}+\.?,?\s+\d{4}|\p{L}+\.?\s+\d{1,2},?\s+\d{4}", " ", rest
    )
    t = next((x for x in _TIME.finditer(rest) if x.group("m") or x.group("ampm")), None)
    cjk = regex.search(r"(\d{1,2})\s*時\s*(?:(\d{1,2})\s*分)?", when)
    if t is None and cjk is None:
        return day
    hour, minute = (int(t.group("h")), int(t.group("m") or 0)) if t else (int(cjk[1]), int(cjk[2] or 0))  # type: ignore[index]
    if t is not None and t.group("ampm"):
        hour = hour % 12 + (12 if t.group("ampm").lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return day
    local = _dt.datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}")
    if (z := _ZONE_ABBR.search(when)) is not None and z.group("z") in _OFFSETS:
        return local.replace(tzinfo=_dt.timezone(_dt.timedelta(minutes=_OFFSETS[z.group("z")]))).isoformat()
    if z is not None:
        zone = _US_ZONES[z.group("z")]
    if zone is not None:
        from zoneinfo import ZoneInfo

        return local.replace(tzinfo=ZoneInfo(zone)).isoformat()
    return local.isoformat()
