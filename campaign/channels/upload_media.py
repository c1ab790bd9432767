"""Shared pieces of media uploads for the adapters: streamed request bodies, upload metadata, error mapping.

- :class:`FileStream` makes a stored file (or a slice of it, for chunked uploads) an httpx request body for
  both ``httpx.Client`` and ``httpx.AsyncClient``: read in chunks, re-readable for a retry, never whole in
  memory (a 500 MB video stays on disk).
- Every upload request carries ``request.extensions["campaign.media"]`` = ``{"file", "sha256", "mime",
  "size"}`` so a dry run (``preview --requests``, ``simulate``) can show what would be sent without reading
  the body, and :data:`DELAY` (``"campaign.delay"``, seconds) on a status poll, asking the runner to wait
  that long before sending it (adapters never sleep; the dry-run recorder ignores it).
- :data:`UPLOAD` (``"campaign.upload"``) marks every request that can publish nothing (uploads, their polls).
- :func:`upload_key`: what names an upload recorded with the post (:class:`~campaign.channels.base.Upload`),
  to find it again on a retry or restart.
- :func:`upload_error`: an upload is not a post. A failed upload never published anything, so an answer that
  would be *ambiguous* for a post (500, 504) is *transient* for an upload: retrying cannot publish twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import httpx

from campaign.channels.base import (
    DELAY_EXTENSION,
    MEDIA_EXTENSION,
    UPLOAD_EXTENSION,
    classify_status,
    platform_message,
)
from campaign.errors import AmbiguousError, ChannelError, PermanentError, TransientError
from campaign.media.model import PreparedMedia
from campaign.media.store import FileSlice

#: Request extension naming the media file an upload request carries.
MEDIA = MEDIA_EXTENSION
#: Request extension: seconds the runner should wait before sending this request (status polls).
DELAY = DELAY_EXTENSION
#: Request extension (True) on a request that can publish nothing (an upload, or a poll of one): a runner
#: treats an outcome-unknown transport failure of it as transient. Telegram's and Discord's multipart
#: requests carry media but are the post itself, so they do not have it.
UPLOAD = UPLOAD_EXTENSION


def upload_key(media: PreparedMedia, role: str = "media") -> str:
    """``<sha256>:<digest>``: the file's hash and a short digest of what the upload carries besides the
    bytes (alt text, focus, its role in the post), so an upload is reused only for the very same item. A
    post whose alt text changed is a new upload (Mastodon keeps the description on the attachment)."""
    extra = json.dumps([role, media.alt, list(media.focus or ())], ensure_ascii=False)
    return f"{media.sha256}:{hashlib.sha256(extra.encode('utf-8')).hexdigest()[:16]}"


def mark_upload(request: httpx.Request) -> httpx.Request:
    """``request`` flagged with :data:`UPLOAD` (it publishes nothing, whatever happens to it)."""
    request.extensions[UPLOAD] = True
    return request


class _FileSliceBody:
    """What :class:`FileStream` does: a file slice read in chunks, as many times as it is read."""

    def __init__(self, part: FileSlice) -> None:
        self.part = part

    def __iter__(self) -> Iterator[bytes]:
        yield from self.part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.part:
            yield chunk


if TYPE_CHECKING:

    class FileStream(_FileSliceBody, httpx.SyncByteStream, httpx.AsyncByteStream):
        """A file slice as an httpx body, for sync and async clients alike (one chunk in memory at a time)."""

else:

    def __getattr__(name: str) -> Any:
        # FileStream subclasses httpx's stream classes, so it is made on first use: importing this module
        # (every adapter does) must not load httpx (see campaign.channels).
        if name == "FileStream":
            return _file_stream()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _file_stream() -> type[FileStream]:
    return type(
        "FileStream",
        (_FileSliceBody, httpx.SyncByteStream, httpx.AsyncByteStream),
        {"__module__": __name__, "__doc__": "A file slice as an httpx body (sync and async clients alike)."},
    )


def media_extension(media: PreparedMedia) -> dict[str, object]:
    return {"file": media.source, "sha256": media.sha256, "mime": media.mime, "size": media.size}


def upload_request(
    method: str,
    url: str,
    media: PreparedMedia,
    *,
    headers: Mapping[str, str] | None = None,
    part: FileSlice | None = None,
    params: Mapping[str, str] | None = None,
) -> httpx.Request:
    """A request whose body is the raw bytes of ``media`` (or of ``part``), streamed from the store.

    ``Content-Type`` is the media type and ``Content-Length`` the exact size, so the server needs no chunked
    transfer encoding (Bluesky's uploadBlob and LinkedIn's upload URLs expect a plain body).
    """
    body = part or FileSlice(media.path)
    # httpx.URL(url, params=None) drops the query, and upload URLs (LinkedIn's) carry signed ones.
    target = httpx.URL(url, params=params) if params else httpx.URL(url)
    # httpx adds its default headers (Host among them) only when it encodes the body itself; with our own
    # stream we must set Host, or a real server refuses the request.
    all_headers = {
        "Host": target.netloc.decode("ascii"),
        "Content-Type": media.mime,
        "Content-Length": str(body.size),
        **(headers or {}),
    }
    return httpx.Request(
        method,
        target,
        headers=all_headers,
        stream=_file_stream()(body),
        extensions={MEDIA: media_extension(media), UPLOAD: True},
    )


def upload_error(
    response: httpx.Response, *, now: datetime, what: str, error: ChannelError | None = None
) -> ChannelError:
    """The classified error of a failed upload: as for any request (or ``error``, the platform's own
    classification), but never ambiguous (see module doc)."""
    if error is None:
        error = classify_status(response, platform_message(response), now=now)
    if isinstance(error, AmbiguousError):
        return TransientError(
            f"{what}: {error} (an upload publishes nothing, so it is retried)",
            status=error.status,
            platform_message=error.platform_message,
        )
    error.args = (f"{what}: {error}",)
    return error


def public_urls(media: tuple[PreparedMedia, ...], base_url: str | None, platform: str) -> list[str]:
    """Where a platform that shows media by URL fetches each file: ``media_base_url/<sha256>.<ext>``.

    The files must be served there (copy the media store, ``db/media/``, to that path). Without a base URL
    the post is refused (`check` reports it first), never sent as text only.
    """
    if media and not base_url:
        raise PermanentError(f"{platform} shows media only from a public URL: set media_base_url")
    return [m.public_url(base_url or "") for m in media]
