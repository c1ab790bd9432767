"""Generic JSON webhook adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class WebhookAdapter(Adapter):
    name = "webhook"
    title = "Generic JSON webhook"
    rules = TextRules(limit=100000, unit='characters', measure=counting.codepoints)
