"""A third-party package adds a channel with an entry point, no fork: install it, list it, publish through it.

tests/data/thirdparty_adapter/ is a tiny installable package (``campaign-pigeon``) registering
``pigeon = "campaign_pigeon:PigeonAdapter"`` in the ``campaign.channels`` group. It is installed offline with
pip (``--no-build-isolation --no-index --no-deps``, the build backend being already in this environment)
into a temporary ``--target`` folder that only the subprocesses see on ``PYTHONPATH``; the test session
itself and the project's virtualenv are left untouched. The adapter contract suite
(:mod:`campaign.channels.contract`) runs over it the way a third-party package would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

PACKAGE = Path(__file__).parent / "data" / "thirdparty_adapter"
CLI = [sys.executable, "-c", "import sys; from campaign.cli import main; sys.exit(main())"]
TOKEN = "canary-pigeon-token-31337"

PUBLISH = """
import asyncio, json, sys
import httpx
from campaign import channels
from campaign.channels.base import Account, Part
from campaign.http.exchange import run
from campaign.secrets import Credentials, SecretRef

cls = channels.load("pigeon")
credentials = Credentials({"token": SecretRef(env="PIGEON_TOKEN")}, account="loft")
adapter = cls(Account(name="loft", channel="pigeon", settings={"loft": sys.argv[1]}, credentials=credentials))
part = Part(post_id="p1", idempotency_key="k" * 32, text="Coo! The rail line opens on 18 January.")

async def main():
    async with httpx.AsyncClient(timeout=10) as client:
        receipt = await run(adapter.publish(part), client, adapter)
        who = await run(adapter.verify(), client, adapter)
    return receipt, who

receipt, who = asyncio.run(main())
print(json.dumps({"remote_id": receipt.remote_id, "who": who}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pigeon package installed into a temporary target folder (built from a copy: no build/ litter)."""
    root = tmp_path_factory.mktemp("pigeon")
    source = root / "src"
    shutil.copytree(PACKAGE, source)
    target = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert (target / "campaign_pigeon.py").exists()
    return target


def env_with(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["PIGEON_TOKEN"] = TOKEN
    return env


class Loft(BaseHTTPRequestHandler):
    """A pigeon loft on loopback: records each request, answers the documented JSON."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Loft.seen.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        self._answer(201, {"id": "coop-1"})

    def do_GET(self) -> None:
        Loft.seen.append({"path": self.path, "auth": self.headers["Authorization"]})
        self._answer(200, {"name": "Loft of the Rail News"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


@pytest.fixture
def loft() -> Iterator[str]:
    Loft.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Loft)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_campaign_channels_list_shows_the_installed_adapter(site: Path) -> None:
    result = subprocess.run(
        [*CLI, "channels", "list", "--json"], env=env_with(site), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    pigeon = rows["pigeon"]
    assert pigeon["module"] == "campaign_pigeon:PigeonAdapter"
    assert (pigeon["title"], pigeon["limit"], pigeon["unit"]) == ("Carrier pigeon", 140, "characters")
    assert pigeon["credentials"] == {"token": "the loft's bearer token"}
    assert list(pigeon["required_settings"]) == ["loft"]
    assert "mastodon" in rows  # the built-in adapters are still there
    # Without the package on the path the channel is unknown.
    plain = subprocess.run([*CLI, "channels", "list", "--json"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert "pigeon" not in {row["name"] for row in json.loads(plain.stdout)}


def test_publish_one_part_through_the_third_party_adapter(site: Path, loft: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PUBLISH, loft], env=env_with(site), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"remote_id": "coop-1", "who": "Loft of the Rail News"}
    assert Loft.seen == [
        {
            "path": "/coops",
            "auth": f"Bearer {TOKEN}",
            "body": {"message": "Coo! The rail line opens on 18 January.", "key": "k" * 32},
        },
        {"path": "/whoami", "auth": f"Bearer {TOKEN}"},
    ]


def test_the_contract_suite_passes_on_the_third_party_adapter(site: Path) -> None:
    from campaign.channels.contract import CHECKS

    result = subprocess.run(
        [sys.executable, "-m", "campaign.channels.contract", "pigeon"],
        env=env_with(site),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"pigeon: {check.__name__}: ok" for check in CHECKS]


def test_the_contract_suite_reports_a_broken_third_party_adapter(site: Path, tmp_path: Path) -> None:
    """An adapter whose verify publishes fails the suite, with a line naming the check and the request."""
    (tmp_path / "broken_pigeon.py").write_text(
        "from campaign_pigeon import PigeonAdapter\n"
        "class BrokenPigeon(PigeonAdapter):\n"
        "    def verify(self):\n"
        "        url = self.setting('loft') + '/coops'\n"
        "        yield self.json_request('POST', url, json_body={'message': 'ping'}, headers=self._auth())\n"
        "        return 'posted a ping'\n",
        encoding="utf-8",
    )
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); from broken_pigeon import BrokenPigeon;"
        "from campaign.channels import contract;"
        "print(dict(contract.run_checks(BrokenPigeon))['verify_never_posts'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path)],
        env=env_with(site),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "verify sent POST /coops" in result.stdout
