"""LinkedIn video (Videos API), with the documented request and response shapes:
initializeUpload -> PUT each byte range to its uploadUrl (ETags kept) -> finalizeUpload -> status until
AVAILABLE -> the post's ``content.media.id``
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api)."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from campaign.channels.base import Receipt
from campaign.channels.contract import dry_publish
from campaign.channels.linkedin_media import PART_SIZE
from campaign.channels.upload_media import DELAY, MEDIA, UPLOAD
from campaign.errors import PermanentError, TransientError
from campaign.http.exchange import describe_request, run
from campaign.media.model import PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.channels.test_linkedin import AUTHOR
from tests.channels.test_linkedin import make_adapter as linkedin
from tests.helpers.channels import drive, respond
from tests.helpers.media import item, write_mp4
from tests.helpers.media_parts import media_part

VIDEO_URN = "urn:li:video:C5F10AQGKQg_6y2a4sQ"
UPLOAD_URL = "https://www.linkedin.com/dms-uploads/sp/v2/C5F10AQ"


def clip(tmp_path: Path, mdat_size: int = 100_000) -> PreparedMedia:
    source = write_mp4(tmp_path / "teaser.mp4", seconds=12.0, mdat_size=mdat_size)
    rules = PLATFORM_MEDIA_RULES["linkedin"]
    return prepare(item(source, alt="Teaser"), rules, MediaStore(tmp_path / "media"))


def initialized(size: int, cuts: list[int]) -> httpx.Response:
    """initializeUpload's answer with one instruction per [cut, next cut) range."""
    bounds = [*cuts, size]
    parts = [
        {"uploadUrl": f"{UPLOAD_URL}-{n}?ca=vector_feedshare", "firstByte": a, "lastByte": b - 1}
        for n, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    value = {"uploadUrlsExpireAt": 1700000000000, "video": VIDEO_URN, "uploadInstructions": parts,
             "uploadToken": ""}  # fmt: skip
    return respond(200, {"value": value})


def test_video_parts_are_put_in_ranges_finalized_and_posted_once_available(tmp_path: Path) -> None:
    video = clip(tmp_path)
    cuts = [0, 40_000, 80_000]
    adapter = linkedin()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(video)),
        [
            initialized(video.size, cuts),
            *(httpx.Response(200, headers={"ETag": f"/etag/{n}"}) for n in range(3)),
            httpx.Response(200),
            respond(200, {"id": VIDEO_URN, "status": "PROCESSING"}),
            respond(200, {"id": VIDEO_URN, "status": "AVAILABLE"}),
            httpx.Response(201, headers={"x-restli-id": "urn:li:share:9"}),
        ],
    )
    assert isinstance(outcome, Receipt) and outcome.remote_id == "urn:li:share:9"
    init, puts, final, polls, post = sent[0], sent[1:4], sent[4], sent[5:7], sent[7]
    assert str(init.url) == "https://api.linkedin.com/rest/videos?action=initializeUpload"
    assert json.loads(init.content) == {
        "initializeUploadRequest": {
            "owner": AUTHOR,
            "fileSizeBytes": video.size,
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    assert [str(p.url) for p in puts] == [f"{UPLOAD_URL}-{n}?ca=vector_feedshare" for n in range(3)]
    assert all(p.method == "PUT" and p.headers["content-type"] == "application/octet-stream" for p in puts)
    assert b"".join(p.read() for p in puts) == video.path.read_bytes()
    assert [p.extensions[MEDIA]["offset"] for p in puts] == cuts
    assert [int(p.headers["content-length"]) for p in puts] == [40_000, 40_000, video.size - 80_000]
    assert all(r.extensions.get(UPLOAD) for r in (init, *puts, final, *polls))
    assert str(final.url) == "https://api.linkedin.com/rest/videos?action=finalizeUpload"
    assert json.loads(final.content) == {
        "finalizeUploadRequest": {
            "video": VIDEO_URN,
            "uploadToken": "",
            "uploadedPartIds": ["/etag/0", "/etag/1", "/etag/2"],
        }
    }
    status_url = f"https://api.linkedin.com/rest/videos/{quote(VIDEO_URN, safe='')}"
    assert [str(p.url) for p in polls] == [status_url] * 2
    assert polls[0].extensions[DELAY] < polls[1].extensions[DELAY]
    body = json.loads(post.content)
    assert body["content"] == {"media": {"id": VIDEO_URN}}
    assert not post.extensions.get(UPLOAD)


def test_instructions_that_miss_bytes_are_refused_before_any_part(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = linkedin()
    gap = initialized(video.size - 10, [0])  # LinkedIn would end the file 10 bytes early
    sent, outcome = drive(adapter, adapter.publish(media_part(video)), [gap])
    assert isinstance(outcome, TransientError) and "cover" in str(outcome) and len(sent) == 1


@pytest.mark.parametrize("status", [500, 504])
def test_a_failed_part_is_transient_and_posts_nothing(tmp_path: Path, status: int) -> None:
    video = clip(tmp_path)
    adapter = linkedin()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(video)),
        [
            initialized(video.size, [0, 50_000]),
            httpx.Response(200, headers={"ETag": "e0"}),
            respond(status, {}),
        ],
    )
    assert isinstance(outcome, TransientError) and "part 2 of 2" in str(outcome)
    assert [r.url.path for r in sent][-1].startswith("/dms-uploads/")


def test_processing_failure_is_permanent(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = linkedin()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(video)),
        [
            initialized(video.size, [0]),
            httpx.Response(200, headers={"ETag": "e0"}),
            httpx.Response(200),
            respond(200, {"status": "PROCESSING_FAILED"}),
        ],
    )
    assert isinstance(outcome, PermanentError) and "PROCESSING_FAILED" in str(outcome)
    assert not any(r.url.path == "/rest/posts" for r in sent)


def test_dry_run_shows_each_part_by_size_and_hash_not_bytes(tmp_path: Path) -> None:
    video = clip(tmp_path, mdat_size=PART_SIZE + 300_000)
    adapter = linkedin()
    sent, receipt = dry_publish(adapter, media_part(video))
    assert receipt.remote_id.startswith("urn:li:share:")
    shown = [describe_request(r, []) for r in sent]
    puts = [s for s in shown if s["method"] == "PUT"]
    assert [p["body"]["upload"]["length"] for p in puts] == [PART_SIZE, video.size - PART_SIZE]  # type: ignore[index]
    for p in puts:
        assert p["body"]["content_type"] == "application/octet-stream"  # type: ignore[index]
        assert p["body"]["upload"]["sha256"] == video.sha256  # type: ignore[index]
    assert json.loads(sent[-1].content)["content"]["media"]["id"].startswith("urn:li:video:")


def test_the_runner_waits_before_each_status_poll_as_the_adapter_asks(tmp_path: Path) -> None:
    video = clip(tmp_path)
    adapter = linkedin()
    answers = [
        initialized(video.size, [0]),
        httpx.Response(200, headers={"ETag": "e0"}),
        httpx.Response(200),
        respond(200, {"status": "PROCESSING"}),
        respond(200, {"status": "PROCESSING"}),
        respond(200, {"status": "AVAILABLE"}),
        httpx.Response(201, headers={"x-restli-id": "urn:li:share:9"}),
    ]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Receipt:
        transport = httpx.MockTransport(lambda request: answers.pop(0))
        async with httpx.AsyncClient(transport=transport) as client:
            return await run(adapter.publish(media_part(video)), client, adapter, sleep=sleep)

    assert asyncio.run(go()).remote_id == "urn:li:share:9"
    assert waits == [1.0, 2.0, 4.0]  # only the polls wait; uploads and the post go at once
