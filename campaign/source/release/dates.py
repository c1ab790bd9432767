"""Dates as releases write them, in English, German (also numeric: ``04.12.2026``), French, Spanish,
Portuguese, Chinese and Japanese; in a dateline also ``3/12/2026`` (see :func:`iso_date`).

Why a small table and not ``dateparser``: dateparser 1.5 costs ~80 ms to import and ~170 ms more on its
first parse (it loads its language data), i.e. half of the `release show` budget (the bare import of
sqlmodel+httpx+jinja2+apscheduler, ~0.45 s here), and a dateline needs only "day month year" in a handful of
orders. The table covers the month names (full and abbreviated, with and without accents) of the seven
languages; anything else is not a date here (the dateline keeps ``date: null`` and a notice says so).

:data:`DATE` is a regex fragment with a named group ``date``; :func:`iso_date` turns its match into
``yyyy-mm-dd`` (None when the written date does not exist, e.g. February 30).
"""

from __future__ import annotations

import datetime as _dt

import regex

from campaign.text.sentences import Lazy

_MONTH_NAMES = (
    # en; de; fr; es; pt (each list: the names that mean month 1, 2, ...)
    "jan january januar janvier enero ene janv janeiro",
    "feb february februar février fevrier febrero févr fevr fevereiro fev",
    "mar march märz maerz mars marzo mär março marco",
    "apr april avril abril avr abr",
    "may mai mayo maio",
    "jun june juni juin junio junho",
    "jul july juli juillet julio juil julho",
    "aug august août aout agosto ago",
    "sep sept september septembre septiembre setiembre set setembro",
    "oct october oktober octobre octubre okt outubro out",
    "nov november novembre noviembre novembro",
    "dec december dezember décembre decembre diciembre dez déc dic dezembro",
)
MONTHS: dict[str, int] = {name: i + 1 for i, names in enumerate(_MONTH_NAMES) for name in names.split()}
_BY_LENGTH = sorted(MONTHS, key=len, reverse=True)
MONTH = rf"(?i:{'|'.join(_BY_LENGTH)})(?!\p{{L}})\.?"
_WEEKDAYS = (
    r"(?i:(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo"
    r"|segunda-feira|terça-feira|terca-feira|quarta-feira|quinta-feira|sexta-feira)"
)
WEEKDAY = rf"(?:{_WEEKDAYS},?\s+)?"
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|º|°)?"
# The orders: "25 January 2024", "12. Mai 2026", "le 16 octobre 2025", "29 de mayo de 2024",
# "January 25, 2024", "2024-01-25", "04.12.2026" (German numeric day.month.year),
# "2024年1月25日" (with an optional weekday in brackets: "2026年5月12日（火）").
DATE = (
    rf"(?P<date>{WEEKDAY}(?:(?i:le|el)\s+)?(?:{_DAY}\.?\s+(?:(?i:de)\s+)?{MONTH},?\s+(?:(?i:de|del)\s+)?\d{{4}}"
    rf"|{MONTH}\s+{_DAY},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}\.\d{1,2}\.\d{4}(?!\d)"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*[（(][^）)\n]{1,3}[）)])?))"
)
# A dateline's numeric date with slashes ("Rio de Janeiro, 3/12/2026 -"): day first, as Portuguese, Spanish,
# French and British writers mean it, unless the place writes month first (the caller says so).
SLASHED = r"\d{1,2}/\d{1,2}/\d{4}(?!\d)"
DATELINE_DATE = DATE.replace("(?P<date>", f"(?P<date>{SLASHED}|", 1)
_SLASHED = Lazy(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_DMY = Lazy(
    r"(\d{1,2})(?:st|nd|rd|th|er|º|°)?\.?\s+(?:(?i:de)\s+)?(\p{L}+)\.?,?\s+(?:(?i:de|del)\s+)?(\d{4})"
)
_NUMERIC_DMY = Lazy(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")  # German "04.12.2026"
_MDY = Lazy(r"(\p{L}+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_YMD = Lazy(r"(\d{4})(?:-|\s*年\s*)(\d{1,2})(?:-|\s*月\s*)(\d{1,2})\s*日?(?:\s*[（(][^）)\n]{1,3}[）)])?")
_LEADING = Lazy(rf"(?:{_WEEKDAYS},?\s+)?(?:(?i:le|el)\s+)?")
_ALONE = Lazy(rf"\s*{DATE}\s*")


def iso_date(written: str, *, month_first: bool = False) -> str | None:
    """``yyyy-mm-dd`` for a date written in one of the forms of :data:`DATELINE_DATE`, else None.
    ``3/12/2026`` is 3 December, or 12 March when ``month_first`` (a US place)."""
    s = written.strip()
    lead = _LEADING.match(s)
    if lead is not None:
        s = s[lead.end() :]
    y = mo = d = 0
    if m := _YMD.fullmatch(s):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _SLASHED.fullmatch(s):
        first, second = int(m.group(1)), int(m.group(2))
        y, mo, d = int(m.group(3)), *((first, second) if month_first else (second, first))
    elif m := _NUMERIC_DMY.fullmatch(s):
        y, mo, d = int(m.group(3)), int(m.group(2)), int(m.group(1))
    elif m := _DMY.fullmatch(s):
        y, mo, d = int(m.group(3)), MONTHS.get(m.group(2).lower(), 0), int(m.group(1))
    elif m := _MDY.fullmatch(s):
        y, mo, d = int(m.group(3)), MONTHS.get(m.group(1).lower(), 0), int(m.group(2))
    try:
        return _dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def date_alone(line: str) -> str | None:
    """The ISO date when ``line`` is nothing but a date ("Tuesday, June 30, 2009", "2026年5月12日"), else
    None (also None for a date-only line whose date does not exist)."""
    m = _ALONE.fullmatch(line)
    return None if m is None else iso_date(m.group("date"))


def find_date(text: str) -> str | None:
    """The first real date written anywhere in ``text``, ISO, or None."""
    for m in regex.finditer(DATE, text):
        iso = iso_date(m.group("date"))
        if iso is not None:
            return iso
    return None
