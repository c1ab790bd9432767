"""The daemon's limits are its flags (issue 12): ``--concurrency 50`` puts 50 requests on the wire at once.

A loopback HTTP/1.1 server answering Mastodon's ``POST /api/v1/statuses``
(https://docs.joinmastodon.org/methods/statuses/#create) counts the requests it holds at once. It holds
every request until ``target`` are in flight together (an event the daemon causes), then answers them all
and every later one at once; a generous guard only bounds a hang of broken code (then the count tells).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign.dispatch.daemon import make_client
from campaign.dispatch.dispatcher import DispatchConfig, Dispatcher
from campaign.queue.store import Store
from tests.conftest import RELEASE
from tests.fakeplatform.accounts import FakeDirectory, mastodon_posts, token_env, write_campaign

ROOT = Path(__file__).resolve().parent.parent
GUARD = 60.0


class BarrierServer:
    """Holds requests until ``target`` are in flight together; records the most ever in flight."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.in_flight = 0
        self.most = 0
        self.answered = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._open: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BarrierServer:
        self._thread.start()
        assert self._ready.wait(GUARD)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(GUARD)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._open, self._stop = asyncio.Event(), asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        guard = asyncio.get_running_loop().call_later(GUARD, self._open.set)
        self._ready.set()
        async with server:
            await self._stop.wait()
        guard.cancel()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._open is not None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                fields = (line.partition(":") for line in lines[1:] if line)
                headers = {k.strip().lower(): v.strip() for k, _, v in fields}
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
                if self.in_flight >= self.target:
                    self._open.set()
                await self._open.wait()
                self.in_flight -= 1
                self.answered += 1
                sid = str(100000 + self.answered)
                body = json.dumps({"id": sid, "url": f"{self.url}/@a/{sid}", "content": "<p>ok</p>"}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def make_queue(db: Path, accounts: int = 100) -> Path:
    """100 Mastodon posts due now, spread over ``accounts`` accounts."""
    now = datetime.now(UTC)
    with Store.open(str(db)) as store:
        store.apply_changes(add=mastodon_posts(100, accounts=accounts, at=now, campaign="limits"),
                            now=now - timedelta(minutes=1))
    return db


@pytest.fixture
def queue_db(tmp_path: Path) -> Path:
    return make_queue(tmp_path / "q.db")


def test_concurrency_50_puts_50_requests_in_flight(tmp_path: Path, queue_db: Path) -> None:
    """The daemon as shipped (`daemon --once`, a subprocess), default flags but ``--concurrency 50``."""
    with BarrierServer(target=50) as server:
        campaigns = tmp_path / "campaigns"
        campaigns.mkdir()
        write_campaign(campaigns, server.url, name="limits", accounts=100, release=RELEASE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
        env.update(token_env(100))
        cmd = [sys.executable, "-m", "campaign.cli", "daemon", "--once", "--db", str(queue_db),
               "--campaigns", str(campaigns), "--concurrency", "50", "--no-metrics"]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=GUARD * 2)
        assert done.returncode == 0, done.stderr
        assert server.most == 50, server.most
        assert server.answered == 100
    with Store.open(str(queue_db)) as store:
        assert store.counts() == {"sent": 100}


@pytest.mark.parametrize(
    ("limits", "accounts", "most"),
    [({}, 100, 16), ({"per_channel": 5}, 100, 5), ({"concurrency": 50}, 100, 50),
     ({"concurrency": 50, "per_account": 2}, 5, 10)],
)
def test_each_limit_bounds_requests_in_flight(
    tmp_path: Path, limits: dict[str, int], accounts: int, most: int
) -> None:
    """Default concurrency 16; ``per_channel`` caps one channel; ``per_account`` caps each account."""
    db = make_queue(tmp_path / "q.db", accounts)
    with BarrierServer(target=most) as server, Store.open(str(db)) as store:
        config = DispatchConfig(owner="daemon:test:1", **limits)  # type: ignore[arg-type]

        async def main() -> None:
            client = make_client(config.concurrency)
            try:
                d = Dispatcher(store, FakeDirectory(server.url), config, client=client,
                               clock=lambda: datetime.now(UTC))
                await d.dispatch_due(datetime.now(UTC))
            finally:
                await client.aclose()

        asyncio.run(main())
        assert server.most == most
        assert store.counts() == {"sent": 100}


def test_per_channel_is_a_flag_of_the_daemon() -> None:
    """``--per-channel`` reaches the dispatcher (unset: the same as ``--concurrency``)."""
    from click.testing import CliRunner

    from campaign.cli.daemon import daemon
    from campaign.dispatch.daemon import DaemonOptions, dispatch_config

    assert dispatch_config(DaemonOptions(concurrency=50)).per_channel is None  # no cap below concurrency
    assert dispatch_config(DaemonOptions(concurrency=50, per_channel=5)).per_channel == 5
    shown = CliRunner().invoke(daemon, ["--help"]).output
    assert "--per-channel" in shown and "--concurrency" in shown and "--per-account" in shown


def test_the_daemons_limits_have_one_default_everywhere() -> None:
    """The flags' defaults are those of ``DaemonOptions`` and ``DispatchConfig`` (the CLI spells them out so
    that ``--help`` stays fast; this keeps the three in step) and those the README's table justifies."""
    from campaign.cli.daemon import daemon
    from campaign.dispatch.daemon import DaemonOptions, dispatch_config
    from campaign.dispatch.dispatcher import DispatchConfig

    flags = {p.name: p.default for p in daemon.params}
    options, config = DaemonOptions(), DispatchConfig(owner="t")
    assert flags["concurrency"] == options.concurrency == config.concurrency == 100
    assert flags["per_account"] == options.per_account == config.per_account == 1
    assert flags["per_channel"] is options.per_channel is config.per_channel is None
    assert dispatch_config(options).batch_size == config.batch_size  # tests claim as the daemon does
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "| `--concurrency N` | 100 |" in readme and "| `--per-account N` | 1 |" in readme
