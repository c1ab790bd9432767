"""Hostile releases are read in linear time: a release arrives in a pull request, so its shape is untrusted.

Each case was quadratic before (a 100,000-character release of one shape took 36-220 s; measured again by
``tests/benchmarks/bench_release.py``, which prints the growth ratio of each shape): thousands of quotations
or figures in one sentence re-read the whole sentence for each one, and thousands of unclosed quotation
marks each scanned to the end of the paragraph. The tests assert the mechanism (what each step may read)
and the results, never a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.source.release import figures as figures_module
from campaign.source.release import parse_release
from campaign.source.release import quotes as quotes_module
from campaign.text.sentences import Lazy

HEAD = "Title of the release\n\nHONG KONG, 1 Jan 2024 – "


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, list[int]]]:
    """The length of every text each pattern is matched against, by the pattern's id."""
    seen: dict[int, list[int]] = {}
    fullmatch, search = Lazy.fullmatch, Lazy.search

    def record(method: Any) -> Any:
        def wrapped(self: Lazy, string: str) -> regex.Match[str] | None:
            seen.setdefault(id(self), []).append(len(string))
            return method(self, string)

        return wrapped

    monkeypatch.setattr(Lazy, "fullmatch", record(fullmatch))
    monkeypatch.setattr(Lazy, "search", record(search))
    yield seen


def test_thousands_of_quotations_in_one_sentence_read_a_bounded_window_each(
    reads: dict[int, list[int]],
) -> None:
    release = parse_release(HEAD + '"x," said Jane Doe, ' * 3000 + "and that was all.\n")
    assert len(release.quotes) == 3000
    assert {(q.speaker, q.text) for q in release.quotes} == {("Jane Doe", "x")}
    patterns = [*quotes_module._PRE, *quotes_module._POST, quotes_module._CN_PRE, quotes_module._JA_PRE]
    lengths = [n for p in patterns for n in reads.get(id(p), [])]
    assert lengths and max(lengths) <= quotes_module.ATTRIBUTION_WINDOW


def test_an_attribution_is_still_found_at_the_end_of_a_long_sentence() -> None:
    words = " ".join(["innovation"] * 400)  # a run-on sentence far longer than the window before the quote
    release = parse_release(HEAD + f'With {words}, Jane Doe, CEO of Acme, said: "We are ready."\n')
    found = [(q.speaker, q.role, q.text) for q in release.quotes]
    assert found == [("Jane Doe", "CEO of Acme", "We are ready.")]


@pytest.mark.parametrize(
    ("opener", "closer"), [("“", "”"), ("「", "」"), ("『", "』"), ("«", "»"), ("„", "“")]
)
def test_a_quotation_holds_no_second_opening_mark(opener: str, closer: str) -> None:
    """The scan from an opening mark stops at the next one: 100,000 unclosed marks cost one pass."""
    assert [m.group("t") for m in quotes_module._QUOTED.finditer(f"{opener}a {opener}b{closer}")] == ["b"]
    release = parse_release(HEAD + opener * 100_000 + "\n")
    assert not release.quotes


def test_thousands_of_figures_in_one_sentence_look_a_bounded_way_back(reads: dict[int, list[int]]) -> None:
    text = " ".join(f"{n}% and" for n in range(1, 3001)) + " done."
    phrases = figures_module._figure_phrases(text)
    assert phrases == tuple(f"{n}%" for n in range(1, 3001))
    lookbacks = reads[id(figures_module._MONTH_BEFORE)] + reads[id(figures_module._LABEL_BEFORE)]
    assert lookbacks and max(lookbacks) <= figures_module._LOOK_BEHIND
    # What the look back decides is unchanged: a day after a month, a number after a label.
    assert figures_module._figure_phrases("On January 12 we hired 40 engineers in Phase 2 halls.") == (
        "40 engineers",
    )


def test_overlapping_figures_keep_the_first_found_in_text_order() -> None:
    """The sorted list of phrases is checked against its neighbours only, with the old answers."""
    sentence = "It raised more than US$5 million, 1.000 Quadratmetern and 超過500名 people, 3 times."
    assert figures_module._figure_phrases(sentence) == (
        "more than US$5 million", "1.000 Quadratmetern", "超過500名", "3 times",
    )


CN_PARTS = ["陳大文", "表示", "說", "指出", "：", "，", ",", " ", "\n", "x", "「", "。", "認為"]
JA_PARTS = ["代表取締役", "の", "佐藤健一", "氏", "さん", "は", "、", "，", " ", "x", "。", "「"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(CN_PARTS), max_size=30).map("".join))
def test_a_chinese_attribution_is_searched_at_the_end_with_the_old_answers(pre: str) -> None:
    """The search that starts near the end finds what a search from every position found."""
    found = quotes_module._search_at_end(
        quotes_module._CN_PRE, pre, last=quotes_module._CN_VERBS, longest=quotes_module._CN_PRE_LONGEST,
        closing="：:，,",
    )
    old = quotes_module._CN_PRE.search(pre)
    assert (found and found.span()) == (old and old.span())


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(JA_PARTS), max_size=24).map("".join))
def test_a_japanese_attribution_is_searched_at_the_end_with_the_old_answers(pre: str) -> None:
    found = quotes_module._search_at_end(
        quotes_module._JA_PRE, pre, last=("は",), longest=quotes_module._JA_PRE_LONGEST, closing="、，"
    )
    old = quotes_module._JA_PRE.search(pre)
    assert (found and found.span()) == (old and old.span())


@pytest.mark.parametrize("unit", ['x"', 'a."', '說"x"'])
def test_thousands_of_quotations_search_for_a_speaker_near_the_end_only(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, each quotation searched its whole 600-character window from every position for a Chinese
    speaker (a release of 100,000 characters of ``x"`` took over a minute)."""
    starts: list[int] = []
    search = Lazy.search
    speakers = (quotes_module._CN_PRE, quotes_module._JA_PRE)

    def recorded(self: Lazy, string: str, pos: int = 0) -> regex.Match[str] | None:
        if self in speakers:
            starts.append(len(string) - pos)
        return search(self, string, pos)

    monkeypatch.setattr(Lazy, "search", recorded)
    release = parse_release(HEAD + unit * 5_000 + "\n")
    assert max(starts, default=0) <= quotes_module._CN_PRE_LONGEST + 1  # the verb's end is the window's
    if unit.startswith("說"):  # a verb before every quotation: each is searched (the first has no name)
        assert len(starts) == 5_000 and len(release.quotes) == 4_999
        assert {q.text for q in release.quotes} == {"x"}
    else:
        assert not starts  # no verb ends the text before any quotation: nothing to search
