"""Mastodon publishes with media: each file is uploaded (POST /api/v2/media, multipart file, description,
focus; 202 then GET /api/v1/media/:id until 200) before the status, which carries media_ids
(https://docs.joinmastodon.org/methods/media/, https://docs.joinmastodon.org/methods/statuses/#create)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from campaign.channels.base import Receipt
from campaign.errors import TransientError
from tests.channels.test_mastodon import BASE, adapter, status
from tests.helpers.channels import drive, respond
from tests.helpers.media_parts import ALT, media_part, photo


def multipart_fields(request: httpx.Request) -> dict[str, bytes]:
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.read())
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


def test_media_are_uploaded_then_the_status_carries_their_ids(tmp_path: Path) -> None:
    one, two = photo(tmp_path, "mastodon"), photo(tmp_path, "mastodon", "b.jpg", (200, 320))
    sent, outcome = drive(
        adapter(),
        adapter().publish(media_part(one, two)),
        [
            respond(200, {"id": "m1", "type": "image", "url": f"{BASE}/m1.jpg"}),
            respond(202, {"id": "m2", "type": "image", "url": None}),
            respond(206, {"id": "m2", "type": "image", "url": None}),
            respond(200, {"id": "m2", "type": "image", "url": f"{BASE}/m2.jpg"}),
            respond(200, status("1001")),
        ],
    )
    assert isinstance(outcome, Receipt) and outcome.remote_id == "1001"
    assert [(r.method, r.url.path) for r in sent] == [
        ("POST", "/api/v2/media"),
        ("POST", "/api/v2/media"),
        ("GET", "/api/v1/media/m2"),
        ("GET", "/api/v1/media/m2"),
        ("POST", "/api/v1/statuses"),
    ]
    fields = multipart_fields(sent[0])
    assert fields["file"] == one.path.read_bytes()
    assert fields["description"].decode() == ALT and fields["focus"] == b"0.25,-0.5"
    assert json.loads(sent[-1].content)["media_ids"] == ["m1", "m2"]


def test_a_failed_upload_publishes_nothing_and_is_transient(tmp_path: Path) -> None:
    sent, outcome = drive(
        adapter(),
        adapter().publish(media_part(photo(tmp_path, "mastodon"))),
        [respond(500, {"error": "boom"})],
    )
    assert isinstance(outcome, TransientError)
    assert [r.url.path for r in sent] == ["/api/v2/media"]
