"""The content-addressed media store: idempotent atomic writes, verification, streaming reads and segments."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from pathlib import Path

import httpx
import pytest

from campaign.errors import MediaStoreError
from campaign.media.store import CHUNK, FileSlice, MediaStore, default_root, file_sha256, segments


def test_default_root_is_beside_the_queue(tmp_path: Path) -> None:
    assert default_root(tmp_path / "db" / "campaign.db") == (tmp_path / "db" / "media").resolve()


def test_put_bytes_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    first = store.put_bytes(b"picture bytes", "png")
    assert first.sha256 == hashlib.sha256(b"picture bytes").hexdigest()
    assert first.path == tmp_path / "media" / f"{first.sha256}.png" and first.size == 13
    stamp = first.path.stat().st_mtime_ns
    again = MediaStore(tmp_path / "media").put_bytes(b"picture bytes", "png")
    assert again == first and first.path.stat().st_mtime_ns == stamp  # found, not rewritten
    assert sorted(p.name for p in store.root.iterdir()) == [first.path.name]  # no temporary files left


def test_put_file_streams_and_matches_put_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 17)
    source = tmp_path / "video.mp4"
    source.write_bytes(data)
    store = MediaStore(tmp_path / "media")
    stored = store.put_file(source, "mp4")
    assert stored.path.read_bytes() == data and stored.sha256 == file_sha256(source)
    assert store.put_bytes(data, "mp4") == stored
    assert store.get(stored.sha256, "mp4") == stored
    assert store.get("0" * 64, "mp4") is None


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    stored = store.put_bytes(b"abc", "jpg")
    assert store.verify(stored)
    stored.path.write_bytes(b"abd")
    assert not store.verify(stored)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "missing.mp4", "mp4")
    assert not (tmp_path / "media").exists() or list((tmp_path / "media").iterdir()) == []


def test_a_store_that_cannot_be_written_is_one_error_naming_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "media").write_bytes(b"a file where the folder belongs")
    blocked = MediaStore(tmp_path / "media")
    assert blocked.get("0" * 64, "png") is None  # looking is not an error
    with pytest.raises(MediaStoreError, match=r"media: cannot write \(a file is where its folder belongs\)$"):
        blocked.put_bytes(b"abc", "png")
    store = MediaStore(tmp_path / "ok")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("campaign.media.store.os.fsync", full)
    with pytest.raises(MediaStoreError, match=r"ok: cannot write \(No space left on device\)$"):
        store.put_bytes(b"abc", "png")
    assert list(store.root.iterdir()) == []  # the temporary file is gone


def test_names_are_checked(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    with pytest.raises(ValueError, match="not a media store name"):
        store.path_for("../../etc/passwd", "jpg")


def test_file_slice_streams_in_chunks_and_can_be_read_again(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    part = FileSlice(path, offset=1000, length=100_000, chunk_size=4096)
    chunks = list(part)
    assert max(len(c) for c in chunks) == 4096 and len(chunks) == 25
    assert b"".join(chunks) == data[1000:101_000] == part.read_all()  # iterated twice: a retry re-reads
    assert part.size == 100_000
    assert FileSlice(path, offset=len(data) - 10).read_all() == data[-10:]


def test_file_slice_async_iteration(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10_000)

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in FileSlice(path, chunk_size=3000)])

    assert asyncio.run(collect()) == b"x" * 10_000


def test_segments_cover_the_file_exactly(tmp_path: Path) -> None:
    data = os.urandom(12_345)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    parts = segments(path, 5000)
    assert [(p.offset, p.size) for p in parts] == [(0, 5000), (5000, 5000), (10_000, 2345)]
    assert b"".join(p.read_all() for p in parts) == data
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert segments(empty, 5000) == []
    with pytest.raises(ValueError):
        segments(path, 0)


def test_a_file_slice_is_an_upload_body_for_httpx(tmp_path: Path) -> None:
    """httpx streams an iterable body chunk by chunk (no Content-Length needed when we give it)."""
    path = tmp_path / "v.mp4"
    path.write_bytes(b"0123456789" * 1000)
    part = FileSlice(path, offset=10, length=5000, chunk_size=1024)
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        response = client.put("https://upload.example/x", content=part, headers={"Content-Length": "5000"})
    assert response.status_code == 204 and seen == [part.read_all()]
