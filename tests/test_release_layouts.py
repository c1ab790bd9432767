"""issue 13: releases we wrote ourselves in each newswire layout and language (tests/data/releases/layouts/),
with the fields a marketer needs asserted (the table every layout file has a case in; the audit's layouts are
in tests/test_release_audit.py). Split by concern: datelines, dates, zones and embargoes in
tests/test_release_layouts_dates.py; quotes, headings, figures and damage in
tests/test_release_layouts_body.py; fuzzing, refused files and import weight in
tests/test_release_layouts_robustness.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign.source.release import Image, load_release

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


def test_wire_extras_stay_out_of_the_body() -> None:
    r = load_release(LAYOUTS / "prnewswire-highlights.txt")
    assert r.title is not None and r.title.startswith("Brightkite Launches")  # contacts above it skipped
    assert not any("PRNewsfoto" in p or "View original" in p or "Drones carry" in p for p in r.paragraphs)
    assert r.link is not None and r.link.startswith("https://www.prnewswire.com/news-releases/")


def test_html_page_is_read_as_text() -> None:
    r = load_release(LAYOUTS / "newsroom-page.html")
    assert r.images == (Image("An electric ferry at the wharf", "https://quayside.example/img/ferry.jpg"),)
    assert not any("analytics" in p or "color" in p or "Home" in p for p in r.paragraphs)
