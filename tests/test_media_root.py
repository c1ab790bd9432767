"""The media store follows the queue (issue 14): `plan` and `apply` prepare files into ``<dir of --db>/media``
(``media.store.default_root``), whatever the working directory or ``$CAMPAIGN_DB``, and the daemon sends the
bytes it finds there."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from campaign.cli import cli
from campaign.cli.daemon import media_root_for
from campaign.media.store import default_root, file_sha256
from campaign.queue.store import Store
from tests.conftest import MINI_CAMPAIGN
from tests.helpers.cli import run_cli
from tests.helpers.clock import Clock
from tests.test_dispatcher import Platform, make, mastodon, run

ALT = "A dark blue banner with the campaign's title"
WITH_BANNER = MINI_CAMPAIGN.replace(
    '  - key: launch\n    when: "+0d 09:00"\n',
    f'  - key: launch\n    when: "+0d 09:00"\n    media:\n      - file: banner.png\n        alt: "{ALT}"\n'
    "        skip: [x]\n",
)
#: The mini campaign's launch, 09:00 in Hong Kong.
LAUNCH = datetime(2030, 3, 2, 1, 0, tzinfo=UTC)


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/v2/media":
        request.read()
        return httpx.Response(200, json={"id": "att-1", "type": "image", "url": "https://m.example/a.png"})
    return httpx.Response(200, json={"id": "s-1", "url": "https://m.example/@a/s-1"})


def test_media_root_is_beside_a_sqlite_queue(tmp_path: Path) -> None:
    assert media_root_for(str(tmp_path / "q" / "x.db")) == default_root(tmp_path / "q" / "x.db")
    assert media_root_for(f"sqlite:///{tmp_path}/y.db") == tmp_path / "media"


def test_plan_and_apply_prepare_into_the_queues_store_and_the_daemon_sends_those_bytes(
    mini: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_file = mini(WITH_BANNER)
    Image.new("RGB", (400, 200), (10, 30, 90)).save(tmp_path / "banner.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the old default (db/media in the working directory) must stay empty
    monkeypatch.delenv("CAMPAIGN_DB", raising=False)
    db = tmp_path / "queues" / "launch.db"
    db.parent.mkdir()
    runner = CliRunner()
    args = [str(campaign_file), "--db", str(db), "--now", "2030-03-01T00:00:00Z"]
    planned = runner.invoke(cli, ["plan", *args])
    assert planned.exit_code == 0, planned.output
    assert not db.exists()  # plan creates no queue, but its media are the queue's
    stored = list((db.parent / "media").glob("*.png"))
    assert len(stored) == 1 and not (elsewhere / "db").exists()
    applied = runner.invoke(cli, ["apply", *args])
    assert applied.exit_code == 0, applied.output
    assert list((db.parent / "media").glob("*.png")) == stored

    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT id, media FROM posts WHERE account = 'main_mastodon' AND post_key = 'launch'"
        )
        ((post_id, raw),) = rows.fetchall()
    (item,) = json.loads(raw)
    assert Path(item["path"]) == stored[0] and item["sha256"] == file_sha256(stored[0])

    clock = Clock(LAUNCH)
    platform = Platform(clock, answer)
    store = Store.open(str(db), create=False)
    try:
        adapter = mastodon("main_mastodon", clock)
        run(make(store, clock, {"main_mastodon": adapter}, platform).dispatch_due(clock()))
        assert store.get_post(post_id).status == "sent"
    finally:
        store.close()
    upload = next(r for _, r in platform.requests if r.url.path == "/api/v2/media")
    assert stored[0].read_bytes() in upload.content



@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_media_store_that_cannot_be_written_is_one_line_and_queues_nothing(
    mini: Callable[..., Path], tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file where ``<db dir>/media`` belongs: one line naming the folder, exit 1, no queue created (not
    one error per post, and not an internal error)."""
    campaign_file = mini(WITH_BANNER)
    Image.new("RGB", (400, 200), (10, 30, 90)).save(tmp_path / "banner.png")
    db = tmp_path / "queues" / "launch.db"
    db.parent.mkdir()
    (db.parent / "media").write_text("not a folder", encoding="utf-8")
    args = [command, str(campaign_file), "--db", str(db), "--now", "2030-03-01T00:00:00Z"]
    code, _out, err = run_cli(args, capsys)
    assert code == 1 and not db.exists()
    reason = "a file is where its folder belongs"
    assert err == f"campaign: error: media store {db.parent / 'media'}: cannot write ({reason})\n"
