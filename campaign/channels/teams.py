"""Microsoft Teams adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class TeamsAdapter(Adapter):
    name = "teams"
    title = "Microsoft Teams"
    rules = TextRules(limit=28000, unit='characters', measure=counting.codepoints, max_hashtags=3, markup='markdown')
