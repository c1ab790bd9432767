"""A recorded upload the platform refuses is uploaded again within the same attempt (issue 14 follow-up).

Each platform's refusal, in its documented shape, of a post that named a *reused* upload (one an earlier
attempt recorded) makes the adapter forget that record, upload the file again and send the post once more;
a second refusal is the normal error, and the same refusal of a *fresh* upload is never retried. Shapes:

- Mastodon 4.3+: 422 ``{"error": "Media <ids> not found or already attached to another post"}``
  (``PostStatusService#validate_media!``; https://github.com/mastodon/mastodon/pull/31681).
- X: 400 ``invalid-request`` with ``errors[{parameters: {"media.media_ids": [...]}, message: "Your media IDs
  are invalid."}]`` (https://github.com/abraham/twitteroauth/issues/1222).
- Bluesky PDS: 400 ``{"error": "BlobNotFound", "message": "Could not find blob: <cid>"}``
  (bluesky-social/atproto, packages/pds actor-store/blob/transactor.ts).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign.channels.base import Adapter, Part, Receipt, Upload, Uploads
from campaign.channels.upload_media import upload_key
from campaign.errors import PermanentError
from campaign.media.model import PreparedMedia
from tests.channels.test_bluesky import DID, HANDLE, SESSION
from tests.channels.test_bluesky import adapter as bluesky_adapter
from tests.channels.test_x import make_adapter as x_adapter
from tests.helpers.channels import NOW, Case, respond
from tests.helpers.clock import Clock
from tests.helpers.media_parts import media_part, photo
from tests.test_dispatcher import mastodon

RECORDED = "110000000000000001"
CID = "bafkreirecordedrecordedrecordedrecordedrecordedrecorded"


def with_record(adapter: Adapter, media: PreparedMedia, remote_id: str, **data: Any) -> Part:
    record = Upload(upload_key(media, "media"), remote_id, NOW, NOW + timedelta(hours=2), data)
    return replace(media_part(media), uploads=Uploads([record]))


def paths(sent: list[httpx.Request]) -> list[str]:
    return [r.url.path for r in sent]


# ------------------------------------------------------------------------------------------------ Mastodon

GONE_422 = respond(422, {"error": f"Media {RECORDED} not found or already attached to another post"})
STATUS_OK = respond(200, {"id": "s-1", "url": "https://m.example/@a/s-1"})
UPLOADED = respond(200, {"id": "att-new", "type": "image", "url": "https://m.example/a.jpg"})


MASTODON = [
    (
        Case(
            "reused attachment gone: uploaded again",
            [GONE_422, UPLOADED, STATUS_OK],
            Receipt(remote_id="s-1", url="https://m.example/@a/s-1", data={"id": "s-1"}),
        ),
        ["/api/v1/statuses", "/api/v2/media", "/api/v1/statuses"],
    ),
    (
        Case("refused twice: the normal error", [GONE_422, UPLOADED, GONE_422], PermanentError),
        ["/api/v1/statuses", "/api/v2/media", "/api/v1/statuses"],
    ),
    (
        Case(
            "a 422 naming another id is not about the reused upload",
            [respond(422, {"error": "Media 1100000000000000012 not found"})],
            PermanentError,
        ),
        ["/api/v1/statuses"],
    ),
]


@pytest.mark.parametrize(("case", "expected"), MASTODON, ids=lambda c: getattr(c, "id", ""))
def test_mastodon_uploads_a_refused_reused_attachment_again(
    tmp_path: Path, case: Case, expected: list[str]
) -> None:
    adapter = mastodon("m1", Clock(NOW))
    media = photo(tmp_path, "mastodon")
    part = with_record(adapter, media, RECORDED)
    sent, _ = case.run(adapter, adapter.publish(part))
    assert paths(sent) == expected
    statuses = [json.loads(r.content) for r in sent if r.url.path == "/api/v1/statuses"]
    assert statuses[0]["media_ids"] == [RECORDED]
    if len(statuses) > 1:
        assert statuses[1]["media_ids"] == ["att-new"]
        # The refused record is replaced: expired now, then the new upload under the same key.
        recorded = part.uploads.take_new()  # type: ignore[union-attr]
        expired = [(u.remote_id, u.expires_at <= NOW) for u in recorded]
        assert expired == [(RECORDED, True), ("att-new", False)]


def test_mastodon_does_not_upload_again_when_a_fresh_upload_is_refused(tmp_path: Path) -> None:
    adapter = mastodon("m1", Clock(NOW))
    media = photo(tmp_path, "mastodon")
    part = replace(media_part(media), uploads=Uploads())
    fresh_gone = respond(422, {"error": "Media att-new not found or already attached to another post"})
    sent, _ = Case("fresh", [UPLOADED, fresh_gone], PermanentError).run(adapter, adapter.publish(part))
    assert paths(sent) == ["/api/v2/media", "/api/v1/statuses"]


# ------------------------------------------------------------------------------------------------------- X

X_INVALID = respond(400, {
    "errors": [{"parameters": {"media.media_ids": [RECORDED]}, "message": "Your media IDs are invalid."}],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
})  # fmt: skip
X_UPLOAD = [
    respond(200, {"data": {"id": "7770001", "media_key": "3_7770001", "expires_after_secs": 86400}}),
    httpx.Response(204),
    respond(200, {"data": {"id": "7770001", "media_key": "3_7770001", "expires_after_secs": 86400}}),
    respond(200, {"data": {"associated_metadata": True}}),
]
X_UPLOAD_PATHS = [
    "/2/media/upload/initialize", "/2/media/upload/7770001/append", "/2/media/upload/7770001/finalize",
    "/2/media/metadata",
]  # fmt: skip
X_CREATED = respond(201, {"data": {"id": "1346889436626259968", "text": "t"}})


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (Case("reused media id invalid: uploaded again", [X_INVALID, *X_UPLOAD, X_CREATED], Receipt(
            remote_id="1346889436626259968", url="https://x.com/acme/status/1346889436626259968")),
         ["/2/tweets", *X_UPLOAD_PATHS, "/2/tweets"]),
        (Case("refused twice", [X_INVALID, *X_UPLOAD, X_INVALID], PermanentError),
         ["/2/tweets", *X_UPLOAD_PATHS, "/2/tweets"]),
        (Case("another 400 is not about media", [respond(400, {"errors": [{"message": "Text too long"}]})],
              PermanentError), ["/2/tweets"]),
    ],
    ids=lambda c: getattr(c, "id", ""),
)  # fmt: skip
def test_x_uploads_a_refused_reused_media_id_again(tmp_path: Path, case: Case, expected: list[str]) -> None:
    adapter = x_adapter()
    adapter.clock = Clock(NOW)
    part = with_record(adapter, photo(tmp_path, "x"), RECORDED)
    sent, _ = case.run(adapter, adapter.publish(part))
    assert paths(sent) == expected
    posts = [json.loads(r.content) for r in sent if r.url.path == "/2/tweets"]
    assert posts[0]["media"] == {"media_ids": [RECORDED]}
    if len(posts) > 1:
        assert posts[1]["media"] == {"media_ids": ["7770001"]}


def test_x_does_not_upload_again_when_a_fresh_media_id_is_refused(tmp_path: Path) -> None:
    adapter = x_adapter()
    adapter.clock = Clock(NOW)
    part = replace(media_part(photo(tmp_path, "x")), uploads=Uploads())
    sent, _ = Case("fresh", [*X_UPLOAD, X_INVALID], PermanentError).run(adapter, adapter.publish(part))
    assert paths(sent) == [*X_UPLOAD_PATHS, "/2/tweets"]


# ------------------------------------------------------------------------------------------------- Bluesky

BLOB_GONE = respond(400, {"error": "BlobNotFound", "message": f"Could not find blob: {CID}"})
CREATED = respond(200, {"uri": f"at://{DID}/app.bsky.feed.post/3k", "cid": "bafyrecord"})


def blob(media: PreparedMedia, cid: str) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": cid}, "mimeType": media.mime, "size": media.size}


@pytest.mark.parametrize("twice", [False, True])
def test_bluesky_uploads_a_blob_the_pds_no_longer_has_again(tmp_path: Path, twice: bool) -> None:
    adapter = bluesky_adapter()
    media = photo(tmp_path, "bluesky")
    part = with_record(adapter, media, CID, blob=blob(media, CID))
    answers = [respond(200, SESSION), BLOB_GONE, respond(200, {"blob": blob(media, "bafynew")}),
               BLOB_GONE if twice else CREATED]  # fmt: skip
    if twice:  # the second refusal is the normal error: the record is looked for, then the error stands
        answers.append(respond(400, {"error": "RecordNotFound", "message": "Could not locate record"}))
    uri = f"at://{DID}/app.bsky.feed.post/3k"
    receipt = Receipt(uri, f"https://bsky.app/profile/{HANDLE}/post/3k", {"uri": uri, "cid": "bafyrecord"})
    sent, _ = Case("blob", answers, PermanentError if twice else receipt).run(adapter, adapter.publish(part))
    names = [p.rsplit("/", 1)[-1] for p in paths(sent)]
    assert names[:4] == [
        "com.atproto.server.createSession", "com.atproto.repo.createRecord", "com.atproto.repo.uploadBlob",
        "com.atproto.repo.createRecord",
    ]  # fmt: skip
    records = [json.loads(r.content)["record"] for r in sent if r.url.path.endswith("createRecord")]
    assert [r["embed"]["images"][0]["image"]["ref"]["$link"] for r in records] == [CID, "bafynew"]
