"""Slack adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class SlackAdapter(Adapter):
    name = "slack"
    title = "Slack"
    rules = TextRules(limit=40000, unit='characters', measure=counting.codepoints, max_hashtags=3, markup='mrkdwn')
