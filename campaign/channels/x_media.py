"""X (Twitter) media upload, API v2 chunked flow, as an exchange the X adapter yields from before it posts.

Platform facts (each checked against the source named):

- ``POST /2/media/upload/initialize`` (JSON ``media_type``, ``total_bytes``, ``media_category``) answers
  ``{"data": {"id", "media_key", "expires_after_secs"}}``.
  https://docs.x.com/x-api/media/quickstart/media-upload-chunked
- ``POST /2/media/upload/{id}/append`` (multipart ``media`` = one segment, ``segment_index`` from 0); a
  segment is at most 5 MB. https://docs.x.com/x-api/media/media-upload-append
- ``POST /2/media/upload/{id}/finalize`` answers ``{"data": {"id", "media_key", "size", "expires_after_secs",
  "processing_info"?: {"state", "check_after_secs", "progress_percent"}}}``; with ``processing_info`` the
  media may be used only once ``GET /2/media/upload?command=STATUS&media_id={id}`` reports ``state``
  ``succeeded`` (pending -> in_progress -> succeeded | failed, with ``error.message`` on failure).
  https://docs.x.com/x-api/media/media-upload-finalize, https://docs.x.com/x-api/media/media-upload-status
- Alt text: ``POST /2/media/metadata`` ``{"id": media_id, "metadata": {"alt_text": {"text": ...}}}``, at most
  1,000 characters. https://docs.x.com/x-api/media/create-media-metadata
- The post: ``POST /2/tweets`` with ``"media": {"media_ids": [...]}`` (up to 4 images, or 1 GIF or video).
  A media id is valid for ``expires_after_secs``; the caller records it with that expiry so a restart reuses
  it while it is valid. https://docs.x.com/x-api/posts/creation-of-a-post
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from campaign.channels.base import PLACEHOLDER, Exchange, as_seconds, fake_json
from campaign.channels.upload_media import DELAY, MEDIA, UPLOAD, mark_upload, media_extension, upload_error
from campaign.errors import PermanentError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.rules import VIDEO_TYPES, kind_of
from campaign.media.store import segments

API = "https://api.x.com"
#: Bytes per APPEND (X takes at most 5 MB; 4 MiB keeps one segment in memory at a time, well under it).
SEGMENT = 4 * 1024 * 1024
#: media_category by kind of media (tweet_* as the post endpoints use them).
CATEGORIES = {"image": "tweet_image", "gif": "tweet_gif", "video": "tweet_video"}
#: Most STATUS checks before giving up (each waits ``check_after_secs`` as X asks).
MAX_STATUS_CHECKS = 60


@dataclass(frozen=True)
class XMedia:
    """An uploaded media: its id (for ``media.media_ids``) and until when X keeps it."""

    id: str
    media_key: str
    expires_at: datetime | None


def upload_media(
    headers: Mapping[str, str],
    media: PreparedMedia,
    *,
    now: Callable[[], datetime],
    base: str = API,
    segment_size: int = SEGMENT,
) -> Exchange[XMedia]:
    """INITIALIZE, APPEND each segment (streamed from the store), FINALIZE, wait on STATUS, then alt text."""
    what = f"uploading {media.source} to X"
    init = yield _json(
        "POST",
        f"{base}/2/media/upload/initialize",
        headers,
        {
            "media_type": media.mime,
            "total_bytes": media.size,
            "media_category": CATEGORIES[kind_of(media.mime)],
        },
        media,
    )
    data = _data(init, what, now)
    media_id = str(data.get("id") or "")
    if not media_id:
        raise TransientError(f"{what}: X answered without a media id")
    for index, part in enumerate(segments(media.path, segment_size)):
        boundary = f"campaign-{media.sha256[:24]}-{index}"
        request = httpx.Request(
            "POST",
            f"{base}/2/media/upload/{media_id}/append",
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            data={"segment_index": str(index)},
            files={"media": (media.store_name, part.read_all(), "application/octet-stream")},
            extensions={
                MEDIA: {**media_extension(media), "segment": index, "offset": part.offset},
                UPLOAD: True,
            },
        )
        _data((yield request), what, now, empty_ok=True)
    final = _data(
        (
            yield mark_upload(
                httpx.Request("POST", f"{base}/2/media/upload/{media_id}/finalize", headers=headers)
            )
        ),
        what,
        now,
    )
    final = yield from _wait_processed(headers, base, media_id, final, what, now)
    if media.alt.strip() and media.mime not in VIDEO_TYPES:
        body = {"id": media_id, "metadata": {"alt_text": {"text": media.alt}}}
        _data(
            (yield _json("POST", f"{base}/2/media/metadata", headers, body)),
            f"alt text of {media.source}",
            now,
        )
    seconds = as_seconds(final.get("expires_after_secs"))
    # X documents a day (86,400 s); the cap keeps an absurd answer within what a datetime holds.
    expires = now() + timedelta(seconds=min(seconds, 366 * 86400)) if seconds is not None else None
    return XMedia(id=media_id, media_key=str(final.get("media_key") or ""), expires_at=expires)


def _wait_processed(
    headers: Mapping[str, str],
    base: str,
    media_id: str,
    data: dict[str, Any],
    what: str,
    now: Callable[[], datetime],
) -> Exchange[dict[str, Any]]:
    """Poll STATUS while FINALIZE (or the last STATUS) reports processing; the final ``data``."""
    for _ in range(MAX_STATUS_CHECKS):
        info = data.get("processing_info")
        if not isinstance(info, dict) or info.get("state") == "succeeded":
            return data
        if info.get("state") == "failed":
            error = info.get("error")
            reason = error.get("message") if isinstance(error, dict) else None
            raise PermanentError(f"{what}: X could not process it: {reason or 'failed'}")
        request = httpx.Request(
            "GET",
            f"{base}/2/media/upload",
            headers=headers,
            params={"command": "STATUS", "media_id": media_id},
            extensions={DELAY: as_seconds(info.get("check_after_secs")) or 1.0, UPLOAD: True},
        )
        data = _data((yield request), what, now)
    raise TransientError(f"{what}: media {media_id} is still processing")


def _json(
    method: str, url: str, headers: Mapping[str, str], body: Any, media: PreparedMedia | None = None
) -> httpx.Request:
    extensions: dict[str, object] = {UPLOAD: True}
    if media is not None:
        extensions[MEDIA] = media_extension(media)
    return httpx.Request(
        method, url, headers={**headers, "Accept": "application/json"}, json=body, extensions=extensions
    )


def _data(
    response: httpx.Response, what: str, now: Callable[[], datetime], *, empty_ok: bool = False
) -> dict[str, Any]:
    """The ``data`` object of a successful answer; a classified error otherwise (never ambiguous)."""
    if not response.is_success:
        raise upload_error(response, now=now(), what=what)
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return data
    if empty_ok:
        return {}
    raise TransientError(f"{what}: X answered HTTP {response.status_code} without data")


def fake_upload_response(request: httpx.Request) -> httpx.Response | None:
    """The documented answers to the upload calls in a dry run (ids are placeholders), else None."""
    path = request.url.path
    if not path.startswith("/2/media/"):
        return None
    info = request.extensions.get(MEDIA, {})
    media_id = f"{PLACEHOLDER}-media-{str(info.get('sha256', ''))[:12]}"
    if path.endswith("/initialize"):
        data: dict[str, Any] = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
        return fake_json(request, {"data": data})
    if path.endswith("/append"):
        return httpx.Response(204, request=request)
    if path.endswith("/finalize"):
        media_id = path.split("/")[-2]
        data = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
        return fake_json(request, {"data": data})
    if path == "/2/media/metadata":
        return fake_json(request, {"data": {"associated_metadata": True}})
    return None
