"""LinkedIn and Facebook record their uploads with the post (issue 14 follow-up), like X, Mastodon and
Bluesky: LinkedIn's image and video URNs once their upload finished, Facebook's unpublished photo ids and its
resumable video session (video id and ``upload_session_id``). Neither platform documents how long it keeps
an unused upload, so each adapter assumes a conservative hour (``upload_lifetime``); a recorded one is reused
while that leaves the margin, and a post refused for a reused one uploads it again once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from campaign.channels.base import Adapter, Part, Receipt, Upload, Uploads
from campaign.channels.facebook import FacebookAdapter
from campaign.channels.linkedin import LinkedInAdapter
from campaign.channels.upload_media import upload_key
from campaign.errors import PermanentError
from campaign.http.exchange import Recording, run_dry
from campaign.media.model import PreparedMedia
from tests.channels.test_facebook import PAGE
from tests.channels.test_facebook import make_adapter as facebook
from tests.channels.test_linkedin import make_adapter as linkedin
from tests.channels.test_video_facebook import clip as facebook_clip
from tests.channels.test_video_linkedin import clip as linkedin_clip
from tests.helpers.channels import Case, respond
from tests.helpers.media_parts import media_part, photo


def dry_paths(adapter: Adapter, part: Part) -> list[str]:
    recording = Recording()
    run_dry(adapter.publish(part), adapter, part, recording)
    return [r.url.path for r in recording.requests]


def recorded(adapter: Adapter, media: PreparedMedia, remote_id: str, life: timedelta, **data: Any) -> Part:
    now = adapter.clock()
    return replace(media_part(media), uploads=Uploads([Upload(upload_key(media), remote_id, now, now + life,
                                                              data)]))  # fmt: skip


def test_the_lifetimes_are_the_conservative_hour() -> None:
    assert LinkedInAdapter.upload_lifetime == FacebookAdapter.upload_lifetime == timedelta(hours=1)


@pytest.mark.parametrize(
    ("make", "channel", "kind", "upload_path", "remote_id", "data"),
    [
        (linkedin, "linkedin", "image", "/rest/images", "urn:li:image:C4E10AQrecorded", {}),
        (linkedin, "linkedin", "video", "/rest/videos", "urn:li:video:C5F10AQrecorded", {}),
        (facebook, "facebook", "image", f"/v26.0/{PAGE}/photos", "10229876543210", {}),
        (facebook, "facebook", "video", f"/{PAGE}/videos", "1564747010440105",
         {"upload_session_id": "1564747013773438"}),
    ],
)  # fmt: skip
def test_linkedin_and_facebook_record_their_uploads_and_reuse_them(
    tmp_path: Path, make: Any, channel: str, kind: str, upload_path: str, remote_id: str, data: dict[str, Any]
) -> None:
    adapter: Adapter = make()
    if kind == "image":
        media = photo(tmp_path, channel)
    else:
        media = (linkedin_clip if channel == "linkedin" else facebook_clip)(tmp_path)
    life = type(adapter).upload_lifetime
    assert life is not None

    fresh = replace(media_part(media), uploads=Uploads())
    paths = dry_paths(adapter, fresh)
    assert any(p.endswith(upload_path) for p in paths), paths
    (new,) = fresh.uploads.take_new()  # type: ignore[union-attr]
    assert new.key == upload_key(media) and new.expires_at == new.uploaded_at + life
    assert new.remote_id.startswith(("urn:li:", "dry-run"))
    if channel == "facebook" and kind == "video":
        assert new.data["upload_session_id"].startswith("dry-run-session")

    valid = recorded(adapter, media, remote_id, life, **data)
    recording = Recording()
    run_dry(adapter.publish(valid), adapter, valid, recording)
    sent = recording.requests
    if channel == "facebook" and kind == "video":  # straight to the finish phase with the recorded session
        (finish,) = sent
        fields = {k: v[0] for k, v in parse_qs(finish.content.decode()).items()}
        assert fields["upload_phase"] == "finish" and fields["upload_session_id"] == data["upload_session_id"]
    else:
        (post,) = sent
        assert remote_id in post.content.decode()
    assert not valid.uploads.pending  # type: ignore[union-attr]

    almost = recorded(adapter, media, remote_id, type(adapter).upload_margin, **data)
    assert any(p.endswith(upload_path) for p in dry_paths(adapter, almost))


# ------------------------------------------------------------------------------------------------ refused

IMAGE_URN = "urn:li:image:C4E10AQrecorded"
LI_INIT = respond(200, {"value": {"uploadUrl": "https://www.linkedin.com/dms-uploads/new", "image":
                                  "urn:li:image:C4E10AQnew"}})  # fmt: skip
LI_REFUSED = respond(400, {"status": 400, "message": f"Image {IMAGE_URN} does not exist"})
LI_CREATED = httpx.Response(201, headers={"x-restli-id": "urn:li:share:7"})


@pytest.mark.parametrize(
    ("answers", "expect"),
    [
        ([LI_REFUSED, LI_INIT, httpx.Response(201), LI_CREATED],
         Receipt("urn:li:share:7", "https://www.linkedin.com/feed/update/urn:li:share:7/")),
        ([LI_REFUSED, LI_INIT, httpx.Response(201), LI_REFUSED], PermanentError),
        ([respond(400, {"message": "commentary is too long"})], PermanentError),
    ],
)  # fmt: skip
def test_linkedin_uploads_a_refused_reused_image_again(tmp_path: Path, answers: Any, expect: Any) -> None:
    adapter = linkedin()
    media = photo(tmp_path, "linkedin")
    part = recorded(adapter, media, IMAGE_URN, timedelta(hours=1))
    sent, _ = Case("linkedin", answers, expect).run(adapter, adapter.publish(part))
    posts = [json.loads(r.content)["content"]["media"]["id"] for r in sent if r.url.path == "/rest/posts"]
    assert posts == [IMAGE_URN, "urn:li:image:C4E10AQnew"][: len(posts)]


PHOTO = "10229876543210"
FB_REFUSED = respond(400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
                                     "code": 100, "fbtrace_id": "A1"}})  # fmt: skip


@pytest.mark.parametrize("twice", [False, True])
def test_facebook_uploads_a_refused_reused_photo_again(tmp_path: Path, twice: bool) -> None:
    adapter = facebook()
    media = photo(tmp_path, "facebook")
    part = recorded(adapter, media, PHOTO, timedelta(hours=1))
    answers = [FB_REFUSED, respond(200, {"id": "10229876549999"}),
               FB_REFUSED if twice else respond(200, {"id": f"{PAGE}_55"})]  # fmt: skip
    expect = PermanentError if twice else Receipt(f"{PAGE}_55", f"https://www.facebook.com/{PAGE}_55")
    sent, _ = Case("facebook", answers, expect).run(adapter, adapter.publish(part))
    feeds = [parse_qs(r.content.decode()) for r in sent if r.url.path.endswith("/feed")]
    fbids = [json.loads(f["attached_media[0]"][0])["media_fbid"] for f in feeds]
    assert fbids == [PHOTO, "10229876549999"]
    assert [r.url.path.rsplit("/", 1)[-1] for r in sent] == ["feed", "photos", "feed"]


def test_a_refusal_of_a_fresh_facebook_photo_is_not_retried(tmp_path: Path) -> None:
    adapter = facebook()
    part = replace(media_part(photo(tmp_path, "facebook")), uploads=Uploads())
    answers = [respond(200, {"id": "10229876549999"}), FB_REFUSED]
    sent, _ = Case("fresh", answers, PermanentError).run(adapter, adapter.publish(part))
    assert len(sent) == 2
