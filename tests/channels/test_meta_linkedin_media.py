"""Media on Threads, Facebook and LinkedIn, with the documented request and response shapes:

- Threads: an IMAGE container with ``image_url`` (``media_base_url``/<sha256>.<ext>) and ``alt_text``; two or
  more become carousel items (``is_carousel_item``) under a CAROUSEL container with ``children``
  (https://developers.facebook.com/docs/threads/posts#carousel-posts);
- Facebook: unpublished ``/photos`` (multipart ``source``, ``published=false``, ``alt_text_custom``), then
  ``/feed`` with ``attached_media[n]`` (https://developers.facebook.com/docs/graph-api/reference/page/photos/);
- LinkedIn: ``/rest/images?action=initializeUpload``, ``PUT`` to ``uploadUrl``, then the post's
  ``content.media`` or ``content.multiImage``
  (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx

from campaign.channels.base import Receipt
from campaign.errors import TransientError
from tests.channels.test_facebook import PAGE
from tests.channels.test_facebook import make_adapter as facebook
from tests.channels.test_linkedin import make_adapter as linkedin
from tests.channels.test_mastodon_media import multipart_fields
from tests.channels.test_threads import make_adapter as threads
from tests.helpers.channels import drive, respond
from tests.helpers.media_parts import ALT, media_part, photo

BASE_URL = "https://www.hkstp.org/campaign-media"


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_threads_image_and_carousel_containers(tmp_path: Path) -> None:
    one, two = photo(tmp_path, "threads"), photo(tmp_path, "threads", "b.jpg", (200, 320))
    finished = respond(200, {"status": "FINISHED", "id": "c1"})
    adapter = threads()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(one, base_url=BASE_URL)),
        [respond(200, {"id": "c1"}), finished, respond(200, {"id": "m1"})],
    )
    assert isinstance(outcome, Receipt) and outcome.remote_id == "m1"
    assert form(sent[0]) == {
        "media_type": "IMAGE",
        "image_url": f"{BASE_URL}/{one.store_name}",
        "alt_text": ALT,
        "text": "HKSTP heads to the US West Coast",
    }
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(one, two, base_url=BASE_URL)),
        [
            respond(200, {"id": "i1"}),
            respond(200, {"id": "i2"}),
            respond(200, {"id": "c9"}),
            finished,
            respond(200, {"id": "m9"}),
        ],
    )
    assert isinstance(outcome, Receipt)
    assert form(sent[0])["is_carousel_item"] == "true" and form(sent[1])["image_url"].endswith(two.store_name)
    assert form(sent[2]) == {
        "media_type": "CAROUSEL",
        "children": "i1,i2",
        "text": "HKSTP heads to the US West Coast",
    }


def test_facebook_uploads_unpublished_photos_then_attaches_them(tmp_path: Path) -> None:
    image = photo(tmp_path, "facebook")
    adapter = facebook()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(image)),
        [respond(200, {"id": "photo-1"}), respond(200, {"id": f"{PAGE}_42"})],
    )
    assert isinstance(outcome, Receipt) and outcome.remote_id == f"{PAGE}_42"
    assert sent[0].url.path.endswith(f"/{PAGE}/photos")
    fields = multipart_fields(sent[0])
    assert fields["source"] == image.path.read_bytes()
    assert fields["published"] == b"false" and fields["alt_text_custom"].decode() == ALT
    feed = form(sent[1])
    assert json.loads(feed["attached_media[0]"]) == {"media_fbid": "photo-1"}


def test_facebook_photo_upload_failure_is_transient(tmp_path: Path) -> None:
    adapter = facebook()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(photo(tmp_path, "facebook"))),
        [respond(500, {"error": {"code": 2}})],
    )
    assert isinstance(outcome, TransientError) and len(sent) == 1


def test_linkedin_initializes_puts_and_attaches_images(tmp_path: Path) -> None:
    image = photo(tmp_path, "linkedin")
    upload_url = "https://www.linkedin.com/dms-uploads/sp/abc123"
    adapter = linkedin()
    sent, outcome = drive(
        adapter,
        adapter.publish(media_part(image)),
        [
            respond(
                200, {"value": {"uploadUrlExpiresAt": 1, "uploadUrl": upload_url, "image": "urn:li:image:C1"}}
            ),
            httpx.Response(201),
            httpx.Response(201, headers={"x-restli-id": "urn:li:share:7"}),
        ],
    )
    assert isinstance(outcome, Receipt) and outcome.remote_id == "urn:li:share:7"
    assert str(sent[0].url) == "https://api.linkedin.com/rest/images?action=initializeUpload"
    assert json.loads(sent[0].content)["initializeUploadRequest"]["owner"].startswith("urn:li:")
    assert (sent[1].method, str(sent[1].url)) == ("PUT", upload_url)
    assert sent[1].read() == image.path.read_bytes()
    assert json.loads(sent[2].content)["content"] == {"media": {"id": "urn:li:image:C1", "altText": ALT}}
