"""Scheduling arithmetic: what a campaign file says about *when* a post goes out, turned into exact UTC times.

Pure functions: no I/O and no wall clock. Every "now", campaign start and horizon is a parameter, and every
datetime handed in must be aware. Errors are :class:`~campaign.errors.ScheduleError` with one line that stands
alone (the caller prefixes the file, line and post).

This module is the public face of :mod:`campaign.schedule`; the work is done, one concept per module, in:

* :mod:`~campaign.schedule.values`: the parsed and expanded values (:class:`At`, :class:`Occurrence`, ...);
* :mod:`~campaign.schedule.when`: parsing every form of ``when:`` (:func:`parse_when`, :func:`parse_clock`);
* :mod:`~campaign.schedule.cron`: the cron grammar and its translation to ``dateutil`` rules;
* :mod:`~campaign.schedule.zones`: zones, and wall times resolved across DST gaps and folds;
* :mod:`~campaign.schedule.recurrence`: cron/RRULE expansion up to an end, a count or the horizon;
* :mod:`~campaign.schedule.budget`: the time budget of one expansion (:class:`ExpandBudget`);
* :mod:`~campaign.schedule.expand`: one ``when`` to occurrences (:func:`expand`), past times, the start;
* :mod:`~campaign.schedule.slots`: posting slots (:class:`SlotAllocator`).
"""

from __future__ import annotations

from campaign.schedule.budget import ExpandBudget, ExpandBudgetError
from campaign.schedule.cron import parse_cron
from campaign.schedule.expand import expand, resolve_start
from campaign.schedule.recurrence import DEFAULT_LIMIT
from campaign.schedule.slots import SLOT_SEARCH_DAYS, SlotAllocator, Slots, parse_slots
from campaign.schedule.values import (
    At,
    CronSpec,
    Expansion,
    NextSlot,
    Occurrence,
    Offset,
    Point,
    Recurrence,
    When,
)
from campaign.schedule.when import parse_clock, parse_when
from campaign.schedule.zones import localize, parse_instant, resolve_zone

__all__ = [
    "DEFAULT_LIMIT",
    "SLOT_SEARCH_DAYS",
    "At",
    "CronSpec",
    "ExpandBudget",
    "ExpandBudgetError",
    "Expansion",
    "NextSlot",
    "Occurrence",
    "Offset",
    "Point",
    "Recurrence",
    "SlotAllocator",
    "Slots",
    "When",
    "expand",
    "localize",
    "parse_clock",
    "parse_cron",
    "parse_instant",
    "parse_slots",
    "parse_when",
    "resolve_start",
    "resolve_zone",
]
