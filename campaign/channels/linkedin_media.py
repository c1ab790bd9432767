"""LinkedIn video upload (Videos API) as an exchange the LinkedIn adapter yields from before it posts.

Platform facts (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api):

- ``POST /rest/videos?action=initializeUpload`` with ``{"initializeUploadRequest": {"owner", "fileSizeBytes",
  "uploadCaptions", "uploadThumbnail"}}`` answers ``{"value": {"video": "urn:li:video:…", "uploadToken",
  "uploadUrlsExpireAt", "uploadInstructions": [{"uploadUrl", "firstByte", "lastByte"}, …]}}``: one
  instruction per part (LinkedIn cuts a large file into parts of about 4 MB; byte ranges are inclusive).
- Each part is ``PUT`` as raw bytes (``Content-Type: application/octet-stream``) to its ``uploadUrl``; the
  answer's ``ETag`` header names the part.
- ``POST /rest/videos?action=finalizeUpload`` with ``{"finalizeUploadRequest": {"video", "uploadToken",
  "uploadedPartIds": [ETag, …]}}`` (the ETags in part order) completes the upload.
- ``GET /rest/videos/{urn}`` reports ``status``: ``WAITING_UPLOAD``, ``PROCESSING``, ``AVAILABLE`` or
  ``PROCESSING_FAILED``; the post (``content.media.id`` = the video URN) is made once it is ``AVAILABLE``.

Every request here is an upload (:data:`~campaign.channels.upload_media.UPLOAD`): it publishes nothing, so a
failure is retried, never ambiguous. Parts are streamed from the media store one chunk at a time
(:class:`~campaign.media.store.FileSlice`); each part's request names its file, offset and length for a dry
run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from campaign.channels.base import PLACEHOLDER, Adapter, Exchange, fake_json
from campaign.channels.helpers import json_object
from campaign.channels.upload_media import DELAY, MEDIA, UPLOAD, media_extension, upload_error, upload_request
from campaign.errors import ChannelError, PermanentError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.store import FileSlice

VIDEOS_URL = "https://api.linkedin.com/rest/videos"
#: LinkedIn's part size for multipart video uploads (what the dry run answers; the real one says its own).
PART_SIZE = 4 * 1024 * 1024
#: Most status checks before giving up (the post is then retried later; the upload itself published nothing).
MAX_STATUS_CHECKS = 40
#: Seconds before the n-th status check: 1, 2, 4, 8, then every 15 s.
MAX_POLL_DELAY = 15.0

#: Turns a failed response into the platform's classified error (the adapter's own mapping).
ErrorFor = Callable[["httpx.Response"], ChannelError]


def upload_video(
    headers: Mapping[str, str],
    owner: str,
    media: PreparedMedia,
    *,
    now: Callable[[], datetime],
    error_for: ErrorFor,
) -> Exchange[str]:
    """initializeUpload, PUT every part (streamed), finalizeUpload, wait until AVAILABLE; the video URN."""
    what = f"uploading {media.source} to LinkedIn"
    body = {
        "initializeUploadRequest": {
            "owner": owner,
            "fileSizeBytes": media.size,
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    init = yield _json(headers, "initializeUpload", body, media)
    value = _value(init, what, now, error_for)
    video, token = value.get("video"), value.get("uploadToken") or ""
    instructions = _instructions(value.get("uploadInstructions"), media.size, what)
    if not isinstance(video, str) or not video or not isinstance(token, str):
        raise TransientError(f"{what}: initializeUpload answered without a video URN")
    etags: list[str] = []
    for index, (url, first, last) in enumerate(instructions):
        part = FileSlice(media.path, first, last - first + 1)
        request = upload_request(
            "PUT",
            url,
            media,
            headers={"Authorization": headers["Authorization"], "Content-Type": "application/octet-stream"},
            part=part,
        )
        request.extensions[MEDIA] = {
            **media_extension(media), "part": index, "offset": first, "length": part.size
        }  # fmt: skip
        put = yield request
        if not put.is_success:
            raise upload_error(put, now=now(), what=f"{what} (part {index + 1} of {len(instructions)})")
        etag = put.headers.get("etag", "").strip()
        if not etag:
            raise TransientError(f"{what}: part {index + 1} answered without an ETag")
        etags.append(etag)
    final = {"finalizeUploadRequest": {"video": video, "uploadToken": token, "uploadedPartIds": etags}}
    done = yield _json(headers, "finalizeUpload", final, media)
    if not done.is_success:
        raise upload_error(done, now=now(), what=what, error=error_for(done))
    yield from _wait_available(headers, video, what, now, error_for)
    return video


def _instructions(raw: object, size: int, what: str) -> list[tuple[str, int, int]]:
    """(uploadUrl, firstByte, lastByte) per part, checked to cover the file exactly, in order."""
    if not isinstance(raw, list) or not raw:
        raise TransientError(f"{what}: initializeUpload answered without uploadInstructions")
    parts: list[tuple[str, int, int]] = []
    expected = 0
    for item in sorted(raw, key=lambda i: i.get("firstByte", 0) if isinstance(i, dict) else 0):
        url = item.get("uploadUrl") if isinstance(item, dict) else None
        first = item.get("firstByte") if isinstance(item, dict) else None
        last = item.get("lastByte") if isinstance(item, dict) else None
        if not isinstance(url, str) or not isinstance(first, int) or not isinstance(last, int):
            raise TransientError(f"{what}: an upload instruction lacks uploadUrl, firstByte or lastByte")
        if first != expected or last < first:
            raise TransientError(f"{what}: upload instructions do not cover bytes {expected}.. in order")
        parts.append((url, first, last))
        expected = last + 1
    if expected != size:
        raise TransientError(f"{what}: upload instructions cover {expected} of {size} bytes")
    return parts


def _wait_available(
    headers: Mapping[str, str], video: str, what: str, now: Callable[[], datetime], error_for: ErrorFor
) -> Exchange[None]:
    """Poll ``GET /rest/videos/{urn}`` (each check after a growing delay) until the video is AVAILABLE."""
    url = f"{VIDEOS_URL}/{quote(video, safe='')}"
    for check in range(MAX_STATUS_CHECKS):
        request = Adapter.json_request("GET", url, headers=headers)
        request.extensions.update({DELAY: min(2.0**check, MAX_POLL_DELAY), UPLOAD: True})
        response = yield request
        if not response.is_success:
            raise upload_error(response, now=now(), what=what, error=error_for(response))
        status = json_object(response).get("status")
        if status == "AVAILABLE":
            return
        if status == "PROCESSING_FAILED":
            raise PermanentError(f"{what}: LinkedIn could not process the video (PROCESSING_FAILED)")
    raise TransientError(f"{what}: video {video} is still processing")


def _json(headers: Mapping[str, str], action: str, body: Any, media: PreparedMedia) -> httpx.Request:
    params = {"action": action}
    request = Adapter.json_request("POST", VIDEOS_URL, json_body=body, headers=headers, params=params)
    request.extensions.update({MEDIA: media_extension(media), UPLOAD: True})
    return request


def _value(
    response: httpx.Response, what: str, now: Callable[[], datetime], error_for: ErrorFor
) -> dict[str, Any]:
    if not response.is_success:
        raise upload_error(response, now=now(), what=what, error=error_for(response))
    value = json_object(response).get("value")
    if not isinstance(value, dict):
        raise TransientError(f"{what}: HTTP {response.status_code} without a value")
    return value


def fake_video_response(request: httpx.Request) -> httpx.Response | None:
    """The documented answers to the video calls in a dry run (URNs and URLs are placeholders), else None."""
    path, action = request.url.path, request.url.params.get("action")
    if path == "/rest/videos" and action == "initializeUpload":
        info = request.extensions.get(MEDIA, {})
        size = int(info.get("size", 0))
        sha = str(info.get("sha256", ""))[:12] or PLACEHOLDER
        parts = [
            {
                "uploadUrl": f"https://www.linkedin.com/dms-uploads/{PLACEHOLDER}-{sha}-{n}",
                "firstByte": first,
                "lastByte": min(first + PART_SIZE, size) - 1,
            }
            for n, first in enumerate(range(0, size, PART_SIZE))
        ]
        value = {"video": f"urn:li:video:{PLACEHOLDER}-{sha}", "uploadToken": "", "uploadInstructions": parts}
        return fake_json(request, {"value": value})
    if path == "/rest/videos" and action == "finalizeUpload":
        return httpx.Response(200, request=request)
    if request.method == "GET" and path.startswith("/rest/videos/"):
        return fake_json(request, {"id": path.rsplit("/", 1)[1], "status": "AVAILABLE"})
    if request.method == "PUT" and path.startswith("/dms-uploads/"):
        part = request.extensions.get(MEDIA, {}).get("part", 0)
        return httpx.Response(200, headers={"ETag": f"/{PLACEHOLDER}/part-{part}"}, request=request)
    return None
