"""Release parsing audit: the rules behind the layouts of tests/test_release_audit.py, one concept per test
(datelines, sentences, figures, quotes, sections, inline HTML, `init` refusals)."""

from __future__ import annotations

import pytest

from tests import test_release_layouts as layouts


@pytest.mark.parametrize(
    ("text", "place", "wire", "date"),
    [
        ("BOSTON--(BUSINESS WIRE)--Dec 4, 2026--Acme today", "BOSTON", "Business Wire", "2026-12-04"),
        ("BOSTON--(BUSINESS WIRE)--December 4, 2026-- Acme today", "BOSTON", "Business Wire", "2026-12-04"),
        ("BOSTON--(BUSINESS WIRE)--Acme today", "BOSTON", "Business Wire", None),
        ("Berlin (ots) - Die Firma", "Berlin", "news aktuell", None),
        ("Wien (APA-OTS) - Die Firma", "Wien", "APA-OTS", None),
        ("Frankfurt (dpa-AFX) - Die Firma", "Frankfurt", "dpa-AFX", None),
        ("Den Haag (ANP) - Het bedrijf", "Den Haag", "ANP", None),
    ],
)
def test_wire_datelines(text: str, place: str, wire: str, date: str | None) -> None:
    from campaign.source.release.datelines import dateline

    found = dateline(text)
    assert found is not None
    dl, rest = found
    assert (dl.place, dl.newswire, dl.date) == (place, wire, date)
    assert rest.startswith(("Acme", "Die", "Het"))


@pytest.mark.parametrize(
    "text",
    [
        "Quillmark Software Inc. (TSX: QMK), a maker of accounting software, today released Ledger 5.",
        "Harborlight Ltd. (HKEX: 9999) today announced results.",
        "Acme Corp. (NASDAQ: ACME) and Globex Co. (NYSE: GBX) today announced a merger.",
    ],
)
def test_a_ticker_after_a_company_suffix_does_not_end_the_sentence(text: str) -> None:
    from campaign.text.sentences import split_sentences

    assert split_sentences(text) == [text]


@pytest.mark.parametrize(
    ("sentence", "phrase"),
    [
        ("Das Land Berlin fördert das Vorhaben mit €2,5 Mio.", "€2,5 Mio."),
        ("Der Umsatz stieg auf 3,2 Milliarden Euro.", "3,2 Milliarden Euro"),
        ("La inversión es de 3,2 millones de euros.", "3,2 millones de euros"),
        ("Le chiffre d'affaires atteint 1,5 milliard d'euros.", "1,5 milliard d'euros"),
        ("Ledger 5 costs CA$29 per month.", "CA$29"),
        ("The fund holds AU$40 million.", "AU$40 million"),
        ("公司今日宣布投資港幣5億元興建倉庫。", "港幣5億元"),
        ("项目总投资人民币3000万元。", "人民币3000万元"),
        ("新工場に120億円を投資する。", "120億円"),
    ],
)
def test_currency_and_decimal_comma_figures(sentence: str, phrase: str) -> None:
    from campaign.source.release.figures import figures

    found = figures([sentence])
    assert found and phrase in found[0].phrases, found


def test_a_decimal_comma_without_a_scale_word_is_not_a_figure() -> None:
    from campaign.source.release.figures import figures

    assert figures(["Steps 1,2 and 3 follow."]) == []


def test_about_heading_without_a_blank_line_ends_the_body() -> None:
    from campaign.source.release import parse_release

    r = parse_release(
        "Acme opens a lab\n\nBOSTON, March 3, 2026 -- Acme opened a lab today.\n\n"
        "About Acme\nAcme Robotics builds arms. Visit https://acme.example.\n"
    )
    assert r.paragraphs == ("Acme opened a lab today.",)
    assert r.organization is not None and r.organization.name == "Acme"
    assert r.organization.url == "https://acme.example"


def test_a_wrapped_sentence_starting_with_about_stays_prose() -> None:
    from campaign.source.release import parse_release

    r = parse_release(
        "Acme opens a lab\n\nBOSTON, March 3, 2026 -- Acme opened a lab today.\n\n"
        "About 250 People attended\nthe opening, the company said.\n"
    )
    assert r.paragraphs[-1] == "About 250 People attended the opening, the company said."


@pytest.mark.parametrize(
    ("head", "place", "date"),
    [
        ("Paris, le 4 décembre 2026", "Paris", "2026-12-04"),
        ("Madrid, 4 de diciembre de 2026", "Madrid", "2026-12-04"),
        ("BERLIN, 4. Dezember 2026", "BERLIN", "2026-12-04"),
    ],
)
def test_place_and_date_above_the_title(head: str, place: str, date: str) -> None:
    from campaign.source.release import parse_release

    text = f"Communiqué de presse\n\n{head}\n\nAcme ouvre un laboratoire\n\nAcme a ouvert un labo.\n"
    r = parse_release(text)
    assert r.title == "Acme ouvre un laboratoire"
    assert r.dateline is not None and (r.dateline.place, r.dateline.date) == (place, date)
    assert r.paragraphs == ("Acme a ouvert un labo.",)


def test_a_wire_dateline_alone_is_not_above_the_title() -> None:
    from campaign.source.release import parse_release

    r = parse_release("NEW YORK, March 3, 2026 /PRNewswire/ --\n\nAcme opened a lab today in Brooklyn.\n")
    assert r.title is None and r.dateline is not None and r.dateline.newswire == "PRNewswire"


def test_markdown_block_quote_marks_stay_out_of_the_text() -> None:
    from campaign.source.release import load_release

    r = load_release(layouts.LAYOUTS / "globenewswire-markdown.md")
    assert r.paragraphs[1].startswith('"Accountants told us')
    assert not any(">" in s for s in r.sentences)


def test_many_block_quote_marks_read_in_linear_time() -> None:
    import time

    from campaign.source.release import parse_release

    t0 = time.perf_counter()
    r = parse_release("Title\n\n" + "> " * 100_000 + "text\n" + ">   " * 50_000 + "\n")
    assert time.perf_counter() - t0 < 5  # bounds a hang only
    assert r.title == "Title"


def test_forward_looking_statements_before_about_stay_out_of_the_body() -> None:
    from campaign.source.release import load_release

    r = load_release(layouts.LAYOUTS / "prnewswire-fls-before-about.txt")
    body = " ".join(r.paragraphs)
    assert "forward-looking" not in body.lower() and "Cautionary" not in body
    assert all("GWh" not in p and "25%" not in p for f in r.figures for p in f.phrases)
    assert [q.speaker for q in r.quotes] == ["Rafael Ibarra"]
    assert r.organization is not None and "SOURCE" not in r.organization.about
    assert r.embargo == "2026-12-04T08:00:00-05:00"


@pytest.mark.parametrize(
    "line",
    [
        "Cautionary Note Regarding Forward-Looking Statements",
        "Special Note About Forward-Looking Statements",
        "Forward-Looking Information",
        'This press release contains "forward-looking statements" within the meaning of the Act.',
        "This release contains forward-looking statements, including statements about trials.",
        "SOURCE Cobaltline Energy Corp.",
    ],
)
def test_disclaimer_and_source_lines_end_the_body(line: str) -> None:
    from campaign.source.release.sections import is_stop

    assert is_stop(line)


@pytest.mark.parametrize(
    "line",
    ["Source code for the tool is on GitHub.", "Forward-looking teams use Acme daily."],
)
def test_prose_is_not_a_stop(line: str) -> None:
    from campaign.source.release.sections import is_stop

    assert not is_stop(line)


def test_a_japanese_sentence_announcing_the_next_quotation_names_its_speaker() -> None:
    from campaign.source.release.quotes import quotes

    announced = "広報部長の山田花子は以下のようにコメントしています。"
    found = quotes([announced + "「新しい工場は地域の雇用を生みます。」"])
    assert [(q.speaker, q.role) for q in found] == [("山田花子", "広報部長")]
    assert found[0].text == "新しい工場は地域の雇用を生みます。"
    assert quotes(["工場は来年稼働します。「新しい工場は地域の雇用を生みます。」"]) == []


@pytest.mark.parametrize(
    ("paragraph", "speaker", "role"),
    [
        ("Selon Mathilde Brionne, directrice : « Le métier recrute. »", "Mathilde Brionne", "directrice"),
        ("D'après Paul Girard : « Le métier recrute. »", "Paul Girard", ""),
        ("Según Lucía Ortega, directora: «El agua es un derecho.»", "Lucía Ortega", "directora"),
        ("Laut Katrin Vogel, Geschäftsführerin: „Das Rad gewinnt.“", "Katrin Vogel", "Geschäftsführerin"),
    ],
)
def test_selon_segun_laut_attributions(paragraph: str, speaker: str, role: str) -> None:
    from campaign.source.release.quotes import quotes

    found = quotes([paragraph])
    assert [(q.speaker, q.role) for q in found] == [(speaker, role)]


@pytest.mark.parametrize(
    "heading", ["À propos des Ateliers Brionne", "À PROPOS DU GROUPE X", "A propos de Yuzu"]
)
def test_french_about_headings_with_des_and_du(heading: str) -> None:
    from campaign.source.release.sections import about_name

    assert about_name(heading) is not None


@pytest.mark.parametrize(
    ("paragraph", "speaker", "role"),
    [
        (
            'Fenwick Rail\'s managing director, Isla McAllister, said: "Hydrogen works."',
            "Isla McAllister",
            "Fenwick Rail's managing director",
        ),
        ('Commenting on the launch, Jane Doe said: "It works."', "Jane Doe", ""),
        ('Acme\'s CEO, Jane Doe, added: "It works."', "Jane Doe", "Acme's CEO"),
    ],
)
def test_a_role_written_before_the_name(paragraph: str, speaker: str, role: str) -> None:
    from campaign.source.release.quotes import quotes

    assert [(q.speaker, q.role) for q in quotes([paragraph])] == [(speaker, role)]


def test_embargo_subtitle_and_notes_to_editors() -> None:
    from campaign.source.release import load_release

    r = load_release(layouts.LAYOUTS / "embargo-edinburgh.md")
    assert r.embargo == "2026-12-04T00:01:00+00:00"
    assert r.subtitle == "Two trains will carry passengers between Edinburgh and Tweedbank for 12 months"
    assert not any("Photos are available" in p for p in r.paragraphs)


@pytest.mark.parametrize(
    "line",
    [
        "聯絡：", "联络人：王静", "聯絡人：李嘉欣", "查詢：", "如有查詢，請聯絡：", "Contacts presse :",
        "Relations presse :", "Kontakt für Medien:", "Medienanfragen:", "Contacto con medios:",
    ],
)  # fmt: skip
def test_more_contact_headings(line: str) -> None:
    from campaign.source.release.sections import is_contact

    assert is_contact(line)


@pytest.mark.parametrize(
    "line", ["聯絡中小企的平台已經推出。", "联络人员将于明日抵达。", "Relationsmanagement ist wichtig."]
)
def test_prose_that_starts_like_a_contact_heading_is_prose(line: str) -> None:
    from campaign.source.release.sections import is_contact

    assert not is_contact(line)


def test_a_chinese_contact_block_stays_out_of_the_body() -> None:
    from campaign.source.release import parse_release

    r = parse_release(
        "云帆科技发布新系统\n\n深圳2026年12月4日 /美通社/ -- 云帆科技今日发布新系统。\n\n"
        "联络人：王静\n邮箱：pr@yunfan-tech.example\n"
    )
    assert r.paragraphs == ("云帆科技今日发布新系统。",)
    assert r.contacts == ("联络人：王静", "邮箱：pr@yunfan-tech.example")


@pytest.mark.parametrize(
    ("line", "zone", "expected"),
    [
        ("Sperrfrist: 04.12.2026, 10:00 Uhr", "Europe/Berlin", "2026-12-04T10:00:00+01:00"),
        ("Sperrfrist: 04.12.2026", None, "2026-12-04"),
        ("EMBARGOED UNTIL 12:01 A.M. ET, DEC. 4, 2026", None, "2026-12-04T00:01:00-05:00"),
        ("EMBARGOED UNTIL 9:00 A.M. ET, JUNE 4, 2026", None, "2026-06-04T09:00:00-04:00"),
        ("Embargoed until 6 a.m. PT, December 4, 2026", "Asia/Tokyo", "2026-12-04T06:00:00-08:00"),
    ],
)
def test_numeric_german_dates_and_us_zone_names_in_embargo_lines(
    line: str, zone: str | None, expected: str
) -> None:
    from campaign.source.release.sections import embargo

    assert embargo(line, zone) == expected


@pytest.mark.parametrize(
    ("written", "iso"), [("04.12.2026", "2026-12-04"), ("4.12.2026", "2026-12-04"), ("31.02.2026", None)]
)
def test_german_numeric_dates(written: str, iso: str | None) -> None:
    from campaign.source.release.dates import date_alone

    assert date_alone(written) == iso


def test_a_german_numeric_dateline() -> None:
    from campaign.source.release.datelines import dateline

    found = dateline("Berlin, 04.12.2026 – Die Spreewerk Mobility GmbH startet.")
    assert found is not None and (found[0].place, found[0].date) == ("Berlin", "2026-12-04")
    assert found[1].startswith("Die Spreewerk")


@pytest.mark.parametrize(
    "text", ["Communiqué de presse\n\nParis, le 4 décembre 2026\n", "# \n\n###\n\nAbout Acme\n\nAcme.\n"]
)
def test_init_refuses_a_release_with_nothing_to_post(
    tmp_path: layouts.Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    from campaign.cli import main

    release = tmp_path / "releases" / "empty-news.txt"
    release.parent.mkdir()
    release.write_text(text, encoding="utf-8")
    code = main(["init", "--from-release", str(release), "--dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "empty-news.txt" in err[0] and "nothing to post" in err[0]
    assert not (tmp_path / "schedules").exists()


def test_bilingual_init_refuses_a_release_with_nothing_to_post(
    tmp_path: layouts.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from campaign.cli import main

    empty = tmp_path / "releases" / "news.fr.txt"
    empty.parent.mkdir()
    empty.write_text("Communiqué de presse\n\nParis, le 4 décembre 2026\n", encoding="utf-8")
    good = layouts.LAYOUTS / "businesswire-date-after-wire.txt"
    code = main(["init", "--from-release", str(good), "--from-release", str(empty), "--dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "news.fr.txt" in err[0] and "nothing to post" in err[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Das Projekt kostet rund 85 Mio. Euro.", ["Das Projekt kostet rund 85 Mio. Euro."]),
        ("Der Umsatz lag bei 5 Mio. Der Gewinn stieg.", ["Der Umsatz lag bei 5 Mio.", "Der Gewinn stieg."]),
        ("Es kostet 1,2 Mrd. Euro bzw. etwas mehr.", ["Es kostet 1,2 Mrd. Euro bzw. etwas mehr."]),
    ],
)
def test_german_scale_abbreviations_in_sentences(text: str, expected: list[str]) -> None:
    from campaign.text.sentences import split_sentences

    assert split_sentences(text) == expected


def test_a_german_role_before_the_name() -> None:
    from campaign.source.release.quotes import quotes

    found = quotes(["„Speicher sind das Rückgrat“, sagte Vorstandsdirektorin Elisabeth Hofer."])
    assert [(q.speaker, q.role) for q in found] == [("Elisabeth Hofer", "Vorstandsdirektorin")]


@pytest.mark.parametrize(
    ("sentence", "phrase"),
    [
        ("El 45 % de los clientes paga con el móvil.", "45 %"),
        ("The 45 stores opened on Monday.", "45 stores"),
        ("It raised ₹500 crore from investors.", "₹500 crore"),
    ],
)
def test_an_article_before_a_number_is_no_label(sentence: str, phrase: str) -> None:
    from campaign.source.release.figures import figures

    found = figures([sentence])
    assert found and found[0].phrases[0] == phrase


@pytest.mark.parametrize("sentence", ["Phase 3 starts in May.", "Level 2 opens in May."])
def test_labels_are_still_not_figures(sentence: str) -> None:
    from campaign.source.release.figures import figures

    assert figures([sentence]) == []


def test_inline_html_in_a_text_release_is_read() -> None:
    from campaign.source.release import parse_release

    r = parse_release(
        "Acme &amp; Partners Open a Lab<br>\n\nNEW YORK, Dec. 4, 2026 /PRNewswire/ -- Acme &amp; "
        "Partners&nbsp;today opened a lab.<br>\n&quot;It works,&quot; said <strong>Jane Doe</strong>, CEO of "
        "Acme. AT&T and R&D&copy2026 stay.\n\n<b>About Acme</b>\n\nAcme builds labs. <https://acme.example>\n"
    )
    assert r.title == "Acme & Partners Open a Lab"
    assert r.paragraphs[0] == "Acme & Partners today opened a lab."
    assert r.paragraphs[1].endswith("AT&T and R&D&copy2026 stay.")
    assert [(q.speaker, q.role) for q in r.quotes] == [("Jane Doe", "CEO of Acme")]
    assert r.organization is not None and r.organization.url == "https://acme.example"


def test_many_unclosed_inline_tags_and_references_read_in_linear_time() -> None:
    import time

    from campaign.source.release import parse_release

    t0 = time.perf_counter()
    parse_release("Title\n\n" + "<b " * 100_000 + "&amp" * 100_000 + "<span x='" * 50_000 + "\n")
    assert time.perf_counter() - t0 < 10  # bounds a hang only


@pytest.mark.parametrize(
    "paragraph",
    [
        "“We are ready,” Jane Doe, CEO of Acme, said in a statement.",
        "“We are ready,” Jane Doe, CEO of Acme, said on Monday.",
    ],
)
def test_words_after_a_trailing_attribution(paragraph: str) -> None:
    from campaign.source.release.quotes import quotes

    assert [(q.speaker, q.role) for q in quotes([paragraph])] == [("Jane Doe", "CEO of Acme")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme builds labs in 1987. www.acme.example", ["Acme builds labs in 1987.", "www.acme.example"]),
        ("Acme builds labs. https://acme.example", ["Acme builds labs.", "https://acme.example"]),
        ("See e.g. www.acme.example for more.", ["See e.g. www.acme.example for more."]),
    ],
)
def test_a_url_after_a_full_stop_starts_a_sentence(text: str, expected: list[str]) -> None:
    from campaign.text.sentences import split_sentences

    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "line",
    ["前瞻性陳述", "有關前瞻性陈述的說明", "免責聲明：", "免责声明", "免責事項", "将来予測に関する記述"],
)
def test_chinese_and_japanese_disclaimer_headings_end_the_body(line: str) -> None:
    from campaign.source.release.sections import is_stop

    assert is_stop(line)


def test_a_chinese_forward_looking_section_gives_no_figures() -> None:
    from campaign.source.release import parse_release

    r = parse_release(
        "云帆科技发布新系统\n\n深圳2026年12月4日 /美通社/ -- "
        "云帆科技今日发布新系统，已在超过200家工厂部署。\n\n"
        "前瞻性陈述\n\n本新闻稿包含前瞻性陈述，预计明年营收增长30%。\n\n关于云帆科技\n\n云帆科技是一家科技公司。\n"
    )
    assert [p for f in r.figures for p in f.phrases] == ["超过200家"]
    assert r.organization is not None and r.organization.name == "云帆科技"


@pytest.mark.parametrize(
    ("paragraph", "speaker", "role"),
    [
        ("『準備はできています』と佐藤健一社長は語った。", "佐藤健一", "社長"),
        ("「準備はできています」と代表取締役の佐藤健一は述べた。", "佐藤健一", "代表取締役"),
        ("「準備はできています」と山田花子氏は話す。", "山田花子", ""),
    ],
)
def test_a_japanese_speaker_named_after_the_quotation(paragraph: str, speaker: str, role: str) -> None:
    from campaign.source.release.quotes import quotes

    assert [(q.speaker, q.role) for q in quotes([paragraph])] == [(speaker, role)]


@pytest.mark.parametrize(
    "head", ["PARIS, 4 December 2026 –", "MADRID, 4 de diciembre de 2026.–", "BERLIN, 4. Mai 2026 -"]
)
def test_a_dateline_alone_ending_in_a_dash_is_followed_by_the_body(head: str) -> None:
    from campaign.source.release import parse_release

    body = "Acme today opened a lab with 40 desks.\n\nAbout Acme\n\nAcme builds labs.\n"
    r = parse_release(f"{head}\n\n{body}")
    assert r.title is None and r.dateline is not None and r.dateline.date is not None
    assert r.paragraphs == ("Acme today opened a lab with 40 desks.",)


def test_a_place_and_date_alone_then_the_body_without_a_title() -> None:
    from campaign.source.release import parse_release

    body = "Vélonuit lance un service de réparation. Le service emploiera 350 mécaniciens d'ici fin 2027."
    r = parse_release(f"Paris, le 4 décembre 2026\n\n{body}\n")
    assert r.title is None
    assert r.dateline is not None and (r.dateline.place, r.dateline.date) == ("Paris", "2026-12-04")
    assert r.paragraphs == (body,)


def test_safe_harbor_numbers_are_no_figures() -> None:
    from campaign.source.release import load_release

    r = load_release(layouts.LAYOUTS / "globenewswire-safe-harbor.txt")
    assert all("1.7 billion" not in p for f in r.figures for p in f.phrases)
    assert not any("forward-looking" in p for p in r.paragraphs)
