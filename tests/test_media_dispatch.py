"""Media through the dispatcher (issue 14): a queued post's prepared files are uploaded by the adapter before
the post, from the media store; a failed upload is retried (transient), never left ``unknown``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
from PIL import Image

from campaign.media.model import MediaItem
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from campaign.queue.store import Store
from tests.helpers.queue import T0, planned
from tests.test_dispatcher import Clock, Platform, make, mastodon, queue, run

ALT = "A dark blue banner with the campaign's title"


def media_post(tmp_path: Path) -> object:
    source = tmp_path / "banner.png"
    Image.new("RGB", (400, 200), (10, 30, 90)).save(source)
    banner = prepare(
        MediaItem(source, alt=ALT, label="banner.png"),
        PLATFORM_MEDIA_RULES["mastodon"],
        MediaStore(tmp_path / "m"),
    )
    return replace(planned("launch", account="m1"), media=(banner,))


def handler(upload_status: int) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/media":
            request.read()
            if upload_status != 200:
                return httpx.Response(upload_status, json={"error": "media processing failed"})
            return httpx.Response(
                200, json={"id": "att-1", "type": "image", "url": "https://m.example/a.png"}
            )
        return httpx.Response(200, json={"id": "s-1", "url": "https://m.example/@a/s-1"})

    return answer


def test_the_dispatcher_uploads_the_queued_media_before_the_status(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "q.db"))
    try:
        clock = Clock()
        platform = Platform(clock, handler(200))
        (post_id,) = queue(store, media_post(tmp_path))  # type: ignore[arg-type]
        run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(T0))
        assert store.get_post(post_id).status == "sent"
        upload, status = (r for _, r in platform.requests)
        assert upload.url.path == "/api/v2/media" and b"\x89PNG" in upload.content
        assert ALT.encode() in upload.content
        assert json.loads(status.content)["media_ids"] == ["att-1"]
    finally:
        store.close()


def test_a_failed_upload_is_retried_and_posts_nothing(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "q.db"))
    try:
        clock = Clock()
        platform = Platform(clock, handler(500))
        (post_id,) = queue(store, media_post(tmp_path))  # type: ignore[arg-type]
        run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(T0))
        assert store.get_post(post_id).status == "retry_wait"
        assert [r.url.path for _, r in platform.requests] == ["/api/v2/media"]
    finally:
        store.close()
