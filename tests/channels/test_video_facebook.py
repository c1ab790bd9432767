"""Facebook Page video: the Graph API resumable upload with its documented shapes
(https://developers.facebook.com/docs/graph-api/video-uploads): ``upload_phase=start`` with ``file_size`` ->
``transfer`` of each range Facebook asks for (multipart ``video_file_chunk``) -> ``finish`` with the post's
``description``, all on ``graph-video.facebook.com``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from campaign.channels.base import Receipt
from campaign.channels.contract import dry_publish
from campaign.channels.facebook_media import FAKE_CHUNK
from campaign.channels.upload_media import MEDIA, UPLOAD
from campaign.errors import AmbiguousError, PermanentError, TransientError
from campaign.http.exchange import describe_request
from campaign.media.model import PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.channels.test_facebook import PAGE, TOKEN
from tests.channels.test_facebook import make_adapter as facebook
from tests.channels.test_mastodon_media import multipart_fields
from tests.helpers.channels import drive, respond
from tests.helpers.media import item, write_mp4
from tests.helpers.media_parts import media_part

VIDEOS = f"https://graph-video.facebook.com/v26.0/{PAGE}/videos"
SESSION, VIDEO_ID = "1564747013773438", "1564747010440105"


def clip(tmp_path: Path, mdat_size: int = 100_000) -> PreparedMedia:
    source = write_mp4(tmp_path / "teaser.mp4", seconds=12.0, mdat_size=mdat_size)
    rules = PLATFORM_MEDIA_RULES["facebook"]
    return prepare(item(source, alt="Teaser"), rules, MediaStore(tmp_path / "media"))


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def offsets(first: int, end: int) -> httpx.Response:
    return respond(200, {"start_offset": str(first), "end_offset": str(end)})


def test_start_transfer_each_range_then_finish_with_the_text(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = facebook()
    start = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                          "end_offset": "60000"})  # fmt: skip
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(video)),
        [
            start,
            offsets(60_000, video.size),
            offsets(video.size, video.size),
            respond(200, {"success": True}),
        ],
    )
    assert outcome == Receipt(remote_id=VIDEO_ID, url=f"https://www.facebook.com/{PAGE}/videos/{VIDEO_ID}/")
    assert all(str(r.url) == VIDEOS and r.headers["authorization"] == f"Bearer {TOKEN}" for r in sent)
    assert form(sent[0]) == {"upload_phase": "start", "file_size": str(video.size)}
    chunks = [multipart_fields(r) for r in sent[1:3]]
    assert [c["upload_phase"] for c in chunks] == [b"transfer", b"transfer"]
    assert [c["upload_session_id"] for c in chunks] == [SESSION.encode()] * 2
    assert [c["start_offset"] for c in chunks] == [b"0", b"60000"]
    assert b"".join(c["video_file_chunk"] for c in chunks) == video.path.read_bytes()
    assert [r.extensions[MEDIA]["length"] for r in sent[1:3]] == [60_000, video.size - 60_000]
    assert all(r.extensions.get(UPLOAD) for r in sent[:3])
    assert form(sent[3]) == {"upload_phase": "finish", "upload_session_id": SESSION,
                             "description": "HKSTP heads to the US West Coast"}  # fmt: skip
    assert not sent[3].extensions.get(UPLOAD)  # finish publishes: its failure may be ambiguous


def test_a_chunk_body_is_streamed_with_an_exact_length(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = facebook()
    start = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                          "end_offset": str(video.size)})  # fmt: skip
    sent, _ = drive(
        adapter,
        adapter.publish(media_part(video)),
        [start, offsets(video.size, video.size), respond(200, {"success": True})],
    )
    transfer = sent[1]
    assert isinstance(transfer.stream, httpx.SyncByteStream)
    assert int(transfer.headers["content-length"]) == len(transfer.read())


@pytest.mark.parametrize("status", [500, 503])
def test_a_failed_transfer_is_transient_and_nothing_is_published(tmp_path: Path, status: int) -> None:
    video = clip(tmp_path)
    adapter = facebook()
    start = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                          "end_offset": "1000"})  # fmt: skip
    failed = respond(status, {"error": {"code": 1}})
    sent, outcome = drive(adapter, adapter.publish(media_part(video)), [start, failed])
    assert isinstance(outcome, TransientError) and len(sent) == 2


def test_a_stalled_or_impossible_range_is_refused(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = facebook()
    start = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                          "end_offset": "1000"})  # fmt: skip
    _, stalled = drive(adapter, adapter.publish(media_part(video)), [start, offsets(0, 1000)])
    assert isinstance(stalled, TransientError) and "stalled" in str(stalled)
    beyond = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                           "end_offset": str(video.size + 1)})  # fmt: skip
    _, refused = drive(adapter, adapter.publish(media_part(video)), [beyond])
    assert isinstance(refused, TransientError) and "bytes 0-" in str(refused)


def test_finish_errors_are_the_posts(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = facebook()
    start = respond(200, {"upload_session_id": SESSION, "video_id": VIDEO_ID, "start_offset": "0",
                          "end_offset": str(video.size)})  # fmt: skip
    done = offsets(video.size, video.size)
    _, unclear = drive(adapter, adapter.publish(media_part(video)), [start, done, respond(200, {})])
    assert isinstance(unclear, AmbiguousError)
    invalid = respond(400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}})
    _, refused = drive(adapter, adapter.publish(media_part(video)), [start, done, invalid])
    assert isinstance(refused, PermanentError)


def test_dry_run_shows_each_chunk_by_size_and_hash(tmp_path: Path) -> None:
    video = clip(tmp_path, mdat_size=FAKE_CHUNK + 200_000)
    adapter = facebook()
    sent, receipt = dry_publish(adapter, media_part(video))
    assert "/videos/" in (receipt.url or "")
    shown = [describe_request(r, []) for r in sent]
    uploads = [s["body"]["upload"] for s in shown if isinstance(s["body"], dict) and "upload" in s["body"]]
    assert [u.get("length") for u in uploads] == [None, FAKE_CHUNK, video.size - FAKE_CHUNK]
    assert all(u["sha256"] == video.sha256 and u["size"] == video.size for u in uploads)
    assert shown[1]["body"]["content_type"] == "multipart/form-data"  # type: ignore[index]
    assert form(sent[-1])["upload_phase"] == "finish"
