"""Expanding one ``when`` to the UTC occurrences a post goes out at; the campaign start.

Past times
----------
A one-off time before ``now`` is an error unless ``send_late``; then it is due ``now`` (DECISIONS.md, "Past
times at apply"). For a recurrence, occurrences before ``now`` are returned in :attr:`Expansion.skipped` (the
plan counts them), except that ``send_late`` makes the latest of them due ``now`` (the same setting the
daemon's lateness window honours): only one post goes out late, as APScheduler's ``coalesce`` does, never
every occurrence missed since the start. Occurrence keys never depend on ``now``.

Shifting a campaign (``--start WHEN``)
--------------------------------------
Offsets and recurrences without their own start resolve against the ``start`` argument of :func:`expand`, so
shifting a campaign is passing another start; :func:`resolve_start` reads ``--start`` (an absolute time, or an
offset such as ``+1w`` from the file's own start). Absolute times in posts are never shifted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from campaign.errors import ScheduleError
from campaign.schedule.budget import ExpandBudget
from campaign.schedule.recurrence import DEFAULT_LIMIT, expand_recurrence, sent_late
from campaign.schedule.values import At, Expansion, NextSlot, Occurrence, Offset, Recurrence, When
from campaign.schedule.when import parse_when
from campaign.schedule.zones import LATEST, aware, fmt_utc, resolve_point

if TYPE_CHECKING:
    from campaign.schedule.slots import SlotAllocator


def expand(
    when: When,
    *,
    zone: ZoneInfo,
    start: datetime | None,
    now: datetime,
    horizon: datetime,
    send_late: bool = False,
    slots: SlotAllocator | None = None,
    account: str | None = None,
    limit: int = DEFAULT_LIMIT,
    budget: ExpandBudget | None = None,
) -> Expansion:
    """Resolve ``when`` in ``zone`` to UTC occurrences.

    ``start`` is the campaign start (aware; None when the campaign has none: offsets then fail); ``now`` and
    ``horizon`` are aware instants. One-off times before ``now`` raise ScheduleError unless ``send_late``.
    :class:`NextSlot` needs ``slots`` and ``account`` and takes the first free slot not before
    ``max(now, start)``. A recurrence expands within ``budget`` (default: the operator's,
    :meth:`ExpandBudget.from_environ`). Raises ScheduleError for anything the user can fix.
    """
    now = aware(now, "now").astimezone(UTC)
    horizon = aware(horizon, "horizon").astimezone(UTC)
    if start is not None:
        start = aware(start, "start")
    if isinstance(when, NextSlot):
        if slots is None or account is None:
            raise ScheduleError("'next free slot' needs posting slots: add 'slots:' to the account")
        not_before = now if start is None else max(now, start.astimezone(UTC))
        slot = slots.next(account, not_before)
        if slot.at >= LATEST:
            raise ScheduleError(f"the next free slot lies too far in the future (after {LATEST.year - 1})")
        return Expansion((slot,))
    if isinstance(when, Recurrence):
        return expand_recurrence(when, zone, start, now, horizon, send_late, limit, budget)
    local, utc, note = resolve_point(when, zone, start)
    occurrence = Occurrence("", utc, local, zone.key, note)
    if utc < now:
        if not send_late:
            raise ScheduleError(
                f"{when.text!r} is in the past ({fmt_utc(utc)}; now {fmt_utc(now)}); "
                "set send_late: true to send it at once"
            )
        occurrence = sent_late(occurrence, now, zone)
    return Expansion((occurrence,))


def resolve_start(spec: object, *, zone: ZoneInfo, file_start: datetime | None = None) -> datetime:
    """The campaign start (aware, in ``zone``) from ``start:`` or ``--start``.

    An absolute time is taken as is (in ``zone`` unless it carries an offset); an offset (``+1w``) shifts
    ``file_start``, the campaign file's own start. Gap/fold rules apply as everywhere.
    """
    when = parse_when(spec)
    if not isinstance(when, At | Offset):
        raise ScheduleError(
            f"invalid campaign start {spec!r}: expected a time like '2027-01-18 09:00' or '+1w'"
        )
    return resolve_point(when, zone, file_start)[0]
