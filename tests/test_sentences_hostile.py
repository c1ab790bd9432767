"""Hostile text is split in linear time: press releases are untrusted, and the release parser splits them.

Each shape here was quadratic before (100,000 characters took 5-30 s or more; measured again by
``tests/benchmarks/bench_release.py``, which prints the growth ratio of each shape): every full stop of a
token without white space ("a.a.a.", "x.yx.y", "Mr.Mr.") read the token back to its start, every glued
'."' counted the quotation marks from the start of the paragraph, a URL followed by thousands of ")" was
sliced and recounted once per character, and the e-mail pattern re-read a run of address characters from
each of its positions. The tests assert the mechanism (how many characters Python code reads, the shape of
the e-mail pattern) and the results, never a time.
"""

from __future__ import annotations

from typing import Any, SupportsIndex

import pytest
import regex

from campaign.text import sentences
from campaign.text.sentences import EMAIL, abbreviation, sentence_spans, squash, trim_url

#: Characters a step may read per character of its text: a linear scan reads each a few times.
READS_PER_CHARACTER = 8


class Counted(str):
    """A str that counts the characters read through indexing, slicing and ``count`` (slices stay
    counted: a loop that re-slices its text keeps counting)."""

    reads: list[int]

    @classmethod
    def of(cls, text: str, reads: list[int] | None = None) -> Counted:
        counted = cls(text)
        counted.reads = reads if reads is not None else [0]
        return counted

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        got = super().__getitem__(key)
        self.reads[0] += len(got)
        return Counted.of(got, self.reads) if isinstance(key, slice) else got

    def count(self, sub: str, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        self.reads[0] += len(super().__getitem__(slice(start, end)))
        return super().count(sub, start, end)


def read_per_character(function: Any, text: str) -> tuple[Any, float]:
    counted = Counted.of(text)
    result = function(counted)
    return result, counted.reads[0] / len(text)


#: name: (text, sentences found, of which glued to the previous one). Thousands of full stops each.
SHAPES = {
    "a.a.a.": ("a." * 3000, 1, 0),
    "x.yx.y": ("x.y" * 2000, 1, 0),
    "Mr.Mr.": ("Mr." * 2000, 1999, 1998),  # "Mr.Mr" is no abbreviation: a glued "word.Word" boundary
    "e.g.e.g.": ("e.g." * 1500, 1, 0),
    "1.2.3.": ("1." * 3000, 1, 0),
    "a.a.a.@": ("a." * 3000 + "@", 1, 0),
    "ab.Cd": ("ab.Cd" * 1200, 1201, 1200),
    "a?B": ("a?Bc" * 1500, 1500, 1499),  # the first "a?" is an initial
    '"a."B': ('a."Bc' * 1200, 1200, 1199),
    "a.)B": ("a.)Bc" * 1200, 1200, 1199),
}


@pytest.mark.parametrize("name", SHAPES)
def test_a_token_of_thousands_of_full_stops_is_read_a_bounded_number_of_times(name: str) -> None:
    text, count, glued = SHAPES[name]
    spans, reads = read_per_character(sentence_spans, text)
    assert reads <= READS_PER_CHARACTER
    assert len(spans) == count and sum(g for _, _, g in spans) == glued
    assert "".join(text[a:b] for a, b, _ in spans) == text  # nothing lost


def test_a_paragraph_of_glued_sentences_splits_as_before_in_one_pass() -> None:
    """What the glued rules decide is unchanged: a '"' after an even count opens the next sentence."""
    one = 'It grew."Bc said so." He said "it grew."Bc agreed.It grew.The end. '
    one += "Mr. Lee left.U.S.A.Next a.a.a.bc. "
    sentences_of_one = [
        "It grew.", '"Bc said so."', 'He said "it grew."', "Bc agreed.", "It grew.", "The end.",
        "Mr. Lee left.U.S.A.Next a.a.a.bc.",
    ]
    found, reads = read_per_character(sentence_spans, one * 500)
    assert reads <= READS_PER_CHARACTER
    assert [squash((one * 500)[a:b]) for a, b, _ in found] == sentences_of_one * 500


@pytest.mark.parametrize(
    "word",
    ["", "a", "Mr", "Messrs", "U.S", "Ph.D", "N.Y", "x.y", "(U.S", "((a", "ab", "a.b.c.d.e.f.g.h.i",
     "A.B.C.D.E.F.G.H.I.J", "a.b.c.d.e.f.g.hh", "a.b.c.d.e.f.g.h.", "(((a.b.c.d.e.f.g.h.i", "é.ü.ß.ø.å.ñ.ç.a",
     "a.b.c.d.e.f.1.g.h"],
)
def test_the_word_before_a_stop_is_classified_as_abbreviation_would(word: str) -> None:
    """Long words are decided from the letter-dot run, never re-read: the answers are the function's."""
    expected = abbreviation(word.lstrip("([\"“‘'«「『《（"))
    text = f"x {word}. y"
    words = sentences._WordsBefore(text)
    assert words.kind(2) is None  # after white space
    assert words.kind(2 + len(word)) == expected


def test_an_initialism_longer_than_any_listed_abbreviation_still_may_close_a_sentence() -> None:
    letters = ".".join("abcdefghijkl" * 250)  # one token of 3,000 full stops
    text = f"Made in {letters}. The rest. Made in {letters}. Rest"
    found, reads = read_per_character(sentence_spans, text)
    assert reads <= READS_PER_CHARACTER
    made = f"Made in {letters}."
    assert [text[a:b] for a, b, _ in found] == [made, "The rest.", f"{made} Rest"]


@pytest.mark.parametrize(
    ("url", "trimmed"),
    [
        ("http://a.b/c" + ")" * 5000, "http://a.b/c"),
        ("http://a.b/c" + "." * 5000, "http://a.b/c"),
        ("http://a.b/c" + "?!" * 2500, "http://a.b/c"),
        ("http://a.b/c" + ").)" * 2000, "http://a.b/c"),
        ("http://a/((b)" + ")" * 5000, "http://a/((b))"),  # balanced brackets are part of the URL
        ("https://en.wikipedia.org/wiki/Foo_(bar)" + ")." * 2500, "https://en.wikipedia.org/wiki/Foo_(bar)"),
    ],
)
def test_a_url_followed_by_thousands_of_closing_marks_is_trimmed_in_one_pass(url: str, trimmed: str) -> None:
    result, reads = read_per_character(trim_url, url)
    assert reads <= READS_PER_CHARACTER
    assert result == trimmed


def test_an_email_address_is_tried_only_where_its_run_of_characters_starts() -> None:
    """A try from inside a run would find the same '@' and domain: the pattern starts a try only after a
    character that cannot be in an address, or where the scan resumed (\\G), and gives nothing back."""
    pattern = EMAIL._pattern
    assert pattern.startswith(r"(?:(?<![\w.+-])|\G)")
    assert not regex.search(r"[\]](?:\+|\*)(?!\+)", pattern), "every run is possessive"
    # The addresses found are those of the unguarded pattern, including one glued to the previous one.
    assert [m.group() for m in EMAIL.finditer("a@b.c+d@e.f, x.y@z.org")] == ["a@b.c", "+d@e.f", "x.y@z.org"]
    assert [m.group() for m in EMAIL.finditer("a." * 5000 + "@b.c")] == ["a." * 5000 + "@b.c"]
    assert not list(EMAIL.finditer("a." * 5000 + "@"))
