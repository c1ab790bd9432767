"""Mastodon media upload as an exchange the Mastodon adapter yields from before it posts the status.

Platform facts (each checked against the source named):

- ``POST /api/v2/media``, multipart form data: ``file`` (required), ``description`` (alt text, at most 1,500
  characters), ``focus`` (``"x,y"``, each -1.0 to 1.0); scope ``write:media``. It answers 200 with a
  MediaAttachment when the file was processed at once, or 202 Accepted with ``url: null`` while the full
  size is processed in the background. https://docs.joinmastodon.org/methods/media/#v2
- ``GET /api/v1/media/:id`` answers 206 Partial Content while the attachment is processing and 200 once it
  is ready. https://docs.joinmastodon.org/methods/media/#get
- The status takes ``media_ids[]`` (at most 4); an attachment still processing is refused with 422.
  https://docs.joinmastodon.org/methods/statuses/#create
- MediaAttachment: ``id`` (string), ``type`` (image, gifv, video, audio, unknown), ``url``, ``preview_url``,
  ``description``, ``meta`` (``original.width``/``height``, ``focus``). https://docs.joinmastodon.org/entities/MediaAttachment/

Uploads are not idempotent on Mastodon (there is no key), but an uploaded attachment is invisible until a
status uses it, so a retried upload can at worst leave an unused attachment (Mastodon removes those after a
day), never a second post. The dispatcher records each attachment id with the post, so a restart after the
upload reuses it rather than uploading again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from campaign.channels.base import PLACEHOLDER, Exchange, fake_json
from campaign.channels.upload_media import DELAY, MEDIA, UPLOAD, media_extension, upload_error
from campaign.errors import PermanentError, TransientError
from campaign.media.model import PreparedMedia

#: Seconds to wait before each status check of an attachment answered 202 (about two minutes in all).
POLL_DELAYS: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 30.0)


@dataclass(frozen=True)
class MastodonMedia:
    """An uploaded attachment: its id (for ``media_ids``), type and URL (None until processed)."""

    id: str
    type: str
    url: str | None


def focus_value(focus: tuple[float, float] | None) -> str | None:
    """Mastodon's ``focus`` parameter (``"x,y"``) for a focal point, or None."""
    if focus is None:
        return None
    x, y = focus
    if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise PermanentError(f"focus {x},{y} is outside -1.0..1.0")
    return f"{x:g},{y:g}"


def upload_request(base: str, headers: Mapping[str, str], media: PreparedMedia, file: Any) -> httpx.Request:
    """``POST /api/v2/media`` with ``file`` (an open binary file of the stored media) streamed as multipart.

    The multipart boundary derives from the file's hash, so the same upload is the same request.
    """
    data: dict[str, str] = {}
    if media.alt.strip():
        data["description"] = media.alt
    focus = focus_value(media.focus)
    if focus is not None:
        data["focus"] = focus
    boundary = f"campaign-{media.sha256[:32]}"
    return httpx.Request(
        "POST",
        f"{base}/api/v2/media",
        headers={
            **headers,
            "Accept": "application/json",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        data=data,
        files={"file": (media.store_name, file, media.mime)},
        extensions={MEDIA: media_extension(media), UPLOAD: True},
    )


def upload_media(
    base: str,
    headers: Mapping[str, str],
    media: PreparedMedia,
    *,
    now: Callable[[], datetime],
    poll_delays: Sequence[float] = POLL_DELAYS,
) -> Exchange[MastodonMedia]:
    """Upload ``media`` and wait (by polling, with :data:`DELAY` hints) until Mastodon has processed it.

    ``base`` is the instance URL, ``headers`` carry the bearer token. Raises a classified ChannelError; an
    attachment still processing after every poll is a TransientError naming its id.
    """
    with open(media.path, "rb") as file:
        response = yield upload_request(base, headers, media, file)
    if response.status_code not in (200, 202):
        raise upload_error(response, now=now(), what=f"uploading {media.source} to Mastodon")
    attachment = _attachment(response)
    if response.status_code == 200 and attachment.url:
        return attachment
    for delay in poll_delays:
        request = httpx.Request(
            "GET",
            f"{base}/api/v1/media/{attachment.id}",
            headers={**headers, "Accept": "application/json"},
            extensions={DELAY: delay, UPLOAD: True},
        )
        response = yield request
        if response.status_code == 206:
            continue
        if response.status_code != 200:
            raise upload_error(response, now=now(), what=f"checking Mastodon media {attachment.id}")
        return _attachment(response)
    raise TransientError(f"Mastodon media {attachment.id} ({media.source}) is still processing")


def _attachment(response: httpx.Response) -> MastodonMedia:
    try:
        body = response.json()
    except ValueError:
        body = None
    media_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(media_id, str) or not media_id:
        raise TransientError(f"Mastodon answered HTTP {response.status_code} without a media id")
    assert isinstance(body, dict)
    url = body.get("url")
    return MastodonMedia(
        id=media_id, type=str(body.get("type") or "unknown"), url=url if isinstance(url, str) else None
    )


def fake_media_response(request: httpx.Request) -> httpx.Response | None:
    """The documented answer to a media request in a dry run (ids and URLs are placeholders), else None."""
    path = request.url.path
    base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
    if request.method == "POST" and path.endswith("/api/v2/media"):
        info = request.extensions.get(MEDIA, {})
        media_id = f"{PLACEHOLDER}-media-{str(info.get('sha256', ''))[:12]}"
        kind = "video" if str(info.get("mime", "")).startswith("video/") else "image"
        return fake_json(
            request,
            {
                "id": media_id,
                "type": kind,
                "url": f"{base}/system/media_attachments/{PLACEHOLDER}/{media_id}",
            },
        )
    if request.method == "GET" and "/api/v1/media/" in path:
        media_id = path.rsplit("/", 1)[-1]
        return fake_json(
            request, {"id": media_id, "type": "image", "url": f"{base}/system/{PLACEHOLDER}/{media_id}"}
        )
    return None
