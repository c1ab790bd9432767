"""Reporting what the dispatcher did with each post: :class:`Outcome`, its log line, its alert.

An outcome is reported only once the state it describes is committed (the group writer calls back). Quiet
outcomes (sent, deferred, released, requeued, reconciled) log at INFO, the others at WARNING; failed,
missed and unknown posts that need a person also go to the campaign's alert account
(:mod:`campaign.dispatch.alerts`). Times come from the dispatcher's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from campaign.dispatch.alerts import Alert, Alerts
from campaign.logs import log_fields
from campaign.queue.values import post_label

if TYPE_CHECKING:
    from campaign.queue.store import ClaimedPost, QueuedPost

#: Outcome lines keep the logger name operators know them by (they were logged by the dispatcher module).
logger = logging.getLogger("campaign.dispatch.dispatcher")

#: Outcomes logged at INFO; every other outcome is a WARNING.
QUIET = ("sent", "deferred", "released", "requeued", "reconciled")


@dataclass(frozen=True)
class Outcome:
    """What one dispatch did with one post (for logs, ``simulate`` and tests)."""

    post_id: int
    campaign: str
    post_key: str
    occurrence: str
    channel: str
    account: str
    #: sent, retry, failed, unknown, missed, deferred, released, requeued, reconciled
    outcome: str
    at: datetime
    parts: int
    parts_sent: int = 0
    attempt: int = 0
    detail: str = ""
    remote_id: str | None = None
    url: str | None = None
    next_attempt_at: datetime | None = None
    #: A deferral only a person can end (a campaign file or a credential to fix).
    needs_a_person: bool = False

    @property
    def label(self) -> str:
        return post_label(self.post_key, self.occurrence, self.account)


class Reporter:
    """Reports outcomes: one log line each, ``on_outcome`` (``simulate``, tests), alerts for a person."""

    def __init__(
        self,
        alerts: Alerts,
        clock: Callable[[], datetime],
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.alerts = alerts
        self.clock = clock
        self.on_outcome = on_outcome

    def emit(
        self,
        post: ClaimedPost | QueuedPost,
        outcome: str,
        *,
        log: bool = True,
        detail: str = "",
        parts_sent: int = 0,
        attempt: int = 0,
        remote_id: str | None = None,
        url: str | None = None,
        next_attempt_at: datetime | None = None,
        needs_a_person: bool = False,
    ) -> None:
        """Report ``outcome`` for ``post`` (``log=False``: the caller has logged it already)."""
        level = logging.INFO if outcome in QUIET else logging.WARNING
        log = log and logger.isEnabledFor(level)
        if not log and self.on_outcome is None:
            return  # nobody reads it (a daemon logging WARNING and above sends most posts quietly)
        if log:
            text = f"post {post.id} {post_label(post.post_key, post.occurrence, post.account)} {outcome}"
            log_fields(
                logger, level, f"{text}: {detail}" if detail else text,
                extra(post, outcome=outcome, attempt=attempt or None, remote_id=remote_id,
                      next_attempt_at=next_attempt_at),
            )
        if self.on_outcome is not None:
            self.on_outcome(Outcome(
                post_id=post.id,
                campaign=post.campaign,
                post_key=post.post_key,
                occurrence=post.occurrence,
                channel=post.channel,
                account=post.account,
                outcome=outcome,
                at=self.clock(),
                parts=len(post.parts),
                parts_sent=parts_sent,
                attempt=attempt,
                detail=detail,
                remote_id=remote_id,
                url=url,
                next_attempt_at=next_attempt_at,
                needs_a_person=needs_a_person,
            ))

    def alert(self, post: ClaimedPost | QueuedPost, status: str, reason: str) -> None:
        """Queue an alert about ``post`` for its campaign's alert account."""
        occ = f"@{post.occurrence}" if post.occurrence else ""
        self.alerts.report(
            Alert(
                campaign=post.campaign,
                post_id=post.id,
                label=f"{post.post_key}{occ}/{post.account}",
                channel=post.channel,
                status=status,
                reason=reason,
                at=self.clock(),
            )
        )


def extra(post: ClaimedPost | QueuedPost, **kw: Any) -> dict[str, Any]:
    """The structured log fields naming ``post``, plus ``kw`` (None values left out)."""
    return {
        "post_id": post.id,
        "campaign": post.campaign,
        "channel": post.channel,
        "account": post.account,
        **{k: v for k, v in kw.items() if v is not None},
    }


def when(value: datetime) -> str:
    """``value`` as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(delta: timedelta) -> str:
    """A duration in its largest whole unit: ``1h``, ``24h`` is ``1d``, ``90s``."""
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def missed_because(post: ClaimedPost, now: datetime) -> str | None:
    """Why ``post`` is ``missed`` rather than sent at ``now``, or None when it goes out: found later than
    its lateness window (unless ``send_late``), or a ``send_late`` occurrence that a later due occurrence of
    the same post supersedes (only the latest goes out late, :attr:`ClaimedPost.superseded_by`). The
    caller never asks for a thread already partly published: that one is always finished."""
    if post.is_late(now):
        return (
            f"found due {ago(now - post.due_at)} after {when(post.due_at)}, later than its lateness window "
            f"({ago(post.late_window)})"
        )
    if post.superseded_by:
        return (
            f"found due {ago(now - post.due_at)} after {when(post.due_at)}, and the later occurrence "
            f"{post.superseded_by} is due too: send_late sends only the latest"
        )
    return None
