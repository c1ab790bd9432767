"""A platform's text rules, declared as data that the renderer, fitter, validator and adapters all read.

Each channel module declares one :class:`TextRules`; an account may narrow or widen the limit
(``limit:`` in the campaign file, e.g. a Mastodon instance configured for 1000) through :meth:`with_limit`.
This module is deliberately light (no httpx, no database): `check`, `preview` and `measure` import it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

HashtagCase = Literal["as-is", "camel", "lower"]
Markup = Literal["plain", "markdown", "mrkdwn", "html"]


@dataclass(frozen=True)
class TextRules:
    """How one platform counts, limits and prefers a post's text.

    ``measure(text)`` returns the length exactly as the platform counts it, in ``unit``; a text fits when
    ``measure(text) <= limit`` and, where ``max_bytes`` is set, its UTF-8 encoding is at most that many bytes.
    """

    #: The longest text the platform accepts, in ``unit``.
    limit: int
    #: What ``measure`` counts, for messages ("weighted characters", "graphemes", "UTF-16 code units", ...).
    unit: str
    #: The platform's own length function (see :mod:`campaign.text.counting`).
    measure: Callable[[str], int]
    #: A second, byte-based cap (Bluesky: 3000 UTF-8 bytes), or None.
    max_bytes: int | None = None
    #: Whether the platform can publish a thread (each part a reply to the previous one).
    threads: bool = False
    #: How many hashtags the `hashtags` filter emits by default (None: all).
    max_hashtags: int | None = None
    #: How the `hashtags` filter writes tags: as written, CamelCase (accessible), or lower case.
    hashtag_case: HashtagCase = "as-is"
    #: Text markup the channel renders, so templates can choose how to emphasise or link.
    markup: Markup = "plain"

    def with_limit(self, limit: int | None) -> TextRules:
        """These rules with another limit (an account's own setting); ``None`` keeps the platform's."""
        return self if limit is None or limit == self.limit else dataclasses.replace(self, limit=limit)

    def fits(self, text: str) -> bool:
        """True when ``text`` is within both the length limit and the byte cap."""
        if self.max_bytes is not None and len(text.encode("utf-8")) > self.max_bytes:
            return False
        return self.measure(text) <= self.limit
