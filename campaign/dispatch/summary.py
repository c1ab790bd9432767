"""What one ``campaign daemon --once`` pass did, in one line, and the exit code cron and CI act on.

Example: ``3 sent, 1 waiting to retry at 10:05 HKT, 1 failed; next due 2027-01-19 09:00 HKT (01:00 UTC)``.
Times are local to each post's campaign zone, with the zone's abbreviation (UTC beside the next due time).
The exit code is 1 when something waits for a person: a post failed, missed its window or is ``unknown``
(it may or may not have been published), or a campaign file could not be loaded (its posts wait); retries
the daemon will make by itself are not a failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from campaign.dispatch.outcomes import Outcome

#: Outcomes that need a person (`campaign retry`, a look at the platform, or a fixed file).
NEEDS_A_PERSON = ("failed", "missed", "unknown")
#: The order outcomes are listed in.
ORDER = ("sent", "retry", "deferred", "requeued", "released", "reconciled", *NEEDS_A_PERSON)


def local_time(at: datetime, zone: str, *, date: bool = True) -> str:
    """``2027-01-19 09:00 HKT`` (or ``09:00 HKT`` without ``date``) in ``zone``; UTC for an unknown zone."""
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (ValueError, KeyError):
        local = at.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M %Z" if date else "%H:%M %Z")


@dataclass(frozen=True)
class PassSummary:
    """The last outcome of each post touched in one pass, the next due post and broken campaign files."""

    outcomes: Sequence[Outcome]
    #: (UTC time, zone) of the next post due after the pass, if any.
    next_due: tuple[datetime, str] | None = None
    #: Campaign file -> why it could not be loaded.
    broken_files: Mapping[str, str] = field(default_factory=dict)
    #: Campaign -> its zone (for retry times).
    zone_of: Callable[[str], str] = lambda _campaign: "UTC"

    def _last(self) -> list[Outcome]:
        last: dict[int, Outcome] = {}
        for outcome in self.outcomes:
            last[outcome.post_id] = outcome
        return list(last.values())

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.outcome for o in self._last())

    @property
    def needs_a_person(self) -> bool:
        return bool(self.broken_files) or any(self.counts[o] for o in NEEDS_A_PERSON)

    @property
    def exit_code(self) -> int:
        return 1 if self.needs_a_person else 0

    def line(self) -> str:
        counts = self.counts
        parts: list[str] = []
        for name in ORDER:
            n = counts.get(name, 0)
            if not n:
                continue
            if name == "retry":
                retries = [o for o in self._last() if o.outcome == "retry" and o.next_attempt_at is not None]
                first = min(retries, key=lambda o: o.next_attempt_at or datetime.max.replace(tzinfo=UTC))
                at = first.next_attempt_at
                when = f" at {local_time(at, self.zone_of(first.campaign), date=False)}" if at else ""
                parts.append(f"{n} waiting to retry{when}" if retries else f"{n} waiting to retry")
            else:
                parts.append(f"{n} {name}")
        if self.broken_files:
            n = len(self.broken_files)
            parts.append(f"{n} campaign file{'s' if n != 1 else ''} skipped (see `campaign status`)")
        text = ", ".join(parts) or "nothing was due"
        if self.next_due is not None:
            at, zone = self.next_due
            utc = at.astimezone(UTC)
            text += f"; next due {local_time(at, zone)} ({utc:%H:%M} UTC)"
        else:
            text += "; nothing else is queued"
        return text
