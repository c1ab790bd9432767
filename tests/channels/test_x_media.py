"""X publishes with media: the v2 chunked upload (initialize, append, finalize), the alt text as metadata,
then POST /2/tweets with media.media_ids (https://docs.x.com/x-api/media/quickstart/media-upload-chunked,
https://docs.x.com/x-api/media/create-media-metadata, https://docs.x.com/x-api/posts/creation-of-a-post)."""

from __future__ import annotations

import json
from pathlib import Path

from campaign.channels.base import Receipt
from campaign.channels.upload_media import UPLOAD
from campaign.errors import TransientError
from tests.channels.test_x import make_adapter as adapter
from tests.helpers.channels import drive, respond
from tests.helpers.media_parts import ALT, media_part, photo


def test_an_image_is_uploaded_described_and_attached(tmp_path: Path) -> None:
    image = photo(tmp_path, "x")
    x = adapter()
    sent, outcome = drive(
        x,
        x.publish(media_part(image)),
        [
            respond(
                200,
                {"data": {"id": "710511363345354753", "media_key": "3_7105", "expires_after_secs": 86400}},
            ),
            respond(204),
            respond(200, {"data": {"id": "710511363345354753", "media_key": "3_7105", "size": image.size}}),
            respond(200, {"data": {"associated_metadata": True}}),
            respond(201, {"data": {"id": "1346889436626259968", "text": "HKSTP"}}),
        ],
    )
    assert isinstance(outcome, Receipt), outcome
    assert [r.url.path for r in sent] == [
        "/2/media/upload/initialize",
        "/2/media/upload/710511363345354753/append",
        "/2/media/upload/710511363345354753/finalize",
        "/2/media/metadata",
        "/2/tweets",
    ]
    assert json.loads(sent[0].content) == {
        "media_type": "image/jpeg",
        "total_bytes": image.size,
        "media_category": "tweet_image",
    }
    assert image.path.read_bytes() in sent[1].read()
    assert json.loads(sent[3].content)["metadata"] == {"alt_text": {"text": ALT}}
    assert json.loads(sent[4].content)["media"] == {"media_ids": ["710511363345354753"]}
    # Every upload call is flagged as one that can publish nothing; the post is not.
    assert [bool(r.extensions.get(UPLOAD)) for r in sent] == [True, True, True, True, False]


def test_an_upload_failure_is_transient_and_posts_nothing(tmp_path: Path) -> None:
    x = adapter()
    sent, outcome = drive(x, x.publish(media_part(photo(tmp_path, "x"))), [respond(503, {"title": "busy"})])
    assert isinstance(outcome, TransientError)
    assert [r.url.path for r in sent] == ["/2/media/upload/initialize"]
