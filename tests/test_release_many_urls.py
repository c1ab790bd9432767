"""Sentence splitting with many URLs: the protected-span lookup is a bisect, with the same answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.source.release import parse_release, split_sentences
from campaign.text.sentences import _inside

spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30)).map(lambda p: (p[0], p[0] + p[1])))


@settings(max_examples=300, deadline=None)
@given(spans, st.integers(-2, 100))
def test_inside_agrees_with_a_scan_of_every_span(protected: list[tuple[int, int]], t: int) -> None:
    assert _inside(protected)(t) == any(a <= t < b for a, b in protected)


def test_inside_with_overlapping_and_nested_spans() -> None:
    inside = _inside([(10, 50), (12, 14), (40, 45), (60, 61)])
    assert [t for t in range(70) if inside(t)] == [*range(10, 50), 60]
    assert not _inside([])(0)


def test_many_urls_never_split_and_real_sentences_still_do() -> None:
    urls = [f"https://example{i}.org/a.b/c.html?x=1.2" for i in range(3000)]
    text = "See " + " ".join(urls) + ". Then we met. And left."
    assert split_sentences(text) == ["See " + " ".join(urls) + ".", "Then we met.", "And left."]


def test_a_release_of_many_urls_is_one_paragraph_of_urls() -> None:
    urls = [f"https://www.hkstp.org/p{i}.html" for i in range(5000)]
    release = parse_release("Title\n\n" + " ".join(urls) + "\n")
    assert release.title == "Title"
    assert set(release.urls) >= set(urls)
