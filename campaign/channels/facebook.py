"""Facebook Page adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class FacebookAdapter(Adapter):
    name = "facebook"
    title = "Facebook Page"
    rules = TextRules(limit=63206, unit='characters', measure=counting.codepoints, max_hashtags=3)
