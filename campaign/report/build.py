"""Build a campaign report from its sent posts and the samples read back from the platforms.

Contract: :func:`build_report` is pure (no clock, no database). Each post's figures are its *latest* sample of
each metric; growth over time comes from every sample (the table keeps history). Days are the campaign zone's
calendar days of publication. A post without any sample counts in ``posts`` but not in the averages, and a
channel without a read API is listed as such rather than as zeros.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from campaign.report.metrics import ENGAGEMENT, METRICS, REACH, PostInfo, ReportInput, Sample, engagement

#: Posts shown as best and as worst.
TOP = 5
#: Points kept per chart series (older points are thinned evenly beyond this).
MAX_POINTS = 200


@dataclass
class Totals:
    """Sums over a group of posts (a channel, a post key, a day)."""

    name: str
    posts: int = 0
    #: Posts with at least one sample.
    measured: int = 0
    values: dict[str, int] = field(default_factory=dict)
    followers: int = 0

    @property
    def engagement(self) -> int:
        return engagement(self.values)

    @property
    def per_post(self) -> float | None:
        return self.engagement / self.measured if self.measured else None

    @property
    def per_follower(self) -> float | None:
        return self.engagement / self.followers if self.followers else None

    def add(self, values: Mapping[str, int] | None) -> None:
        self.posts += 1
        if values is None:
            return
        self.measured += 1
        for name, value in values.items():
            self.values[name] = self.values.get(name, 0) + value


@dataclass(frozen=True)
class PostResult:
    """One post with its latest values."""

    post: PostInfo
    values: Mapping[str, int]
    collected_at: datetime | None
    utm_content: tuple[str, ...]

    @property
    def engagement(self) -> int:
        return engagement(self.values)


@dataclass(frozen=True)
class Report:
    campaign: str
    zone: str
    generated_at: datetime | None
    channels: list[Totals]
    keys: list[Totals]
    days: list[Totals]
    posts: list[PostResult]
    best: list[PostResult]
    worst: list[PostResult]
    #: Cumulative engagement over time: group name -> [(when, engagement)], per channel and per post key.
    channel_series: dict[str, list[tuple[datetime, int]]]
    key_series: dict[str, list[tuple[datetime, int]]]
    no_metrics_api: list[str]
    totals: Totals

    @property
    def metrics(self) -> list[str]:
        """The metric names that occur, in the canonical order."""
        seen = {name for p in self.posts for name in p.values}
        return [name for name in METRICS if name in seen]


def build_report(data: ReportInput) -> Report:
    """The report for ``data`` (see the module docstring for what each figure means)."""
    zone = ZoneInfo(data.zone)
    latest, when = _latest(data.samples)
    results = [
        PostResult(post, latest.get(post.id, {}), when.get(post.id), _utm_contents(post.links))
        for post in sorted(data.posts, key=lambda p: (p.sent_at, p.id))
    ]
    channels: dict[str, Totals] = {}
    keys: dict[str, Totals] = {}
    days: dict[str, Totals] = {}
    totals = Totals("all")
    for result in results:
        values = result.values if result.collected_at is not None else None
        day = result.post.sent_at.astimezone(zone).date().isoformat()
        for group, name in ((channels, result.post.channel), (keys, result.post.post_key), (days, day)):
            group.setdefault(name, Totals(name)).add(values)
        totals.add(values)
    _add_followers(channels, totals, data.posts, data.followers)
    measured = [r for r in results if r.collected_at is not None]
    ranked = sorted(measured, key=lambda r: (-r.engagement, r.post.sent_at, r.post.id))
    posts_by_id = {p.id: p for p in data.posts}
    return Report(
        campaign=data.campaign,
        zone=data.zone,
        generated_at=data.generated_at,
        channels=sorted(channels.values(), key=lambda t: t.name),
        keys=sorted(keys.values(), key=lambda t: t.name),
        days=sorted(days.values(), key=lambda t: t.name),
        posts=results,
        best=ranked[:TOP],
        worst=list(reversed(ranked[-TOP:])) if len(ranked) > TOP else [],
        channel_series=_series(data.samples, posts_by_id, lambda p: p.channel),
        key_series=_series(data.samples, posts_by_id, lambda p: p.post_key),
        no_metrics_api=sorted({p.channel for p in data.posts if p.channel in data.no_metrics_api}),
        totals=totals,
    )


def _latest(samples: Iterable[Sample]) -> tuple[dict[int, dict[str, int]], dict[int, datetime]]:
    """Latest value per (post, metric), and each post's latest collection time."""
    best: dict[tuple[int, str], Sample] = {}
    for s in samples:
        key = (s.post_id, s.metric)
        if key not in best or s.collected_at >= best[key].collected_at:
            best[key] = s
    values: dict[int, dict[str, int]] = defaultdict(dict)
    when: dict[int, datetime] = {}
    for (post_id, metric), s in best.items():
        values[post_id][metric] = s.value
        if post_id not in when or s.collected_at > when[post_id]:
            when[post_id] = s.collected_at
    return dict(values), when


def _add_followers(
    channels: dict[str, Totals], totals: Totals, posts: Iterable[PostInfo], followers: Mapping[str, int]
) -> None:
    accounts: dict[str, set[str]] = defaultdict(set)
    for post in posts:
        accounts[post.channel].add(post.account)
    for channel, names in accounts.items():
        count = sum(followers.get(name, 0) for name in names)
        channels[channel].followers = count
        totals.followers += count


def _utm_contents(links: Iterable[str]) -> tuple[str, ...]:
    """Every ``utm_content`` value the links carry, first seen first; a link that cannot be parsed (a post's
    text may hold ``https://[x``) carries none."""
    found: list[str] = []
    for link in links:
        try:
            query = urlsplit(link).query
        except ValueError:
            continue
        for value in parse_qs(query).get("utm_content", []):
            if value not in found:
                found.append(value)
    return tuple(found)


def _series(
    samples: Iterable[Sample], posts: Mapping[int, PostInfo], group_of: Callable[[PostInfo], str]
) -> dict[str, list[tuple[datetime, int]]]:
    """Cumulative engagement per group at each collection moment: the sum, over the group's posts, of each
    post's latest interaction counts known at that moment."""
    relevant = sorted(
        (s for s in samples if s.metric in ENGAGEMENT and s.post_id in posts), key=lambda s: s.collected_at
    )
    current: dict[int, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    series: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for s in relevant:
        group = group_of(posts[s.post_id])
        totals[group] += s.value - current[s.post_id].get(s.metric, 0)
        current[s.post_id][s.metric] = s.value
        points = series[group]
        if points and points[-1][0] == s.collected_at:
            points[-1] = (s.collected_at, totals[group])
        else:
            points.append((s.collected_at, totals[group]))
    return {name: _thin(points) for name, points in sorted(series.items())}


def _thin(points: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    if len(points) <= MAX_POINTS:
        return points
    step = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * step)] for i in range(MAX_POINTS)]


__all__ = ["ENGAGEMENT", "REACH", "PostResult", "Report", "Totals", "build_report"]
