"""Gather a report's input from the queue: the campaign's sent posts and every sample read back.

Contract: :func:`report_input` only reads (one store, any dialect). The campaign's zone is the zone its posts
were written in (the most common one); links are the post's link card and every URL in its text, so each
``utm_content`` a post carried can be joined to web analytics. Channels whose adapter has no read API are
listed so the report can say so instead of showing zeros.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from campaign.report.metrics import PostInfo, ReportInput, Sample

if TYPE_CHECKING:
    from campaign.queue.store import Store

_URL = re.compile(r"https?://[^\s<>\"']+")


def channels_without_metrics(names: set[str]) -> frozenset[str]:
    """The channels among ``names`` whose installed adapter cannot read counts back (unknown ones too)."""
    from campaign import channels
    from campaign.channels.base import Adapter
    from campaign.errors import ConfigError

    without = set()
    for name in names:
        try:
            cls = channels.load(name)
        except ConfigError:
            without.add(name)
            continue
        if cls.metrics is Adapter.metrics:  # not overridden: no read API
            without.add(name)
    return frozenset(without)


def report_input(store: Store, campaign: str, *, now: datetime | None = None) -> ReportInput:
    """What :func:`campaign.report.build.build_report` needs for ``campaign``."""
    rows = store.sent_rows(campaign)
    zones = Counter(r.zone for r in rows)
    posts = tuple(
        PostInfo(
            id=r.post_id,
            post_key=r.post_key,
            channel=r.channel,
            account=r.account,
            sent_at=r.sent_at,
            remote_url=r.remote_url,
            excerpt=(r.parts[0].splitlines()[0] if r.parts and r.parts[0] else "")[:80],
            links=_links(r.link_url, r.parts),
            gone=r.gone,
        )
        for r in rows
    )
    samples = tuple(
        Sample(s.post_id, s.metric, s.value, s.collected_at) for s in store.metric_samples(campaign)
    )
    return ReportInput(
        campaign=campaign,
        zone=zones.most_common(1)[0][0] if zones else "UTC",
        posts=posts,
        samples=samples,
        no_metrics_api=channels_without_metrics({p.channel for p in posts}),
        followers=store.followers(sorted({p.account for p in posts})),
        generated_at=now,
    )


def _links(link: str | None, parts: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = [link] if link else []
    for text in parts:
        for url in _URL.findall(text):
            url = url.rstrip(".,;:!?)")
            if url not in found:
                found.append(url)
    return tuple(found)
