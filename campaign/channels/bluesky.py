"""Bluesky adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class BlueskyAdapter(Adapter):
    name = "bluesky"
    title = "Bluesky"
    rules = TextRules(limit=300, unit='graphemes', measure=counting.graphemes, max_bytes=3000, threads=True, max_hashtags=3)
