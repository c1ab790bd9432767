"""The dispatcher's tunables (:class:`DispatchConfig`); the daemon's flags set the ones users choose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from campaign.channels.base import Quota
from campaign.dispatch.alerts import DEFAULT_INTERVAL
from campaign.dispatch.retry import RetryPolicy

__all__ = ["DispatchConfig"]


@dataclass(frozen=True)
class DispatchConfig:
    """Tunables of the dispatcher. Durations in seconds unless typed as timedelta."""

    #: Lease owner and event actor, e.g. ``daemon:HOST:PID``.
    owner: str
    lease_seconds: float = 300.0
    heartbeat_seconds: float = 60.0
    #: Posts in flight at once, overall / per channel (None: no cap below ``concurrency``) / per account.
    #: The daemon's flags of the same names set them; README "The daemon" justifies the defaults. Claims
    #: hold up to ``per_account`` more posts of an account ready (module docstring).
    concurrency: int = 100
    per_channel: int | None = None
    per_account: int = 1
    #: Most posts claimed per statement; claimed posts not yet started are kept up to
    #: ``max(batch_size - concurrency, concurrency)`` (the pool's prefetch).
    batch_size: int = 400
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Wait after a rate limit that names no reset time.
    rate_limit_wait: timedelta = timedelta(seconds=60)
    #: Wait before retrying a post whose account cannot be built (missing file or credential).
    config_retry: timedelta = timedelta(minutes=5)
    #: Wait before repeating a failed lookup of an unknown post.
    lookup_retry: timedelta = timedelta(minutes=5)
    #: Wait before claiming again a post deferred because the queue failed before anything was sent for it
    #: (its ``sending`` mark or a read before its first request: connection lost, database locked or full).
    store_retry: timedelta = timedelta(seconds=10)
    #: Quotas by channel that replace the adapters' ``default_quota`` (tests; accounts use ``daily_quota``).
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    #: Run exchanges against the adapters' fake responses (nothing leaves the machine).
    dry_run: bool = False
    #: Unknown posts examined per dispatch.
    reconcile_limit: int = 1000
    #: At most one alert message per alert account per this interval.
    alert_interval: timedelta = DEFAULT_INTERVAL
    #: Group commit: an outcome waits at most this many seconds (or until ``commit_rows`` are queued) to
    #: share a transaction with others; a ``sending`` mark waits only for the next turn of the event loop.
    commit_delay: float = 0.01
    commit_rows: int = 256
