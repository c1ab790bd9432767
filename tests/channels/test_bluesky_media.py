"""Bluesky publishes with media: blobs are uploaded (com.atproto.repo.uploadBlob, raw bytes) and the record
embeds them: app.bsky.embed.images with alt and aspectRatio, or a link card (app.bsky.embed.external) whose
thumb is an uploaded blob (https://docs.bsky.app/docs/advanced-guides/posts#images-embeds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from campaign.channels.base import LinkCard, Receipt
from campaign.errors import TransientError
from campaign.media.model import PreparedMedia
from tests.channels.test_bluesky import DID, SESSION, adapter
from tests.helpers.channels import drive, respond
from tests.helpers.media_parts import ALT, media_part, photo


def blob(media: PreparedMedia, cid: str) -> dict[str, Any]:
    return {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": media.mime, "size": media.size}}


def created(rkey: str = "3kabc") -> dict[str, str]:
    return {"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": "bafyrecord"}


def test_images_are_uploaded_and_embedded_with_alt_and_aspect_ratio(tmp_path: Path) -> None:
    image = photo(tmp_path, "bluesky")
    bsky = adapter()
    sent, outcome = drive(
        bsky,
        bsky.publish(media_part(image)),
        [respond(200, SESSION), respond(200, blob(image, "bafyimage")), respond(200, created())],
    )
    assert isinstance(outcome, Receipt), outcome
    upload = sent[1]
    assert upload.url.path == "/xrpc/com.atproto.repo.uploadBlob"
    assert upload.headers["content-type"] == "image/jpeg" and upload.read() == image.path.read_bytes()
    assert upload.headers["authorization"] == "Bearer access-1"
    record = json.loads(sent[2].content)["record"]
    assert record["embed"] == {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "alt": ALT,
                "image": blob(image, "bafyimage")["blob"],
                "aspectRatio": {"width": 320, "height": 200},
            }
        ],
    }


def test_a_link_card_gets_its_uploaded_thumbnail(tmp_path: Path) -> None:
    thumb = photo(tmp_path, "bluesky", "card.jpg")
    link = LinkCard("https://www.hkstp.org/", "HKSTP", "Innovation Mixer")
    bsky = adapter()
    sent, outcome = drive(
        bsky,
        bsky.publish(media_part(link=link, link_image=thumb)),
        [respond(200, SESSION), respond(200, blob(thumb, "bafythumb")), respond(200, created())],
    )
    assert isinstance(outcome, Receipt), outcome
    embed = json.loads(sent[2].content)["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    assert embed["external"]["thumb"]["ref"] == {"$link": "bafythumb"}
    assert embed["external"]["uri"] == "https://www.hkstp.org/"


def test_a_failed_upload_is_transient_and_creates_no_record(tmp_path: Path) -> None:
    bsky = adapter()
    sent, outcome = drive(
        bsky,
        bsky.publish(media_part(photo(tmp_path, "bluesky"))),
        [respond(200, SESSION), respond(502, {"error": "UpstreamFailure"})],
    )
    assert isinstance(outcome, TransientError)
    assert all("createRecord" not in r.url.path for r in sent)
