"""Release parsing audit, second round: Portuguese datelines and dates (the Portuguese layouts are in
tests/test_release_audit.py's table), numeric dates with slashes, and ambiguous dateline places settled by
the country, state or region written after them (a bare ambiguous city gets no zone and a notice naming
the zones it could be in)."""

from __future__ import annotations

import pytest

from campaign.source.release import parse_release
from campaign.source.release.dates import iso_date
from campaign.source.release.places import rival_zones, zone_of


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("3 de dezembro de 2026", "2026-12-03"),
        ("3 de Dezembro de 2026", "2026-12-03"),
        ("1º de março de 2026", "2026-03-01"),
        ("15 de fevereiro de 2026", "2026-02-15"),
        ("quinta-feira, 3 de dezembro de 2026", "2026-12-03"),
        ("terça-feira, 1 de setembro de 2026", "2026-09-01"),
        ("3 out 2026", "2026-10-03"),
        ("3 dez 2026", "2026-12-03"),
        ("31 de junho de 2026", None),  # no such day
        # the other languages are unchanged
        ("29 de mayo de 2024", "2024-05-29"),
        ("12. Mai 2026", "2026-05-12"),
        ("le 16 octobre 2025", "2025-10-16"),
    ],
)
def test_portuguese_dates(written: str, iso: str | None) -> None:
    assert iso_date(written) == iso


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Cuiabá, MT, 3/12/2026 - A Acme anunciou hoje.", "2026-12-03"),  # Mato Grosso, Brazil
        ("Helena, MT, 3/12/2026 - A Acme anunciou hoje.", "2026-03-12"),  # Montana
        ("Birmingham, AL, 3/12/2026 - A Acme anunciou hoje.", "2026-03-12"),
    ],
)
def test_a_state_code_tells_which_way_a_slashed_date_reads(text: str, date: str) -> None:
    r = parse_release("Título\n\n" + text)
    assert r.dateline is not None and r.dateline.date == date


@pytest.mark.parametrize(
    ("text", "place", "wire", "date", "zone"),
    [
        ("SÃO PAULO, 3 de dezembro de 2026 /PRNewswire/ -- A Acme anunciou hoje.", "SÃO PAULO", "PRNewswire",
         "2026-12-03", "America/Sao_Paulo"),
        ("LISBOA, 3 de dezembro de 2026 -- A Acme anunciou hoje.", "LISBOA", None, "2026-12-03",
         "Europe/Lisbon"),
        ("Rio de Janeiro, 3/12/2026 - A Acme anunciou hoje.", "Rio de Janeiro", None, "2026-12-03",
         "America/Sao_Paulo"),
        ("Rio de Janeiro, 25/12/2026 - A Acme anunciou hoje.", "Rio de Janeiro", None, "2026-12-25",
         "America/Sao_Paulo"),
        ("SÃO PAULO--(BUSINESS WIRE)--A Acme anunciou hoje.", "SÃO PAULO", "Business Wire", None,
         "America/Sao_Paulo"),
        ("SÃO PAULO--(BUSINESS WIRE)--3 de dezembro de 2026--A Acme anunciou hoje.", "SÃO PAULO",
         "Business Wire", "2026-12-03", "America/Sao_Paulo"),
        ("Porto, Portugal, 3 de dezembro de 2026 – A Acme anunciou hoje.", "Porto, Portugal", None,
         "2026-12-03", "Europe/Lisbon"),
        ("LISBOA, quinta-feira, 3 de dezembro de 2026 -- A Acme anunciou hoje.", "LISBOA", None,
         "2026-12-03", "Europe/Lisbon"),
        # a slashed date is read month first only in a country that writes it so
        ("NEW YORK, 12/3/2026 – A Acme anunciou hoje.", "NEW YORK", None, "2026-12-03", "America/New_York"),
        ("PORTLAND, 12/3/2026 – A Acme anunciou hoje.", "PORTLAND", None, "2026-12-03", None),
        ("LONDON, 12/3/2026 – A Acme anunciou hoje.", "LONDON", None, "2026-03-12", "Europe/London"),
        ("NEW YORK, 12/25/2026 – A Acme anunciou hoje.", "NEW YORK", None, "2026-12-25", "America/New_York"),
        ("LISBOA, 31/2/2026 -- A Acme anunciou hoje.", "LISBOA", None, None, "Europe/Lisbon"),
    ],
)  # fmt: skip
def test_portuguese_and_slashed_datelines(
    text: str, place: str, wire: str | None, date: str | None, zone: str | None
) -> None:
    r = parse_release("Título\n\n" + text)
    assert r.dateline is not None
    found = (r.dateline.place, r.dateline.newswire, r.dateline.date, r.dateline.zone)
    assert found == (place, wire, date, zone)
    assert r.lead == "A Acme anunciou hoje."


def test_a_portuguese_place_and_date_above_the_title() -> None:
    r = parse_release(
        "Comunicado de imprensa\n\nLisboa, 3 de dezembro de 2026\n\nAcme abre loja no Porto\n\n"
        "A Acme abriu hoje uma loja no Porto."
    )
    assert r.title == "Acme abre loja no Porto"
    assert r.dateline is not None and (r.dateline.place, r.dateline.date) == ("Lisboa", "2026-12-03")


@pytest.mark.parametrize(
    ("body", "speaker", "role"),
    [
        ('"Estamos prontos", afirmou Ana Souza, diretora da Acme.', "Ana Souza", "diretora da Acme"),
        ('"Estamos prontos", disse Ana Souza.', "Ana Souza", ""),
        ('Segundo Ana Souza, diretora da Acme: "Estamos prontos."', "Ana Souza", "diretora da Acme"),
    ],
)
def test_portuguese_attributions(body: str, speaker: str, role: str) -> None:
    r = parse_release("Título\n\n" + body)
    assert r.quotes and (r.quotes[0].speaker, r.quotes[0].role) == (speaker, role)


@pytest.mark.parametrize(
    ("place", "zone"),
    [
        ("BARCELONA, Spain", "Europe/Madrid"),
        ("Barcelona, España", "Europe/Madrid"),
        ("BARCELONA (Spain)", "Europe/Madrid"),
        ("Barcelona, Venezuela", "America/Caracas"),
        ("Birmingham, Ala.", "America/Chicago"),
        ("Birmingham, AL", "America/Chicago"),
        ("Birmingham, Alabama", "America/Chicago"),
        ("Birmingham, England", "Europe/London"),
        ("Birmingham, U.K.", "Europe/London"),
        ("PORTLAND, Ore.", "America/Los_Angeles"),
        ("Portland, OR", "America/Los_Angeles"),
        ("PORTLAND, Maine", "America/New_York"),
        ("Portland, ME", "America/New_York"),
        ("Cambridge, Mass.", "America/New_York"),
        ("Cambridge, MA", "America/New_York"),
        ("CAMBRIDGE, England", "Europe/London"),
        ("Cambridge, Ontario", "America/Toronto"),
        ("LONDON, Ont.", "America/Toronto"),
        ("Kansas City, Kan.", "America/Chicago"),
        ("Perth, Australia", "Australia/Perth"),
        ("Perth, Scotland", "Europe/London"),
        ("SÃO PAULO", "America/Sao_Paulo"),
        ("LISBOA", "Europe/Lisbon"),
        # Brazilian state codes, some also US state codes: the city tells which is meant
        ("São Paulo, SP", "America/Sao_Paulo"),
        ("Cuiabá, MT", "America/Cuiaba"),
        ("Helena, MT", "America/Denver"),
        ("Belém, PA", "America/Belem"),
        ("Pittsburgh, PA", "America/New_York"),
        ("Maceió, AL", "America/Maceio"),
        ("Cuiabá, MT, Brasil", "America/Cuiaba"),
        ("AUSTIN, TEXAS, UNITED STATES", "America/Chicago"),
        # bare, the same cities are not guessed
        ("BARCELONA", None),
        ("Birmingham", None),
        ("PORTLAND", None),
        ("CAMBRIDGE", None),
    ],
)
def test_a_country_state_or_region_settles_an_ambiguous_city(place: str, zone: str | None) -> None:
    assert zone_of(place) == zone


def test_rival_zones_only_for_a_place_left_without_a_zone() -> None:
    assert rival_zones("BARCELONA") == ("America/Caracas", "Europe/Madrid")
    assert {"America/Los_Angeles", "America/New_York"} <= set(rival_zones("PORTLAND"))
    assert rival_zones("BARCELONA, Spain") == ()
    assert rival_zones("Nowhereville") == ()


@pytest.mark.parametrize(
    ("dateline", "zone", "says"),
    [
        ("BARCELONA, Spain, Dec. 4, 2026 /PRNewswire/ --", "Europe/Madrid", None),
        ("PORTLAND, Ore.--(BUSINESS WIRE)--", "America/Los_Angeles", None),
        ("BIRMINGHAM, England, 4 December 2026 –", "Europe/London", None),
        ("CAMBRIDGE, Mass., Dec. 4, 2026 (GLOBE NEWSWIRE) --", "America/New_York", None),
        ("Birmingham, AL / ACCESS Newswire / December 4, 2026 /", "America/Chicago", None),
        ("BARCELONA, Dec. 4, 2026 /PRNewswire/ --", None, "cities of that name are in America/Caracas, "
         "Europe/Madrid; write the country or state after it"),
        ("PORTLAND--(BUSINESS WIRE)--", None, "'PORTLAND' has no time zone: cities of that name are in"),
        ("NOWHEREVILLE, Dec. 4, 2026 /PRNewswire/ --", None, "'NOWHEREVILLE' has no known time zone"),
    ],
)  # fmt: skip
def test_a_dateline_place_and_its_zone_or_why_not(dateline: str, zone: str | None, says: str | None) -> None:
    r = parse_release(f"Title\n\n{dateline} Acme today opened a store.")
    assert r.dateline is not None and r.dateline.zone == zone
    assert r.lead == "Acme today opened a store."
    notes = [n.message for n in r.notices if "time zone" in n.message]
    if says is None:
        assert notes == []
    else:
        assert len(notes) == 1 and says in notes[0], notes
