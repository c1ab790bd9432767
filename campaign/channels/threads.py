"""Threads adapter (SKELETON: text rules only; the exchange is being written)."""

from __future__ import annotations

from campaign import counting
from campaign.channels.base import Adapter
from campaign.textrules import TextRules


class ThreadsAdapter(Adapter):
    name = "threads"
    title = "Threads"
    rules = TextRules(limit=500, unit='characters', measure=counting.threads_length, threads=True, max_hashtags=1)
