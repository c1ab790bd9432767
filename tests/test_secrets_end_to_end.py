"""Canary secrets never reach the database, the logs, the CLI output or the preview, end to end.

A loopback server that misbehaves in the worst way (it echoes the request's credentials back in its error
bodies) answers real `campaign apply` + `campaign daemon --once` subprocesses; afterwards the canaries must
appear nowhere: not in the SQLite files (database, WAL), not in any output, not in `campaign show`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "canary-mastodon-token-5f3a9c1e77"
HOOK_PATH = "/hooks/canary-secret-path-8d2b"
SIGNING = "canary-signing-key-0b6e4d"


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with an error that quotes the request's secrets back."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        echo = f"{self.headers.get('authorization')} {self.path} {self.headers.get('x-campaign-signature')}"
        status = 401 if self.path.startswith("/api/") else 500
        body = json.dumps({"error": f"rejected: {echo}"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_campaign(folder: Path, base: str) -> Path:
    (folder / "schedules").mkdir()
    (folder / "templates" / "leak").mkdir(parents=True)
    (folder / "templates" / "leak" / "hello.j2").write_text("Hello from the canary test", encoding="utf-8")
    path = folder / "schedules" / "leak.yaml"
    path.write_text(
        f"""campaign: leak
zone: UTC
start: "2020-01-01 09:00"
accounts:
  masto:
    channel: mastodon
    instance: {base}
    credentials:
      token: LEAK_MASTODON_TOKEN
  hook:
    channel: webhook
    credentials:
      webhook_url: LEAK_WEBHOOK_URL
      secret: LEAK_WEBHOOK_SECRET
posts:
  - key: hello
    when: "+0d 09:00"
    send_late: true
""",
        encoding="utf-8",
    )
    return path


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "campaign.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_canaries_never_leave_the_process(tmp_path: Path, echo_server: str) -> None:
    campaign = write_campaign(tmp_path, echo_server)
    hook_url = f"{echo_server}{HOOK_PATH}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LEAK_MASTODON_TOKEN": TOKEN,
        "LEAK_WEBHOOK_URL": hook_url,
        "LEAK_WEBHOOK_SECRET": SIGNING,
    }
    db = tmp_path / "q.db"
    outputs = []
    for args in (
        ["apply", str(campaign), "--db", str(db)],
        [
            "daemon",
            "--once",
            "--db",
            str(db),
            "--campaigns",
            str(tmp_path / "schedules"),
            "--log-level",
            "debug",
        ],
        ["status", "--db", str(db), "--json"],
        ["show", "1", "--db", str(db), "--json"],
        ["show", "2", "--db", str(db), "--json"],
        ["preview", str(campaign), "--requests", "--format", "json"],
        ["channels", "check", str(campaign)],
    ):
        result = run(args, env, tmp_path)
        outputs.append(result.stdout + result.stderr)
    everything = "\n".join(outputs)
    # the run did meet the echoing server: both posts ended with its (redacted) error
    assert "rejected:" in everything and "[REDACTED]" in everything
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("q.db*") if p.is_file())
    for secret in (TOKEN, "canary-secret-path-8d2b", SIGNING):
        assert secret not in everything, secret
        assert secret.encode() not in stored, secret
