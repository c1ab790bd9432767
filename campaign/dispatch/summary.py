"""What one ``campaign daemon --once`` pass did, in one line, and the exit code cron and CI act on.

Example: ``3 sent, 1 waiting to retry at 10:05 HKT, 1 failed; next due 2027-01-19 09:00 HKT (01:00 UTC)``.
Times are local to each post's campaign zone, with the zone's abbreviation (UTC beside the next due time).
The exit code is 1 when something waits for a person: a post failed, missed its window or is ``unknown``
(it may or may not have been published), was deferred for a reason only a person can fix (no loaded
campaign file defines it, a credential is missing), or a campaign file could not be loaded (its posts
wait); retries the daemon will make by itself are not a failure. A pass cut short by a queue that stopped
answering (``failed``) says "nothing was sent" rather than "nothing was due", and the command then ends with
that error's one line and exit code (``campaign daemon``): the posts it did not reach wait for the next pass.

A long-running daemon stopped by SIGTERM/SIGINT says nothing when its stop was clean; when the stop cut off
requests in flight (its grace period ran out, or a second signal), their posts are ``unknown`` and its
:class:`StopReport` is one line naming them and exit code 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from campaign.dispatch.decide import CUT_OFF
from campaign.dispatch.outcomes import Outcome
from campaign.errors import StoreError

#: Outcomes that need a person (`campaign retry`, a look at the platform, or a fixed file). ``blocked`` is a
#: deferral only a person can end: no loaded campaign file defines the post, or a credential is missing.
NEEDS_A_PERSON = ("failed", "missed", "unknown", "blocked")
#: How the line names an outcome, where that differs from its name.
SAID = {"blocked": "deferred until a person fixes their campaign file or credentials (see the log)"}
#: Outcomes after which the daemon never touches the post again (final states: campaign.queue.states).
FINAL = ("sent", "failed", "missed")
#: The order outcomes are listed in.
ORDER = ("sent", "retry", "deferred", "requeued", "released", "reconciled", *NEEDS_A_PERSON)


def local_time(at: datetime, zone: str, *, date: bool = True) -> str:
    """``2027-01-19 09:00 HKT`` (or ``09:00 HKT`` without ``date``) in ``zone``; UTC for an unknown zone."""
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (ValueError, KeyError):
        local = at.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M %Z" if date else "%H:%M %Z")


class PassTally:
    """The ``on_outcome`` of a ``--once`` pass: each post's last outcome, in memory that does not grow with
    the posts sent.

    A post may have several outcomes in one pass (deferred, then sent); its last one counts. Outcomes after
    which the daemon never touches a post again (:data:`FINAL`) are only counted; a post whose last outcome
    is another one (it may still change in this pass) is kept by id, with its retry time and campaign while
    it waits to retry. Keeping every :class:`Outcome` cost about 0.7 KB a post: 106 MB instead of 84 at the
    end of a 30,000-post backlog (docs/BENCHMARKS.md, twenty-first pass).
    """

    def __init__(self) -> None:
        #: Posts that ended in a final outcome, by outcome.
        self.final: Counter[str] = Counter()
        #: Post id -> the name of its last outcome, while that outcome is not final.
        self.pending: dict[int, str] = {}
        #: Post id -> (retry time, campaign), while its last outcome is ``retry``.
        self.retries: dict[int, tuple[datetime | None, str]] = {}

    def __call__(self, outcome: Outcome) -> None:
        post_id = outcome.post_id
        if self.pending:
            self.pending.pop(post_id, None)
            self.retries.pop(post_id, None)
        if outcome.outcome in FINAL:
            self.final[outcome.outcome] += 1
            return
        self.pending[post_id] = "blocked" if outcome.needs_a_person else outcome.outcome
        if outcome.outcome == "retry":
            self.retries[post_id] = (outcome.next_attempt_at, outcome.campaign)

    @property
    def counts(self) -> Counter[str]:
        """Posts by their last outcome."""
        return self.final + Counter(self.pending.values())

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> PassTally:
        """A tally of ``outcomes``, in order."""
        tally = cls()
        for outcome in outcomes:
            tally(outcome)
        return tally


@dataclass(frozen=True)
class PassSummary:
    """What one pass did (:class:`PassTally`), the next due post and broken campaign files."""

    tally: PassTally = field(default_factory=PassTally)
    #: (UTC time, zone) of the next post due after the pass, if any.
    next_due: tuple[datetime, str] | None = None
    #: Campaign file -> why it could not be loaded.
    broken_files: Mapping[str, str] = field(default_factory=dict)
    #: Campaign -> its zone (for retry times).
    zone_of: Callable[[str], str] = lambda _campaign: "UTC"
    #: Why the pass's dispatch stopped short (the queue failed), or None.
    failed: StoreError | None = None

    @property
    def counts(self) -> Counter[str]:
        return self.tally.counts

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
                timed = [(at, campaign) for at, campaign in self.tally.retries.values() if at is not None]
                if timed:
                    at, campaign = min(timed, key=lambda retry: retry[0])
                    local = local_time(at, self.zone_of(campaign), date=False)
                    parts.append(f"{n} waiting to retry at {local}")
                else:
                    parts.append(f"{n} waiting to retry")
            else:
                parts.append(f"{n} {SAID.get(name, name)}")
        if self.broken_files:
            n = len(self.broken_files)
            parts.append(f"{n} campaign file{'s' if n != 1 else ''} skipped (see `campaign status`)")
        text = ", ".join(parts) or ("nothing was sent" if self.failed is not None else "nothing was due")
        if self.next_due is not None:
            at, zone = self.next_due
            utc = at.astimezone(UTC)
            local = local_time(at, zone)
            text += f"; next due {local}" + ("" if local.endswith(" UTC") else f" ({utc:%H:%M} UTC)")
        else:
            text += "; nothing else is queued"
        return text


#: Post ids a stop report names before it says "and N more".
SHOWN_IDS = 10


@dataclass
class StopReport:
    """The posts whose requests a signal-stopped daemon cut off (now ``unknown``): the ``on_outcome`` it
    installs when the stop begins, after ``then`` (the one it had, if any). Nothing is recorded while the
    daemon runs, and only the cut-off reason counts: a post already ``unknown`` whose lookup ends during the
    grace period is not one the stop cut off. Empty after a clean stop."""

    grace: float
    unknown: list[int] = field(default_factory=list)
    then: Callable[[Outcome], None] | None = None
    #: Posts whose outcome the queue did not take at the stop (still ``sending``), and why.
    unwritten: list[int] = field(default_factory=list)
    write_error: StoreError | None = None

    def __call__(self, outcome: Outcome) -> None:
        if self.then is not None:
            self.then(outcome)
        if outcome.outcome == "unknown" and outcome.detail == CUT_OFF:
            self.unknown.append(outcome.post_id)

    @property
    def exit_code(self) -> int:
        return 1 if self.unknown or self.unwritten else 0

    def line(self) -> str:
        """``daemon stopped with 2 posts unknown (ids 12, 15): ...``: how many, which, what happens next;
        then the posts whose outcomes could not be written, if any."""
        unknown, unwritten = sorted(set(self.unknown) - set(self.unwritten)), sorted(set(self.unwritten))
        said = []
        if unknown:
            one = len(unknown) == 1
            were = "its request was" if one else "their requests were"
            said.append(
                f"{_posts(unknown)} unknown ({_ids(unknown)}): {were} in flight when it stopped "
                f"(--grace {self.grace:g} s) and may have published; the next start re-examines "
                f"{'it' if one else 'them'} (the platform's lookup, or a retry with the same key inside its "
                "window): `campaign show ID`"
            )
        if unwritten:
            one = len(unwritten) == 1
            said.append(
                f"{_posts(unwritten)} whose outcome{'' if one else 's'} the queue did not take "
                f"({_ids(unwritten)}; {self.write_error}): {'it stays' if one else 'they stay'} sending, and "
                f"the next start re-examines {'it' if one else 'them'} as unknown"
            )
        return "daemon stopped with " + "; and with ".join(said)


def _posts(ids: list[int]) -> str:
    return f"{len(ids)} post{'' if len(ids) == 1 else 's'}"


def _ids(ids: list[int]) -> str:
    """``id 7`` or ``ids 7, 19, ... and 3 more`` (the first ten)."""
    more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return f"id{'' if len(ids) == 1 else 's'} {', '.join(map(str, ids[:SHOWN_IDS]))}{more}"
