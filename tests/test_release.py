"""Tests of campaign.source.release: the real (damaged) HKSTP release, our fixtures, splitting rules,
failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.errors import ReleaseError
from campaign.source.release import (
    Dateline,
    Figure,
    Organization,
    Quote,
    Release,
    load_release,
    parse_release,
    split_sentences,
)

DATA = Path(__file__).parent / "data" / "releases"
HKSTP = Path(__file__).resolve().parents[1] / "releases" / "hkstp-innovation-mixer-us-2024.txt"


def _phrases(release: Release) -> list[str]:
    return [p for f in release.figures for p in f.phrases]


def _nospace(text: str) -> str:
    return "".join(text.split())


# --------------------------------------------------------------------------------------------------------
# The real release and its damage


@pytest.fixture(scope="module")
def hkstp() -> Release:
    if not HKSTP.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{HKSTP} is missing: shared/ must sit beside the repository")
        pytest.skip(f"{HKSTP} not present")
    return load_release(HKSTP)


def test_hkstp_title_subtitle_dateline(hkstp: Release) -> None:
    first_line = HKSTP.read_text(encoding="utf-8").split("\n", 1)[0]
    assert hkstp.title == first_line
    assert hkstp.subtitle is not None
    assert hkstp.subtitle.startswith("HKSTP met with representatives from the US tech sector")
    assert hkstp.dateline == Dateline(
        place="HONG KONG SAR",
        source="Media OutReach Newswire",
        date="2024-01-25",
        zone="Asia/Hong_Kong",
        newswire="Media OutReach",
    )
    assert hkstp.source == str(HKSTP)


def test_hkstp_lead_is_first_body_sentence_after_dateline(hkstp: Release) -> None:
    assert hkstp.lead.startswith(
        "Hong Kong Science and Technology Parks Corporation (HKSTP) recently embarked on its Innovation Mixer"
    )
    assert hkstp.lead.endswith("showcase the booming opportunities in Asia.")
    assert hkstp.lead == hkstp.sentences[0]
    assert hkstp.paragraphs[0].startswith(hkstp.lead)
    assert not any("Media OutReach" in p for p in hkstp.paragraphs)


def test_hkstp_glued_sentences_become_sentences_and_paragraphs(hkstp: Release) -> None:
    # "ecosystem.The huge", "Asia.Albert Wong said", `beyond."During`, `sector."HKSTP Innovation Mixer"`.
    starts = [p[:40] for p in hkstp.paragraphs]
    for opening in (
        "The huge participant interest",
        "Albert Wong, CEO of HKSTP, said,",
        "During the visits to Stanford University",
        "To engage the Business Association",
        "Collaborations on talent nurturing",
        "The West Coast tour also included",
        "In addition, HKSTP and the Hong Kong",
        '"HKSTP Innovation Mixer" was launched',
    ):
        assert any(s.startswith(opening) for s in starts), opening
    assert any(s.endswith("(I&T) ecosystem.") for s in hkstp.sentences)
    assert any(s.endswith('success in Asia and beyond."') for s in hkstp.sentences)
    assert any(s.endswith("in China and Asia.") for s in hkstp.sentences)
    assert not any(".The " in s or '."During' in s or "Asia.Albert" in s for s in hkstp.sentences)


def test_hkstp_nothing_invented(hkstp: Release) -> None:
    body = " ".join(hkstp.sentences)
    assert "ascended to 9in the UN's" in body
    assert "thatattracted around 150" in body
    # Every non-space character of the body, the About text and the hashtag line comes from the file.
    source = _nospace(HKSTP.read_text(encoding="utf-8"))
    for sentence in hkstp.sentences:
        assert _nospace(sentence) in source


def test_hkstp_no_split_on_abbreviations_or_domains(hkstp: Release) -> None:
    assert any("Dr Matthew Sherburne, to explore" in s for s in hkstp.sentences)
    assert any("UC Berkeley's Mechanical Systems" in s for s in hkstp.sentences)
    assert hkstp.organization is not None
    assert "available at www.hkstp.org." in split_sentences(hkstp.organization.about)[-1]


def test_hkstp_hashtag_line(hkstp: Release) -> None:
    assert hkstp.hashtags == ("#HKSTP", "#InnovationMixer", "#technology", "#talent", "#US", "#siliconvalley")
    assert not any("Hashtag" in p or "#" in p for p in hkstp.paragraphs)
    assert not any("Hashtag" in s for s in hkstp.sentences)
    assert (
        hkstp.sentences[-1]
        == "HKSTP delegations visited Singapore and Malaysia last year and completed its US tour in January "
        "this year."
    )


def test_hkstp_quote(hkstp: Release) -> None:
    wong = [q for q in hkstp.quotes if q.speaker == "Albert Wong"]
    assert len(wong) == 1
    assert wong[0].role == "CEO of HKSTP"
    assert wong[0].text.startswith("The sheer talent and technology expertise on the US West Coast")
    assert wong[0].text.endswith("the ideal launchpad for success in Asia and beyond.")
    # "HKSTP Innovation Mixer" is a name in quotation marks, not a quotation: nobody is quoted.
    assert len(hkstp.quotes) == 1


def test_hkstp_urls(hkstp: Release) -> None:
    assert "https://www.hkstp.org" in hkstp.urls
    assert all(u.startswith("https://") for u in hkstp.urls)


def test_hkstp_figures(hkstp: Release) -> None:
    phrases = _phrases(hkstp)
    for required in ("over 40", "over 250", "around 150", "over 50"):
        assert required in phrases
    for boilerplate in (
        "over 10",
        "more than 13,000",
        "around 1,700",
        "24 countries",
        "31,000 square meters",
    ):
        assert boilerplate in phrases
    for figure in hkstp.figures:
        assert all(p in figure.sentence for p in figure.phrases)
    both = next(f for f in hkstp.figures if "over 40" in f.phrases)
    assert both.phrases == ("over 40", "over 250")
    # Years, dates and the damaged "9in" are not figures.
    assert not any(any(x in p for x in ("2023", "2001", "2024", "16", "19", "9in")) for p in phrases)
    assert phrases == [
        "over 40", "over 250", "over 50", "around 150",
        "over 10", "more than 13,000", "around 1,700", "24 countries", "31,000 square meters",
    ]  # fmt: skip


def test_hkstp_organization(hkstp: Release) -> None:
    org = hkstp.organization
    assert org is not None
    assert org.name == "Hong Kong Science and Technology Parks Corporation"
    assert org.about.startswith(
        "Hong Kong Science and Technology Parks Corporation (HKSTP) was established in 2001 with a mission"
    )
    assert org.about.endswith("More information about HKSTP is available at www.hkstp.org.")
    assert len(org.about.split("\n\n")) == 6
    # The boilerplate is not part of the body.
    assert not any("was established in 2001" in s for s in hkstp.sentences)
    assert not any(p == org.name for p in hkstp.paragraphs)


def test_to_dict_is_json_ready_with_stable_keys(hkstp: Release) -> None:
    d = hkstp.to_dict()
    assert list(d) == [
        "source", "title", "subtitle", "dateline", "lead", "paragraphs", "sentences",
        "quotes", "hashtags", "urls", "figures", "organization", "language", "link", "contacts",
        "embargo", "images", "notices",
    ]  # fmt: skip
    assert d["dateline"] == {
        "place": "HONG KONG SAR",
        "source": "Media OutReach Newswire",
        "date": "2024-01-25",
        "zone": "Asia/Hong_Kong",
        "newswire": "Media OutReach",
    }
    assert d["quotes"][0] == {"speaker": "Albert Wong", "role": "CEO of HKSTP", "text": hkstp.quotes[0].text}
    assert d["figures"][0] == {"sentence": hkstp.figures[0].sentence, "phrases": ["over 40", "over 250"]}
    assert d["organization"]["name"] == "Hong Kong Science and Technology Parks Corporation"
    assert json.loads(json.dumps(d)) == d  # only lists, dicts, str and None


# --------------------------------------------------------------------------------------------------------
# Markdown releases


def test_markdown_prnewswire_release() -> None:
    r = load_release(DATA / "acme-launch-prnewswire.md")
    assert r.title == "Acme Robotics Unveils Atlas Warehouse Picker, Cutting Order Times by 35%"
    assert (
        r.subtitle
        == "New autonomous picker handles over 1,200 items an hour and ships to U.S. customers in March"
    )
    assert r.dateline == Dateline(
        "SAN FRANCISCO", "PRNewswire", "2024-01-25", "America/Los_Angeles", "PRNewswire"
    )
    assert r.lead == (
        "Acme Robotics Inc. today announced Atlas, an autonomous warehouse picker that cuts average "
        "order-fulfilment time by 35% in early trials."
    )
    # Bullets ("- " and "* ") are paragraphs of their own, without their markers.
    assert "Picks up to 1,200 items per hour, roughly 3 times a manual picker" in r.paragraphs
    assert "Runs for 20 hours on a single charge" in r.paragraphs
    # Links keep their text in the prose and their target in urls.
    assert any("Learn more at acme-robotics.example/atlas or visit" in p for p in r.paragraphs)
    assert r.urls == (
        "https://acme-robotics.example/atlas",
        "https://www.acme-robotics.example/press",
        "https://acme-robotics.example",
    )
    assert r.hashtags == ("#AcmeAtlas", "#Robotics")  # "#acmeatlas" is a duplicate
    # "###" ends the body; the About heading names the organisation; contacts are left out.
    assert r.organization == Organization(
        name="Acme Robotics Inc.",
        about="Acme Robotics Inc. builds autonomous machines for logistics. Founded in 2016, the company "
        "employs over 300 people in 4 countries. See https://acme-robotics.example for details.",
        url="https://acme-robotics.example",
    )
    assert not any("builds autonomous machines" in s or "Sam Lee" in s for s in r.sentences)
    assert (
        "The system was tested for 3.5 months at two sites run by Northwind Logistics Ltd. in Oakland "
        "and Reno." in (r.sentences)
    )


def test_markdown_quotes_speaker_after_and_continuation() -> None:
    r = load_release(DATA / "acme-launch-prnewswire.md")
    jane = "Jane Doe", "Chief Technology Officer of Acme Robotics"
    assert r.quotes == (
        Quote(
            *jane, "Warehouses have been asking for a picker that learns a new catalogue in days, not months"
        ),
        Quote(*jane, "Atlas does that today, and it fits in the aisles our customers already have."),
        Quote("Tom Alvarez", "Northwind CEO", "We saw the difference in the first week"),
    )


def test_markdown_figures() -> None:
    r = load_release(DATA / "acme-launch-prnewswire.md")
    assert _phrases(r) == [
        "35%", "3.5 months", "more than 2 million", "up to 1,200", "roughly 3 times", "42 percent",
        "18 product categories", "20 hours", "US$150,000", "over 300", "4 countries",
    ]  # fmt: skip
    assert Figure("Runs for 20 hours on a single charge", ("20 hours",)) in r.figures


def test_markdown_bold_dateline_italic_subtitle_about_line() -> None:
    r = load_release(DATA / "acme-bold-dateline.md")
    assert r.title == "Acme Health Opens Research Centre in Singapore"  # "FOR IMMEDIATE RELEASE" skipped
    assert r.subtitle == "The S$20 million facility will host around 80 scientists by 2026"
    assert r.dateline == Dateline("SINGAPORE", "", "2024-03-04", "Asia/Singapore")
    assert (
        r.lead
        == "Acme Health today opened a research centre in Singapore's one-north district, its first in Asia."
    )
    assert r.paragraphs[3:6] == ("early cancer detection", "diabetes care", "digital pathology")
    assert any("(NUS) and A*STAR on three" in p for p in r.paragraphs)  # a lone '*' is not emphasis
    assert r.quotes == (
        Quote(
            "Jane Doe",
            "CTO of Acme Health",
            "Singapore gives us access to exceptional talent and to partners across the region. "
            "We expect our first joint projects to start this summer.",
        ),
        Quote(
            "Lim Wei Ling",  # the honorific "Prof." is not part of the name
            "Dean of Medicine at NUS",
            "This partnership brings industry and academia under one roof.",
        ),
    )
    assert r.urls == ("https://news.acme-health.example/sg-centre",)  # http -> https, host lower-cased
    assert r.organization is not None
    assert r.organization.name == "Acme Health"
    assert "Priya" not in r.organization.about and r.organization.about.endswith("under the symbol ACMH.")
    assert _phrases(r) == ["5,000 square metres", "more than 40"]


# --------------------------------------------------------------------------------------------------------
# Chinese


def test_chinese_release() -> None:
    r = load_release(DATA / "hkstp-zh.txt")
    assert r.title == "香港科技園公司率團訪問美國西岸 與NVIDIA、Google及Linkedin探討合作機遇"
    assert r.subtitle is not None and r.subtitle.startswith("科技園公司「創新匯聚」美國之旅")
    assert r.dateline == Dateline(
        "香港", "Media OutReach Newswire", "2024-01-25", "Asia/Hong_Kong", "Media OutReach"
    )
    assert (
        r.lead == "香港科技園公司（科技園公司）早前展開「創新匯聚」美國西岸之旅，"
        "連繫中美兩地創新社群，並展示亞洲的蓬勃機遇。"
    )
    # 。！？ end sentences; a closing 」 stays with its sentence.
    assert (
        "代表團與超過40家科技企業、創投基金、加速器、學術及研發機構會面，另有逾250名年輕創業家及人才出席活動！"
        in r.sentences
    )
    assert "科技園公司與香港經濟貿易辦事處合辦的晚宴吸引約150名科技專業人士出席？" in r.sentences
    assert "香港正步入創科黃金時代，是在亞洲取得成功的理想起步點。」" in r.sentences
    assert r.quotes == (
        Quote(
            "黃克強",
            "香港科技園公司行政總裁",
            "美國西岸的人才和科技實力首屈一指。香港正步入創科黃金時代，是在亞洲取得成功的理想起步點。",
        ),
    )
    assert r.hashtags == ("#創科", "#香港科技園", "#InnovationMixer")
    assert r.urls == ("https://www.hkstp.org",)
    assert r.organization is not None and r.organization.name == "香港科技園公司"  # from "關於香港科技園公司"
    assert not any("2001年" in s for s in r.sentences)  # "- 完 -" ended the body
    assert _phrases(r) == ["超過40家", "逾250名", "約150名", "逾10家", "超過13,000名", "約1,700家", "24個"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "標題\n\n（香港，2024年1月25日）香港科技園公司今日宣布。",
            Dateline("香港", "", "2024-01-25", "Asia/Hong_Kong"),
        ),
        (
            "標題\n\n（2024年1月25日，香港）香港科技園公司今日宣布。",
            Dateline("香港", "", "2024-01-25", "Asia/Hong_Kong"),
        ),
        (
            "標題\n\n香港，2024年1月25日 — 香港科技園公司今日宣布。",
            Dateline("香港", "", "2024-01-25", "Asia/Hong_Kong"),
        ),
        (
            "標題\n\n【香港 – 2024年1月25日】香港科技園公司今日宣布。",
            Dateline("香港", "", "2024-01-25", "Asia/Hong_Kong"),
        ),
        (
            "Title\n\nLONDON, 25 January 2024 (GLOBE NEWSWIRE) -- Acme today said.",
            Dateline("LONDON", "GLOBE NEWSWIRE", "2024-01-25", "Europe/London", "GlobeNewswire"),
        ),
        (
            "Title\n\nSAN FRANCISCO--(BUSINESS WIRE)--Acme today said.",
            Dateline("SAN FRANCISCO", "BUSINESS WIRE", None, "America/Los_Angeles", "Business Wire"),
        ),
        (
            "Title\n\nBERLIN, Thursday, February 29, 2024 – Acme today said.",
            Dateline("BERLIN", "", "2024-02-29", "Europe/Berlin"),
        ),
        (
            "Title\n\nAUSTIN, Texas, Sept. 3, 2024 /PRNewswire/ -- Acme today said.",
            Dateline("AUSTIN, Texas", "PRNewswire", "2024-09-03", "America/Chicago", "PRNewswire"),
        ),
        (
            "Title\n\nPARIS, February 30, 2024 - Acme today said.",
            Dateline("PARIS", "", None, "Europe/Paris"),
        ),  # no such day
        ("Title\n\nAcme today said, on January 25, 2024, that it grew.", None),
    ],
)
def test_dateline_forms(text: str, expected: Dateline | None) -> None:
    r = parse_release(text)
    assert r.dateline == expected
    assert r.lead.startswith(("Acme today said", "香港科技園公司今日宣布"))


# --------------------------------------------------------------------------------------------------------
# CRLF, BOM, "- ENDS -"


def test_crlf_bom_and_ends_marker() -> None:
    path = DATA / "globex-crlf-bom.txt"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # guard: the fixture really is CRLF + BOM
    r = load_release(path)
    assert r.title == "Globex Opens Second Data Centre in Dublin"
    assert r.dateline == Dateline("DUBLIN", "", "2024-02-12", "Europe/Dublin")
    assert (
        r.lead == "Globex Ltd. has opened its second data centre in Dublin, adding 12 megawatts of capacity."
    )
    assert r.quotes == (
        Quote(
            "Aoife Murphy",
            "Managing Director of Globex Ireland",
            "Demand from customers across Europe keeps growing",
        ),
    )
    assert (
        r.sentences[-1] == "Visit https://globex.example/dublin for a virtual tour."
    )  # "- ENDS -" ends the body
    assert r.organization == Organization(
        "Globex", "Globex operates 14 data centres in Europe and North America."
    )
    assert r.urls == ("https://globex.example/dublin",)
    dumped = json.dumps(r.to_dict(), ensure_ascii=False)
    assert "\\r" not in dumped and "\ufeff" not in dumped
    # contacts are kept apart, never in the text fields that posts use
    assert any("press@" in c for c in r.contacts)
    assert "press@" not in json.dumps([r.paragraphs, r.sentences, r.organization.about, r.urls])
    # The same text with LF only, or with lone CR line ends, parses the same.
    text = raw.decode("utf-8-sig")
    assert parse_release(text.replace("\r\n", "\n"), source=str(path)) == r
    assert parse_release(text.replace("\r\n", "\r"), source=str(path)) == r


# --------------------------------------------------------------------------------------------------------
# Failures: one line, naming the file


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("empty.txt", "release is empty"),
        ("blank.txt", "only white space"),
        ("binary.bin", "binary file"),
        ("latin1.txt", "not UTF-8"),
        ("does-not-exist.txt", "not found"),
    ],
)
def test_load_failures(name: str, says: str) -> None:
    path = DATA / name
    with pytest.raises(ReleaseError) as info:
        load_release(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert says in message
    assert "\n" not in message


def test_load_directory_and_utf16(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="is a directory"):
        load_release(tmp_path)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("Title\n\nBody.", encoding="utf-16")
    with pytest.raises(ReleaseError, match=r"utf16\.txt: release is UTF-16"):
        load_release(utf16)


@pytest.mark.parametrize(
    "text",
    [
        "- a list item first\n- another\n",
        "###\n\nAcme said so.",
        "x" * 301 + "\n\nBody.",
        "FOR IMMEDIATE RELEASE\n",
        "12345 67890\n\nBody.",
        "https://acme.example/news\n\nBody.",
    ],
)
def test_no_title_is_a_notice_not_an_error(text: str) -> None:
    # issue 13: a release with text never fails to parse (this replaces the former "no title" errors)
    r = parse_release(text)
    assert r.title is None
    assert any(n.kind == "missing" and "no title" in n.message for n in r.notices)


def test_release_starting_with_its_dateline_has_no_title_but_parses() -> None:
    r = load_release(DATA / "no-title.txt")
    assert r.title is None
    assert r.dateline is not None and r.dateline.date == "2024-01-25"
    assert r.lead.startswith("A release that starts with its dateline")


def test_parse_release_names_its_source() -> None:
    with pytest.raises(ReleaseError, match=r"^press\.md: release is empty$"):
        parse_release("\ufeff", source="press.md")
    with pytest.raises(ReleaseError, match=r"^press\.md: binary"):
        parse_release("Title\x00", source="press.md")


# --------------------------------------------------------------------------------------------------------
# Sentence splitting rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Jane Doe met Prof. Lee. They talked.", ["Dr. Jane Doe met Prof. Lee.", "They talked."]),
        (
            "Mr. and Ms. Smith arrived. St. Louis is next.",
            ["Mr. and Ms. Smith arrived.", "St. Louis is next."],
        ),
        (
            "The U.S. Department of Energy agreed. It said so.",
            ["The U.S. Department of Energy agreed.", "It said so."],
        ),
        ("It moved to the U.S. The staff followed.", ["It moved to the U.S.", "The staff followed."]),
        ("It ranked No. 5 in Asia. Good.", ["It ranked No. 5 in Asia.", "Good."]),
        ("Fruit, e.g. apples, i.e. food. Done.", ["Fruit, e.g. apples, i.e. food.", "Done."]),
        (
            "Acme Inc. and Globex Ltd. signed. Acme Co. Ltd. agreed.",
            ["Acme Inc. and Globex Ltd. signed.", "Acme Co. Ltd. agreed."],
        ),
        ("We joined Acme Inc. The team grew.", ["We joined Acme Inc.", "The team grew."]),
        ("Revenue rose 3.5 percent. Costs fell.", ["Revenue rose 3.5 percent.", "Costs fell."]),
        ("Visit www.hkstp.org. More soon.", ["Visit www.hkstp.org.", "More soon."]),
        (
            "Visit www.hkstp.org or https://Acme.Example/Path.Html today.",
            ["Visit www.hkstp.org or https://Acme.Example/Path.Html today."],
        ),
        ("UC Berkeley's lab opened. It is new.", ["UC Berkeley's lab opened.", "It is new."]),
        ("John F. Kennedy spoke.", ["John F. Kennedy spoke."]),
        ("Why? Because! Yes.", ["Why?", "Because!", "Yes."]),
        ("Wait... What happened?", ["Wait...", "What happened?"]),
        ("It costs approx. five dollars.", ["It costs approx. five dollars."]),
        ("Node.js and ASP.NET work. See e.g.The Guide.", ["Node.js and ASP.NET work.", "See e.g.The Guide."]),
        ("A line\nwrapped here. Next.", ["A line wrapped here.", "Next."]),
        ("No full stop\n\nNew paragraph", ["No full stop", "New paragraph"]),
        # Glued sentences.
        ("the ecosystem.The huge interest", ["the ecosystem.", "The huge interest"]),
        ('said, "Go global."During the visit', ['said, "Go global."', "During the visit"]),
        (
            'the sector."HKSTP Mixer" was launched',
            ["the sector.", '"HKSTP Mixer" was launched'],
        ),
        ("in 2023.Later that year", ["in 2023.", "Later that year"]),
        ("a lab (BASES).To engage", ["a lab (BASES).", "To engage"]),
        # Chinese.
        ("今天天氣很好。我們出去玩！你呢？好的", ["今天天氣很好。", "我們出去玩！", "你呢？", "好的"]),
        ("他說：「很好。」然後離開。", ["他說：「很好。」", "然後離開。"]),
        (
            "科技\n園公司成立。",
            ["科技園公司成立。"],
        ),  # a wrapped line inside Chinese text joins without a space
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


_TRICKY = st.sampled_from(
    [
        "Dr", "Dr.", "U.S.", "e.g.", "Inc.", "The", "the", "www.hkstp.org", "3.5", "2023", ". ", ".",
        "!", "?", "...", "…", '"', "“", "”", "「", "」", "。", "！", "？", "(", ")",
        " ", "\n", "\n\n", "\r\n", "\t", "\u3000", "\xa0", "香港", "Acme", "said,", "#tag",
        "https://a.example/x.", "a", "B", "9in",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(_TRICKY, max_size=40).map("".join)))
def test_split_sentences_never_loses_text(text: str) -> None:
    sentences = split_sentences(text)
    assert _nospace("".join(sentences)) == _nospace(text)
    for s in sentences:
        assert s and s == s.strip()


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.lists(_TRICKY, max_size=60).map("".join)))
def test_parse_release_never_fails_other_than_release_error(text: str) -> None:
    try:
        r = parse_release(text)
    except ReleaseError as exc:
        assert "\n" not in str(exc)
        # issue 13: only empty, white-space-only or binary text is an error
        assert not text.lstrip("\ufeff").strip() or "\x00" in text
        return
    assert r.title is None or r.title
    json.dumps(r.to_dict())
    for figure in r.figures:
        assert all(p in figure.sentence for p in figure.phrases)


# --------------------------------------------------------------------------------------------------------
# Hashtags, URLs, quotes and figures in small cases


def test_body_ends_at_contacts_heading_but_not_at_prose() -> None:
    r = parse_release(
        "Title\n\nAcme grew.\n\nContact lenses maker Lensco joined too.\n\n"
        "Media contacts:\nJo, jo@acme.example"
    )
    assert r.sentences == ("Acme grew.", "Contact lenses maker Lensco joined too.")
    r = parse_release("Title\n\nAcme grew.\n\nContact\n\nJo Smith")
    assert r.sentences == ("Acme grew.",)


def test_hashtags_dedupe_case_insensitive_and_not_fragments() -> None:
    r = parse_release(
        "Title\n\nWe love #AI and #ai, also #Ai. C# and #1 and &#8217; and https://a.example/#frag "
        "are not tags. #創科"
    )
    assert r.hashtags == ("#AI", "#創科")


def test_url_normalisation() -> None:
    r = parse_release(
        "Title\n\nSee http://Example.COM/Path?q=1. Or (see www.acme.example). "
        "Or https://en.wikipedia.org/wiki/Acme_(company), and write to press@acme.example."
    )
    assert r.urls == (
        "https://example.com/Path?q=1",
        "https://www.acme.example",
        "https://en.wikipedia.org/wiki/Acme_(company)",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '"We grew fast," said Jane Doe, CTO of Acme Inc.',
            Quote("Jane Doe", "CTO of Acme Inc.", "We grew fast"),
        ),
        ("Jane Doe, CTO of Acme, said: “We grew fast.”", Quote("Jane Doe", "CTO of Acme", "We grew fast.")),
        ('"We grew fast," Jane Doe, CTO of Acme, said.', Quote("Jane Doe", "CTO of Acme", "We grew fast")),
        ("“We grew fast,” said Acme CEO John Smith.", Quote("John Smith", "Acme CEO", "We grew fast")),
        ('At the event, Jane Doe said: "We grew fast."', Quote("Jane Doe", "", "We grew fast.")),
        (
            'According to Jane Doe, CTO of Acme, "we grew fast."',
            Quote("Jane Doe", "CTO of Acme", "we grew fast."),
        ),
        ("「我們增長迅速。」陳大文說。", Quote("陳大文", "", "我們增長迅速。")),
        ('"We grew fast." Jane Doe, CTO of Acme, said.', Quote("Jane Doe", "CTO of Acme", "We grew fast.")),
        ('"We grew fast," he said.', None),  # no name: nothing is invented
        ('The "Atlas" picker launched today.', None),  # a name in quotation marks is not a quotation
    ],
)
def test_quotes(body: str, expected: Quote | None) -> None:
    quotes = parse_release("Title\n\n" + body).quotes
    assert quotes == (() if expected is None else (expected,))


@pytest.mark.parametrize(
    ("sentence", "phrases"),
    [
        ("It was launched in 2023 and ran from 16 to 19 January.", ()),
        ("The event on January 25, 2024 drew nearly 1,000 people.", ("nearly 1,000",)),
        ("Phase 2 trials enrolled 120 patients in 5 cities.", ("120 patients", "5 cities")),
        (
            "Sales rose 12% to HK$3.5 billion, about 3 times the target.",
            ("12%", "HK$3.5 billion", "about 3 times"),
        ),
        ("It runs 24/7 on 5G and COVID-19 tests at 9:00 each day.", ()),
    ],
)
def test_figures(sentence: str, phrases: tuple[str, ...]) -> None:
    r = parse_release("Title\n\n" + sentence)
    assert _phrases(r) == list(phrases)


def test_import_is_light() -> None:
    code = (
        "import sys, campaign.source.release; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'sqlmodel', 'httpx', 'jinja2', 'pydantic', 'apscheduler', 'yaml', 'click'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
