"""Fitting posts: single posts, dropped trailing hashtags, numbered threads, errors, and properties."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.errors import FitError
from campaign.text import counting
from campaign.text.fit import Fitted, _largest_fitting, fit, trailing_hashtags
from campaign.text.rules import TextRules

X = TextRules(limit=280, unit="weighted characters", measure=counting.x_length, threads=True)
SMALL = TextRules(limit=60, unit="graphemes", measure=counting.graphemes, max_bytes=120, threads=True)
NO_THREADS = TextRules(limit=60, unit="characters", measure=counting.codepoints)

BODY = (
    "Acme 2.0 ships today! It brings faster sync, an offline mode and a new dashboard. "
    "Read the story at https://acme.com/blog/acme-2-0-launch and tell us what you think. "
    "Built with feedback from over 250 customers."
)


def test_text_that_fits_is_returned_unchanged() -> None:
    result = fit("Hello #world", X, allow_thread=True, post="p", channel="x")
    assert result == Fitted(("Hello #world",), (12,), 280, (), ())


def test_trailing_hashtags_are_dropped_from_the_end_one_at_a_time() -> None:
    text = "x" * 52 + " #One #Two #Three"
    result = fit(text, NO_THREADS, allow_thread=False, post="p", channel="c")
    assert result.parts == ("x" * 52 + " #One",)
    assert result.dropped_hashtags == ("#Three", "#Two")
    assert len(result.warnings) == 2 and "#Three" in result.warnings[0]


def test_inline_hashtags_are_never_dropped() -> None:
    text = "We #love this " + "y" * 60
    with pytest.raises(FitError) as info:
        fit(text, NO_THREADS, allow_thread=True, post="launch", channel="telegram")
    assert (info.value.post, info.value.channel, info.value.limit) == ("launch", "telegram", 60)
    assert info.value.length == len(text)
    assert "telegram has no threads" in str(info.value)


def test_trailing_hashtag_run() -> None:
    def run(text: str) -> list[str]:
        return [text[s:e] for s, e in trailing_hashtags(text)]

    assert run("Big #news today. #A #B2 #2024 #C") == ["#C"]  # "#2024" is no hashtag: the run stops there
    assert run("Text #A\n#B ＃C") == ["#A", "#B", "＃C"]
    assert run("#only #tags") == ["#tags"]  # never empties a text
    assert run("") == []


def test_thread_is_numbered_and_keeps_trailing_hashtags() -> None:
    text = BODY + " " + BODY + " #Acme #Launch"
    result = fit(text, X, allow_thread=True, post="p", channel="x")
    assert len(result.parts) == 2
    assert result.parts[0].endswith(" (1/2)") and result.parts[1].endswith(" #Acme #Launch (2/2)")
    assert result.dropped_hashtags == ()
    assert all(length <= 280 for length in result.lengths)
    assert result.warnings == ("split into a thread of 2 parts to fit the x limit 280 weighted characters",)
    assert result.parts[0].startswith("Acme 2.0 ships today!")
    assert result.parts[0].removesuffix(" (1/2)").endswith(("!", "."))  # split at a sentence end


@pytest.mark.parametrize("text", [BODY + " " + BODY + " #Acme #Launch", "x" * 270 + " #One #Two #Three"])
def test_each_distinct_text_is_measured_once(text: str) -> None:
    # Not a timing test: a text measured twice in one fit (a candidate, then its length) is work repeated.
    measured: list[str] = []

    def counting_x(candidate: str) -> int:
        measured.append(candidate)
        return counting.x_length(candidate)

    rules = dataclasses.replace(X, measure=counting_x)
    result = fit(text, rules, allow_thread=True, post="p", channel="x")
    assert result == fit(text, X, allow_thread=True, post="p", channel="x")
    assert len(measured) == len(set(measured)) > 1


def test_largest_fitting_finds_the_answer_from_any_probe() -> None:
    for high in range(1, 10):
        for answer in range(0, high + 1):  # 0: not even the first fits
            for probe in range(1, high + 1):
                asked: list[int] = []

                def fits(k: int, answer: int = answer, asked: list[int] = asked) -> bool:
                    asked.append(k)
                    return k <= answer

                assert _largest_fitting(fits, 1, probe, high) == answer, (high, answer, probe)
                assert all(1 <= k <= high for k in asked)
    assert _largest_fitting(lambda k: k <= 5, 1, 5, 9) == 5  # a good probe...
    calls: list[int] = []

    def up_to_50(k: int) -> bool:
        calls.append(k)
        return k <= 50

    assert _largest_fitting(up_to_50, 1, 50, 100) == 50
    assert calls == [50, 51]  # ...costs two calls: the probe fits, the next does not


def test_thread_without_numbering() -> None:
    result = fit(BODY, SMALL, allow_thread=True, post="p", channel="bluesky", numbering=False)
    assert not any(re.search(r"\(\d+/\d+\)$", p) for p in result.parts)
    assert " ".join(result.parts) == BODY


def test_hashtags_that_do_not_fit_the_last_part_are_dropped() -> None:
    rules = TextRules(limit=40, unit="characters", measure=counting.codepoints, threads=True)
    text = "First sentence is here. Second one is also here. #Alpha #Beta #Gamma"
    result = fit(text, rules, allow_thread=True, post="p", channel="mastodon")
    assert all(len(p) <= 40 for p in result.parts)
    assert result.parts[-1].endswith("(2/2)")
    assert result.dropped_hashtags  # the last part cannot hold all three
    kept = [t for t in ("#Alpha", "#Beta", "#Gamma") if t not in result.dropped_hashtags]
    assert kept == ["#Alpha", "#Beta", "#Gamma"][: len(kept)]  # dropped from the end


def test_a_token_longer_than_the_limit_is_an_error() -> None:
    text = "See https://example.com/" + "p" * 80 + " now"
    with pytest.raises(FitError, match="alone is longer than the limit"):
        fit(text, SMALL, allow_thread=True, post="p", channel="bluesky")


def test_byte_cap_is_respected() -> None:
    rules = TextRules(limit=300, unit="graphemes", measure=counting.graphemes, max_bytes=60, threads=True)
    text = "日本語のテキストです。" * 6  # 66 graphemes, 198 bytes
    result = fit(text, rules, allow_thread=True, post="p", channel="bluesky")
    assert len(result.parts) == 6 and all(rules.fits(p) for p in result.parts)
    assert "".join(p.removesuffix(f" ({i}/6)") for i, p in enumerate(result.parts, 1)) == text


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["Acme", "ships", "today", "faster", "sync", "über", "日本語", "😀", "👩🏽‍💻", "e\u0301",
     "and", "a", "new", "dashboard", "over", "250", "customers", "(really)", "it's"]
)  # fmt: skip
_SPECIAL = st.sampled_from(
    ["https://acme.com/blog/2-0", "acme.com/x", "https://t.co/abc123", "#Acme", "#日本", "@bob.bsky.social",
     "@alice", "$ACME", "example.org"]
)  # fmt: skip
_PUNCT = st.sampled_from(["", "", "", ".", ",", "!", "?", ":"])
_SEP = st.sampled_from([" ", " ", " ", "\n", "\n\n", "  "])


@st.composite
def _posts(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.one_of(_WORDS, _WORDS, _SPECIAL), min_size=1, max_size=80))
    text = ""
    for i, token in enumerate(tokens):
        text += (draw(_SEP) if i else "") + token + (draw(_PUNCT) if not token.startswith(("#", "@")) else "")
    tags = draw(st.lists(st.sampled_from(["#Launch", "#Acme", "#SaaS", "#日本"]), max_size=4))
    return text + ("" if not tags else " " + " ".join(tags))


_RULES = st.sampled_from(
    [
        X,
        TextRules(limit=80, unit="weighted characters", measure=counting.x_length, threads=True),
        TextRules(limit=50, unit="graphemes", measure=counting.graphemes, max_bytes=90, threads=True),
        TextRules(limit=70, unit="characters", measure=counting.mastodon_length, threads=True),
        TextRules(limit=60, unit="characters", measure=counting.threads_length, threads=True),
        TextRules(limit=64, unit="UTF-16 code units", measure=counting.utf16_units, threads=True),
    ]
)
_SUFFIX = re.compile(r" \(\d+/\d+\)\Z")
_KEEP_WHOLE = re.compile(r"https?://\S+|\S+\.(?:com|org)\S*|[#@$]\S+")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_posts(), _RULES, st.booleans())
def test_fit_properties(text: str, rules: TextRules, numbering: bool) -> None:
    try:
        result = fit(text, rules, allow_thread=True, post="p", channel="c", numbering=numbering)
    except FitError as exc:
        # Only a single token longer than the limit may make a threadable text unfittable.
        assert "alone is longer than the limit" in str(exc)
        assert any(not rules.fits(t + " (1/99)") for t in text.split())
        return
    assert result.parts and all(p.strip() for p in result.parts)
    assert all(rules.fits(p) for p in result.parts)
    assert result.lengths == tuple(rules.measure(p) for p in result.parts)
    bodies = (
        [_SUFFIX.sub("", p) for p in result.parts] if len(result.parts) > 1 and numbering else result.parts
    )
    # Text is preserved modulo white space and the dropped trailing hashtags.
    original = text.split()
    for tag in result.dropped_hashtags:
        assert original[-1] == tag
        original.pop()
    assert " ".join(bodies).split() == original
    # No URL, hashtag or mention is cut: each appears whole in some part.
    for token in _KEEP_WHOLE.findall(" ".join(original)):
        assert any(token in body.split() or token in body for body in bodies), token


@settings(max_examples=150, deadline=None)
@given(_posts(), _RULES)
def test_fit_without_threads_either_fits_or_raises(text: str, rules: TextRules) -> None:
    try:
        result = fit(text, rules, allow_thread=False, post="p", channel="c")
    except FitError as exc:
        assert exc.length == rules.measure(text) and exc.limit == rules.limit
        return
    assert len(result.parts) == 1 and rules.fits(result.parts[0])
    assert result.parts[0] == text or text.startswith(result.parts[0])
