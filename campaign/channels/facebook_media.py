"""Facebook Page video: the Graph API's resumable upload to ``/{page-id}/videos``, as exchange steps.

Platform facts (https://developers.facebook.com/docs/graph-api/video-uploads, "Resumable Uploading";
https://developers.facebook.com/docs/graph-api/reference/page/videos/):

- Videos go to ``graph-video.facebook.com`` (not ``graph.facebook.com``).
- ``upload_phase=start`` with ``file_size`` (bytes) answers ``{"upload_session_id", "video_id",
  "start_offset", "end_offset"}`` (offsets as strings): the first chunk Facebook wants.
- ``upload_phase=transfer`` (multipart: ``upload_session_id``, ``start_offset``, and the bytes from
  ``start_offset`` to ``end_offset`` as ``video_file_chunk``) answers the next ``start_offset`` and
  ``end_offset``; the upload is complete when they are equal.
- ``upload_phase=finish`` with ``upload_session_id`` and the post's ``description`` publishes the video on the
  Page and answers ``{"success": true}``; the video's post is then ``/{page-id}/videos/{video-id}``.
- Resumable uploads take videos up to 10 GB and 4 hours.

Start and transfer publish nothing (:data:`~campaign.channels.upload_media.UPLOAD`; a failure is retried,
never ambiguous); finish is the post itself. Chunks are streamed from the media store (a multipart body whose
file part is a :class:`~campaign.media.store.FileSlice`), so memory holds one read chunk at a time whatever
range Facebook asks for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from campaign.channels.base import PLACEHOLDER, Exchange, fake_json
from campaign.channels.helpers import graph_error, json_object
from campaign.channels.upload_media import MEDIA, UPLOAD, media_extension, upload_error
from campaign.errors import TransientError
from campaign.media.model import PreparedMedia
from campaign.media.store import FileSlice

GRAPH_VIDEO = "https://graph-video.facebook.com"
#: The chunk a dry run asks for (the real Graph API chooses its own ranges).
FAKE_CHUNK = 4 * 1024 * 1024


class _MultipartBody:
    """A ``multipart/form-data`` body of text fields and one file part streamed from a :class:`FileSlice`
    (made an httpx stream by :func:`_multipart_slice`)."""

    def __init__(self, boundary: str, fields: Mapping[str, str], name: str, filename: str, part: FileSlice):
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            for key, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.head = head.encode("utf-8")
        self.tail = f"\r\n--{boundary}--\r\n".encode("ascii")
        self.part = part

    @property
    def size(self) -> int:
        return len(self.head) + self.part.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        yield from self.part
        yield self.tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        async for chunk in self.part:
            yield chunk
        yield self.tail


if TYPE_CHECKING:

    class MultipartSlice(_MultipartBody, httpx.SyncByteStream, httpx.AsyncByteStream):
        """:class:`_MultipartBody` as an httpx request stream."""


@cache
def _multipart_slice() -> type[MultipartSlice]:
    """:class:`_MultipartBody` as an httpx request stream, made on first use: importing an adapter must not
    load httpx (see :mod:`campaign.channels`)."""
    return type(
        "MultipartSlice",
        (_MultipartBody, httpx.SyncByteStream, httpx.AsyncByteStream),
        {"__module__": __name__, "__doc__": _MultipartBody.__doc__},
    )


def upload_video(
    base: str, page: str, auth: Mapping[str, str], media: PreparedMedia, *, now: Callable[[], datetime]
) -> Exchange[tuple[str, str]]:
    """Start a session and transfer every chunk Facebook asks for; ``(upload_session_id, video_id)``.

    ``base`` is ``https://graph-video.facebook.com/{version}``.
    """
    what = f"uploading {media.source} to Facebook"
    url = f"{base}/{page}/videos"
    start = _form(url, auth, {"upload_phase": "start", "file_size": str(media.size)})
    start.extensions.update({MEDIA: media_extension(media), UPLOAD: True})
    data = _answer((yield start), what, now)
    session, video = str(data.get("upload_session_id") or ""), str(data.get("video_id") or "")
    if not session or not video:
        raise TransientError(f"{what}: the start phase answered without upload_session_id and video_id")
    first, end = _offsets(data, what, media.size)
    chunk = 0
    while first < end:
        part = FileSlice(media.path, first, end - first)
        boundary = f"campaign-{media.sha256[:24]}-{chunk}"
        body = _multipart_slice()(
            boundary,
            {"upload_phase": "transfer", "upload_session_id": session, "start_offset": str(first)},
            "video_file_chunk",
            media.store_name,
            part,
        )
        request = httpx.Request(
            "POST",
            url,
            headers={
                "Host": httpx.URL(url).netloc.decode("ascii"),
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(body.size),
                **auth,
            },
            stream=body,
            extensions={
                MEDIA: {**media_extension(media), "part": chunk, "offset": first, "length": part.size},
                UPLOAD: True,
            },
        )
        data = _answer((yield request), f"{what} (bytes {first}-{end - 1})", now)
        next_first, next_end = _offsets(data, what, media.size)
        if next_first <= first and next_first < next_end:
            raise TransientError(f"{what}: Facebook asked for offset {next_first} again; the upload stalled")
        first, end, chunk = next_first, next_end, chunk + 1
    return session, video


def finish_request(
    base: str, page: str, auth: Mapping[str, str], session: str, description: str
) -> httpx.Request:
    """The finish phase: publishes the uploaded video on the Page with ``description`` (the post's text)."""
    fields = {"upload_phase": "finish", "upload_session_id": session, "description": description}
    return _form(f"{base}/{page}/videos", auth, fields)


def _form(url: str, auth: Mapping[str, str], fields: Mapping[str, str]) -> httpx.Request:
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded", **auth}
    return httpx.Request("POST", url, content=urlencode(fields).encode("utf-8"), headers=headers)


def _answer(response: httpx.Response, what: str, now: Callable[[], datetime]) -> dict[str, Any]:
    if not response.is_success:
        raise upload_error(response, now=now(), what=what, error=graph_error(response, now=now()))
    return json_object(response)


def _offsets(data: Mapping[str, Any], what: str, size: int) -> tuple[int, int]:
    """``start_offset`` and ``end_offset`` as ints (Graph sends them as strings), checked against the file."""
    try:
        first, end = int(data["start_offset"]), int(data["end_offset"])
    except (KeyError, TypeError, ValueError):
        raise TransientError(f"{what}: Facebook answered without start_offset and end_offset") from None
    if not 0 <= first <= end <= size:
        raise TransientError(f"{what}: Facebook asked for bytes {first}-{end} of a {size}-byte file")
    return first, end


def fake_video_response(request: httpx.Request) -> httpx.Response | None:
    """The documented answers to the start and transfer phases in a dry run, else None (finish: the post)."""
    info = request.extensions.get(MEDIA)
    if request.method != "POST" or not request.url.path.endswith("/videos") or not isinstance(info, dict):
        return None
    size = int(info.get("size", 0))
    if "offset" in info:  # transfer: Facebook asks for the next chunk
        first = int(info["offset"]) + int(info.get("length", 0))
        end = min(size, first + FAKE_CHUNK)
        return fake_json(request, {"start_offset": str(first), "end_offset": str(end)})
    sha = str(info.get("sha256", ""))[:12]
    return fake_json(
        request,
        {
            "upload_session_id": f"{PLACEHOLDER}-session-{sha}",
            "video_id": f"{PLACEHOLDER}-video-{sha}",
            "start_offset": "0",
            "end_offset": str(min(size, FAKE_CHUNK)),
        },
    )
