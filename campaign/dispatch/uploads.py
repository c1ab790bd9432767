"""Media uploads recorded with their post: what the dispatcher hands an adapter, and the hook that makes each
finished upload durable before the request that uses it leaves.

A platform that keeps an upload for a while before a post uses it (media ids, attachments, blobs: the
adapter declares how long in :attr:`campaign.channels.base.Adapter.upload_lifetime`) lets a retry or a
restart skip uploads an earlier attempt finished. For such a post the dispatcher reads the post's recorded
uploads once per attempt (:func:`with_uploads`) and puts them in :attr:`Part.uploads`; the adapter reuses
the valid ones and reports new ones there; :class:`UploadRecorder`, called by the runner just before each
request is sent, writes the new ones to ``posts.media_uploads`` (:meth:`Store.record_uploads`) in their own
transaction, behind the marks the group writer holds and in its thread (a write on the event loop's thread
waited for the writer's transaction, and every account with it), and the request waits for that commit.
So when the post request leaves, every upload it names is in the queue: a crash after that finds them.

Before anything is sent, :func:`check_media` makes sure the files are still the prepared bytes (size always,
SHA-256 for files up to :data:`~campaign.media.store.HASH_LIMIT`); a changed file fails the post.

Posts without media and dry runs never get here (the dispatcher checks ``part.media`` first: no call, no
allocation); platforms whose media go with the post in one request read and write nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import httpx

from campaign.channels.base import Adapter, Part, Uploads
from campaign.errors import PermanentError
from campaign.media.store import unchanged

if TYPE_CHECKING:
    from campaign.dispatch.ports import Behind, DispatchStore
    from campaign.queue.store import ClaimedPost


def with_uploads(
    post: ClaimedPost, part: Part, adapter: Adapter, store: DispatchStore, *, owner: str,
    clock: Callable[[], datetime], behind: Behind | None = None,
) -> tuple[Part, UploadRecorder | None]:
    """``part`` (which has media; not a dry run) carrying the post's recorded uploads, and the hook that
    records new ones (through ``behind`` when given, else on the caller's thread), when the platform keeps
    uploads; else ``part`` unchanged and None. Raises PermanentError when a file is no longer the prepared
    one (:func:`check_media`)."""
    check_media(part, adapter)
    if adapter.upload_lifetime is None:
        return part, None
    uploads = Uploads(store.recorded_uploads(post.id))
    recorder = UploadRecorder(store, post.id, uploads, owner=owner, clock=clock, behind=behind)
    return replace(part, uploads=uploads), recorder


def check_media(part: Part, adapter: Adapter) -> None:
    """Refuse to upload bytes other than the prepared ones: each file of ``part`` (on a platform that takes
    uploads) must still have its recorded size, and the SHA-256 its name says when it is small enough to
    hash on the event loop (:data:`~campaign.media.store.HASH_LIMIT`). Once per attempt, before any request.

    Raises PermanentError naming the file: the post fails (``campaign apply`` prepares the file again).
    """
    if adapter.media_rules.needs_public_url:  # the platform fetches the files by URL: nothing uploaded here
        return
    for media in (*part.media, *((part.link_image,) if part.link_image is not None else ())):
        problem = unchanged(media.path, media.size, media.sha256)
        if problem is not None:
            where = f"{media.path} ({problem})"
            raise PermanentError(
                f"media file changed since it was prepared: {where}; run campaign apply again"
            )


class UploadRecorder:
    """The runner's ``before_send`` hook for one part: records uploads the adapter finished since the last
    request (raises the store's error, which ends the exchange before the request leaves)."""

    def __init__(
        self, store: DispatchStore, post_id: int, uploads: Uploads, *, owner: str,
        clock: Callable[[], datetime], behind: Behind | None = None,
    ) -> None:
        self.store = store
        self.post_id = post_id
        self.uploads = uploads
        self.owner = owner
        self.clock = clock
        self.behind = behind

    def __call__(self, request: httpx.Request) -> Awaitable[None] | None:
        if not self.uploads.pending:
            return None
        new = self.uploads.take_new()
        write = partial(self.store.record_uploads, self.post_id, new, owner=self.owner, now=self.clock())
        if self.behind is not None:
            return self.behind(write)
        write()
        return None
