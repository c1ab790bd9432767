"""The fake platform's media endpoints (Mastodon's ``/api/v2/media`` with 202 and polling, ``media_ids`` on a
status), driven by the real Mastodon adapter over loopback HTTP, and its streaming multipart reader."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import Receipt
from campaign.http.exchange import run
from campaign.http.transport import AiohttpTransport
from campaign.http.wire import WireTransport
from tests.fakeplatform.accounts import FakeDirectory, token
from tests.fakeplatform.media import MEDIA_PATH, MultipartSink
from tests.fakeplatform.server import FakePlatform, ServerThread
from tests.helpers.media_parts import ALT, media_part, photo


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(FakePlatform(media_polls=2)) as running:
        yield running


@pytest.mark.parametrize("transport", ["wire", "aiohttp", "httpx"])
def test_the_mastodon_adapter_uploads_polls_and_posts_with_the_attachment(
    server: ServerThread, tmp_path: Path, transport: str
) -> None:
    image = photo(tmp_path, "mastodon")
    adapter = FakeDirectory(server.url).adapter("c", "acct0")
    waits: list[float] = []
    sent: list[httpx.Request] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Receipt:
        carriers = {"wire": WireTransport, "aiohttp": AiohttpTransport}
        carrier = carriers[transport]() if transport in carriers else None
        async with httpx.AsyncClient(transport=carrier) as client:
            return await run(
                adapter.publish(media_part(image)), client, adapter, sleep=sleep, before_send=sent.append
            )

    receipt = asyncio.run(go())
    # The upload's body was streamed by every transport, never read whole into the request.
    assert sent[0].url.path == MEDIA_PATH and "_content" not in vars(sent[0])
    upload, poll1, poll2, status = server.platform.records
    assert status.path == "/api/v1/statuses" and status.created
    assert (upload.path, upload.status) == (MEDIA_PATH, 202)
    assert upload.media_size == image.size and upload.media_sha256 == image.sha256
    assert [poll1.status, poll2.status] == [206, 200] and waits == [1.0, 2.0]
    (posted,) = server.platform.statuses
    assert posted["id"] == receipt.remote_id
    (attachment,) = posted["media_attachments"]
    assert attachment["id"] == upload.media_id and attachment["description"] == ALT
    assert attachment["meta"]["focus"] == {"x": 0.25, "y": -0.5}
    assert server.platform.stats()["uploads"] == 1


def test_a_status_naming_unknown_used_or_unready_media_is_refused(server: ServerThread) -> None:
    auth = {"Authorization": f"Bearer {token('acct0')}"}
    with httpx.Client(base_url=server.url, headers=auth) as client:
        files = {"file": ("a.png", b"\x89PNG not really", "image/png")}
        media_id = client.post(MEDIA_PATH, files=files, data={"description": "x"}).json()["id"]
        unready = client.post("/api/v1/statuses", json={"status": "hi", "media_ids": [media_id]})
        assert unready.status_code == 422 and "not ready" in unready.text
        assert client.get(f"/api/v1/media/{media_id}").status_code == 206
        assert client.get(f"/api/v1/media/{media_id}").status_code == 200
        assert client.post("/api/v1/statuses", json={"status": "a", "media_ids": [media_id]}).is_success
        used = client.post("/api/v1/statuses", json={"status": "b", "media_ids": [media_id]})
        assert used.status_code == 422 and "not found" in used.text
        other = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token('acct1')}"})
        with other:
            assert other.get(f"/api/v1/media/{media_id}").status_code == 404
        blank = client.post(MEDIA_PATH, data={"description": "no file"}, files={"other": ("x", b"1")})
        assert blank.status_code == 422


@pytest.mark.parametrize("step", [1, 7, 64, 100_000])
def test_the_multipart_sink_reads_a_body_in_any_chunking(step: int) -> None:
    payload = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n"
    request = httpx.Request(
        "POST", "http://x/", data={"description": "Alt, with ümlauts", "focus": "0.1,-0.2"},
        files={"file": ("clip.mp4", payload, "video/mp4")},
    )  # fmt: skip
    body = request.read()
    sink = MultipartSink(request.headers["content-type"])
    for start in range(0, len(body), step):
        sink.feed(body[start : start + step])
    got = sink.result()
    assert got.complete and got.size == len(payload) and got.sha256 == hashlib.sha256(payload).hexdigest()
    assert got.fields == {"description": "Alt, with ümlauts", "focus": "0.1,-0.2"}
    assert (got.filename, got.content_type) == ("clip.mp4", "video/mp4")
