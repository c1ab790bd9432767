"""What a failed (or finished) send means for its post: the exception ladder as one pure function.

:func:`decide` maps what ended an exchange (nothing, a classified :class:`~campaign.errors.ChannelError`,
a configuration problem, a stop request, a bug) plus two facts (did any request of the part leave? which
attempt was it?) to a :class:`Decision`. It reads no clock (``now`` is an argument), touches no store and
logs nothing; the send path and the reconcile path both act on its answer, and ``tests/test_decide.py``
holds its whole table:

=============================  =============  ===========================================================
what ended the exchange        request left?  decision
=============================  =============  ===========================================================
nothing (every part published) --             ``SENT``
:class:`Stopping`              --             ``DEFER`` until now (not an attempt)
cancellation (grace ran out)   yes            ``UNKNOWN`` (nobody knows whether it landed)
cancellation                   no             ``DEFER`` until now
:class:`RateLimitedError`      --             ``RATE_LIMITED``: account held until the platform's reset,
                                              post deferred (not an attempt)
other :class:`TransientError`  --             ``RETRY`` after backoff; ``FAILED`` once attempts are spent
:class:`PermanentError`        --             ``FAILED`` with the platform's message
:class:`AmbiguousError`        --             ``UNKNOWN``
other :class:`CampaignError`   yes            ``UNKNOWN`` (a request left; it may have landed)
  (config, credentials, store)
:class:`StoreError` of the     no             ``DEFER`` by ``store_retry`` (the queue failed, say a lost
  queue itself (not one post's                connection: nothing to fix in the campaign)
  lost lease or state)
other :class:`CampaignError`   no             ``DEFER`` by ``config_retry``, reported as an ERROR
any other exception (a bug)    yes            ``UNKNOWN``, logged with its traceback
                               no             ``FAILED``, logged with its traceback
=============================  =============  ===========================================================

The backoff's jitter is the one random input of a retry; it is drawn by the caller
(:meth:`~campaign.dispatch.retry.RetryPolicy.next_attempt_at`) only for a ``RETRY``, so a post that is
given up on draws nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeGuard

from campaign.dispatch.retry import RetryPolicy
from campaign.errors import (
    AmbiguousError,
    CampaignError,
    ChannelError,
    DatabaseLockedError,
    PermanentError,
    RateLimitedError,
    StoreError,
    TransientError,
)
from campaign.secrets import redact_resolved

#: StoreErrors that say the queue itself could not be used (a lost connection, a lock held too long), not
#: that one post moved on (LeaseLostError and the other subclasses).
QUEUE_FAILURES = (StoreError, DatabaseLockedError)
#: The reason of a post whose request the daemon's stop cut off (the grace period ran out, a second signal).
CUT_OFF = "daemon stopped while a request was in flight"


def is_queue_failure(error: BaseException) -> TypeGuard[StoreError]:
    """Whether ``error`` is the queue failing as a whole (:data:`QUEUE_FAILURES`): the post it stopped is
    still the caller's."""
    return type(error) in QUEUE_FAILURES


def queue_failed(error: StoreError) -> str:
    """The reason recorded for a post deferred because the queue failed before anything was sent."""
    return f"not sent, the queue failed: {error}"


class Stopping(Exception):
    """The dispatcher was asked to stop before the next part of a thread (raised and caught internally)."""


class Action(StrEnum):
    """What to do with the post (the store mark it becomes)."""

    #: Every part published: ``sent``.
    SENT = "sent"
    #: Nothing published, safe to send again after backoff: ``retry_wait`` (an attempt was spent).
    RETRY = "retry"
    #: The platform asked to wait: hold the account until ``until``, defer the post (no attempt spent).
    RATE_LIMITED = "rate_limited"
    #: Not sent, not an attempt: ``retry_wait`` until ``until``.
    DEFER = "defer"
    #: It may have been published: ``unknown`` (reconciliation decides what next).
    UNKNOWN = "unknown"
    #: Will not go out: ``failed`` (alerted).
    FAILED = "failed"


class Policy(Protocol):
    """The settings :func:`decide` reads (:class:`~campaign.dispatch.dispatcher.DispatchConfig` has them)."""

    @property
    def retry(self) -> RetryPolicy: ...

    @property
    def rate_limit_wait(self) -> timedelta: ...

    @property
    def config_retry(self) -> timedelta: ...

    @property
    def store_retry(self) -> timedelta: ...


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`decide`.

    ``attempt`` is the attempt number the outcome reports (0 where no attempt counts). ``until`` is when the
    post (``DEFER``) or the account (``RATE_LIMITED``) may go again; never before the ``now`` given.
    ``config_problem``: a deferral an operator must fix (reported as an ERROR each time); ``bug``: an
    unexpected exception (logged with its traceback).
    """

    action: Action
    reason: str = ""
    attempt: int = 0
    until: datetime | None = None
    config_problem: bool = False
    bug: bool = False


def decide(
    error: BaseException | None,
    *,
    requests_sent: bool,
    attempt: int,
    now: datetime,
    policy: Policy,
) -> Decision:
    """What ``error`` (None: success) ending attempt ``attempt`` at ``now`` means for its post. Pure.

    ``requests_sent``: whether any request of the failing part left (an error raised after that cannot
    rule out a publication). See the module docstring for the whole table.
    """
    if error is None:
        return Decision(Action.SENT, attempt=attempt)
    if isinstance(error, Stopping):
        return Decision(Action.DEFER, "daemon stopped between thread parts", until=now)
    if isinstance(error, asyncio.CancelledError):
        if requests_sent:
            return Decision(Action.UNKNOWN, CUT_OFF)
        return Decision(Action.DEFER, "daemon stopped", until=now)
    if isinstance(error, RateLimitedError):
        until = rate_limit_end(error, now, policy)
        return Decision(Action.RATE_LIMITED, f"rate limited: {error}", until=until)
    if isinstance(error, TransientError):
        if policy.retry.exhausted(attempt):
            return Decision(Action.FAILED, f"gave up after {attempt} attempts: {describe(error)}", attempt)
        return Decision(Action.RETRY, describe(error), attempt)
    if isinstance(error, PermanentError):
        return Decision(Action.FAILED, describe(error), attempt)
    if isinstance(error, AmbiguousError):
        return Decision(Action.UNKNOWN, describe(error), attempt)
    if isinstance(error, CampaignError):
        if requests_sent:
            return Decision(Action.UNKNOWN, f"{error} (after a request was sent)", attempt)
        if is_queue_failure(error):
            return Decision(Action.DEFER, queue_failed(error), until=now + policy.store_retry)
        return Decision(
            Action.DEFER, f"cannot send: {error}", until=now + policy.config_retry, config_problem=True
        )
    what = f"{type(error).__name__}: {redact_resolved(str(error))}"  # a bug's text may quote anything
    if requests_sent:
        return Decision(Action.UNKNOWN, f"internal error after a request was sent: {what}", attempt, bug=True)
    return Decision(Action.FAILED, f"internal error: {what}", attempt, bug=True)


def rate_limit_end(error: RateLimitedError, now: datetime, policy: Policy) -> datetime:
    """When the platform said to try again: its reset time, ``now + retry_after``, else the default wait."""
    if error.retry_at is not None:
        until = error.retry_at
    elif error.retry_after is not None:
        until = now + timedelta(seconds=error.retry_after)
    else:
        until = now + policy.rate_limit_wait
    return max(until, now).astimezone(UTC)


def describe(error: ChannelError) -> str:
    """The error's text, with the platform's own message appended when the text does not hold it yet."""
    text = str(error)
    if error.platform_message and error.platform_message not in text:
        text += f" ({error.platform_message})"
    return text


@dataclass(frozen=True)
class ReadDecision:
    """What a failed metrics read means (:func:`decide_read`): wait for the account's budget (``until``; not
    a failure), or retry later with backoff (``error``; counted as a failure of that reading)."""

    until: datetime | None = None
    error: str | None = None


def decide_read(error: CampaignError, *, now: datetime, wait: timedelta) -> ReadDecision:
    """What ``error`` ending a metrics read at ``now`` means. Pure.

    A read publishes nothing, so there is no ``unknown`` here and nothing is ever an attempt of a post:

    ===================================  ======================================================
    :class:`RateLimitedError`            wait until the platform's reset (default ``wait``)
    any other :class:`CampaignError`     a failed reading, retried later with backoff
    ===================================  ======================================================
    """
    if isinstance(error, RateLimitedError):
        if error.retry_at is not None:
            until = error.retry_at
        elif error.retry_after is not None:
            until = now + timedelta(seconds=error.retry_after)
        else:
            until = now + wait
        return ReadDecision(until=max(until, now).astimezone(UTC))
    return ReadDecision(error=describe(error) if isinstance(error, ChannelError) else str(error))
