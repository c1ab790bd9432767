"""Bluesky media: blob uploads as an exchange the Bluesky adapter yields from, and the embeds that use them.

Platform facts (each checked against the source named):

- ``com.atproto.repo.uploadBlob``: ``POST`` the raw bytes with their ``Content-Type``; the answer is
  ``{"blob": {"$type": "blob", "ref": {"$link": <cid>}, "mimeType": ..., "size": ...}}``. A blob no record
  references is removed by the PDS after a while, so an upload never publishes anything on its own.
  https://docs.bsky.app/docs/api/com-atproto-repo-upload-blob, https://docs.bsky.app/docs/advanced-guides/posts#images-embeds
- ``app.bsky.embed.images``: ``images`` (at most 4) of ``{image: blob, alt: string, aspectRatio?: {width,
  height}}``; blob ``image/*`` at most 1,000,000 bytes. ``app.bsky.embed.video``: ``{video: blob (video/mp4,
  100,000,000 bytes), alt? (1,000 graphemes), aspectRatio?}``. ``app.bsky.embed.external``: ``{external:
  {uri, title, description, thumb?}}``, thumb ``image/*`` at most 1,000,000 bytes. Lexicons in
  https://github.com/bluesky-social/atproto/tree/main/lexicons/app/bsky/embed (checked in the reference PDS
  the tests run).
- Videos uploaded straight to the PDS make a valid record, but the Bluesky app plays videos that went
  through the video service (``app.bsky.video.uploadVideo`` on video.bsky.app, with a service token from
  ``com.atproto.server.getServiceAuth``, then ``app.bsky.video.getJobStatus`` until it yields the blob).
  https://docs.bsky.app/docs/tutorials/video
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from campaign.channels.base import PLACEHOLDER, Exchange, fake_json
from campaign.channels.upload_media import MEDIA, upload_error, upload_request
from campaign.errors import AuthError, TransientError
from campaign.media.model import PreparedMedia

UPLOAD_BLOB = "com.atproto.repo.uploadBlob"
#: XRPC errors on an upload that mean the session must be renewed (the adapter renews it and retries).
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})


def upload_blob(
    service: str, headers: Mapping[str, str], media: PreparedMedia, *, now: Callable[[], datetime]
) -> Exchange[dict[str, Any]]:
    """Upload ``media`` (streamed from the store) and return the blob reference for a record.

    ``service`` is the PDS URL, ``headers`` carry the session's bearer token. A session error is an
    AuthError (the adapter renews the session once and calls again); the blob is checked against what we
    sent (size and type), so a mangled upload never reaches a post.
    """
    response = yield upload_request(
        "POST", f"{service.rstrip('/')}/xrpc/{UPLOAD_BLOB}", media, headers=headers
    )
    what = f"uploading {media.source} to Bluesky"
    if not response.is_success:
        error_name = _xrpc_error(response)
        if error_name in SESSION_ERRORS:
            raise AuthError(f"{what}: {error_name}", status=response.status_code, platform_message=error_name)
        raise upload_error(response, now=now(), what=what)
    blob = _blob(response)
    if blob.get("size") != media.size or blob.get("mimeType") != media.mime:
        raise TransientError(
            f"{what}: the PDS stored {blob.get('size')} bytes of {blob.get('mimeType')}, "
            f"we sent {media.size} bytes of {media.mime}"
        )
    return blob


def _xrpc_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _blob(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    blob = body.get("blob") if isinstance(body, dict) else None
    ref = blob.get("ref") if isinstance(blob, dict) else None
    if not isinstance(blob, dict) or not isinstance(ref, dict) or not isinstance(ref.get("$link"), str):
        raise TransientError(f"Bluesky answered HTTP {response.status_code} without a blob reference")
    return blob


def aspect_ratio(media: PreparedMedia) -> dict[str, int]:
    """``app.bsky.embed.defs#aspectRatio`` of the prepared file (its real pixel size)."""
    return {"width": media.width, "height": media.height}


def images_embed(images: Sequence[tuple[PreparedMedia, Mapping[str, Any]]]) -> dict[str, Any]:
    """``app.bsky.embed.images`` for (prepared image, uploaded blob) pairs, in order. Decorative: alt ""."""
    return {
        "$type": "app.bsky.embed.images",
        "images": [
            {"alt": media.alt, "image": dict(blob), "aspectRatio": aspect_ratio(media)}
            for media, blob in images
        ],
    }


def video_embed(media: PreparedMedia, blob: Mapping[str, Any]) -> dict[str, Any]:
    """``app.bsky.embed.video`` for an uploaded MP4."""
    embed: dict[str, Any] = {
        "$type": "app.bsky.embed.video",
        "video": dict(blob),
        "aspectRatio": aspect_ratio(media),
    }
    if media.alt:
        embed["alt"] = media.alt
    return embed


def external_embed(
    uri: str, title: str, description: str, thumb: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``app.bsky.embed.external`` (a link card), with an uploaded thumbnail blob when there is one."""
    external: dict[str, Any] = {"uri": uri, "title": title, "description": description}
    if thumb is not None:
        external["thumb"] = dict(thumb)
    return {"$type": "app.bsky.embed.external", "external": external}


def fake_blob_response(request: httpx.Request) -> httpx.Response | None:
    """The documented answer to uploadBlob in a dry run (the CID is a placeholder), else None."""
    if not request.url.path.endswith(f"/xrpc/{UPLOAD_BLOB}"):
        return None
    info = request.extensions.get(MEDIA, {})
    return fake_json(
        request,
        {
            "blob": {
                "$type": "blob",
                "ref": {"$link": f"{PLACEHOLDER}-cid-{str(info.get('sha256', ''))[:12]}"},
                "mimeType": info.get("mime", request.headers.get("content-type", "")),
                "size": info.get("size", int(request.headers.get("content-length", "0"))),
            }
        },
    )
