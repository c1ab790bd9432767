"""The post state machine: the one table of allowed status changes.

Every status change of a queued post is checked here (:func:`check`) or, for set-based SQL statements, built
from here (:func:`sources`: the ``WHERE status IN (...)`` of a claim, a cancel or a retry is exactly the set
of states allowed to move to the target, so an illegal row can never match). Each change writes a
``post_events`` row (:mod:`campaign.queue.store` does that in the same transaction).

::

      apply ─▶ scheduled ◀─────────────── release / lease expired ──────────────┐
                │  ▲  │                                                        │
          pause │  │  │ claim (next_attempt_at <= now)                         │
                ▼  │  ▼                                                        │
             paused│ claimed ─── lease expired / too late / cannot send ───────┤
          resume ──┘  │  │          (-> scheduled)  (-> missed)  (-> failed)    │
                      │  └── deferred (account rate limited) ──▶ retry_wait ───┘ claim again
          mark_sending│                                            ▲
                      ▼                                            │ transient error
                   sending ────────────────────────────────────────┘
                    │   │  └── permanent error ──▶ failed
          mark_sent │   └── ambiguous error / crash (lease expired) ──▶ unknown
                    ▼                                                   │
                   sent ◀──────────── reconciled: found (late receipt) ─┘

    retry (a person, due now):    failed | unknown | missed ──▶ scheduled
    cancel (a person or apply):   scheduled | retry_wait | paused | unknown ──▶ cancelled
    back in the campaign file:    cancelled (by apply only) ──▶ scheduled | paused
    pause / lateness:             retry_wait ──▶ paused | missed (like scheduled)

The authoritative form is :data:`TRANSITIONS` below; the diagram is its picture. ``sent``, ``cancelled``,
``missed`` and ``failed`` are final for the daemon (only a person or `apply` moves them, as listed).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from campaign.errors import IllegalTransitionError


class Status(StrEnum):
    """A queued post's state, stored as its value in ``posts.status``."""

    SCHEDULED = "scheduled"  # waiting for next_attempt_at
    CLAIMED = "claimed"  # leased by a daemon, not yet sending
    SENDING = "sending"  # a request may be on the wire
    SENT = "sent"  # every part published
    RETRY_WAIT = "retry_wait"  # nothing (more) was published; waiting for next_attempt_at
    UNKNOWN = "unknown"  # sent or not, we do not know
    FAILED = "failed"  # permanent error; needs a person
    CANCELLED = "cancelled"  # by `campaign cancel` or because it left the campaign file
    PAUSED = "paused"  # its campaign or account is paused
    MISSED = "missed"  # found due later than its lateness window


S = Status

#: Allowed changes: from-state -> the states it may move to. Nothing else is legal.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.SCHEDULED: frozenset({S.CLAIMED, S.PAUSED, S.CANCELLED, S.MISSED}),
    S.RETRY_WAIT: frozenset({S.CLAIMED, S.PAUSED, S.CANCELLED, S.MISSED}),
    # claimed -> scheduled: released at shutdown or lease expired; -> retry_wait: deferred before sending
    # (account rate limited); -> failed: cannot be sent at all (nothing went out); -> missed: found too late.
    S.CLAIMED: frozenset({S.SENDING, S.SCHEDULED, S.RETRY_WAIT, S.FAILED, S.MISSED}),
    S.SENDING: frozenset({S.SENT, S.RETRY_WAIT, S.FAILED, S.UNKNOWN}),
    # unknown -> sent: reconciliation found it (or the sender's receipt arrived after its lease expired);
    # -> scheduled: explicit retry, or reconciliation proved it absent / the platform deduplicates.
    S.UNKNOWN: frozenset({S.SENT, S.SCHEDULED, S.CANCELLED}),
    S.FAILED: frozenset({S.SCHEDULED}),
    S.MISSED: frozenset({S.SCHEDULED}),
    S.PAUSED: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.SCHEDULED, S.PAUSED}),
    S.SENT: frozenset(),
}

#: States a daemon may claim (their ``next_attempt_at`` is the due time).
CLAIMABLE: tuple[Status, ...] = (S.SCHEDULED, S.RETRY_WAIT)
#: States holding a lease (``lease_owner``/``lease_expires_at`` set).
LEASED: tuple[Status, ...] = (S.CLAIMED, S.SENDING)
#: States `apply` may rewrite (text, time) or cancel when the post left the file.
PLANNABLE: tuple[Status, ...] = (S.SCHEDULED, S.RETRY_WAIT, S.PAUSED)
#: States `campaign retry` accepts.
RETRYABLE: tuple[Status, ...] = (S.FAILED, S.UNKNOWN, S.MISSED)
#: States `campaign cancel` accepts.
CANCELLABLE: tuple[Status, ...] = (S.SCHEDULED, S.RETRY_WAIT, S.PAUSED, S.UNKNOWN)
#: States `pause` moves to paused.
PAUSABLE: tuple[Status, ...] = (S.SCHEDULED, S.RETRY_WAIT)


def allowed(from_status: str, to_status: str) -> bool:
    """True when the machine allows ``from_status -> to_status`` (unknown names are never allowed)."""
    try:
        return Status(to_status) in TRANSITIONS[Status(from_status)]
    except ValueError:
        return False


def check(from_status: str, to_status: str, *, post_id: int | None = None) -> None:
    """Raise :class:`IllegalTransitionError` unless ``from_status -> to_status`` is allowed."""
    if not allowed(from_status, to_status):
        who = f"post {post_id}: " if post_id is not None else ""
        raise IllegalTransitionError(f"{who}illegal state change {from_status} -> {to_status}")


def sources(to_status: Status, among: Iterable[Status] | None = None) -> tuple[Status, ...]:
    """The states allowed to move to ``to_status`` (optionally only those in ``among``), in a stable order.

    Set-based statements use this as their ``WHERE status IN (...)``, so they obey the table by construction.
    Raises :class:`IllegalTransitionError` when ``among`` names a state that may not move there.
    """
    allowed_from = tuple(s for s in Status if to_status in TRANSITIONS[s])
    if among is None:
        return allowed_from
    wanted = tuple(among)
    for status in wanted:
        check(status, to_status)
    return tuple(s for s in allowed_from if s in wanted)


def sql_in(statuses: Iterable[Status]) -> str:
    """``status IN ('a', 'b')`` with literal values (a partial index matches only an identical term)."""
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


#: The claim's status term, shared by the partial due index and the claim statement (they must be identical).
CLAIMABLE_SQL = sql_in(CLAIMABLE)
#: The embargo index's WHERE (``ix_posts_embargo``), shared with :meth:`Claims.next_due_at` likewise: waiting
#: posts due before their embargo ends. ``apply`` queues a post due no sooner than its embargo, so these are
#: few (a retry or a requeue due earlier), however many posts wait under an embargo.
EMBARGOED_SQL = f"{CLAIMABLE_SQL} AND not_before > next_attempt_at"
