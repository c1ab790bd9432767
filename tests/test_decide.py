"""The dispatcher's outcome decision as a table: (what ended it, request sent?, attempt) -> decision.

Every branch of :func:`campaign.dispatch.decide.decide` has a row; the send path and the reconcile path both
act on this function, so these rows are the whole exception ladder.
"""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from campaign.dispatch.decide import Action, Decision, ReadDecision, Stopping, decide, decide_read
from campaign.dispatch.dispatcher import DispatchConfig
from campaign.dispatch.retry import RetryPolicy
from campaign.errors import (
    AmbiguousError,
    AuthError,
    CampaignError,
    ChannelError,
    ConfigError,
    CredentialsError,
    DatabaseLockedError,
    LeaseLostError,
    PermanentError,
    RateLimitedError,
    StoreError,
    TransientError,
)

NOW = datetime(2030, 3, 2, 9, 0, tzinfo=UTC)
POLICY = DispatchConfig(
    owner="test",
    retry=RetryPolicy(base=30, cap=600, max_attempts=3),
    rate_limit_wait=timedelta(seconds=60),
    config_retry=timedelta(minutes=5),
)
HKT = timezone(timedelta(hours=8))

# Short names keep each row on a line or two.
A, D, F, R, U = Action.SENT, Action.DEFER, Action.FAILED, Action.RETRY, Action.UNKNOWN
RL = Action.RATE_LIMITED

#: (id, error, requests sent, attempt, expected decision)
CASES: list[tuple[str, BaseException | None, bool, int, Decision]] = [
    ("every part published", None, True, 1, Decision(A, attempt=1)),
    (
        "stop between thread parts",
        Stopping(),
        True,
        2,
        Decision(D, "daemon stopped between thread parts", until=NOW),
    ),
    (
        "cancelled with a request out",
        asyncio.CancelledError(),
        True,
        1,
        Decision(U, "daemon stopped while a request was in flight"),
    ),
    (
        "cancelled before any request",
        asyncio.CancelledError(),
        False,
        1,
        Decision(D, "daemon stopped", until=NOW),
    ),
    (
        "rate limited until a reset time",
        RateLimitedError("HTTP 429", retry_at=NOW + timedelta(minutes=10)),
        True,
        1,
        Decision(RL, "rate limited: HTTP 429", until=NOW + timedelta(minutes=10)),
    ),
    (
        "rate limited, reset given in another zone",
        RateLimitedError("HTTP 429", retry_at=datetime(2030, 3, 2, 17, 30, tzinfo=HKT)),
        True,
        1,
        Decision(RL, "rate limited: HTTP 429", until=datetime(2030, 3, 2, 9, 30, tzinfo=UTC)),
    ),
    (
        "rate limited for some seconds",
        RateLimitedError("HTTP 429", retry_after=30),
        True,
        4,
        Decision(RL, "rate limited: HTTP 429", until=NOW + timedelta(seconds=30)),
    ),
    (
        "rate limited, no wait given",
        RateLimitedError("HTTP 429"),
        False,
        1,
        Decision(RL, "rate limited: HTTP 429", until=NOW + timedelta(seconds=60)),
    ),
    (
        "rate limited, reset already past",
        RateLimitedError("HTTP 429", retry_at=NOW - timedelta(hours=1)),
        True,
        1,
        Decision(RL, "rate limited: HTTP 429", until=NOW),
    ),
    (
        "transient, attempts left",
        TransientError("HTTP 503", platform_message="maintenance"),
        True,
        1,
        Decision(R, "HTTP 503 (maintenance)", attempt=1),
    ),
    (
        "transient, nothing sent, attempts left",
        TransientError("ConnectError before the request was sent"),
        False,
        2,
        Decision(R, "ConnectError before the request was sent", attempt=2),
    ),
    (
        "transient, last attempt",
        TransientError("HTTP 503", platform_message="maintenance"),
        True,
        3,
        Decision(F, "gave up after 3 attempts: HTTP 503 (maintenance)", attempt=3),
    ),
    (
        "transient, beyond the last attempt",
        TransientError("HTTP 502"),
        True,
        7,
        Decision(F, "gave up after 7 attempts: HTTP 502", attempt=7),
    ),
    (
        "permanent",
        PermanentError("HTTP 422: text too long", platform_message="text too long"),
        True,
        1,
        Decision(F, "HTTP 422: text too long", attempt=1),
    ),
    ("permanent on a retry", PermanentError("HTTP 422"), True, 2, Decision(F, "HTTP 422", attempt=2)),
    (
        "credentials rejected",
        AuthError("HTTP 401", platform_message="invalid token"),
        True,
        1,
        Decision(F, "HTTP 401 (invalid token)", attempt=1),
    ),
    (
        "ambiguous",
        AmbiguousError("ReadTimeout after the request was sent"),
        True,
        2,
        Decision(U, "ReadTimeout after the request was sent", attempt=2),
    ),
    (
        "ambiguous with a platform message",
        AmbiguousError("HTTP 500", platform_message="oops"),
        True,
        1,
        Decision(U, "HTTP 500 (oops)", attempt=1),
    ),
    (
        "configuration problem before sending",
        ConfigError("no account 'm1'"),
        False,
        1,
        Decision(D, "cannot send: no account 'm1'", until=NOW + timedelta(minutes=5), config_problem=True),
    ),
    (
        "missing credential before sending",
        CredentialsError("TOKEN is not set"),
        False,
        3,
        Decision(D, "cannot send: TOKEN is not set", until=NOW + timedelta(minutes=5), config_problem=True),
    ),
    (
        "configuration problem after a request",
        ConfigError("bad setting"),
        True,
        1,
        Decision(U, "bad setting (after a request was sent)", attempt=1),
    ),
    (
        "store refused a receipt after a request",
        LeaseLostError("lease lost"),
        True,
        2,
        Decision(U, "lease lost (after a request was sent)", attempt=2),
    ),
    (
        "the queue failed before sending (a lost connection)",
        StoreError("db: lost the connection to the database server"),
        False,
        1,
        Decision(D, "not sent, the queue failed: db: lost the connection to the database server",
                 until=NOW + timedelta(seconds=10)),
    ),
    (
        "the queue locked past its busy timeout before sending",
        DatabaseLockedError("q.db: database is locked"),
        False,
        1,
        Decision(D, "not sent, the queue failed: q.db: database is locked",
                 until=NOW + timedelta(seconds=10)),
    ),
    (
        "the queue failed after a request",
        StoreError("db: lost the connection"),
        True,
        1,
        Decision(U, "db: lost the connection (after a request was sent)", attempt=1),
    ),
    (
        "unclassified channel error before sending",
        ChannelError("odd"),
        False,
        1,
        Decision(D, "cannot send: odd", until=NOW + timedelta(minutes=5), config_problem=True),
    ),
    (
        "a bug after a request",
        KeyError("id"),
        True,
        1,
        Decision(U, "internal error after a request was sent: KeyError: 'id'", attempt=1, bug=True),
    ),
    (
        "a bug before any request",
        ValueError("boom"),
        False,
        2,
        Decision(F, "internal error: ValueError: boom", attempt=2, bug=True),
    ),
]


@pytest.mark.parametrize(
    ("error", "requests_sent", "attempt", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(error: BaseException | None, requests_sent: bool, attempt: int, expected: Decision) -> None:
    got = decide(error, requests_sent=requests_sent, attempt=attempt, now=NOW, policy=POLICY)
    assert got == expected
    # Pure: the same inputs give the same answer, and a deferral is never due before `now`.
    assert decide(error, requests_sent=requests_sent, attempt=attempt, now=NOW, policy=POLICY) == got
    if got.until is not None:
        assert got.until >= NOW and got.until.utcoffset() == timedelta(0)


def test_every_action_has_a_row() -> None:
    assert {c[4].action for c in CASES} == set(Action)


DISPATCH = Path(__file__).resolve().parent.parent / "campaign" / "dispatch"


def test_decide_reads_no_clock_store_log_or_randomness() -> None:
    tree = ast.parse((DISPATCH / "decide.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & {"logging", "random", "time", "campaign.queue", "campaign.queue.store"}
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"now", "utcnow", "today", "time", "monotonic", "clock"}


def test_no_other_dispatch_module_keeps_an_exception_ladder() -> None:
    """The classified errors are turned into outcomes only by decide(), by both paths that meet them."""
    ladder = {"RateLimitedError", "TransientError", "PermanentError", "AmbiguousError", "AuthError"}
    for path in DISPATCH.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                assert not caught & ladder, f"{path.name}:{node.lineno} catches {caught & ladder}"
    for user in ("dispatcher.py", "reconcile.py"):
        tree = ast.parse((DISPATCH / user).read_text(encoding="utf-8"))
        calls = [
            n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "decide"
        ]
        assert calls, f"{user} does not decide outcomes with decide()"


READ_CASES: list[tuple[str, CampaignError, ReadDecision]] = [
    (
        "429 with a reset",
        RateLimitedError("429", retry_at=NOW + timedelta(minutes=7)),
        ReadDecision(until=NOW + timedelta(minutes=7)),
    ),
    (
        "429 with Retry-After",
        RateLimitedError("429", retry_after=30),
        ReadDecision(until=NOW + timedelta(seconds=30)),
    ),
    ("429 saying nothing", RateLimitedError("429"), ReadDecision(until=NOW + timedelta(minutes=15))),
    (
        "a reset in the past",
        RateLimitedError("429", retry_at=NOW - timedelta(hours=1)),
        ReadDecision(until=NOW),
    ),
    ("503", TransientError("HTTP 503"), ReadDecision(error="HTTP 503")),
    ("reset after the request", AmbiguousError("reset"), ReadDecision(error="reset")),
    ("401", AuthError("HTTP 401", platform_message="bad token"), ReadDecision(error="HTTP 401 (bad token)")),
    ("403", PermanentError("HTTP 403"), ReadDecision(error="HTTP 403")),
    ("no account", ConfigError("account x: missing"), ReadDecision(error="account x: missing")),
]


@pytest.mark.parametrize(("name", "error", "expected"), READ_CASES, ids=[c[0] for c in READ_CASES])
def test_decide_read(name: str, error: CampaignError, expected: ReadDecision) -> None:
    assert decide_read(error, now=NOW, wait=timedelta(minutes=15)) == expected
