"""LinkedIn adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class LinkedInAdapter(Adapter):
    name = "linkedin"
    title = "LinkedIn"
    rules = TextRules(limit=3000, unit='characters', measure=counting.codepoints, max_hashtags=5, hashtag_case='camel')
