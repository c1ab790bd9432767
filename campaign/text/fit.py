"""Fit a rendered post into a platform's limit: as is, without trailing hashtags, or as a numbered thread.

:func:`fit` tries, in order:

1. the text as is, when ``rules.fits`` it (length limit and byte cap);
2. the text without its trailing hashtags, dropped one at a time from the end (only the run of hashtag
   tokens that ends the text; a tag inside a sentence is never touched, and nothing is ever cut mid-token);
3. when the channel may thread (``allow_thread`` and ``rules.threads``), a thread of the *whole* text: the
   body is split at sentence ends, then between words, never inside a token (so never inside a URL, hashtag
   or mention); every part carries `` (i/n)`` (unless ``numbering`` is off) and fits with it. The trailing
   hashtags go at the end of the last part, as in the text; those that do not fit there are dropped from the
   end (recorded as dropped), rather than sent as a part of bare hashtags;
4. otherwise :class:`campaign.errors.FitError`.

Before any of these, CR LF and CR become LF, and a text holding a character refused in post text (controls,
unbalanced bidi formatting: the table in :mod:`campaign.text.characters`) is refused with
:class:`campaign.errors.TextCharacterError`; so is a thread part (or the text without its dropped hashtags)
that fitting left with an embedding, override or isolate open.

Sentence ends are found by a simple rule (a token ending in ``.``, ``!``, ``?``, ``…`` or CJK ``。！？``,
possibly followed by closing quotes or brackets, and line breaks) rather than a linguistic segmenter: the
text is our own rendered template output, and a wrong guess only moves a split to another word boundary,
never breaks a token.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import regex

from campaign.errors import FitError, TextCharacterError
from campaign.text import characters
from campaign.text.rules import TextRules

__all__ = ["Fitted", "check_card", "fit", "trailing_hashtags"]


@dataclass(frozen=True)
class Fitted:
    """A post fitted to its channel: ``parts`` are the texts to publish (one, or a thread in order).

    ``lengths[i]`` is ``rules.measure(parts[i])``; ``limit`` the limit used; ``dropped_hashtags`` the tags
    removed (with their ``#``), last one first; ``warnings`` human-readable notes for the preview and log.
    """

    parts: tuple[str, ...]
    lengths: tuple[int, ...]
    limit: int
    dropped_hashtags: tuple[str, ...]
    warnings: tuple[str, ...]


# Tokens: runs of non-space characters, also ended by CJK sentence punctuation (such text has no spaces).
_TOKEN = re.compile(r"[^\s。！？]*[。！？]+|[^\s。！？]+")
# A hashtag token: # or full-width ＃, then non-space characters, at least one of them neither a digit nor
# punctuation (the rule Bluesky's and X's extractors share: "#2024" is no tag).
_HASHTAG = regex.compile(r"[#\uff03](?=\S*[^\d\s\p{P}])\S+")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]»]*\Z")


def trailing_hashtags(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the hashtag tokens that end ``text`` (the trailing run), in text order.

    A text made only of hashtags keeps its first one out of the run, so dropping the run never empties it.
    """
    return _trailing_run(text, _tokens(text))


def _tokens(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the tokens of ``text`` (found once per fit: the packing reuses them)."""
    return [m.span() for m in _TOKEN.finditer(text)]


def _trailing_run(text: str, tokens: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """:func:`trailing_hashtags` of ``text``, whose token spans are ``tokens``: a suffix of them."""
    run: list[tuple[int, int]] = []
    for start, end in reversed(tokens[1:]):
        if not _HASHTAG.fullmatch(text, start, end):
            break
        run.append((start, end))
    run.reverse()
    return run


def _suffix(i: int, n: int, numbering: bool) -> str:
    return f" ({i}/{n})" if numbering else ""


def _sentence_ends(body: str, spans: list[tuple[int, int]]) -> list[bool]:
    """For each token of ``body`` (its ``spans``), whether a sentence ends after it (final punctuation or a
    line break before the next token)."""
    ends = [
        bool(_SENTENCE_END.search(body, s, e)) or (i + 1 < len(spans) and "\n" in body[e : spans[i + 1][0]])
        for i, (s, e) in enumerate(spans)
    ]
    if ends:
        ends[-1] = True
    return ends


def _remembering(measure: Callable[[str], int], lengths: dict[str, int]) -> Callable[[str], int]:
    """``measure``, computing each distinct text once (for one fit: ``lengths`` lives as long as it)."""

    def measured(text: str) -> int:
        length = lengths.get(text)
        if length is None:
            length = lengths[text] = measure(text)
        return length

    return measured


class _Unfittable(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def _largest_fitting(fits: Callable[[int], bool], low: int, probe: int, high: int) -> int:
    """The largest ``k`` in ``[low, high]`` for which ``fits(k)`` holds, or ``low - 1`` when none does.

    ``fits`` holds up to some ``k`` and never after it. The search starts at ``probe``, steps outward 1, 2,
    4, ... until it brackets the answer, then bisects: a probe off by ``d`` costs about ``2 log2(d) + 2``
    calls, a good one two or three.
    """
    if fits(probe):
        lo, hi, step = probe, high, 1  # fits(lo) holds; the answer lies in [lo, hi]
        while lo < hi:
            nxt = min(lo + step, hi)
            if not fits(nxt):
                hi = nxt - 1
                break
            lo, step = nxt, step * 2
    else:
        failed, step = probe, 1  # fits(failed) does not hold
        while failed > low:
            nxt = max(failed - step, low)
            if fits(nxt):
                lo, hi = nxt, failed - 1
                break
            failed, step = nxt, step * 2
        else:  # not even low fits
            return low - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pack(
    body: str,
    words: list[tuple[int, int]],
    sentence_ends: list[bool],
    rules: TextRules,
    n: int,
    numbering: bool,
    per_char: float,
) -> list[tuple[int, int]]:
    """Split ``body`` (its token spans ``words``, and where its sentences end) into part spans, each fitting
    with its `` (i/n)`` suffix.

    Each part takes as many tokens as fit. Measuring is the costly step, so the count is first estimated
    from the characters the limit leaves room for (``per_char``: the body's measured length per character),
    and searched from there (:func:`_largest_fitting`). Then the part gives back the tokens after the last
    sentence end it holds, unless that would leave it less than half full.
    """
    token_ends = [end for _, end in words]
    parts: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        suffix = _suffix(len(parts) + 1, n, numbering)

        def fits(k: int, first: int = i, suffix: str = suffix) -> bool:
            return rules.fits(body[words[first][0] : words[k - 1][1]] + suffix)

        room = (rules.limit - len(suffix)) / per_char  # characters, at the body's average weight
        probe = min(bisect_right(token_ends, words[i][0] + room, i + 1), len(words))
        k = _largest_fitting(fits, i + 1, probe, len(words))
        if k <= i:
            raise _Unfittable(body[words[i][0] : words[i][1]])
        if not sentence_ends[k - 1]:
            cut = next((j for j in range(k - 1, i, -1) if sentence_ends[j - 1]), None)
            if cut is not None and (cut - i) * 2 >= k - i:
                k = cut
        parts.append((words[i][0], words[k - 1][1]))
        i = k
    return parts


def _thread(
    text: str, tokens: list[tuple[int, int]], tags: list[tuple[int, int]], rules: TextRules, numbering: bool
) -> tuple[list[str], list[str]]:
    """The thread for ``text`` (its token spans, then its trailing hashtags, the last of those tokens): its
    parts (with suffixes) and the trailing hashtags that had to go."""
    body_end = tags[0][0] if tags else len(text)
    body = text[:body_end].rstrip()
    if not body:
        raise _Unfittable(text.strip())
    words = tokens[: len(tokens) - len(tags)]  # the body's tokens: it ends where its last one does
    sentence_ends = _sentence_ends(body, words)
    # Guess the part count from the body's length, so that usually a single packing pass is needed.
    room = max(rules.limit - len(_suffix(9, 9, numbering)), 1)
    length = rules.measure(body)
    n = max(1, -(-length // room))
    per_char = max(length, 1) / len(body)
    spans = _pack(body, words, sentence_ends, rules, n, numbering, per_char)
    for _ in range(8):
        if len(spans) <= n:
            break
        n = len(spans)  # the suffix width depends on n: pack again with the count found
        spans = _pack(body, words, sentence_ends, rules, n, numbering, per_char)
    n = len(spans)  # fewer parts than packed for only narrows the suffix; checked below
    parts = [body[s:e] for s, e in spans]
    # Trailing hashtags: as many as fit at the end of the last part, keeping the text's own separators.
    dropped: list[str] = []
    keep = list(tags)
    while keep:
        candidate = parts[-1] + text[len(body) : keep[-1][1]]
        if rules.fits(candidate + _suffix(n, n, numbering)):
            parts[-1] = candidate
            break
        start, end = keep.pop()
        dropped.append(text[start:end])
    final = [p + _suffix(i, n, numbering) for i, p in enumerate(parts, 1)] if n > 1 else parts
    for part in final:
        if not rules.fits(part):
            raise _Unfittable(part)
    return final, dropped


def fit(
    text: str, rules: TextRules, *, allow_thread: bool, post: str, channel: str, numbering: bool = True
) -> Fitted:
    """Fit ``text`` for ``channel`` (see the module docstring for the order of attempts).

    Raises :class:`FitError` when the text cannot fit: threads are not allowed (or the platform has none)
    and dropping the trailing hashtags is not enough, or a single token is longer than the limit; its
    :class:`TextCharacterError` when the text, or a part of its thread, holds a refused character.
    """
    text = characters.normalise_newlines(text)
    refused = characters.first_refused(text)
    if refused is not None:
        raise TextCharacterError(post=post, channel=channel, detail=_refusal(text, refused))
    fitted = _fit(text, rules, allow_thread=allow_thread, post=post, channel=channel, numbering=numbering)
    if fitted.parts != (text,) and characters.has_bidi(text):  # a split or a dropped tag may unbalance it
        _check_parts(text, fitted.parts, numbering, post, channel)
    return fitted


def check_card(title: str, description: str, *, post: str, channel: str) -> None:
    """Refuse a link card whose title or description holds a character refused in post text (the same
    :class:`TextCharacterError` as the post's own text; positions are in that field)."""
    found = _card_refusal(title, description)
    if found is not None:
        raise TextCharacterError(post=post, channel=channel, detail=found)


@lru_cache(maxsize=64)
def _card_refusal(title: str, description: str) -> str | None:
    """What :func:`check_card` reports, once per distinct card: a campaign's posts mostly share one (the
    release's title and lead), and its lead can be long."""
    for field, value in (("link card title", title), ("link card description", description)):
        refused = characters.first_refused(value)
        if refused is not None:
            return f"{field}: {_refusal(value, refused)}"
    return None


def _refusal(text: str, refused: characters.Refused, offset: int = 0) -> str:
    """``U+XXXX NAME at LINE:COL <why>``, the position in ``text`` (``refused.index`` counted from
    ``offset``)."""
    at = characters.position(text, offset + refused.index)
    return f"{characters.describe(refused.char)} at {at} {refused.why}"


def _check_parts(text: str, parts: tuple[str, ...], numbering: bool, post: str, channel: str) -> None:
    """Refuse the first part of ``text`` (a thread's, or the text without its dropped hashtags) whose bidi
    controls do not balance on their own (each part is a slice of ``text``, then its `` (i/n)`` suffix:
    positions are reported in ``text``)."""
    n, cursor = len(parts), 0
    for i, part in enumerate(parts, 1):
        suffix = _suffix(i, n, numbering)
        own = part[: len(part) - len(suffix)] if suffix and part.endswith(suffix) else part
        start = text.find(own, cursor)
        refused = characters.first_refused(own)
        if refused is not None:
            detail = _refusal(text, refused, start) if start >= 0 else _refusal(own, refused)
            numbered = (i, n) if n > 1 else None
            raise TextCharacterError(post=post, channel=channel, detail=detail, part=numbered)
        cursor = max(cursor, start + len(own))


def _fit(
    text: str, rules: TextRules, *, allow_thread: bool, post: str, channel: str, numbering: bool
) -> Fitted:
    """:func:`fit` of a text whose characters were checked."""
    length = rules.measure(text)
    if length <= rules.limit and (rules.max_bytes is None or len(text.encode("utf-8")) <= rules.max_bytes):
        return Fitted((text,), (length,), rules.limit, (), ())  # rules.fits(text), measured once
    # Past this point the same text is often measured more than once (a fitting candidate, then its length
    # for the result; a thread part found by the packing, checked again with its final suffix).
    rules = dataclasses.replace(rules, measure=_remembering(rules.measure, {text: length}))
    limit_note = f"{channel} limit {rules.limit} {rules.unit}"
    dropped: list[str] = []
    warnings: list[str] = []
    shorter = text
    tokens = _tokens(text)
    tags = _trailing_run(text, tokens)
    for start, end in reversed(tags):
        dropped.append(text[start:end])
        warnings.append(f"dropped trailing hashtag {text[start:end]} to fit the {limit_note}")
        shorter = text[:start].rstrip()
        if rules.fits(shorter):
            return Fitted((shorter,), (rules.measure(shorter),), rules.limit, tuple(dropped), tuple(warnings))
    if not (allow_thread and rules.threads):
        notes = [f"even without {len(dropped)} trailing hashtag(s)"] if dropped else []
        if not rules.threads:
            notes.append(f"{channel} has no threads")
        raise FitError(post=post, channel=channel, length=length, limit=rules.limit, detail="; ".join(notes))
    try:
        parts, thread_dropped = _thread(text, tokens, tags, rules, numbering)
    except _Unfittable as exc:
        raise FitError(
            post=post,
            channel=channel,
            length=length,
            limit=rules.limit,
            detail=f"{exc.token[:40]!r} alone is longer than the limit",
            thread_allowed=True,
        ) from None
    warnings = [f"dropped trailing hashtag {tag} to fit the {limit_note}" for tag in thread_dropped]
    if len(parts) > 1:
        warnings.append(f"split into a thread of {len(parts)} parts to fit the {limit_note}")
    return Fitted(
        tuple(parts),
        tuple(rules.measure(p) for p in parts),
        rules.limit,
        tuple(thread_dropped),
        tuple(warnings),
    )
