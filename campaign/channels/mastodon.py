"""Mastodon adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class MastodonAdapter(Adapter):
    name = "mastodon"
    title = "Mastodon"
    rules = TextRules(limit=500, unit='characters', measure=counting.mastodon_length, threads=True, max_hashtags=4, hashtag_case='camel')
