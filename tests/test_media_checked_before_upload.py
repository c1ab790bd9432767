"""The daemon checks the bytes before it uploads them (issue 14 follow-up): a stored media file whose size
(always) or SHA-256 (files up to ``HASH_LIMIT``) no longer matches what was prepared fails its post with one
line naming the file, before any request leaves; never an upload of other bytes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import Uploads
from campaign.dispatch.uploads import check_media
from campaign.errors import PermanentError
from campaign.media.store import HASH_LIMIT, MediaStore, StoredFile, unchanged
from campaign.queue.store import Store
from tests.helpers.clock import Clock
from tests.helpers.media_parts import media_part, photo
from tests.helpers.queue import planned
from tests.test_dispatcher import Platform, make, mastodon, queue, webhook


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def ok(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/v2/media":
        return httpx.Response(200, json={"id": "att-1", "type": "image", "url": "https://m.example/a.jpg"})
    return httpx.Response(200, json={"id": "s-1", "url": "https://m.example/@a/s-1"})


def flip_a_byte(path: Path) -> None:
    """Change the content, keep the size (the store's files are read-only by mode: write as the owner)."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda p: (os.chmod(p, 0o644), p.write_bytes(p.read_bytes()[:-10])), "bytes, not"),
        (flip_a_byte, "its SHA-256 differs"),
        (lambda p: p.unlink(), "missing"),
    ],
    ids=["truncated", "same size, other bytes", "deleted"],
)
def test_a_changed_media_file_fails_its_post_before_any_request(
    store: Store, tmp_path: Path, change: object, why: str
) -> None:
    clock = Clock()
    media = photo(tmp_path, "mastodon")
    (post_id,) = queue(store, replace(planned("launch", account="m1"), media=(media,)))
    change(media.path)  # type: ignore[operator]
    platform = Platform(clock, ok)
    asyncio.run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))
    post = store.get_post(post_id)
    assert post.status == "failed"
    assert platform.requests == []  # nothing uploaded, nothing posted
    assert post.last_error is not None
    assert f"media file changed since it was prepared: {media.path}" in post.last_error
    assert why in post.last_error and "run campaign apply again" in post.last_error
    assert "\n" not in post.last_error


def test_an_unchanged_file_is_uploaded(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    media = photo(tmp_path, "mastodon")
    (post_id,) = queue(store, replace(planned("launch", account="m1"), media=(media,)))
    platform = Platform(clock, ok)
    asyncio.run(make(store, clock, {"m1": mastodon("m1", clock)}, platform).dispatch_due(clock.now))
    assert store.get_post(post_id).status == "sent"


def test_a_platform_that_fetches_by_url_is_not_checked(tmp_path: Path) -> None:
    media = photo(tmp_path, "webhook")
    media.path.unlink()  # served from media_base_url, not read by the daemon
    part = replace(media_part(media, base_url="https://cdn.example/m"), uploads=Uploads())
    check_media(part, webhook("w1", Clock()))


def test_big_files_are_checked_by_size_and_small_ones_by_hash(tmp_path: Path) -> None:
    media = photo(tmp_path, "mastodon")
    flip_a_byte(media.path)
    assert unchanged(media.path, media.size, media.sha256) == "its SHA-256 differs"
    # Over the hashing limit only the size is compared (a 500 MB video is not hashed on the event loop).
    assert unchanged(media.path, media.size, media.sha256, hash_limit=media.size - 1) is None
    assert (
        unchanged(media.path, media.size + 1, media.sha256, hash_limit=0)
        == f"{media.size} bytes, not {media.size + 1}"
    )
    assert HASH_LIMIT >= 16 * 1024 * 1024  # every image any platform takes is hashed
    with pytest.raises(PermanentError, match="its SHA-256 differs"):
        check_media(media_part(media), mastodon("m1", Clock()))
    assert not MediaStore(tmp_path / "media").verify(StoredFile(media.sha256, media.size, media.path))
