"""Uploads recorded with their post (issue 14): a finished upload is in the queue before the request that
uses it leaves, a retry or restart reuses it while the platform keeps it (each adapter declares how long),
status polls wait through the injected sleeper, and a transport error on an upload is transient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign.channels.base import Adapter, Part, Upload, Uploads
from campaign.channels.bluesky import BlueskyAdapter
from campaign.channels.mastodon import MastodonAdapter
from campaign.channels.upload_media import UPLOAD, upload_key
from campaign.channels.x import XAdapter
from campaign.errors import AmbiguousError, LeaseLostError, TransientError
from campaign.http.exchange import Recording, run, run_dry
from campaign.media.model import PreparedMedia
from campaign.queue.store import Store
from tests.channels.test_bluesky import adapter as bluesky_adapter
from tests.channels.test_x import make_adapter as x_adapter
from tests.helpers.clock import T0, Clock
from tests.helpers.media_parts import media_part, photo
from tests.helpers.queue import planned
from tests.test_dispatcher import Platform, make, mastodon, queue

STATUSES = "/api/v1/statuses"
MEDIA = "/api/v2/media"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def media_post(tmp_path: Path, account: str = "m1") -> Any:
    return replace(planned("launch", account=account), media=(photo(tmp_path, "mastodon"),))


class Mastodon:
    """A Mastodon-shaped MockTransport handler: uploads answer 202 and are ready after ``polls`` 206s; the
    status answers ``status_codes`` in turn (then 200). ``seen_uploads`` is what the queue held for the post
    when each status request arrived."""

    def __init__(self, store: Store | None, *, polls: int = 1, status_codes: tuple[int, ...] = ()) -> None:
        self.store = store
        self.polls = polls
        self.status_codes = list(status_codes)
        self.uploads = 0
        self._left: dict[str, int] = {}
        self.seen_uploads: list[list[Upload]] = []
        self.post_id = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == MEDIA:
            request.read()
            self.uploads += 1
            media_id = f"att-{self.uploads}"
            self._left[media_id] = self.polls
            return httpx.Response(202, json={"id": media_id, "type": "image", "url": None})
        if request.url.path.startswith("/api/v1/media/"):
            media_id = request.url.path.rsplit("/", 1)[-1]
            if self._left[media_id] > 0:
                self._left[media_id] -= 1
                return httpx.Response(206, json={"id": media_id, "type": "image", "url": None})
            return httpx.Response(200, json={"id": media_id, "type": "image", "url": "https://m.example/a.jpg"})
        if self.store is not None:
            self.seen_uploads.append(self.store.recorded_uploads(self.post_id))
        code = self.status_codes.pop(0) if self.status_codes else 200
        if code != 200:
            return httpx.Response(code, json={"error": "busy"})
        return httpx.Response(200, json={"id": "s-1", "url": "https://m.example/@a/s-1"})


def sleeper(clock: Clock, waits: list[float]) -> Any:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds=seconds)

    return sleep


def dispatcher(store: Store, clock: Clock, platform: Platform, waits: list[float]) -> Any:
    d = make(store, clock, {"m1": mastodon("m1", clock)}, platform)
    d.sleep = sleeper(clock, waits)
    return d


def test_an_upload_is_recorded_before_the_status_and_reused_by_a_retry(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    handler = Mastodon(store, polls=2, status_codes=(503,))
    platform = Platform(clock, handler)
    (post_id,) = queue(store, media_post(tmp_path))
    handler.post_id = post_id
    waits: list[float] = []
    d = dispatcher(store, clock, platform, waits)

    asyncio.run(d.dispatch_due(clock.now))
    post = store.get_post(post_id)
    assert post.status == "retry_wait"  # the status request failed: transient, retried
    # The polls waited as Mastodon's 202 asked, on the injected sleeper (the test clock), not the wall clock.
    assert waits == [1.0, 2.0, 3.0]
    (recorded,) = store.recorded_uploads(post_id)
    assert handler.seen_uploads == [[recorded]]  # durable before the status request left
    media = post.media[0]
    assert recorded.key == upload_key(media) and recorded.remote_id == "att-1"
    assert recorded.expires_at == recorded.uploaded_at + MastodonAdapter.upload_lifetime  # type: ignore[operator]

    clock.advance_to(post.next_attempt_at)  # type: ignore[arg-type]
    asyncio.run(d.dispatch_due(clock.now))
    assert store.get_post(post_id).status == "sent"
    paths = [r.url.path for _, r in platform.requests]
    assert paths.count(MEDIA) == 1, paths  # the retry reused the attachment
    assert json.loads(platform.requests[-1][1].content)["media_ids"] == ["att-1"]


def test_uploads_are_recorded_in_the_writers_thread_not_on_the_event_loop(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write on the event loop's thread waits for the group writer's transaction, and every account
    waits with it; the uploads go behind the queued marks in the writer's thread, and the status request
    still waits for their commit."""
    import threading

    clock = Clock()
    handler = Mastodon(store, polls=0)
    (post_id,) = queue(store, media_post(tmp_path))
    handler.post_id = post_id
    writers: list[threading.Thread] = []
    record = store.record_uploads

    def recording(*args: Any, **kw: Any) -> None:
        writers.append(threading.current_thread())
        record(*args, **kw)

    monkeypatch.setattr(store, "record_uploads", recording)
    asyncio.run(dispatcher(store, clock, Platform(clock, handler), []).dispatch_due(clock.now))
    assert store.get_post(post_id).status == "sent"
    (recorded,) = store.recorded_uploads(post_id)
    assert handler.seen_uploads == [[recorded]]  # durable before the status request left
    assert len(writers) == 1 and writers[0] is not threading.main_thread()


def test_an_expired_recorded_upload_is_uploaded_again(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    handler = Mastodon(store, polls=0, status_codes=(503,))
    platform = Platform(clock, handler)
    (post_id,) = queue(store, media_post(tmp_path))
    handler.post_id = post_id
    d = dispatcher(store, clock, platform, [])
    asyncio.run(d.dispatch_due(clock.now))
    assert store.get_post(post_id).status == "retry_wait"

    # Later than Mastodon keeps an unattached upload (less the margin): the attachment may be gone.
    clock.advance(days=1)
    asyncio.run(d.dispatch_due(clock.now))
    assert store.get_post(post_id).status == "sent"
    assert [r.url.path for _, r in platform.requests].count(MEDIA) == 2
    assert json.loads(platform.requests[-1][1].content)["media_ids"] == ["att-2"]
    assert [u.remote_id for u in store.recorded_uploads(post_id)] == ["att-2"]  # replaced, same key


def test_a_post_without_media_reads_and_writes_no_uploads(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(store, "recorded_uploads", lambda post_id: calls.append("read") or [])
    monkeypatch.setattr(store, "record_uploads", lambda *a, **k: calls.append("write"))
    clock = Clock()
    platform = Platform(clock, Mastodon(None))
    (post_id,) = queue(store, planned("plain", account="m1"))
    asyncio.run(dispatcher(store, clock, platform, []).dispatch_due(clock.now))
    assert store.get_post(post_id).status == "sent"
    assert calls == []


def test_a_dry_run_records_no_upload(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    (post_id,) = queue(store, media_post(tmp_path))
    d = make(store, clock, {"m1": mastodon("m1", clock)}, None, dry_run=True)
    asyncio.run(d.dispatch_due(clock.now))
    assert d.dry_requests == 2  # the upload and the status, recorded by the dry-run runner
    assert store.recorded_uploads(post_id) == []  # placeholder ids are never kept


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_uploads_are_recorded_under_the_posts_lease_and_replaced_by_key(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(tmp_path / "q.db") if backend == "sqlite" else str(request.getfixturevalue("pg_url"))
    owner = "daemon:test:1"
    first = Upload("k1", "att-1", T0, T0 + timedelta(days=1), {"blob": {"ref": {"$link": "bafy"}}})
    second = Upload("k2", "att-2", T0, T0 + timedelta(hours=1))
    with Store.open(url) as store:
        (post_id,) = queue(store, media_post(tmp_path))
        with pytest.raises(LeaseLostError):  # scheduled: nobody holds it
            store.record_uploads(post_id, [first], owner=owner, now=T0)
        assert store.claim_due(T0, owner, 300, 10)
        store.mark_sending(post_id, owner=owner, now=T0)
        with pytest.raises(LeaseLostError):  # another daemon's lease
            store.record_uploads(post_id, [first], owner="daemon:other:2", now=T0)
        store.record_uploads(post_id, [first], owner=owner, now=T0)
        store.record_uploads(post_id, [second], owner=owner, now=T0)
        again = replace(first, remote_id="att-3")
        store.record_uploads(post_id, [again], owner=owner, now=T0)
        assert store.recorded_uploads(post_id) == [second, again]


# ---------------------------------------------------------------------------------------------- the runner


def test_run_waits_the_delay_a_poll_asks_for_through_the_given_sleeper() -> None:
    waits: list[float] = []
    clock = Clock()
    adapter = mastodon("m1", clock)

    def exchange() -> Any:
        first = yield httpx.Request("GET", "https://m.example/a")
        second = yield httpx.Request("GET", "https://m.example/b", extensions={"campaign.delay": 2.5})
        return first.status_code, second.status_code

    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    result = asyncio.run(run(exchange(), client, adapter, sleep=sleeper(clock, waits)))
    assert result == (204, 204) and waits == [2.5]


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError])
@pytest.mark.parametrize("upload", [True, False])
def test_a_transport_error_on_an_upload_is_transient_on_a_post_ambiguous(
    error: type[httpx.TransportError], upload: bool
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("connection reset by peer", request=request)

    def exchange() -> Any:
        request = httpx.Request("POST", "https://m.example/api/v2/media", extensions={UPLOAD: upload})
        yield request

    client = httpx.AsyncClient(transport=httpx.MockTransport(fail))
    with pytest.raises(TransientError if upload else AmbiguousError):
        asyncio.run(run(exchange(), client, mastodon("m1", Clock())))


# ---------------------------------------------------------------------------------------------- adapters


def paths_with(adapter: Adapter, part: Part) -> list[str]:
    recording = Recording()
    run_dry(adapter.publish(part), adapter, part, recording)
    return [r.url.path for r in recording.requests]


def reused(adapter: Adapter, clock: Clock, media: PreparedMedia, life: timedelta, **data: Any) -> Part:
    record = Upload(upload_key(media), "recorded-1", clock.now, clock.now + life, data)
    return replace(media_part(media), uploads=Uploads([record]))


@pytest.mark.parametrize(
    ("make_adapter", "channel", "upload_path"),
    [
        (lambda: mastodon("m1", Clock()), "mastodon", MEDIA),
        (x_adapter, "x", "/2/media/upload/initialize"),
        (bluesky_adapter, "bluesky", "/xrpc/com.atproto.repo.uploadBlob"),
    ],
)
def test_each_adapter_records_its_upload_and_reuses_it_while_the_platform_keeps_it(
    tmp_path: Path, make_adapter: Any, channel: str, upload_path: str
) -> None:
    clock = Clock()
    adapter: Adapter = make_adapter()
    adapter.clock = clock
    media = photo(tmp_path, channel)
    life = type(adapter).upload_lifetime
    assert life is not None

    fresh = replace(media_part(media), uploads=Uploads())
    assert upload_path in paths_with(adapter, fresh)
    (new,) = fresh.uploads.take_new()  # type: ignore[union-attr]
    assert new.key == upload_key(media) and new.uploaded_at == clock.now
    assert new.expires_at <= clock.now + life

    blob = {"$type": "blob", "ref": {"$link": "bafyrecorded"}, "mimeType": media.mime, "size": media.size}
    valid = reused(adapter, clock, media, life, blob=blob)
    paths = paths_with(adapter, valid)
    assert upload_path not in paths, paths
    assert not valid.uploads.pending  # type: ignore[union-attr]

    # Too little of its life left to be sure the post reaches the platform in time: uploaded again.
    almost = reused(adapter, clock, media, type(adapter).upload_margin, blob=blob)
    assert upload_path in paths_with(adapter, almost)


def test_the_reused_upload_is_what_the_post_names(tmp_path: Path) -> None:
    clock = Clock()
    for adapter, channel in ((XAdapter, "x"), (BlueskyAdapter, "bluesky")):
        made = x_adapter() if adapter is XAdapter else bluesky_adapter()
        made.clock = clock
        media = photo(tmp_path, channel)
        blob = {"$type": "blob", "ref": {"$link": "bafyrecorded"}, "mimeType": media.mime, "size": media.size}
        part = reused(made, clock, media, timedelta(hours=1), blob=blob)
        recording = Recording()
        run_dry(made.publish(part), made, part, recording)
        body = recording.requests[-1].content.decode()
        assert ("recorded-1" if channel == "x" else "bafyrecorded") in body, body


def test_an_upload_survives_its_json_form() -> None:
    upload = Upload("abc:def", "att-1", T0, T0 + timedelta(days=1), {"blob": {"ref": {"$link": "x"}}})
    assert Upload.from_json(json.loads(json.dumps(upload.to_json()))) == upload
    assert upload.to_json()["sha256"] == "abc"
    assert Upload.from_json({"key": "k"}) is None
