"""issue 13, split from tests/test_release_layouts.py: datelines, dates in many languages, newswire names,
the dateline's zone, embargo lines and dates found above or below the text."""

from __future__ import annotations

import pytest

from campaign.source.release import parse_release
from campaign.source.release.datelines import newswire
from campaign.source.release.dates import date_alone, iso_date
from campaign.source.release.places import zone_of


@pytest.mark.parametrize(
    ("line", "zone", "expected"),
    [
        ("EMBARGOED UNTIL 00:01 HKT, 14 April 2026", None, "2026-04-14T00:01:00+08:00"),
        ("Embargoed until March 3, 2026, 9 a.m.", "America/New_York", "2026-03-03T09:00:00-05:00"),
        ("Sperrfrist: 12. Mai 2026, 10:00 Uhr", None, "2026-05-12T10:00:00"),
        ("EMBARGO: 2026-06-01", None, "2026-06-01"),
        ("報道解禁：2026年4月8日 10時00分", "Asia/Tokyo", "2026-04-08T10:00:00+09:00"),
    ],
)
def test_embargo_forms(line: str, zone: str | None, expected: str) -> None:
    from campaign.source.release.sections import embargo

    assert embargo(line, zone) == expected


def test_embargo_in_a_release_uses_the_dateline_zone() -> None:
    r = parse_release(
        "EMBARGOED UNTIL 9:00 a.m., March 3, 2026\n\nTitle here\n\n"
        "TORONTO, March 3, 2026 (GLOBE NEWSWIRE) -- Acme today opened a store."
    )
    assert r.embargo == "2026-03-03T09:00:00-05:00"
    assert r.title == "Title here"


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("le 16 octobre 2025", "2025-10-16"),
        ("1er mars 2026", "2026-03-01"),
        ("29 de mayo de 2024", "2024-05-29"),
        ("12. Mai 2026", "2026-05-12"),
        ("3. März 2026", "2026-03-03"),
        ("2026年5月12日", "2026-05-12"),
        ("2026年5月12日（火）", "2026-05-12"),
        ("Tuesday, June 30, 2009", "2009-06-30"),
        ("Sept. 3, 2024", "2024-09-03"),
        ("jeudi 2 février 2023", "2023-02-02"),
        ("February 30, 2024", None),
    ],
)
def test_dates_in_many_languages(written: str, iso: str | None) -> None:
    assert iso_date(written) == iso


def test_date_alone() -> None:
    assert date_alone("Thursday, February 2, 2023") == "2023-02-02"
    assert date_alone("On Thursday, February 2, 2023 we met.") is None


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("PRNewswire", "PRNewswire"),
        ("PRNewswire-USNewswire", "PRNewswire"),
        ("PRNewswire-HISPANIC PR WIRE", "PRNewswire"),
        ("美通社", "PRNewswire"),
        ("BUSINESS WIRE", "Business Wire"),
        ("GLOBE NEWSWIRE", "GlobeNewswire"),
        ("Media OutReach Newswire", "Media OutReach"),
        ("ACCESS Newswire", "ACCESS Newswire"),
        ("EINPresswire.com", "EIN Presswire"),
        ("亞太商訊", "ACN Newswire"),
        ("News Direct", "News Direct"),
        ("PR TIMES", "PR TIMES"),
        ("Berlin", None),
    ],
)
def test_newswire_names(source: str, name: str | None) -> None:
    assert newswire(source) == name


@pytest.mark.parametrize(
    ("text", "place", "wire"),
    [
        ("AUSTIN, Texas, Sept. 3, 2024 – /PRNewswire/ – Acme today said.", None, None),
        ("AUSTIN, Texas, Sept. 3, 2024 /PRNewswire/ — Acme today said.", "AUSTIN, Texas", "PRNewswire"),
        ("NEW YORK, March 3, 2026 /PRNewswire-USNewswire/ -- Acme today said.", "NEW YORK", "PRNewswire"),
        ("HONG KONG SAR – Media OutReach Newswire – 25 January 2024 – Acme today said.", "HONG KONG SAR",
         "Media OutReach"),
        ("RALEIGH, NC / ACCESS Newswire / March 3, 2026 / Acme today said.", "RALEIGH, NC",
         "ACCESS Newswire"),
        ("香港, 2020年1月21日 - (亞太商訊) - Acme today said.", "香港", "ACN Newswire"),
        ("DENVER--News Direct--Acme today said.", "DENVER", "News Direct"),
        ("PARIS, le 16 octobre 2025 – Acme today said.", "PARIS", None),
        ("MADRID, 29 de mayo de 2024 /PRNewswire/ -- Acme today said.", "MADRID", "PRNewswire"),
        ("LOS ANGELES, CA – March 3, 2026 – Acme today said.", "LOS ANGELES, CA", None),
        ("París, 3 de marzo de 2026.– Acme today said.", "París", None),
        ("上海，2026年3月3日电 /美通社/ -- Acme today said.", "上海", "PRNewswire"),
        ("東京--(BUSINESS WIRE)--Acme today said.", "東京", "Business Wire"),
        ("New York, NY (March 3, 2026) - Acme today said.", "New York, NY", None),
        ("LOS ANGELES (March 3, 2026) – Acme today said.", "LOS ANGELES", None),
        ("NEW YORK, Jan. 05, 2026 (GLOBE NEWSWIRE) -- Acme today said.", "NEW YORK", "GlobeNewswire"),
    ],
)  # fmt: skip
def test_dateline_variants(text: str, place: str | None, wire: str | None) -> None:
    r = parse_release("Title\n\n" + text)
    if place is None:
        return  # a variant we do not claim; it must still parse
    assert r.dateline is not None
    assert (r.dateline.place, r.dateline.newswire) == (place, wire)
    assert r.lead == "Acme today said."


@pytest.mark.parametrize(
    ("place", "zone"),
    [
        ("HONG KONG SAR", "Asia/Hong_Kong"),
        ("TAI PO, Hong Kong", "Asia/Hong_Kong"),
        ("FRAMINGHAM, Mass.", "America/New_York"),
        ("TORONTO (Ontario)", "America/Toronto"),
        ("香港", "Asia/Hong_Kong"),
        ("東京", "Asia/Tokyo"),
        ("LONDON", "Europe/London"),
        ("香港大埔", "Asia/Hong_Kong"),  # region first, no separator
        ("SPRINGFIELD", None),  # several, in different zones
        ("Nowhereville", None),
        ("UNITED STATES", None),  # a country with several zones and no city
    ],
)
def test_zone_of_place(place: str, zone: str | None) -> None:
    assert zone_of(place) == zone


def test_preamble_with_a_date() -> None:
    r = parse_release(
        "PRESS RELEASE\nFor immediate release: 3 March 2026\n\nGardens open\n\nThe Trust opened gardens."
    )
    assert r.title == "Gardens open"
    assert r.dateline is not None and r.dateline.date == "2026-03-03"


def test_government_chinese_end_and_date_after_it() -> None:
    r = parse_release(
        "政府公布計劃延長\n\n政府今日宣布，試驗計劃將延長三年。\n\n完\n\n2023年2月2日（星期四）\n香港時間15時30分\n"
    )
    assert r.paragraphs == ("政府今日宣布，試驗計劃將延長三年。",)
    assert r.dateline is not None and (r.dateline.date, r.dateline.zone) == ("2023-02-02", "Asia/Hong_Kong")
