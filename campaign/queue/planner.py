"""Compare what a campaign file wants (planned posts) with what is queued, and apply the difference.

:func:`plan` sorts every post into one of:

- **add**: not queued yet;
- **readd**: queued but cancelled by an earlier `apply` (it had left the file) and now back;
- **update**: waiting (scheduled, retry_wait, paused) and its text, link, time or send settings changed;
  old and new are both kept for the diff. Its id and idempotency key (derived from identity, never from
  content) stay;
- **cancel**: waiting, but no longer in the file;
- **unchanged**: queued exactly as wanted;
- **untouchable**: claimed, sending, sent or otherwise final (or a thread with parts already published):
  never rewritten by `apply`; listed so a person sees what the file can no longer change.

:func:`apply` makes exactly those changes in one transaction (:meth:`Store.apply_changes` re-validates each
against the queue, so a post claimed meanwhile is skipped, not overwritten). Applying the same posts twice
changes nothing. ``now`` is an aware datetime supplied by the caller.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from campaign.errors import ConfigError, ScheduleError
from campaign.plan.posts import PlannedPost
from campaign.queue.states import PLANNABLE, Status
from campaign.queue.values import APPLY_ACTOR, ApplyResult, Cancel, QueuedPost, Update

if TYPE_CHECKING:
    from campaign.queue.store import Store


@dataclass(frozen=True)
class Change:
    """A queued post and what the file now wants for it (``new`` is None when it left the file)."""

    old: QueuedPost
    new: PlannedPost | None
    #: Why an untouchable post cannot be changed, or why a post is cancelled.
    reason: str = ""

    @property
    def text_changed(self) -> bool:
        return self.new is not None and (
            tuple(self.new.parts) != self.old.parts or self.new.link != self.old.link
        )

    @property
    def time_changed(self) -> bool:
        return self.new is not None and not _same_time(self.old, self.new)

    @property
    def differs(self) -> bool:
        """True when the file wants something other than what is queued."""
        return self.new is None or not _same(self.old, self.new)


@dataclass(frozen=True)
class Plan:
    """The difference between a campaign file and the queue, computed at ``now``."""

    campaign: str
    now: datetime
    add: tuple[PlannedPost, ...] = ()
    readd: tuple[Change, ...] = ()
    update: tuple[Change, ...] = ()
    cancel: tuple[Change, ...] = ()
    unchanged: tuple[QueuedPost, ...] = ()
    untouchable: tuple[Change, ...] = field(default=())
    #: Past occurrences of recurring posts that are not queued: (post key, how many, whether the post says
    #: send_late, so the latest one is queued due now instead).
    past: tuple[tuple[str, int, bool], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when applying would change nothing."""
        return not (self.add or self.readd or self.update or self.cancel)


def _same_time(old: QueuedPost, new: PlannedPost) -> bool:
    """True when ``new`` wants ``old``'s time. A send-late post whose written time has passed is planned
    due at each plan's own ``now``; queued already due (at an earlier ``now`` or at that past time), it is
    what the file wants, so applying the same file again changes nothing."""
    if old.scheduled_at == new.scheduled_at:
        return True
    return new.due_now and old.send_late and old.scheduled_at <= new.scheduled_at


def _same(old: QueuedPost, new: PlannedPost) -> bool:
    return (
        old.content_hash == new.content_hash
        and _same_time(old, new)
        and old.zone == new.zone
        and old.send_late == new.send_late
        and old.late_window == new.late_window
    )


def _check_time(post: PlannedPost, now: datetime) -> None:
    if post.scheduled_at < now and not post.send_late:
        raise ScheduleError(
            f"{post.label} on {post.channel}: {post.scheduled_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC is in "
            "the past (mark the post send_late to queue it due now)"
        )


@dataclass
class _Sorting:
    """The piles :func:`plan` sorts posts into, filled in place."""

    add: list[PlannedPost] = field(default_factory=list)
    readd: list[Change] = field(default_factory=list)
    update: list[Change] = field(default_factory=list)
    cancel: list[Change] = field(default_factory=list)
    unchanged: list[QueuedPost] = field(default_factory=list)
    untouchable: list[Change] = field(default_factory=list)

    def plan(self, campaign: str, now: datetime, past: tuple[tuple[str, int, bool], ...]) -> Plan:
        return Plan(
            campaign=campaign,
            now=now,
            past=past,
            add=tuple(self.add),
            readd=tuple(self.readd),
            update=tuple(self.update),
            cancel=tuple(self.cancel),
            unchanged=tuple(self.unchanged),
            untouchable=tuple(self.untouchable),
        )


def _why_not_wanted(old: QueuedPost, now: datetime, past: Mapping[str, tuple[int, bool]]) -> str:
    """Why a waiting post the campaign no longer wants is cancelled: a recurrence's occurrence now in the
    past (the compile skips those: only the latest goes out late with ``send_late``), or the file dropped
    it."""
    if old.occurrence and old.scheduled_at < now and old.post_key in past:
        late = past[old.post_key][1]
        return "a past occurrence, not sent in time" + (" (send_late sends only the latest)" if late else "")
    return "removed from the campaign file"


def plan(
    store: Store,
    campaign: str,
    desired: Sequence[PlannedPost],
    now: datetime,
    past: Mapping[str, tuple[int, bool]] | None = None,
) -> Plan:
    """Sort ``desired`` (all posts of ``campaign``) against the queue; changes nothing. ``past`` is the
    compile's count of past occurrences skipped per post key (:attr:`Compiled.past`), for the plan to show.

    Raises ConfigError for a post of another campaign or a duplicate identity, and ScheduleError for a new
    or moved post whose time is before ``now`` unless it may be sent late.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    queued = {q.idempotency_key: q for q in store.campaign_posts(campaign)}
    cancelled_by = store.cancelled_by(q.id for q in queued.values() if q.status == Status.CANCELLED)
    piles = _Sorting()
    wanted: set[str] = set()
    for post in desired:
        if post.campaign != campaign:
            raise ConfigError(f"post {post.label} belongs to campaign {post.campaign!r}, not {campaign!r}")
        key = post.idempotency_key
        if key in wanted:
            raise ConfigError(f"post {post.label} on {post.channel} appears twice in campaign {campaign!r}")
        wanted.add(key)
        _sort_wanted(piles, post, queued.get(key), cancelled_by, now)
    for key, old in queued.items():
        if key in wanted or old.status == Status.CANCELLED:
            continue
        if old.status in PLANNABLE:
            piles.cancel.append(Change(old, None, _why_not_wanted(old, now, past or {})))
        else:
            piles.untouchable.append(Change(old, None, f"removed from the file but already {old.status}"))
    return piles.plan(campaign, now, tuple((key, n, late) for key, (n, late) in sorted((past or {}).items())))


def _sort_wanted(
    piles: _Sorting, post: PlannedPost, old: QueuedPost | None, cancelled_by: dict[int, str], now: datetime
) -> None:
    """Put one post of the file on its pile, given what is queued under its key (``old``)."""
    if old is None:
        _check_time(post, now)
        piles.add.append(post)
    elif old.status == Status.CANCELLED:
        if cancelled_by.get(old.id) == APPLY_ACTOR:
            _check_time(post, now)
            piles.readd.append(Change(old, post))
        else:
            piles.untouchable.append(Change(old, post, "cancelled by a person (campaign cancel)"))
    elif old.status not in PLANNABLE or old.part_receipts:
        why = "parts already published" if old.status in PLANNABLE else f"already {old.status}"
        piles.untouchable.append(Change(old, post, why))
    elif _same(old, post):
        piles.unchanged.append(old)
    else:
        if post.scheduled_at != old.scheduled_at:
            _check_time(post, now)
        piles.update.append(Change(old, post))


def apply(store: Store, plan: Plan, *, now: datetime | None = None) -> ApplyResult:
    """Make exactly the plan's changes in one transaction (at ``now``, default the plan's ``now``)."""
    def as_update(change: Change) -> Update:
        assert change.new is not None
        return Update(change.old.id, change.old.status, change.old.updated_at, change.new)

    return store.apply_changes(
        add=plan.add,
        update=[as_update(c) for c in plan.update],
        readd=[as_update(c) for c in plan.readd],
        cancel=[Cancel(c.old.id, c.old.status, c.old.updated_at, c.reason) for c in plan.cancel],
        now=now or plan.now,
    )


# ---------------------------------------------------------------------------------------------- output


def _when(value: datetime, zone: str) -> str:
    try:
        from zoneinfo import ZoneInfo

        local = value.astimezone(ZoneInfo(zone))
    except (ValueError, KeyError, OSError):
        local = value.astimezone(UTC)
        zone = "UTC"
    text = f"{local:%Y-%m-%d %H:%M} {zone}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        # A wall time that happens twice (a fall-back night): the abbreviation says which (EDT, then EST).
        text += f" ({local.tzname() or local.strftime('%z')})"
    return text


def _text_diff(old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "queued", "file", lineterm="", n=1)
    return ["      " + line for line in lines]


def _queued_text(q: QueuedPost) -> str:
    text = "\n\n".join(q.parts)
    return text + (f"\n[link] {q.link.url}" if q.link else "")


def _planned_text(p: PlannedPost) -> str:
    return p.text + (f"\n[link] {p.link.url}" if p.link else "")


def format_plan(plan: Plan) -> str:
    """A person's view of the plan: one line per change, with a diff of changed text and time."""
    out: list[str] = [f"Plan for campaign {plan.campaign!r}:"]
    for post in plan.add:
        out.append(f"  + add     {post.label} on {post.channel} at {_when(post.scheduled_at, post.zone)}")
    for c in plan.readd:
        assert c.new is not None
        when = _when(c.new.scheduled_at, c.new.zone)
        out.append(f"  + re-add  #{c.old.id} {c.new.label} on {c.new.channel} at {when} (back in the file)")
    for c in plan.update:
        assert c.new is not None
        out.append(f"  ~ update  #{c.old.id} {c.new.label} on {c.new.channel} ({c.old.status})")
        if c.time_changed:
            before, after = _when(c.old.scheduled_at, c.old.zone), _when(c.new.scheduled_at, c.new.zone)
            out.append(f"      time: {before} -> {after}")
        if c.text_changed:
            out.extend(_text_diff(_queued_text(c.old), _planned_text(c.new)))
        if not (c.time_changed or c.text_changed):
            out.append("      settings: zone, send_late or lateness window")
    for c in plan.cancel:
        out.append(f"  - cancel  #{c.old.id} {c.old.label} on {c.old.channel} ({c.reason})")
    for c in plan.untouchable:
        if c.differs:
            out.append(f"  ! keep    #{c.old.id} {c.old.label} on {c.old.channel}: {c.reason}")
    for key, count, late in plan.past:
        why = "send_late: only the latest goes out, due now" if late else "past; not sent"
        out.append(f"  . skip    post {key!r}: {count} past occurrence{'s' if count != 1 else ''} ({why})")
    summary = (
        f"{len(plan.add) + len(plan.readd)} to add, {len(plan.update)} to update, "
        f"{len(plan.cancel)} to cancel, {len(plan.unchanged)} unchanged, {len(plan.untouchable)} untouchable"
    )
    out.append(("No changes. " if plan.is_empty else "") + summary + ".")
    return "\n".join(out)


def _planned_json(post: PlannedPost) -> dict[str, Any]:
    return {
        "label": post.label,
        "post_key": post.post_key,
        "occurrence": post.occurrence,
        "channel": post.channel,
        "account": post.account,
        "scheduled_at": post.scheduled_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "zone": post.zone,
        "parts": list(post.parts),
        "link": None
        if post.link is None
        else {"url": post.link.url, "title": post.link.title, "description": post.link.description},
        "idempotency_key": post.idempotency_key,
        "content_hash": post.content_hash,
        "send_late": post.send_late,
    }


def _change_json(c: Change) -> dict[str, Any]:
    return {
        "id": c.old.id,
        "status": c.old.status,
        "old": c.old.to_json(),
        "new": None if c.new is None else _planned_json(c.new),
        "text_changed": c.text_changed,
        "time_changed": c.time_changed,
        "reason": c.reason or None,
    }


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (for ``--json``)."""
    return {
        "campaign": plan.campaign,
        "now": plan.now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "empty": plan.is_empty,
        "add": [_planned_json(p) for p in plan.add],
        "readd": [_change_json(c) for c in plan.readd],
        "update": [_change_json(c) for c in plan.update],
        "cancel": [_change_json(c) for c in plan.cancel],
        "unchanged": [q.id for q in plan.unchanged],
        "untouchable": [_change_json(c) for c in plan.untouchable],
        "past_skipped": [{"post_key": k, "count": n, "send_late": late} for k, n, late in plan.past],
    }
