"""Nothing under the dispatcher reads the wall clock: it runs on the clock it is given (DECISIONS.md).

The daemon (``campaign/dispatch/daemon.py``) is the one place that passes the real time to the core.
Every other module of ``campaign/dispatch/``, and every module of ``campaign/channels/`` and
``campaign/http/``, takes "now" from its caller or from ``adapter.clock``, so ``simulate`` and the tests
can drive the same code on a simulated clock. The few reads that remain are listed in :data:`ALLOWED`,
each with why it decides nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import Account, Part
from campaign.channels.oauth import parse_token_response
from campaign.channels.x import XAdapter
from campaign.errors import RateLimitedError
from campaign.secrets import Credentials, SecretRef

ROOT = Path(__file__).resolve().parent.parent / "campaign"
SCANNED = [
    *(p for p in sorted((ROOT / "dispatch").glob("*.py")) if p.name != "daemon.py"),
    *sorted((ROOT / "channels").glob("*.py")),
    *sorted((ROOT / "http").glob("*.py")),
]

#: ``x.now()``, ``date.today()``: wall-clock reads whatever the receiver (datetime, date, pendulum...).
ANY_RECEIVER = {"now", "utcnow", "today"}
#: Functions of the ``time`` module (and an event loop's ``time()``) that read a clock.
TIME_FUNCTIONS = {
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time",
    "clock_gettime",
}

_WIRE_TIMERS = (
    "the event loop's monotonic clock times the wire transport's own timeouts (httpx's pool/read/write "
    "semantics, and each exchange's deadline) and idle-connection expiry, as any HTTP client does; it "
    "decides nothing about any post"
)

#: (module, enclosing function, call) -> why this read is not a dispatch decision.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("channels/base.py", "Adapter.__init__", "datetime.now(UTC)"):
        "the fallback clock of an adapter built without one (`channels verify`, tests); the dispatcher's "
        "account directories always hand their clock in",
    ("http/exchange.py", "run", "datetime.now(UTC)"):
        "the default `now` of `run()` for callers without a clock (`channels verify`); the dispatcher passes "
        "its own clock",
    ("http/client.py", "DirectClient.send", "time.perf_counter()"):
        "`response.elapsed`, measured as `AsyncClient.send` measures it (httpx's own clock read); nothing "
        "reads it to decide",
    **{("http/wire.py", scope, text): _WIRE_TIMERS for scope, text in [
        ("_Connection.data_received", "self.loop.time()"),  # the last byte read: silence for `read`
        ("_Connection.read_check", "self.loop.time()"),  # silence, and the exchange's deadline
        ("_Connection.write_check", "self.loop.time()"),  # a stalled body, and the exchange's deadline
        ("_Connection.wait_drained", "self.loop.time()"),  # the write timer starts
        ("_Connection.usable", "self.loop.time()"),  # keepalive_expiry of an idle connection
        ("_Connection.exchange", "loop.time()"),  # the exchange's deadline, and the read timer, start
        ("WireTransport._acquire", "loop.time()"),  # the `pool` deadline
        ("WireTransport._release", "conn.loop.time()"),  # idle since
    ]},
    ("dispatch/writer.py", "GroupWriter._schedule", "loop.time()"):
        "the event loop's monotonic clock times the group-commit flush (10 ms); it batches writes and "
        "decides nothing about any post",
    ("dispatch/simulate.py", "simulate", "datetime.now(UTC)"):
        "a rehearsal starts from today when the caller names no start; it then runs on its simulated clock",
}


def clock_reads(path: Path) -> Iterator[tuple[str, int, str]]:
    """(enclosing function qualname, line, call text) of every clock read in ``path``."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    from_time = {
        alias.asname or alias.name
        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "time"
        for alias in node.names if alias.name in TIME_FUNCTIONS
    }

    def visit(node: ast.AST, scope: list[str]) -> Iterator[tuple[str, int, str]]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope = [*scope, node.name]
        if isinstance(node, ast.Call):
            func = node.func
            reads = False
            if isinstance(func, ast.Attribute):
                receiver = ast.unparse(func.value)
                reads = func.attr in ANY_RECEIVER or (
                    func.attr in TIME_FUNCTIONS
                    and (receiver == "time" or receiver.endswith("loop") or receiver.endswith("loop()"))
                )
            elif isinstance(func, ast.Name):
                reads = func.id in from_time
            if reads:
                yield ".".join(scope), node.lineno, ast.get_source_segment(source, node) or ast.unparse(node)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scope)

    yield from visit(tree, [])


def test_the_scan_sees_clock_reads() -> None:
    """The scanner itself: it finds each form of a clock read (so an empty result means something)."""
    reads = list(clock_reads(ROOT / "dispatch" / "daemon.py"))
    assert any(text == "datetime.now(UTC)" for _, _, text in reads)


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_wall_clock_below_the_daemon(path: Path) -> None:
    module = f"{path.parent.name}/{path.name}"
    found = [(scope, line, text) for scope, line, text in clock_reads(path)
             if (module, scope, text) not in ALLOWED]
    assert not found, f"{module} reads the wall clock: " + "; ".join(
        f"line {line} in {scope or 'module'}: {text}" for scope, line, text in found
    ) + " (take `now` from the caller or the adapter's clock)"


def test_every_allowed_read_still_exists() -> None:
    """An exception that no longer matches code is removed from the list, not left to cover a new read."""
    present = {
        (f"{p.parent.name}/{p.name}", scope, text) for p in SCANNED for scope, _, text in clock_reads(p)
    }
    assert set(ALLOWED) <= present, set(ALLOWED) - present


# ---------------------------------------------------------------------------------- OAuth token refresh

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # far from the real date: a wall-clock read would show


def test_token_refresh_rate_limit_is_timed_by_the_given_clock() -> None:
    answer = httpx.Response(
        429, json={"error": "too many requests"},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "30"},
    )
    with pytest.raises(RateLimitedError) as caught:
        parse_token_response(answer, now=NOW)
    assert caught.value.retry_at == NOW + timedelta(seconds=30)


def test_x_refresh_takes_the_adapters_clock() -> None:
    """A 401, then a rate-limited token refresh: the account's hold ends 30 s after the adapter's "now"."""
    secrets = {"token": "canary-x-tok", "refresh_token": "canary-x-refresh", "client_secret": "canary-x-cs"}
    credentials = Credentials(
        {n: SecretRef(env=f"X_{n.upper()}") for n in secrets}, account="x",
        environ={f"X_{n.upper()}": v for n, v in secrets.items()},
    )
    account = Account("x", "x", {"client_id": "client-1"}, credentials)
    adapter = XAdapter(account, clock=lambda: NOW)
    exchange = adapter.publish(Part(post_id="p", idempotency_key="k" * 32, text="hello"))
    first = next(exchange)
    refresh = exchange.send(httpx.Response(401, json={"title": "Unauthorized"}, request=first))
    assert refresh.url.path.endswith("/oauth2/token")
    limited = httpx.Response(
        429, json={"error": "slow down"}, headers={"x-rate-limit-reset": "30"}, request=refresh
    )
    with pytest.raises(RateLimitedError) as caught:
        exchange.send(limited)
    assert caught.value.retry_at == NOW + timedelta(seconds=30)
