"""Media on the chat and webhook channels, with the documented request shapes:

- Telegram: ``sendPhoto`` (multipart ``photo`` + ``caption``) for one file, ``sendMediaGroup`` (``media`` JSON
  of InputMedia with ``attach://fileN``, caption on the first) for an album
  (https://core.telegram.org/bots/api#sendphoto, #sendmediagroup);
- Discord: multipart ``payload_json`` with ``attachments[{id, filename, description}]`` and ``files[n]``
  (https://discord.com/developers/docs/reference#uploading-files);
- Slack image blocks, Teams Adaptive Card Image and our webhook's ``media`` by URL under ``media_base_url``
  (https://docs.slack.dev/reference/block-kit/blocks/image-block, https://adaptivecards.io/explorer/Image.html).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from campaign.channels.base import Receipt
from campaign.channels.discord import DiscordAdapter
from campaign.channels.slack import SlackAdapter
from campaign.channels.teams import TeamsAdapter
from campaign.channels.telegram import TelegramAdapter
from campaign.channels.upload_media import UPLOAD
from campaign.errors import PermanentError
from tests.channels.test_discord import HOOK as DISCORD_HOOK
from tests.channels.test_mastodon_media import multipart_fields
from tests.channels.test_slack import HOOK as SLACK_HOOK
from tests.channels.test_teams import HOOK as TEAMS_HOOK
from tests.channels.test_telegram import TOKEN
from tests.channels.test_webhook import adapter_for
from tests.helpers.channels import drive, make_account, respond
from tests.helpers.media_parts import ALT, media_part, photo

BASE_URL = "https://www.hkstp.org/campaign-media"


def telegram() -> TelegramAdapter:
    return TelegramAdapter(make_account("telegram", {"chat_id": "@railnews"}, {"token": TOKEN}))


def message(message_id: int) -> dict[str, object]:
    return {
        "message_id": message_id,
        "date": 0,
        "chat": {"id": -100, "type": "channel", "username": "railnews"},
    }


def test_telegram_sends_one_photo_with_its_caption(tmp_path: Path) -> None:
    image = photo(tmp_path, "telegram")
    sent, outcome = drive(
        telegram(), telegram().publish(media_part(image)), [respond(200, {"ok": True, "result": message(7)})]
    )
    assert isinstance(outcome, Receipt) and outcome.url == "https://t.me/railnews/7"
    assert sent[0].url.path.endswith("/sendPhoto")
    assert UPLOAD not in sent[0].extensions  # upload and post in one request: its outcome is the post's
    fields = multipart_fields(sent[0])
    assert fields["photo"] == image.path.read_bytes() and fields["chat_id"] == b"@railnews"
    assert fields["caption"].decode() == "HKSTP heads to the US West Coast"


def test_telegram_sends_an_album_as_a_media_group(tmp_path: Path) -> None:
    one, two = photo(tmp_path, "telegram"), photo(tmp_path, "telegram", "b.jpg", (200, 320))
    answer = respond(200, {"ok": True, "result": [message(8), message(9)]})
    sent, outcome = drive(telegram(), telegram().publish(media_part(one, two)), [answer])
    assert isinstance(outcome, Receipt) and outcome.remote_id == "8"
    assert sent[0].url.path.endswith("/sendMediaGroup")
    fields = multipart_fields(sent[0])
    assert json.loads(fields["media"]) == [
        {"type": "photo", "media": "attach://file0", "caption": "HKSTP heads to the US West Coast"},
        {"type": "photo", "media": "attach://file1"},
    ]
    assert fields["file0"] == one.path.read_bytes() and fields["file1"] == two.path.read_bytes()


def test_discord_attaches_files_with_their_descriptions(tmp_path: Path) -> None:
    image = photo(tmp_path, "discord")
    discord = DiscordAdapter(make_account("discord", {}, {"webhook_url": DISCORD_HOOK}))
    answer = respond(200, {"id": "555", "channel_id": "777", "content": "x"})
    sent, outcome = drive(discord, discord.publish(media_part(image)), [answer])
    assert isinstance(outcome, Receipt) and outcome.remote_id == "555"
    fields = multipart_fields(sent[0])
    payload = json.loads(fields["payload_json"])
    assert payload["content"] == "HKSTP heads to the US West Coast"
    assert payload["attachments"] == [{"id": 0, "filename": image.store_name, "description": ALT}]
    assert fields["files[0]"] == image.path.read_bytes()


def test_slack_and_teams_show_images_by_url(tmp_path: Path) -> None:
    image = photo(tmp_path, "slack")
    url = f"{BASE_URL}/{image.store_name}"
    slack = SlackAdapter(make_account("slack", {}, {"webhook_url": SLACK_HOOK}))
    sent, _ = drive(
        slack, slack.publish(media_part(image, base_url=BASE_URL)), [httpx.Response(200, text="ok")]
    )
    blocks = json.loads(sent[0].content)["blocks"]
    assert blocks[1] == {"type": "image", "image_url": url, "alt_text": ALT}
    teams = TeamsAdapter(make_account("teams", {}, {"webhook_url": TEAMS_HOOK}))
    card = teams.card(media_part(image, base_url=BASE_URL))
    assert {"type": "Image", "url": url, "altText": ALT} in card["body"]


def test_webhook_payload_lists_media_by_url(tmp_path: Path) -> None:
    image = photo(tmp_path, "webhook")
    payload = adapter_for().payload(media_part(image, base_url=BASE_URL))
    assert payload["media"] == [
        {
            "url": f"{BASE_URL}/{image.store_name}",
            "mime": "image/jpeg",
            "size": image.size,
            "sha256": image.sha256,
            "width": 320,
            "height": 200,
            "alt": ALT,
        }
    ]
    assert "media" not in adapter_for().payload(media_part())


def test_url_only_platforms_refuse_media_without_a_base_url(tmp_path: Path) -> None:
    image = photo(tmp_path, "slack")
    slack = SlackAdapter(make_account("slack", {}, {"webhook_url": SLACK_HOOK}))
    with pytest.raises(PermanentError, match="set media_base_url"):
        slack.payload(media_part(image))
