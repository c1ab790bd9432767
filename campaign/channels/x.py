"""X adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class XAdapter(Adapter):
    name = "x"
    title = "X"
    rules = TextRules(limit=280, unit='weighted characters', measure=counting.x_length, threads=True, max_hashtags=2)
