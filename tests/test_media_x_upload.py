"""X media upload (API v2 chunked flow), driven as a plain generator with the documented shapes.

INITIALIZE -> APPEND (multipart segment per request) -> FINALIZE -> STATUS while processing -> metadata (alt
text, images and GIFs). https://docs.x.com/x-api/media/quickstart/media-upload-chunked,
https://docs.x.com/x-api/media/media-upload-finalize, https://docs.x.com/x-api/media/create-media-metadata
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from campaign.channels.upload_media import DELAY, MEDIA
from campaign.channels.x_media import XMedia, upload_media
from campaign.errors import AuthError, PermanentError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import item, noisy, save, write_mp4

T = TypeVar("T")
NOW = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer canary-x-token"}
MEDIA_ID = "1880028106020515840"


def clock() -> datetime:
    return NOW


def drive(
    exchange: Generator[httpx.Request, httpx.Response, T], answers: list[Any]
) -> tuple[list[httpx.Request], T]:
    requests: list[httpx.Request] = []
    try:
        request = next(exchange)
        for status, body in answers:
            requests.append(request)
            request.read()
            request = exchange.send(httpx.Response(status, json=body, request=request))
        raise AssertionError(f"unexpected request {request.method} {request.url}")
    except StopIteration as stop:
        return requests, stop.value


def parts(request: httpx.Request) -> dict[str, bytes]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    return {
        str(p.get_param("name", header="content-disposition")): p.get_payload(decode=True)
        for p in message.iter_parts()
    }


@pytest.fixture
def video(tmp_path: Path) -> PreparedMedia:
    source = write_mp4(tmp_path / "teaser.mp4", seconds=30.0, mdat_size=250_000)
    return prepare(item(source, alt="Teaser"), PLATFORM_MEDIA_RULES["x"], MediaStore(tmp_path / "media"))


INIT = {"data": {"id": MEDIA_ID, "media_key": f"7_{MEDIA_ID}", "expires_after_secs": 86400}}


def test_video_upload_appends_every_segment_then_waits_for_processing(video: PreparedMedia) -> None:
    pending = {"data": {"id": MEDIA_ID, "media_key": f"7_{MEDIA_ID}", "expires_after_secs": 86400,
                        "processing_info": {"state": "pending", "check_after_secs": 5}}}  # fmt: skip
    running = {"data": {"id": MEDIA_ID, "processing_info": {"state": "in_progress", "check_after_secs": 10}}}
    done = {"data": {"id": MEDIA_ID, "media_key": f"7_{MEDIA_ID}", "expires_after_secs": 3600,
                     "processing_info": {"state": "succeeded"}}}  # fmt: skip
    answers = [(200, INIT), (200, {}), (200, {}), (200, {}), (200, pending), (200, running), (200, done)]
    requests, result = drive(upload_media(AUTH, video, now=clock, segment_size=100_000), answers)
    assert result == XMedia(id=MEDIA_ID, media_key=f"7_{MEDIA_ID}", expires_at=NOW + timedelta(seconds=3600))

    init, *appends, finalize, status1, status2 = requests
    assert (init.method, str(init.url)) == ("POST", "https://api.x.com/2/media/upload/initialize")
    assert json.loads(init.content) == {
        "media_type": "video/mp4",
        "total_bytes": video.size,
        "media_category": "tweet_video",
    }
    assert init.headers["authorization"] == "Bearer canary-x-token"
    assert [str(r.url) for r in appends] == [f"https://api.x.com/2/media/upload/{MEDIA_ID}/append"] * 3
    sent = [parts(r) for r in appends]
    assert [p["segment_index"] for p in sent] == [b"0", b"1", b"2"]
    assert b"".join(p["media"] for p in sent) == video.path.read_bytes()
    assert [r.extensions[MEDIA]["offset"] for r in appends] == [0, 100_000, 200_000]
    assert (finalize.method, str(finalize.url)) == (
        "POST",
        f"https://api.x.com/2/media/upload/{MEDIA_ID}/finalize",
    )
    for poll, wait in ((status1, 5.0), (status2, 10.0)):
        assert (poll.method, poll.url.path, dict(poll.url.params)) == (
            "GET", "/2/media/upload", {"command": "STATUS", "media_id": MEDIA_ID},
        )  # fmt: skip
        assert poll.extensions[DELAY] == wait


def test_an_image_gets_its_alt_text_as_metadata(tmp_path: Path) -> None:
    source = save(noisy(300, 200), tmp_path / "stage.jpg", "JPEG")
    photo = prepare(
        item(source, alt="Speakers on stage"), PLATFORM_MEDIA_RULES["x"], MediaStore(tmp_path / "m")
    )
    final = {
        "data": {
            "id": MEDIA_ID,
            "media_key": f"3_{MEDIA_ID}",
            "expires_after_secs": 86400,
            "size": photo.size,
        }
    }
    metadata = {"data": {"id": MEDIA_ID, "associated_metadata": {"alt_text": {"text": "Speakers on stage"}}}}
    requests, result = drive(
        upload_media(AUTH, photo, now=clock), [(200, INIT), (200, {}), (200, final), (200, metadata)]
    )
    assert json.loads(requests[0].content)["media_category"] == "tweet_image"
    last = requests[-1]
    assert (last.method, str(last.url)) == ("POST", "https://api.x.com/2/media/metadata")
    assert json.loads(last.content) == {
        "id": MEDIA_ID,
        "metadata": {"alt_text": {"text": "Speakers on stage"}},
    }
    assert result.media_key == f"3_{MEDIA_ID}"


def test_processing_failure_is_permanent(video: PreparedMedia) -> None:
    error = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
    failed = {"data": {"id": MEDIA_ID, "processing_info": {"state": "failed", "error": error}}}
    with pytest.raises(PermanentError, match="X could not process it: Unsupported video format"):
        drive(
            upload_media(AUTH, video, now=clock, segment_size=10**6), [(200, INIT), (200, {}), (200, failed)]
        )


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (400, PermanentError), (503, TransientError), (500, TransientError)],
)
def test_upload_errors_are_never_ambiguous(video: PreparedMedia, status: int, error: type[Exception]) -> None:
    problem = {"title": "Problem", "detail": "something", "type": "about:blank", "status": status}
    with pytest.raises(error) as caught:
        drive(upload_media(AUTH, video, now=clock, segment_size=10**6), [(200, INIT), (status, problem)])
    assert type(caught.value) is error and str(caught.value).startswith("uploading teaser.mp4 to X: ")
