"""Mastodon's media endpoints for the fake platform, with upload bodies consumed as they arrive.

Behaviour (each fact from the source named):

- ``POST /api/v2/media``, multipart form data: ``file`` (required), ``description``, ``focus`` (``"x,y"``).
  It answers 200 with a MediaAttachment when the file is processed at once, else 202 Accepted with ``url``
  null while it is processed. Here every upload takes ``polls`` status checks to process (0: 200 at once).
  https://docs.joinmastodon.org/methods/media/#v2
- ``GET /api/v1/media/:id``: 206 Partial Content while processing, 200 once processed, 404 for an id of
  another account or none. https://docs.joinmastodon.org/methods/media/#get
- ``POST /api/v1/statuses`` with ``media_ids``: each must name an attachment of the same account that no
  status uses yet and that is processed, else 422 (mastodon/mastodon app/services/post_status_service.rb,
  ``validate_media!``: "not found" and "not ready" validation errors).
- MediaAttachment: ``id``, ``type`` (image, gifv, video, ...), ``url`` (null until processed),
  ``preview_url``, ``description``, ``meta`` (``focus``). https://docs.joinmastodon.org/entities/MediaAttachment/

A body is never kept whole: :class:`MultipartSink` keeps the form fields and the file part's headers and
counts and hashes the file's bytes as they arrive, holding only a boundary-sized tail (a 500 MB video costs
the fake platform no memory, so benchmarks measure the client alone).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

MEDIA_PATH = "/api/v2/media"
MEDIA_GET_PREFIX = "/api/v1/media/"
#: Most bytes of a body kept before the file part begins (form fields and part headers).
MAX_HEAD = 256 * 1024


@dataclass
class Uploaded:
    """What an upload carried: its form fields, and the file's name, type, size and SHA-256."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    content_type: str | None = None
    size: int = 0
    sha256: str = ""
    complete: bool = False


def _boundary(content_type: str) -> bytes | None:
    message = Message()
    message["content-type"] = content_type
    value = message.get_param("boundary")
    return value.encode("latin-1") if isinstance(value, str) and value else None


class MultipartSink:
    """Consume one ``multipart/form-data`` body chunk by chunk (see the module docstring)."""

    def __init__(self, content_type: str) -> None:
        self.boundary = _boundary(content_type)
        self.head = bytearray()
        self.tail = bytearray()
        self.in_file = False
        self.size = 0
        self.hash = hashlib.sha256()
        self.broken = self.boundary is None
        #: The closing delimiter, plus slack for the transport padding after it.
        self.keep = len(self.boundary or b"") + 8

    def feed(self, data: bytes) -> None:
        if self.broken:
            return
        if not self.in_file:
            self.head += data
            start = self.head.find(b'name="file"')
            end = self.head.find(b"\r\n\r\n", start) if start >= 0 else -1
            if end < 0:
                self.broken = len(self.head) > MAX_HEAD
                return
            data = bytes(self.head[end + 4 :])
            del self.head[end + 4 :]
            self.in_file = True
        self.tail += data
        if len(self.tail) > self.keep:
            cut = len(self.tail) - self.keep
            self.hash.update(self.tail[:cut])
            self.size += cut
            del self.tail[:cut]

    def result(self) -> Uploaded:
        """The fields and the file (``complete`` False when the body was not a file upload)."""
        uploaded = Uploaded()
        if self.broken or self.boundary is None:
            return uploaded
        if self.in_file:
            end = self.tail.rfind(b"\r\n--" + self.boundary)
            if end >= 0:
                self.hash.update(self.tail[:end])
                uploaded.size = self.size + end
                uploaded.sha256 = self.hash.hexdigest()
                uploaded.complete = True
        for chunk in bytes(self.head).split(b"--" + self.boundary):
            headers, sep, value = chunk.partition(b"\r\n\r\n")
            if not sep:
                continue
            message = Message()
            for line in headers.decode("utf-8", "replace").strip().split("\r\n"):
                name, _, text = line.partition(":")
                message[name.strip()] = text.strip()
            name = message.get_param("name", header="content-disposition")
            if name == "file":
                filename = message.get_param("filename", header="content-disposition")
                uploaded.filename = str(filename) if filename else None
                uploaded.content_type = message.get("content-type")
            elif isinstance(name, str):
                uploaded.fields[name] = value.removesuffix(b"\r\n").decode("utf-8", "replace")
        return uploaded


@dataclass
class Attachment:
    """One uploaded attachment on the fake platform."""

    account: str
    entity: dict[str, Any]
    polls_left: int
    url: str
    status_id: str | None = None

    @property
    def processed(self) -> bool:
        return self.polls_left <= 0


def attachment_entity(media_id: str, uploaded: Uploaded) -> dict[str, Any]:
    """A MediaAttachment still processing (``url`` null) for what ``uploaded`` carried."""
    mime = uploaded.content_type or ""
    kind = "video" if mime.startswith("video/") else "gifv" if mime == "image/gif" else "image"
    entity: dict[str, Any] = {
        "id": media_id, "type": kind, "url": None, "preview_url": None,
        "description": uploaded.fields.get("description"), "blurhash": None, "meta": {},
    }  # fmt: skip
    focus = uploaded.fields.get("focus")
    if focus:
        x, _, y = focus.partition(",")
        entity["meta"]["focus"] = {"x": float(x), "y": float(y or 0)}
    return entity
