"""Mastodon and Bluesky media uploads, driven as plain generators with the documented response shapes.

Mastodon: POST /api/v2/media (multipart file, description, focus) answers 200 or 202 (url null), then
GET /api/v1/media/:id answers 206 while processing and 200 when ready
(https://docs.joinmastodon.org/methods/media/). Bluesky: com.atproto.repo.uploadBlob takes the raw bytes and
answers {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}}
(https://docs.bsky.app/docs/api/com-atproto-repo-upload-blob).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from campaign.channels.bluesky_media import (
    external_embed,
    fake_blob_response,
    images_embed,
    upload_blob,
    video_embed,
)
from campaign.channels.mastodon_media import MastodonMedia, fake_media_response, focus_value, upload_media
from campaign.channels.upload_media import DELAY, MEDIA, FileStream, upload_error
from campaign.errors import AuthError, ChannelError, PermanentError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import FileSlice, MediaStore
from tests.helpers.media import item, noisy, save

T = TypeVar("T")
NOW = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer canary-token-123"}


def clock() -> datetime:
    return NOW


@pytest.fixture
def photo(tmp_path: Path) -> PreparedMedia:
    source = save(noisy(320, 200), tmp_path / "delegation.jpg", "JPEG")
    media = item(source, alt="The HKSTP delegation outside a Stanford building", focus=(0.25, -0.5))
    return prepare(media, PLATFORM_MEDIA_RULES["mastodon"], MediaStore(tmp_path / "media"))


def drive(
    exchange: Generator[httpx.Request, httpx.Response, T], answers: list[Any]
) -> tuple[list[httpx.Request], T]:
    """Answer each request with the next (status, body) and return the requests and the result."""
    requests: list[httpx.Request] = []
    try:
        request = next(exchange)
        for status, body in answers:
            requests.append(request)
            request.read()  # what a transport does: the whole (streamed) body is sent
            request = exchange.send(httpx.Response(status, json=body, request=request))
        raise AssertionError(f"unexpected request {request.method} {request.url}")
    except StopIteration as stop:
        return requests, stop.value


def multipart_fields(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """Each form field's (filename, content) of a multipart request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    return {
        str(part.get_param("name", header="content-disposition")): (
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


# -- Mastodon ----------------------------------------------------------------------------------------------


def test_mastodon_upload_answered_200_is_done(photo: PreparedMedia) -> None:
    body = {
        "id": "22348641",
        "type": "image",
        "url": "https://files.example/original/a.jpg",
        "description": photo.alt,
    }
    requests, result = drive(upload_media("https://mastodon.example", AUTH, photo, now=clock), [(200, body)])
    assert result == MastodonMedia(id="22348641", type="image", url="https://files.example/original/a.jpg")
    (request,) = requests
    assert (request.method, str(request.url)) == ("POST", "https://mastodon.example/api/v2/media")
    assert request.headers["authorization"] == "Bearer canary-token-123"
    assert request.headers["content-type"] == f"multipart/form-data; boundary=campaign-{photo.sha256[:32]}"
    fields = multipart_fields(request)
    assert fields["file"] == (photo.store_name, photo.path.read_bytes())
    assert fields["description"] == (None, photo.alt.encode())
    assert fields["focus"] == (None, b"0.25,-0.5")
    assert request.extensions[MEDIA] == {
        "file": "delegation.jpg",
        "sha256": photo.sha256,
        "mime": "image/jpeg",
        "size": photo.size,
    }


def test_mastodon_upload_answered_202_is_polled_until_ready(photo: PreparedMedia) -> None:
    accepted = {"id": "99", "type": "image", "url": None}
    answers = [
        (202, accepted),
        (206, accepted),
        (206, accepted),
        (200, {**accepted, "url": "https://f.example/99.jpg"}),
    ]
    requests, result = drive(upload_media("https://mastodon.example", AUTH, photo, now=clock), answers)
    assert result.url == "https://f.example/99.jpg" and result.id == "99"
    polls = requests[1:]
    assert [(r.method, str(r.url)) for r in polls] == [
        ("GET", "https://mastodon.example/api/v1/media/99")
    ] * 3
    assert [r.extensions[DELAY] for r in polls] == [
        1.0,
        2.0,
        3.0,
    ]  # the runner waits; the adapter never sleeps
    assert all(r.headers["authorization"] == "Bearer canary-token-123" for r in polls)


def test_mastodon_media_still_processing_after_every_poll_is_transient(photo: PreparedMedia) -> None:
    accepted = {"id": "7", "type": "video", "url": None}
    exchange = upload_media("https://m.example", AUTH, photo, now=clock, poll_delays=(1.0, 1.0))
    with pytest.raises(TransientError, match=r"^Mastodon media 7 \(delegation.jpg\) is still processing$"):
        drive(exchange, [(202, accepted), (206, accepted), (206, accepted)])


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (422, {"error": "Validation failed: File content type is invalid"}, PermanentError, "HTTP 422"),
        (401, {"error": "The access token is invalid"}, AuthError, "HTTP 401"),
        (500, {"error": "oops"}, TransientError, "an upload publishes nothing, so it is retried"),
        (503, {"error": "down"}, TransientError, "HTTP 503"),
    ],
)
def test_mastodon_upload_errors_are_classified(
    photo: PreparedMedia, status: int, body: dict[str, str], error: type[ChannelError], text: str
) -> None:
    with pytest.raises(error) as caught:
        drive(upload_media("https://m.example", AUTH, photo, now=clock), [(status, body)])
    assert type(caught.value) is error
    assert str(caught.value).startswith("uploading delegation.jpg to Mastodon: ") and text in str(
        caught.value
    )


def test_mastodon_decorative_media_sends_no_description(tmp_path: Path) -> None:
    source = save(noisy(100, 100), tmp_path / "rule.png", "PNG")
    media = prepare(
        item(source, alt="", decorative=True), PLATFORM_MEDIA_RULES["mastodon"], MediaStore(tmp_path)
    )
    requests, _ = drive(
        upload_media("https://m.example", AUTH, media, now=clock), [(200, {"id": "1", "url": "u"})]
    )
    assert set(multipart_fields(requests[0])) == {"file"}


def test_focus_values() -> None:
    assert focus_value(None) is None and focus_value((0.0, 1.0)) == "0,1"
    with pytest.raises(PermanentError, match="outside"):
        focus_value((1.5, 0.0))


def test_mastodon_dry_run_answers(photo: PreparedMedia) -> None:
    exchange = upload_media("https://m.example", AUTH, photo, now=clock)
    request = next(exchange)
    fake = fake_media_response(request)
    assert fake is not None and fake.json()["id"] == f"dry-run-media-{photo.sha256[:12]}"
    with pytest.raises(StopIteration) as done:
        exchange.send(fake)
    assert done.value.value.id.startswith("dry-run-media-")
    assert fake_media_response(httpx.Request("POST", "https://m.example/api/v1/statuses")) is None


# -- Bluesky -----------------------------------------------------------------------------------------------


def blob_for(
    media: PreparedMedia, cid: str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"
) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": cid}, "mimeType": media.mime, "size": media.size}


@pytest.fixture(scope="module")
def bsky_photo(tmp_path_factory: pytest.TempPathFactory) -> PreparedMedia:
    tmp_path = tmp_path_factory.mktemp("bluesky")
    source = save(noisy(2400, 1600), tmp_path / "stage.jpg", "JPEG", quality=97)
    media = item(source, alt="Speakers on stage at the Innovation Mixer")
    return prepare(media, PLATFORM_MEDIA_RULES["bluesky"], MediaStore(tmp_path / "media"))


def test_bluesky_upload_blob_streams_the_raw_bytes(bsky_photo: PreparedMedia) -> None:
    blob = blob_for(bsky_photo)
    requests, result = drive(
        upload_blob("https://pds.example/", AUTH, bsky_photo, now=clock), [(200, {"blob": blob})]
    )
    (request,) = requests
    assert (request.method, str(request.url)) == (
        "POST",
        "https://pds.example/xrpc/com.atproto.repo.uploadBlob",
    )
    assert request.headers["content-type"] == "image/jpeg"
    assert request.headers["host"] == "pds.example"  # a real server refuses a request without Host
    assert request.headers["content-length"] == str(bsky_photo.size) and bsky_photo.size <= 1_000_000
    assert request.content == bsky_photo.path.read_bytes()
    assert result == blob


def test_bluesky_images_embed_carries_alt_and_aspect_ratio(bsky_photo: PreparedMedia) -> None:
    blob = blob_for(bsky_photo)
    embed = images_embed([(bsky_photo, blob)])
    assert embed == {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "alt": "Speakers on stage at the Innovation Mixer",
                "image": blob,
                "aspectRatio": {"width": bsky_photo.width, "height": bsky_photo.height},
            }
        ],
    }
    assert (bsky_photo.width, bsky_photo.height) == (2000, 1333)


def test_bluesky_video_and_link_card_embeds(bsky_photo: PreparedMedia) -> None:
    blob = blob_for(bsky_photo)
    card = external_embed("https://www.hkstp.org", "HKSTP Innovation Mixer", "US West Coast tour", thumb=blob)
    assert card["external"]["thumb"] == blob and card["$type"] == "app.bsky.embed.external"
    assert "thumb" not in external_embed("https://x.example", "t", "d")["external"]
    clip = video_embed(bsky_photo, blob)
    assert clip["$type"] == "app.bsky.embed.video" and clip["alt"] == bsky_photo.alt and clip["video"] == blob


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "ExpiredToken", "message": "Token has expired"}, AuthError),
        (400, {"error": "InvalidRequest", "message": "BlobTooLarge"}, PermanentError),
        (413, {"error": "PayloadTooLarge", "message": "request entity too large"}, PermanentError),
        (500, {"error": "InternalServerError", "message": "Internal Server Error"}, TransientError),
        (429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, TransientError),
    ],
)
def test_bluesky_upload_errors(
    bsky_photo: PreparedMedia, status: int, body: dict[str, str], error: type[ChannelError]
) -> None:
    with pytest.raises(error):
        drive(upload_blob("https://pds.example", AUTH, bsky_photo, now=clock), [(status, body)])


def test_bluesky_a_blob_that_does_not_match_what_we_sent_is_refused(bsky_photo: PreparedMedia) -> None:
    wrong = {**blob_for(bsky_photo), "size": bsky_photo.size - 1}
    with pytest.raises(TransientError, match="the PDS stored"):
        drive(upload_blob("https://pds.example", AUTH, bsky_photo, now=clock), [(200, {"blob": wrong})])


def test_bluesky_dry_run_answer(bsky_photo: PreparedMedia) -> None:
    exchange = upload_blob("https://pds.example", AUTH, bsky_photo, now=clock)
    fake = fake_blob_response(next(exchange))
    assert fake is not None
    with pytest.raises(StopIteration) as done:
        exchange.send(fake)
    assert done.value.value["ref"]["$link"] == f"dry-run-cid-{bsky_photo.sha256[:12]}"


# -- streaming bodies --------------------------------------------------------------------------------------


def test_file_stream_works_with_the_async_client_chunk_by_chunk(tmp_path: Path) -> None:
    """The daemon's client is async: a streamed upload body iterates asynchronously, a chunk at a time."""
    path = tmp_path / "video.mp4"
    path.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    received: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        async for chunk in request.stream:  # type: ignore[union-attr]
            received.append(len(chunk))
        return httpx.Response(201)

    async def send() -> int:
        part = FileSlice(path, offset=1000, length=700_000, chunk_size=65_536)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            request = client.build_request(
                "PUT", "https://upload.example/u", headers={"Content-Length": "700000"}
            )
            request.stream = FileStream(part)
            response = await client.send(request)
        return response.status_code

    assert asyncio.run(send()) == 201
    assert sum(received) == 700_000 and max(received) == 65_536


def test_upload_error_keeps_auth_and_rate_limit_classes() -> None:
    request = httpx.Request("POST", "https://x.example/u")
    limited = upload_error(
        httpx.Response(429, headers={"Retry-After": "30"}, request=request), now=NOW, what="up"
    )
    assert type(limited).__name__ == "RateLimitedError" and str(limited).startswith("up: HTTP 429")
    assert isinstance(upload_error(httpx.Response(504, request=request), now=NOW, what="up"), TransientError)
