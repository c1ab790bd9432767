"""Failure alerts: failed, unknown and missed posts reported to a campaign's ``alerts:`` account, batched.

A campaign file may name one of its accounts (typically a team chat) under ``alerts:``. The dispatcher
:meth:`Alerts.report`\\ s every post that ends ``failed``, ``unknown`` or ``missed``; :meth:`Alerts.flush`
sends at most one message per alert account per ``interval`` (default 15 minutes), listing every post
reported since the last message.

No loops: an alert is sent through the adapter directly (never queued as a post), and the failure of an
alert message is only logged, never reported as an alert. An undelivered batch is kept for the next flush
and dropped, with an ERROR log, after :data:`MAX_FAILURES` failed deliveries. Alerts live in memory: the
posts they describe stay ``failed``/``unknown``/``missed`` in the queue (``campaign status``), so a crash
loses at most the notification, never the post.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from campaign.channels.base import Adapter, Part, Receipt
from campaign.errors import CampaignError

logger = logging.getLogger(__name__)

#: Deliveries of one batch tried before it is dropped.
MAX_FAILURES = 3
DEFAULT_INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True)
class Alert:
    """One post that needs a person: what happened to it and why."""

    campaign: str
    post_id: int
    label: str
    channel: str
    status: str
    reason: str
    at: datetime

    def line(self) -> str:
        when = self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"- [{self.status}] #{self.post_id} {self.label} on {self.channel} ({when}): {self.reason}"


@dataclass
class _Batch:
    adapter: Adapter
    pending: list[Alert] = field(default_factory=list)
    last_sent: datetime | None = None
    failures: int = 0


#: Finds the alert account's adapter for a campaign (None: the campaign names no alert account).
TargetFinder = Callable[[str], Adapter | None]
#: Sends one part through an adapter (the dispatcher's HTTP client, or the dry-run recorder).
Sender = Callable[[Adapter, Part], Awaitable[Receipt]]


class Alerts:
    """Collects alerts per alert account and sends them batched (see the module docstring)."""

    def __init__(self, target: TargetFinder, send: Sender, *, interval: timedelta = DEFAULT_INTERVAL) -> None:
        self._target = target
        self._send = send
        self.interval = interval
        self._batches: dict[str, _Batch] = {}
        #: Messages delivered so far, for the simulate summary (a count: a daemon runs for months).
        self.delivered = 0

    def report(self, alert: Alert) -> bool:
        """Queue ``alert`` for its campaign's alert account; False when the campaign has none."""
        try:
            adapter = self._target(alert.campaign)
        except CampaignError as exc:
            logger.error("cannot build the alert account of campaign %s: %s", alert.campaign, exc)
            return False
        if adapter is None:
            return False
        key = f"{adapter.account.channel}:{adapter.account.name}"
        batch = self._batches.setdefault(key, _Batch(adapter))
        batch.pending.append(alert)
        return True

    def next_flush_at(self) -> datetime | None:
        """The earliest time a pending batch may be sent (None: nothing pending)."""
        times = [
            (b.last_sent + self.interval) if b.last_sent else b.pending[0].at
            for b in self._batches.values()
            if b.pending
        ]
        return min(times) if times else None

    async def flush(self, now: datetime, *, force: bool = False) -> int:
        """Send every batch whose interval has passed (all of them with ``force``); returns messages sent."""
        delivered = 0
        for key, batch in self._batches.items():
            if not batch.pending:
                continue
            if not force and batch.last_sent is not None and now < batch.last_sent + self.interval:
                continue
            alerts = list(batch.pending)
            part = self._message(batch.adapter, alerts, now)
            try:
                await self._send(batch.adapter, part)
            except Exception as exc:
                # Logged only: an alert about an alert could loop forever. An exception that is not one of
                # ours (a bug in the alert account's adapter, a third party's too) fails the alert the same
                # way rather than ending the dispatch, and the daemon with it, again at each restart.
                if not isinstance(exc, CampaignError):
                    logger.error("alert to %s failed unexpectedly", key, exc_info=exc)
                batch.failures += 1
                batch.last_sent = now
                dropped = batch.failures >= MAX_FAILURES
                logger.error(
                    "alert to %s failed (%s)%s", key, exc, "; dropping it" if dropped else "; will retry",
                    extra={"account": batch.adapter.account.name, "outcome": "alert_failed"},
                )
                if dropped:
                    del batch.pending[: len(alerts)]
                    batch.failures = 0
                continue
            del batch.pending[: len(alerts)]
            batch.last_sent = now
            batch.failures = 0
            delivered += 1
            self.delivered += 1
            logger.info(
                "alert sent to %s (%d posts)", key, len(alerts),
                extra={"account": batch.adapter.account.name, "outcome": "alert_sent"},
            )
        return delivered

    @staticmethod
    def _message(adapter: Adapter, alerts: list[Alert], now: datetime) -> Part:
        """One message listing ``alerts``, shortened to fit the alert channel's limit."""
        n = len(alerts)
        head = f"campaign: {n} post{'s' if n != 1 else ''} need{'s' if n == 1 else ''} attention"
        lines = [a.line() for a in alerts]
        rules = adapter.text_rules()
        tail = "Run `campaign status` and `campaign show ID` for details; `campaign retry ID` to send again."
        shown = len(lines)
        while True:
            more = [f"… and {n - shown} more"] if shown < n else []
            text = "\n".join([head, *lines[:shown], *more, tail])
            if rules.fits(text) or shown == 0:
                break
            shown -= 1
        if not rules.fits(text):
            text = head
        raw = f"{adapter.account.name}|{now.isoformat()}|{n}|{alerts[0].post_id}".encode()
        return Part(
            post_id="alert",
            idempotency_key=hashlib.sha256(raw).hexdigest()[:32],
            text=text,
            campaign=alerts[0].campaign,
        )
