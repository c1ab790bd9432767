"""Normalised metric names, and the value types a report is built from.

Every adapter maps its platform's counts onto these names (X ``like_count`` -> ``likes``, Mastodon
``favourites_count`` -> ``likes``, Bluesky ``repostCount`` -> ``reposts``, ...), so a report can add channels
up.
A platform that does not give a count simply has no sample for it: a missing value is never a zero.

Engagement is the sum of the interactions a person chose to make (likes, reposts, replies, quotes, bookmarks,
clicks where the platform reports them); views and impressions are reach, not engagement, and are reported
apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: Interactions: their sum is a post's engagement.
ENGAGEMENT = ("likes", "reposts", "replies", "quotes", "bookmarks", "clicks")
#: Reach: shown beside engagement, never added to it.
REACH = ("views", "impressions")
#: Every name an adapter may report (anything else is a bug in the adapter).
METRICS = (*ENGAGEMENT, *REACH)


def engagement(values: Mapping[str, int]) -> int:
    """The engagement of one post from its latest values (missing interactions count as none)."""
    return sum(values.get(name, 0) for name in ENGAGEMENT)


@dataclass(frozen=True)
class Sample:
    """One value read from a platform at one moment (aware UTC)."""

    post_id: int
    metric: str
    value: int
    collected_at: datetime


@dataclass(frozen=True)
class PostInfo:
    """What the report needs to know about one sent post."""

    id: int
    post_key: str
    channel: str
    account: str
    #: When it was published (aware UTC).
    sent_at: datetime
    remote_url: str | None = None
    #: The first line of its text, for tables.
    excerpt: str = ""
    #: Links it carried (with their UTM parameters: ``utm_content`` joins web analytics to this post).
    links: tuple[str, ...] = ()
    #: True when the platform answered that the post no longer exists.
    gone: bool = False


@dataclass(frozen=True)
class ReportInput:
    """Everything a report is built from; the CLI fills it from the queue and the campaign file."""

    campaign: str
    zone: str
    posts: tuple[PostInfo, ...]
    samples: tuple[Sample, ...]
    #: Channels whose platform offers no way to read counts back (Slack, Discord, Teams, Telegram, webhooks).
    no_metrics_api: frozenset[str] = frozenset()
    #: Follower counts by account, where the platform gives them.
    followers: Mapping[str, int] = field(default_factory=dict)
    #: When the report was made (aware UTC).
    generated_at: datetime | None = None
