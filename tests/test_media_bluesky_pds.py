"""Bluesky media against the REAL reference PDS: blobs uploaded through our exchange, posted, read back.

Uses the session-scoped reference server of tests/test_bluesky_pds.py (its fixtures are imported here, so
this module starts its own instance). Checked: uploadBlob through :func:`campaign.http.exchange.run` with a
real ``httpx.AsyncClient`` and a streamed body; a post with two images (alt text, aspect ratio, blob CID,
MIME type and size read back from the record); a link card with a thumbnail; the stored blob's bytes equal
our prepared file; and the PDS refusing an image blob over 1,000,000 bytes, the limit our rules enforce.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_bluesky_pds import accounts, drive, get_record, make_adapter, pds, xrpc  # noqa: F401 (fixtures)

from campaign.channels.bluesky_media import external_embed, images_embed, upload_blob
from campaign.channels.tid import tid_for_key
from campaign.channels.upload_media import upload_request
from campaign.media.model import PreparedMedia
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import item, noisy, save

pytestmark = pytest.mark.pds
BANNER = Path(__file__).resolve().parent.parent / "schedules" / "media" / "innovation-mixer-us-banner.png"


def session(base: str, accounts: dict[str, Any]) -> dict[str, Any]:  # noqa: F811 (fixture value)
    made: dict[str, Any] = xrpc(
        base,
        "POST",
        "com.atproto.server.createSession",
        json={"identifier": "alice.test", "password": accounts["app_password"]},
    )
    return made


def create_post(base: str, token: str, did: str, text: str, embed: dict[str, Any]) -> httpx.Response:
    record = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2027-01-18T01:00:00.000Z",
        "embed": embed,
    }
    return httpx.post(
        f"{base}/xrpc/com.atproto.repo.createRecord",
        headers={"Authorization": f"Bearer {token}"},
        json={"repo": did, "collection": "app.bsky.feed.post", "rkey": _rkey(), "record": record},
        timeout=30,
    )


def _rkey() -> str:
    return tid_for_key(secrets.token_hex(16))


def test_images_and_a_link_card_thumbnail_on_the_real_pds(
    pds: dict[str, str],  # noqa: F811
    accounts: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    base = pds["pds"]
    adapter = make_adapter(pds, accounts["app_password"])
    login = session(base, accounts)
    auth = {"Authorization": f"Bearer {login['accessJwt']}"}
    rules, store = PLATFORM_MEDIA_RULES["bluesky"], MediaStore(tmp_path / "media")
    photo_file = save(noisy(2600, 1700), tmp_path / "stage.jpg", "JPEG", quality=97)
    photo = prepare(item(photo_file, alt="Speakers on stage at the Innovation Mixer"), rules, store)
    banner = prepare(item(BANNER, alt="Banner: HKSTP Innovation Mixer US tour"), rules, store)
    assert photo.size <= 1_000_000 < photo_file.stat().st_size

    blobs = [drive(upload_blob(base, auth, media, now=adapter.clock), adapter) for media in (photo, banner)]
    response = create_post(
        base,
        login["accessJwt"],
        login["did"],
        "Photos from the tour",
        images_embed(list(zip((photo, banner), blobs, strict=True))),
    )
    assert response.is_success, response.text
    value = get_record(base, response.json()["uri"])["value"]
    stored = value["embed"]["images"]
    assert [i["alt"] for i in stored] == [photo.alt, banner.alt]
    assert [i["aspectRatio"] for i in stored] == [
        {"width": photo.width, "height": photo.height},
        {"width": 1200, "height": 675},
    ]
    for image, media, blob in zip(stored, (photo, banner), blobs, strict=True):
        assert image["image"]["ref"]["$link"] == blob["ref"]["$link"]
        assert (image["image"]["mimeType"], image["image"]["size"]) == (media.mime, media.size)
        assert _blob_sha256(base, login["did"], blob["ref"]["$link"]) == media.sha256

    thumb = drive(upload_blob(base, auth, banner, now=adapter.clock), adapter)
    card = external_embed("https://www.hkstp.org", "HKSTP Innovation Mixer", "The US West Coast tour", thumb)
    response = create_post(base, login["accessJwt"], login["did"], "Read the story", card)
    assert response.is_success, response.text
    external = get_record(base, response.json()["uri"])["value"]["embed"]["external"]
    assert external["thumb"]["ref"]["$link"] == thumb["ref"]["$link"] == blobs[1]["ref"]["$link"]
    assert (external["thumb"]["mimeType"], external["thumb"]["size"]) == ("image/png", banner.size)


def _blob_sha256(base: str, did: str, cid: str) -> str:
    response = httpx.get(f"{base}/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid}, timeout=30)
    assert response.is_success, response.text
    return hashlib.sha256(response.content).hexdigest()


def test_the_pds_refuses_an_image_over_our_limit(
    pds: dict[str, str],  # noqa: F811
    accounts: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Why bluesky's image limit is 1,000,000 bytes: a larger blob uploads, but no post may use it."""
    base = pds["pds"]
    login = session(base, accounts)
    big_file = save(noisy(1500, 1100), tmp_path / "big.png", "PNG")
    size = big_file.stat().st_size
    assert size > 1_000_000
    unprepared = PreparedMedia(
        sha256=hashlib.sha256(big_file.read_bytes()).hexdigest(), mime="image/png", size=size, width=1500,
        height=1100, path=big_file, source="big.png", alt="too big",
    )  # fmt: skip
    request = upload_request(
        "POST", f"{base}/xrpc/com.atproto.repo.uploadBlob", unprepared,
        headers={"Authorization": f"Bearer {login['accessJwt']}"},
    )  # fmt: skip
    with httpx.Client(timeout=30) as client:
        uploaded = client.send(request)
    assert uploaded.is_success, uploaded.text
    blob = uploaded.json()["blob"]
    refused = create_post(
        base, login["accessJwt"], login["did"], "too big", images_embed([(unprepared, blob)])
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "InvalidRequest"
    assert "blob too big (maximum 1000000" in refused.json()["message"]
