"""Datelines: where, through which wire and when a release was issued.

Layouts (the wire's own conventions; the text after the dateline is the lead):

* PR Newswire ``PLACE, Month D, YYYY /PRNewswire/ --`` (also ``/PRNewswire-USNewswire/``,
  ``/PRNewswire-HISPANIC PR WIRE/``, ``/美通社/``, en or em dash for ``--``); EIN Presswire
  ``PLACE, STATE, COUNTRY, Month D, YYYY /EINPresswire.com/ --``; GlobeNewswire
  ``PLACE, Month D, YYYY (GLOBE NEWSWIRE) --``; plain ``PLACE, DATE –`` in any supported language
  (``BERLIN, 12. Mai 2026 –``, ``PARIS, le 16 octobre 2025 –``, ``MADRID, 29 de mayo de 2024 –``,
  ``LISBOA, 3 de dezembro de 2026 --``, ``Rio de Janeiro, 3/12/2026 -`` (day first, except in the US),
  ``香港，2024年1月25日 —``, ``TORONTO (Ontario), le 3 mars 2026 /CNW/ -``);
* Business Wire ``PLACE--(BUSINESS WIRE)--`` (often no date, or the date after it:
  ``PLACE--(BUSINESS WIRE)--Dec 4, 2026--``); News Direct ``PLACE--News Direct--``;
* the German-language wires' codes ``Berlin (ots) -`` (news aktuell), ``Wien (APA-OTS) -``,
  ``Frankfurt (dpa-AFX) -``, ``Linz (pts) -`` (pressetext), ``Den Haag (ANP) -`` (no date);
* Media OutReach ``PLACE - Media OutReach Newswire - D Month YYYY -`` (hyphens or en dashes);
* ACCESS Newswire ``PLACE / ACCESS Newswire / Month D, YYYY /``;
* ACN Newswire ``香港, 2020年1月21日 - (亞太商訊) -``;
* ``香港 – 2026年5月12日 –``, ``LOS ANGELES, CA – March 3, 2026 –``, ``LOS ANGELES (March 3, 2026) –``;
  a place alone, its first part in capitals: ``CAMBRIDGE, England –``;
* Chinese bracketed ``（香港，2024年1月25日）``, ``【香港 – 2024年1月25日】``, ``（2024年1月25日，香港）``.

A date on a line of its own, and government end lines (``Ends/Thursday, February 2, 2023``), are found by
the parser with :func:`campaign.source.release.dates.date_alone`.
"""

from __future__ import annotations

import regex

from campaign.source.release.dates import DATELINE_DATE as DATE
from campaign.source.release.dates import SLASHED, iso_date
from campaign.source.release.model import Dateline
from campaign.text.sentences import Lazy, squash

_DASH = r"(?:--|[-–—―－]{1,2})"
_PLACE_PART = r"[^\W\d_][^\n,，\d/()（）|]{0,40}?(?:\s*\([^()\n\d]{2,30}\))?"
# "AUSTIN, Texas": later parts are tried last, so "BERLIN, Thursday, February 29, 2024" keeps its weekday.
_PLACE = rf"{_PLACE_PART}(?:[,，]\s*{_PLACE_PART}){{0,2}}?"
_SLASHED = r"/\s*(?P<source>[^/\n]{2,60}?)\s*/"
_BRACKETED = r"[(（]\s*(?P<source>[^()（）\n]{2,40}?)\s*[)）]"
_DATELINES = tuple(
    Lazy(p)
    for p in (
        # HONG KONG SAR - Media OutReach Newswire - 25 January 2024 - ...
        rf"(?P<place>[^\W\d_][^\n\-–—,，]{{0,59}}?)\s+{_DASH}\s+(?P<source>[^\n\-–—]{{2,60}}?)\s+{_DASH}\s+"
        rf"{DATE}\s*{_DASH}\s*",
        # NEW YORK, Jan. 25, 2024 /PRNewswire/ -- ...   BERLIN, 25 January 2024 – ...   香港，2024年1月25日 —
        # 香港, 2020年1月21日 - (亞太商訊) - ...   香港2026年3月3日 /美通社/ -- ...
        # 上海，2026年3月3日电 /美通社/ --   París, 3 de marzo de 2026.– ...
        rf"(?P<place>{_PLACE})(?:\s*[,，]\s*|\s*(?=\d{{4}}\s*年)){DATE}(?:\s*[电電])?\s*"
        rf"(?:{_SLASHED}|{_BRACKETED}|{_DASH}\s*{_BRACKETED})?\s*\.?\s*(?:{_DASH}|[:：]|$)\s*",
        # SAN FRANCISCO--(BUSINESS WIRE)--...   NEW YORK, March 3, 2026--(BUSINESS WIRE)--
        # BOSTON--(BUSINESS WIRE)--Dec 4, 2026--... (the date after the wire: the regex module allows the
        # group name twice, and at most one of the two places matches)
        rf"(?P<place>{_PLACE})(?:\s*[,，]\s*{DATE})?\s*(?:--|[–—])\s*{_BRACKETED}\s*(?:--|[–—])\s*"
        rf"(?:{DATE}\s*(?:--|[–—])\s*)?",
        # Berlin (ots) - ...   Wien (APA-OTS) - ...   Frankfurt (dpa-AFX) - ...: German-language wire codes
        r"(?P<place>[^\W\d_][^\n,()\d]{0,40}?)\s*\(\s*(?P<source>(?i:ots|apa-ots|dpa-afx|pts|anp))\s*\)"
        r"\s*[-–—:]\s*",
        # DENVER, Colo.--News Direct--...
        rf"(?P<place>{_PLACE})(?:\s*[,，]\s*{DATE})?\s*(?:--|[–—])\s*(?P<source>(?i:news direct))"
        r"\s*(?:--|[–—])\s*",
        # RALEIGH, NC / ACCESS Newswire / March 3, 2026 / ...
        rf"(?P<place>{_PLACE})\s*{_SLASHED}\s*{DATE}\s*/\s*",
        # 香港 – 2026年5月12日 – ...   LOS ANGELES, CA – March 3, 2026 – ...
        rf"(?P<place>[^\W\d_][^\n\-–—,，\d]{{0,40}}?(?:[,，]\s*[^\W\d_][^\n\-–—,，\d]{{0,30}}?)?)\s*{_DASH}\s*"
        rf"{DATE}\s*{_DASH}\s*",
        # LOS ANGELES (March 3, 2026) – ...
        rf"(?P<place>{_PLACE})\s*[(（]{DATE}[)）]\s*(?:{_DASH}|[:：])\s*",
        # CAMBRIDGE, England – ... (no date: the place's first part in capitals)
        r"(?P<place>\p{Lu}[\p{Lu}\p{M} .'’]{2,40}(?:,\s*\p{Lu}[\p{L}. ]{1,30}?)?)\s*(?:--|[–—])\s*",
        # （香港，2024年1月25日） or 【香港 – 2024年1月25日】
        rf"[（(【\[]\s*(?P<place>[^\W\d_][^，,、）)】\]\n\d]{{0,20}}?)\s*(?:[，,、]|{_DASH})\s*{DATE}\s*[）)】\]]"
        rf"\s*(?:{_DASH}\s*)?",
        # （2024年1月25日，香港）
        rf"[（(【\[]\s*{DATE}\s*[，,、]\s*(?P<place>[^，,、）)】\]\n\d]{{1,20}}?)\s*[）)】\]]\s*(?:{_DASH}\s*)?",
    )
)

# Normalised wire names: the key is the written name lower-cased with everything but letters removed.
_WIRES = (
    ("prnewswire", "PRNewswire"),
    ("美通社", "PRNewswire"),
    ("businesswire", "Business Wire"),
    ("globenewswire", "GlobeNewswire"),
    ("mediaoutreach", "Media OutReach"),
    ("accessnewswire", "ACCESS Newswire"),
    ("accesswire", "ACCESS Newswire"),
    ("einpresswire", "EIN Presswire"),
    ("acnnewswire", "ACN Newswire"),
    ("亞太商訊", "ACN Newswire"),
    ("亚太商讯", "ACN Newswire"),
    ("newsdirect", "News Direct"),
    ("prtimes", "PR TIMES"),
    ("cnw", "CNW"),
    ("newswireca", "CNW"),
    ("apaots", "APA-OTS"),
    ("ots", "news aktuell"),
    ("dpaafx", "dpa-AFX"),
    ("pts", "pressetext"),
    ("anp", "ANP"),
)
# A written source that is a place or a weekday, not a wire ("BERLIN - Berlin - 3 May 2026 -" is not a wire).
_WIRE_WORDS = Lazy(r"(?i)wire|press|news|商訊|商讯|通社|times|\bcnw\b")


def newswire(source: str) -> str | None:
    """The normalised wire name for a source as written in a dateline; None when it names no wire."""
    key = regex.sub(r"[^\p{L}]+", "", source).lower()
    if not key:
        return None
    for prefix, name in _WIRES:
        if key.startswith(prefix):
            return name
    return squash(source) if _WIRE_WORDS.search(source) else None


_SLASHED_DATE = Lazy(SLASHED)


def _dateline_date(written: str, place: str) -> str | None:
    """The ISO date of a dateline: ``3/12/2026`` is read day first unless both numbers could be a month
    and the place is in a country that writes the month first (the gazetteer is asked only then)."""
    if _SLASHED_DATE.fullmatch(written.strip()) is not None:
        first, second = (int(n) for n in written.strip().split("/")[:2])
        if first <= 12 and second <= 12:
            from campaign.source.release.places import writes_month_first

            return iso_date(written, month_first=writes_month_first(place))
        return iso_date(written, month_first=second > 12)
    return iso_date(written)


def dateline(text: str) -> tuple[Dateline, str] | None:
    """The dateline at the start of ``text`` and the text after it, or None. ``zone`` is not filled here
    (see :func:`campaign.source.release.places.zone_of`)."""
    for pattern in _DATELINES:
        m = pattern.match(text)
        if m:
            groups = m.groupdict()
            date = groups.get("date")
            source = squash(groups.get("source") or "")
            place = squash(m.group("place")).rstrip(",，-–—― ")
            dl = Dateline(
                place=place,
                source=source,
                date=None if date is None else _dateline_date(date, place),
                newswire=newswire(source) if source else None,
            )
            return dl, text[m.end() :]
    return None
