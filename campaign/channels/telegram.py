"""Telegram adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class TelegramAdapter(Adapter):
    name = "telegram"
    title = "Telegram"
    rules = TextRules(limit=4096, unit='UTF-16 code units', measure=counting.utf16_units, max_hashtags=5)
