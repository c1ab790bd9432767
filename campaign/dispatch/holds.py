"""Accounts held back: no request goes to an account before the time its platform (or its quota) allows.

A hold comes from a rate-limited answer (:class:`~campaign.errors.RateLimitedError`, decided by
:func:`campaign.dispatch.decide.decide`), from a response reporting its budget exhausted
(``remaining == 0``, read by :meth:`AccountHolds.sink`), or from a quota. It is kept in this process and
mirrored into the store's shared ``account_state``, so every daemon honours it. A later hold wins; an
earlier one never shortens it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from campaign.dispatch.outcomes import when

if TYPE_CHECKING:
    from campaign.channels.base import RateLimit
    from campaign.dispatch.ports import DispatchStore

logger = logging.getLogger(__name__)


class AccountHolds:
    """Account -> UTC time before which nothing may be sent to it (mirrors the store's account_state)."""

    def __init__(self, store: DispatchStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self._until: dict[str, datetime] = {}

    def until(self, account: str) -> datetime | None:
        """The end of ``account``'s hold known to this process, or None (it may have passed already)."""
        return self._until.get(account)

    def hold(self, account: str, until: datetime, reason: str) -> None:
        """Hold ``account`` until ``until`` unless it is already held at least that long."""
        until = until.astimezone(UTC)
        current = self._until.get(account)
        if current is not None and current >= until:
            return
        self._until[account] = until
        self.store.block_account(account, until, now=self.clock(), reason=reason)
        logger.warning(
            "account %s held until %s: %s", account, when(until), reason,
            extra={"account": account, "until": until, "outcome": "blocked"},
        )

    def extend(self, account: str, until: datetime, reason: str, now: datetime) -> datetime:
        """Hold ``account`` until ``until`` or its current hold, whichever is later; returns that time."""
        until = max(until.astimezone(UTC), self._until.get(account, now), now)
        self.hold(account, until, reason)
        return until

    def sink(self, account: str) -> Callable[[RateLimit], None]:
        """A rate-limit reader for ``account``'s responses: an exhausted budget holds it until the reset."""

        def sink(limit: RateLimit) -> None:
            exhausted = limit.remaining is not None and limit.remaining <= 0
            if exhausted and limit.reset_at is not None and limit.reset_at > self.clock():
                self.hold(account, limit.reset_at, "rate-limit budget exhausted")

        return sink
