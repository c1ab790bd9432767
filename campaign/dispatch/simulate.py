"""Rehearse a whole campaign in seconds: the real dispatcher core, dry-run, on a simulated clock.

:func:`simulate` compiles the campaign file, applies it (through :mod:`campaign.queue.planner`) into a
temporary
SQLite queue, and drives :meth:`campaign.dispatch.dispatcher.Dispatcher.dispatch_due` with a simulated clock
that
jumps to each next wake time (``speed``: simulated seconds per real second; None: as fast as possible).
Every exchange runs against the adapters' fake responses with placeholder credentials: nothing leaves the
machine and no secret is read. Lateness windows, thread order, quotas and alerts behave as in the daemon.

Which dates a rehearsal uses (:func:`rehearsal_start`): the file's own when its start is still ahead (the
rehearsal then matches the preview); otherwise the whole campaign is shifted, as ``--start`` would shift it,
to the next moment on the file start's weekday at its local time of day (day 0's posts keep their place
relative to the start, weekly posts their weekday), or to the next whole hour when the start cannot be read.
The simulated clock begins at the earliest post (or the start, if earlier), so no post lies in the
rehearsal's past: a rehearsal never warns "in the past" about itself.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campaign.dispatch.campaigns import CampaignDirectory, load_campaign_file
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher, Outcome

#: A runaway guard: no real campaign needs this many dispatch rounds.
MAX_ROUNDS = 1_000_000


class SimClock:
    """A settable clock (aware UTC); the dispatcher reads it, the simulation moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SimulationReport:
    """What a simulation did: every dispatch outcome, plus the compile's warnings and skipped occurrences."""

    campaign: str
    zone: str
    start: datetime
    posts: int
    dispatches: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alerts: int = 0
    requests: int = 0
    end: datetime | None = None
    #: Metrics readings made with invented engagement (0 when the rehearsal left metrics out).
    readings: int = 0
    #: The campaign report built from the rehearsal's invented engagement, as text and as JSON.
    sample_report: str = ""
    sample_report_json: dict[str, Any] | None = None
    #: The built report itself (:class:`campaign.report.build.Report`), for other formats.
    built_report: Any = None

    def count(self, outcome: str) -> int:
        return sum(1 for d in self.dispatches if d.outcome == outcome)

    @property
    def sent_by_channel(self) -> dict[str, int]:
        counts = Counter(d.channel for d in self.dispatches if d.outcome == "sent")
        return dict(sorted(counts.items()))

    @property
    def missed(self) -> list[Outcome]:
        return [d for d in self.dispatches if d.outcome == "missed"]

    @property
    def ok(self) -> bool:
        """True when every queued post was sent."""
        return self.count("sent") == self.posts

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "zone": self.zone,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "posts": self.posts,
            "dispatches": [outcome_json(d, self.zone) for d in self.dispatches],
            "summary": {
                "sent": self.count("sent"),
                "sent_by_channel": self.sent_by_channel,
                "missed": self.count("missed"),
                "failed": self.count("failed"),
                "unknown": self.count("unknown"),
                "deferred": self.count("deferred"),
                "warnings": self.warnings,
                "alerts": self.alerts,
                "requests": self.requests,
                "metrics_readings": self.readings,
            },
            "sample_report": self.sample_report_json,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local(value: datetime, zone: str) -> str:
    """``2027-01-18 09:00 HKT``: a time in the campaign's zone."""
    moment = value.astimezone(ZoneInfo(zone))
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def outcome_json(d: Outcome, zone: str) -> dict[str, Any]:
    return {
        "at": _iso(d.at),
        "local": local(d.at, zone),
        "channel": d.channel,
        "account": d.account,
        "post": d.label,
        "parts": d.parts,
        "outcome": d.outcome,
        "detail": d.detail or None,
        "remote_id": d.remote_id,
        "next_attempt_at": _iso(d.next_attempt_at),
    }


def format_outcome(d: Outcome, zone: str) -> str:
    """One line per dispatch: time in the campaign zone, channel/account, post, parts, outcome."""
    parts = f"{d.parts} part{'s' if d.parts != 1 else ''}"
    detail = f"  ({d.detail})" if d.detail and d.outcome != "sent" else ""
    where = f"{d.channel}/{d.account}"
    return f"{local(d.at, zone)}  {where:<28} {d.post_key + _occ(d):<40} {parts:<8} {d.outcome}{detail}"


def _occ(d: Outcome) -> str:
    return f"@{d.occurrence}" if d.occurrence else ""


def format_summary(report: SimulationReport) -> str:
    lines = [
        f"Simulated {report.campaign!r} from {local(report.start, report.zone)}"
        + (f" to {local(report.end, report.zone)}" if report.end else "")
        + f": {report.count('sent')} of {report.posts} posts sent, {report.requests} requests recorded"
        " (dry run: nothing left the machine).",
    ]
    for channel, n in report.sent_by_channel.items():
        lines.append(f"  {channel:<10} {n:>5} sent")
    for outcome in ("missed", "failed", "unknown"):
        if report.count(outcome):
            lines.append(f"  {outcome}: {report.count(outcome)}")
    if report.alerts:
        lines.append(f"  alert messages: {report.alerts}")
    lines.append(f"Warnings: {len(report.warnings)}")
    lines.extend(f"  {w}" for w in report.warnings)
    return "\n".join(lines)


def default_start(now: datetime, zone: str, *, like: datetime | None = None) -> str:
    """``now`` rounded up to the next whole hour in ``zone``, as ``YYYY-MM-DD HH:MM``; with ``like`` (a
    local time), the first moment from then on on the same weekday at the same local time of day, so a
    campaign shifted there keeps its weekdays (a weekly digest stays on Mondays)."""
    moment = now.astimezone(ZoneInfo(zone))
    rounded = moment.replace(minute=0, second=0, microsecond=0)
    if rounded < moment:
        rounded += timedelta(hours=1)
    if like is not None:
        days = (like.weekday() - rounded.weekday()) % 7
        candidate = datetime.combine(rounded.date() + timedelta(days=days), like.time())
        if candidate < rounded.replace(tzinfo=None):
            candidate += timedelta(days=7)
        return f"{candidate:%Y-%m-%d %H:%M}"
    return f"{rounded:%Y-%m-%d %H:%M}"


def rehearsal_start(file_start: str, zone: str, now: datetime) -> str | None:
    """The ``--start`` a rehearsal uses when none is given, for a campaign whose ``start:`` is
    ``file_start`` in ``zone`` (rules in the module docstring); None: the file's own dates."""
    from campaign.errors import CampaignError
    from campaign.schedule.timespec import resolve_start

    try:
        start = resolve_start(file_start, zone=ZoneInfo(zone))
    except CampaignError:
        return default_start(now, zone)  # e.g. a relative start: compile reports it
    if start >= now:
        return None
    return default_start(now, zone, like=start)


#: Compiling "as of" this instant asks for no past-time warnings: the simulated clock starts at the earliest
#: post, so nothing is in the past of a rehearsal (compile uses ``now`` for nothing else).
_BEFORE_ANY_POST = datetime(1970, 1, 1, tzinfo=UTC)


def simulate(
    path: str | Path,
    *,
    start: str | None = None,
    now: datetime | None = None,
    speed: float | None = None,
    on_dispatch: Callable[[Outcome], None] | None = None,
    on_progress: Callable[[datetime, int, int], None] | None = None,
    metrics: bool = True,
) -> SimulationReport:
    """Compile, queue and rehearse ``path``. Raises the compile's first error if it has any.

    ``now`` (aware, default the wall clock) is when the rehearsal pretends to begin; ``on_dispatch`` sees
    each outcome as it happens, ``on_progress(sim_time, done, total)`` after each dispatch round.
    ``metrics``: after publishing, go on along the campaign's ``metrics:`` schedule with invented engagement
    (:class:`~campaign.dispatch.metrics.FakeEngagement`) and end with a sample report.
    """
    from campaign.plan.compile import compile_campaign
    now = (now or datetime.now(UTC)).astimezone(UTC)
    campaign = load_campaign_file(path)
    start = start or rehearsal_start(campaign.start, campaign.zone, now)
    compiled = compile_campaign(campaign, start=start, now=_BEFORE_ANY_POST)
    if compiled.errors:
        raise compiled.errors[0]
    assert compiled.campaign is not None
    first = [p.scheduled_at for p in compiled.posts]
    if compiled.start is not None:
        first.append(compiled.start.astimezone(UTC))
    begin = min(first or [now])
    report = SimulationReport(
        campaign=campaign.name,
        zone=campaign.zone,
        start=compiled.start or begin,
        posts=len(compiled.posts),
        warnings=[f"{p.label} on {p.channel}: {w}" for p in compiled.posts for w in p.warnings],
    )
    with tempfile.TemporaryDirectory(prefix="campaign-simulate-") as tmp:
        run = _Run(compiled, Path(tmp) / "queue.db", begin, speed, report, on_dispatch, on_progress, metrics)
        asyncio.run(_run(run))
    return report


@dataclass
class _Run:
    """One rehearsal's inputs."""

    compiled: Any
    db: Path
    begin: datetime
    speed: float | None
    report: SimulationReport
    on_dispatch: Callable[[Outcome], None] | None
    on_progress: Callable[[datetime, int, int], None] | None
    metrics: bool


async def _run(run: _Run) -> None:
    from campaign.dispatch.metrics import FakeEngagement, MetricsCollector
    from campaign.queue import planner
    from campaign.queue.store import Store

    report, compiled = run.report, run.compiled
    clock = SimClock(run.begin)
    with Store.open(str(run.db)) as store:
        plan = planner.plan(store, compiled.campaign.name, compiled.posts, run.begin)
        planner.apply(store, plan, now=run.begin)

        def record(outcome: Outcome) -> None:
            report.dispatches.append(outcome)
            if run.on_dispatch is not None:
                run.on_dispatch(outcome)

        directory = CampaignDirectory([compiled.campaign], placeholder=True, clock=clock)
        config = DispatchConfig(owner="simulate", dry_run=True)
        # A fixed jitter draw keeps a rehearsal reproducible.
        dispatcher = Dispatcher(store, directory, config, clock=clock, rng=lambda: 0.5, on_outcome=record)
        collector = None
        if run.metrics:
            fake = FakeEngagement(seed=compiled.campaign.name)
            collector = MetricsCollector(store, directory, offsets_for=directory.metrics_offsets, fake=fake)
        for _ in range(MAX_ROUNDS):
            wake = await dispatcher.dispatch_due(clock.now)
            if wake is None:
                report.end = report.end or clock.now
            done = sum(store.counts().get(s, 0) for s in ("sent", "failed", "missed", "cancelled"))
            if run.on_progress is not None:
                run.on_progress(clock.now, done, report.posts)
            if collector is not None:
                # Every sent post is scheduled at once: rescanning recent events is harmless.
                store.schedule_sent(clock.now, directory.metrics_offsets, settle=0)
                report.readings += (await collector.collect_due(clock.now)).posts
                wake = min([t for t in (wake, collector.next_wake()) if t is not None], default=None)
            if wake is None:
                break
            target = max(wake, clock.now + timedelta(microseconds=1))
            if run.speed:
                await asyncio.sleep(min((target - clock.now).total_seconds() / run.speed, 3600.0))
            clock.now = target
        await dispatcher.alerts.flush(clock.now, force=True)
        report.alerts = dispatcher.alerts.delivered
        report.requests = dispatcher.dry_requests
        report.end = report.end or clock.now
        if report.readings:
            _sample_report(store, compiled.campaign.name, clock.now, report)


def _sample_report(store: Any, campaign: str, now: datetime, report: SimulationReport) -> None:
    """The campaign report of the rehearsal (engagement invented), as text and JSON."""
    import json

    from campaign.report import formats
    from campaign.report.build import build_report
    from campaign.report.gather import report_input

    built = build_report(report_input(store, campaign, now=now))
    report.built_report = built
    report.sample_report = formats.to_text(built)
    report.sample_report_json = json.loads(formats.to_json(built))
