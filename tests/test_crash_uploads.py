"""Crash tests with uploads: the real daemon as a subprocess, SIGKILLed between a post's media upload and its
status, or after the status was created but before its answer, against the fake platform's Mastodon media
flow (``POST /api/v2/media`` answered 202, polled until ready).

In both cases the restarted daemon publishes each post exactly once (the platform counts statuses per
idempotency key) and does not upload again: the attachment was recorded with the post before the status
request left, Mastodon keeps an unattached upload for a day, and the restarted daemon reuses it.

No step waits for a guessed time: the platform holds every status request unanswered (a ``hang`` fault, the
status created first or not) and the test kills the daemon once the platform reports it holds one per
account; it then waits for the queue to settle.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign.channels.upload_media import upload_key
from campaign.queue.store import Store
from tests.conftest import RELEASE
from tests.fakeplatform.accounts import mastodon_posts, write_campaign
from tests.fakeplatform.server import STATUSES_PATH, ServerProcess, read_log
from tests.helpers.media_parts import photo
from tests.test_crash import start_daemon, wait_for_platform, wait_settled

pytestmark = pytest.mark.slow

POSTS = 6
#: Matches tests.test_crash (its daemon environment holds the tokens of that many accounts); two are used.
ACCOUNTS = 2


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path, Path]]:
    """The fake platform process, a campaigns folder, and a queue of due Mastodon posts with an image each."""
    with ServerProcess(log=tmp_path / "platform.jsonl", args=["--media-polls", "1"]) as server:
        campaigns = tmp_path / "campaigns"
        campaigns.mkdir()
        write_campaign(campaigns, server.url, name="uploads", accounts=ACCOUNTS, release=RELEASE)
        image = photo(tmp_path, "mastodon")
        db = tmp_path / "queue.db"
        now = datetime.now(UTC)
        posts = [replace(p, media=(image,)) for p in
                 mastodon_posts(POSTS, accounts=ACCOUNTS, at=now, campaign="uploads")]  # fmt: skip
        with Store.open(str(db)) as store:
            store.apply_changes(add=posts, now=now - timedelta(minutes=1))
        yield server, campaigns, db


@pytest.mark.parametrize("created", [False, True], ids=["between-upload-and-post", "after-the-post"])
def test_a_kill_around_the_post_publishes_once_and_uploads_once(
    world: tuple[ServerProcess, Path, Path], tmp_path: Path, created: bool
) -> None:
    server, campaigns, db = world
    log = tmp_path / "daemon.log"
    server.control(faults=[{"kind": "hang", "path": STATUSES_PATH, "times": None, "create": created}])
    daemon = start_daemon(db, campaigns, log)
    try:
        # One status request per account (the per-account cap) is held: each after its upload finished.
        wait_for_platform(server, daemon, log, hung=ACCOUNTS)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
    at_kill = server.stats()
    assert at_kill["uploads"] == ACCOUNTS and at_kill["created"] == (ACCOUNTS if created else 0)
    with Store.open(str(db)) as store:
        held = [p for p in store.campaign_posts("uploads") if p.status == "sending"]
        assert len(held) == ACCOUNTS
        # Each held post's attachment was in the queue before its status request left.
        recorded = {p.id: store.recorded_uploads(p.id) for p in held}
    for post in held:
        (upload,) = recorded[post.id]
        assert upload.key == upload_key(post.media[0])

    server.control(faults=[])
    daemon = start_daemon(db, campaigns, log)
    try:
        final = wait_settled(db, daemon, log)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(15)

    assert final == {"sent": POSTS}, final
    stats = server.stats()
    assert stats["duplicates"] == [], f"published twice: {stats['duplicates']}"
    assert stats["created"] == POSTS
    # The restarted daemon reused the held posts' attachments: one upload per post in all.
    assert stats["uploads"] == POSTS, stats["uploads"]
    records = list(read_log(tmp_path / "platform.jsonl"))
    statuses = {r.idempotency_key: r for r in records if r.path == STATUSES_PATH and r.created}
    with Store.open(str(db)) as store:
        for post in store.campaign_posts("uploads"):
            assert statuses[post.idempotency_key].status_id == post.remote_id
            (upload,) = store.recorded_uploads(post.id)
            if post.id in recorded:
                assert upload == recorded[post.id][0]  # the same attachment, not a new one
            # The status the platform created names the attachment recorded with the post.
            assert f'"{upload.remote_id}"' in (statuses[post.idempotency_key].body or "")
    print(f"uploads {stats['uploads']}, created {stats['created']}, requests {stats['requests']}")
