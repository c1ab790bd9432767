"""The Bluesky adapter against the REAL reference server: @atproto/pds with an in-memory PLC directory.

tests/pds/start.js starts both on loopback in a temporary data directory (see its header). The fixture
below runs it once per session; it needs Node and ``npm ci --prefix tests/pds``. Without them the tests
skip, except under ``CI=true`` where a skip is a failure (DECISIONS.md: real-server tests must run in CI).

What is checked through OUR adapter and :func:`campaign.http.exchange.run` with a real httpx.AsyncClient:
the post's text, facets (UTF-8 byte offsets), link card, the thread's reply refs, that publishing the same
part again (same record key) returns the same record instead of a duplicate, lookup, and verify.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from campaign.channels.base import Account, Exchange, LinkCard, Part, Receipt
from campaign.channels.bluesky import BlueskyAdapter
from campaign.http.exchange import run
from campaign.secrets import Credentials, SecretRef

T = TypeVar("T")
PDS_DIR = Path(__file__).resolve().parent / "pds"
READY = "CAMPAIGN_PDS_READY "
START_TIMEOUT = 60.0  # seconds; a cold start takes about 2 s on the project's machines

pytestmark = pytest.mark.pds


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason}; under CI=true the real-server tests must run (run `npm ci --prefix tests/pds`)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``{"pds": url, "plc": url, "adminPassword": ...}`` of a running reference PDS on loopback."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (PDS_DIR / "node_modules" / "@atproto" / "pds").is_dir():
        _unavailable("tests/pds/node_modules is missing (run `npm ci --prefix tests/pds`)")
    work = tmp_path_factory.mktemp("pds")
    out, err = work / "stdout.log", work / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # stdin stays open: start.js stops when it closes, so a killed test run cannot leave it behind.
        proc = subprocess.Popen(
            [str(node), str(PDS_DIR / "start.js"), str(work / "data")],
            cwd=PDS_DIR,
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "LOG_ENABLED": "false"},
        )
    try:
        info = _wait_ready(proc, out, err)
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdin:
            proc.stdin.close()


def _wait_ready(proc: subprocess.Popen[bytes], out: Path, err: Path) -> dict[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(READY):
                info: dict[str, str] = json.loads(line[len(READY) :])
                return info
        if proc.poll() is not None:
            pytest.fail(f"the PDS exited with {proc.returncode}:\n{err.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    pytest.fail(
        f"the PDS was not ready within {START_TIMEOUT:.0f} s:\n{err.read_text(errors='replace')[-3000:]}"
    )


def xrpc(base: str, method: str, nsid: str, *, token: str | None = None, **kwargs: Any) -> Any:
    """A direct XRPC call (test set-up and read-back, not through the adapter)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.request(method, f"{base}/xrpc/{nsid}", headers=headers, timeout=30, **kwargs)
    assert response.is_success, f"{nsid}: {response.status_code} {response.text}"
    return response.json()


@pytest.fixture(scope="session")
def accounts(pds: dict[str, str]) -> dict[str, Any]:
    """Two accounts (alice posts, bob is mentioned) and an app password for alice."""
    base = pds["pds"]
    made: dict[str, Any] = {}
    for name in ("alice", "bob"):
        made[name] = xrpc(
            base,
            "POST",
            "com.atproto.server.createAccount",
            json={
                "email": f"{name}@example.com",
                "handle": f"{name}.test",
                "password": secrets.token_hex(12),
            },
        )
    app = xrpc(
        base,
        "POST",
        "com.atproto.server.createAppPassword",
        token=made["alice"]["accessJwt"],
        json={"name": "campaign-test"},
    )
    made["app_password"] = app["password"]
    return made


def make_adapter(pds: dict[str, str], app_password: str) -> BlueskyAdapter:
    credentials = Credentials(
        {"app_password": SecretRef(env="BSKY_APP_PASSWORD")},
        account="alice",
        environ={"BSKY_APP_PASSWORD": app_password},
    )
    account = Account(
        name="alice",
        channel="bluesky",
        settings={"service": pds["pds"], "handle": "alice.test", "language": "en"},
        credentials=credentials,
    )
    return BlueskyAdapter(account)


def drive(exchange: Exchange[T], adapter: BlueskyAdapter) -> T:
    async def go() -> T:
        async with httpx.AsyncClient(timeout=30) as client:
            return await run(exchange, client, adapter)

    return asyncio.run(go())


TEXT = "Grüße! Our launch is live #OpenData #HKSTP https://example.org/launch cc @bob.test"
CARD = LinkCard(url="https://example.org/launch", title="The launch", description="What we launch today")


def byte_range(text: str, piece: str) -> dict[str, int]:
    start = len(text[: text.index(piece)].encode("utf-8"))
    return {"byteStart": start, "byteEnd": start + len(piece.encode("utf-8"))}


def get_record(base: str, uri: str) -> dict[str, Any]:
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    value: dict[str, Any] = xrpc(
        base,
        "GET",
        "com.atproto.repo.getRecord",
        params={"repo": repo, "collection": collection, "rkey": rkey},
    )
    return value


def test_post_thread_and_republish(pds: dict[str, str], accounts: dict[str, Any]) -> None:
    base = pds["pds"]
    alice_did, bob_did = accounts["alice"]["did"], accounts["bob"]["did"]
    adapter = make_adapter(pds, accounts["app_password"])
    key = secrets.token_hex(16)
    first = Part(post_id="launch", idempotency_key=key, text=TEXT, index=0, count=2, link=CARD)

    receipt = drive(adapter.publish(first), adapter)
    rkey = adapter.record_key(first)
    assert receipt.remote_id == f"at://{alice_did}/app.bsky.feed.post/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/alice.test/post/{rkey}"

    stored = get_record(base, receipt.remote_id)
    assert stored["cid"] == receipt.data["cid"]
    value = stored["value"]
    assert value["text"] == TEXT
    assert value["langs"] == ["en"]
    assert value["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {"uri": CARD.url, "title": CARD.title, "description": CARD.description},
    }
    facets = {json.dumps(f["features"], sort_keys=True): f["index"] for f in value["facets"]}
    expected = {
        ("app.bsky.richtext.facet#tag", "tag", "OpenData"): byte_range(TEXT, "#OpenData"),
        ("app.bsky.richtext.facet#tag", "tag", "HKSTP"): byte_range(TEXT, "#HKSTP"),
        ("app.bsky.richtext.facet#link", "uri", CARD.url): byte_range(TEXT, CARD.url),
        ("app.bsky.richtext.facet#mention", "did", bob_did): byte_range(TEXT, "@bob.test"),
    }
    assert len(facets) == len(expected)
    for (kind, field, target), index in expected.items():
        assert facets[json.dumps([{"$type": kind, field: target}], sort_keys=True)] == index

    second = Part(
        post_id="launch",
        idempotency_key=secrets.token_hex(16),
        text="And the second part of the thread.",
        index=1,
        count=2,
        reply_to=receipt,
        root=receipt,
    )
    reply = drive(adapter.publish(second), adapter)
    reply_value = get_record(base, reply.remote_id)["value"]
    ref = {"uri": receipt.remote_id, "cid": receipt.data["cid"]}
    assert reply_value["reply"] == {"root": ref, "parent": ref}

    # A retry of the first part (a new adapter, as after a restart): the same record, not a second post.
    again_adapter = make_adapter(pds, accounts["app_password"])
    again = drive(again_adapter.publish(first), again_adapter)
    assert again == receipt
    listed = xrpc(
        base,
        "GET",
        "com.atproto.repo.listRecords",
        params={"repo": alice_did, "collection": "app.bsky.feed.post"},
    )
    assert sorted(r["uri"] for r in listed["records"]) == sorted([receipt.remote_id, reply.remote_id])

    lookup = again_adapter.lookup(first)
    assert lookup is not None
    assert drive(lookup, again_adapter) == receipt
    fresh = make_adapter(pds, accounts["app_password"])  # no session: the repo is named by its handle
    by_handle = fresh.lookup(first)
    assert by_handle is not None
    assert drive(by_handle, fresh) == receipt
    absent = again_adapter.lookup(Part(post_id="never", idempotency_key=secrets.token_hex(16), text="x"))
    assert absent is not None
    assert drive(absent, again_adapter) is None


def test_changed_text_under_a_taken_key_is_refused(pds: dict[str, str], accounts: dict[str, Any]) -> None:
    from campaign.errors import PermanentError

    adapter = make_adapter(pds, accounts["app_password"])
    key = secrets.token_hex(16)
    drive(adapter.publish(Part(post_id="p", idempotency_key=key, text="Original text")), adapter)
    with pytest.raises(PermanentError, match="already holds a different post"):
        drive(adapter.publish(Part(post_id="p", idempotency_key=key, text="Edited text")), adapter)


def test_verify_and_wrong_password(pds: dict[str, str], accounts: dict[str, Any]) -> None:
    from campaign.errors import AuthError

    adapter = make_adapter(pds, accounts["app_password"])
    expected = f"@alice.test ({accounts['alice']['did']})"
    assert drive(adapter.verify(), adapter) == expected
    assert drive(adapter.verify(), adapter) == expected  # the cached session, through getSession
    wrong = make_adapter(pds, "aaaa-bbbb-cccc-dddd")
    with pytest.raises(AuthError, match="AuthenticationRequired"):
        drive(wrong.verify(), wrong)


def test_receipts_are_plain_data(pds: dict[str, str], accounts: dict[str, Any]) -> None:
    adapter = make_adapter(pds, accounts["app_password"])
    receipt = drive(
        adapter.publish(Part(post_id="q", idempotency_key=secrets.token_hex(16), text="Hi")), adapter
    )
    assert isinstance(receipt, Receipt)
    assert accounts["app_password"] not in repr(receipt)
    assert set(receipt.data) == {"uri", "cid"}


BANNER = Path(__file__).resolve().parent.parent / "schedules" / "media" / "innovation-mixer-us-banner.png"
BANNER_ALT = (
    "Banner on a dark blue background: the words HKSTP Innovation Mixer US tour in large white letters"
)


def _blob_bytes(base: str, did: str, cid: str) -> httpx.Response:
    response = httpx.get(f"{base}/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid}, timeout=30)
    assert response.is_success, response.text
    return response


def test_publish_with_an_image_and_a_link_card_thumbnail(
    pds: dict[str, str], accounts: dict[str, Any], tmp_path: Path
) -> None:
    """The adapter's own publish uploads the media (issue 14); the PDS keeps the blobs and the alt text."""
    from campaign.media.model import MediaItem
    from campaign.media.prepare import prepare
    from campaign.media.rules import PLATFORM_MEDIA_RULES
    from campaign.media.store import MediaStore

    base, did = pds["pds"], accounts["alice"]["did"]
    store = MediaStore(tmp_path / "media")
    banner = prepare(
        MediaItem(BANNER, alt=BANNER_ALT, label="banner.png"), PLATFORM_MEDIA_RULES["bluesky"], store
    )
    adapter = make_adapter(pds, accounts["app_password"])

    with_image = Part(
        post_id="launch", idempotency_key=secrets.token_hex(16), text="Launch day", media=(banner,)
    )
    value = get_record(base, drive(adapter.publish(with_image), adapter).remote_id)["value"]
    (image,) = value["embed"]["images"]
    assert value["embed"]["$type"] == "app.bsky.embed.images"
    assert image["alt"] == BANNER_ALT
    assert image["aspectRatio"] == {"width": banner.width, "height": banner.height}
    assert (image["image"]["mimeType"], image["image"]["size"]) == (banner.mime, banner.size)
    stored = _blob_bytes(base, did, image["image"]["ref"]["$link"])
    assert stored.content == banner.path.read_bytes()

    with_card = Part(
        post_id="card", idempotency_key=secrets.token_hex(16), text="Read more", link=CARD, link_image=banner
    )
    value = get_record(base, drive(adapter.publish(with_card), adapter).remote_id)["value"]
    external = value["embed"]["external"]
    assert value["embed"]["$type"] == "app.bsky.embed.external" and external["uri"] == CARD.url
    assert (external["thumb"]["mimeType"], external["thumb"]["size"]) == ("image/png", banner.size)
    assert len(_blob_bytes(base, did, external["thumb"]["ref"]["$link"]).content) == banner.size
