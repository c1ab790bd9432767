"""issue 13, split from tests/test_release_layouts.py: what the body yields: quotes and speakers, "About"
headings, end marks, figures in other languages, damage notices and the language."""

from __future__ import annotations

import pytest

from campaign.source.release import parse_release


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


def test_a_later_surname_is_the_speaker_named_before() -> None:
    r = parse_release(
        'Title\n\n"We are ready," said Jane Doe, CEO of Acme.\n\nAcme grew.\n\n"We grew," Doe said.'
    )
    assert [(q.speaker, q.role) for q in r.quotes] == [
        ("Jane Doe", "CEO of Acme"),
        ("Jane Doe", "CEO of Acme"),
    ]
