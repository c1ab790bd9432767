"""Telegram adapter: a bot posts with the Bot API's ``sendMessage``.

Facts relied on (sources in docs/platforms/telegram.md):

- ``POST https://api.telegram.org/bot<token>/sendMessage`` with JSON ``chat_id``, ``text`` (1-4096
  characters after entities parsing), ``link_preview_options``, ``reply_parameters``; ``getMe`` returns the
  bot's own user (https://core.telegram.org/bots/api#sendmessage, #getme).
- Every answer is ``{"ok": bool, "result": ...}`` or ``{"ok": false, "error_code", "description",
  "parameters": {"retry_after", "migrate_to_chat_id"}}``; ``retry_after`` is the seconds to wait after
  flood control (https://core.telegram.org/bots/api#making-requests, #responseparameters).

The bot token is part of the URL path. Errors raised here never contain the URL; the exchange runner
redacts the token from anything else, and the token's format is checked so that it appears in URLs
verbatim (redaction replaces the exact text). httpx logs request URLs on the ``httpx`` logger at INFO:
the daemon must filter that logger (see tests/channels/test_telegram.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any, ClassVar

import httpx

from campaign.channels.base import (
    PLACEHOLDER,
    Adapter,
    Exchange,
    Part,
    Receipt,
    SampleAccount,
    as_seconds,
    classify_status,
    fake_json,
)
from campaign.channels.upload_media import MEDIA, media_extension
from campaign.errors import AmbiguousError, AuthError, ChannelError, PermanentError, RateLimitedError
from campaign.media.rules import PLATFORM_MEDIA_RULES, VIDEO_TYPES, kind_of
from campaign.text import counting
from campaign.text.rules import TextRules

API = "https://api.telegram.org"
# BotFather tokens look like "123456789:AAE...": digits, a colon, then URL-safe characters. Anything else
# would be percent-encoded in the URL and then escape redaction, so it is refused.
_TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
_NUMERIC = re.compile(r"^-?[0-9]+$")
#: The method and file field that send one file of each kind.
_SINGLE = {
    "image": ("sendPhoto", "photo"),
    "gif": ("sendAnimation", "animation"),
    "video": ("sendVideo", "video"),
}


class TelegramAdapter(Adapter):
    """Send each part with ``sendMessage``; later thread parts reply to the previous message."""

    name = "telegram"
    title = "Telegram"
    media_rules = PLATFORM_MEDIA_RULES["telegram"]
    #: Nothing to record: files go in the same multipart request as the message (sendPhoto, sendVideo,
    #: sendMediaGroup; https://core.telegram.org/bots/api#sending-files), so an upload is the post.
    upload_lifetime = None
    # 4096 "characters after entities parsing" (sendMessage). Reports disagree on whether Telegram counts
    # code points or UTF-16 code units; counting UTF-16 units (what entity offsets use) is never longer than
    # the platform's count either way, so a fitted text is always accepted.
    rules = TextRules(
        limit=4096, unit="UTF-16 code units", measure=counting.utf16_units, threads=True, max_hashtags=5
    )
    credential_names: ClassVar[Mapping[str, str]] = {
        "token": "the bot token from @BotFather (123456789:AA...)",
    }
    required_settings: ClassVar[Mapping[str, str]] = {
        "chat_id": "target chat: numeric id (-100...) or @channelusername",
    }
    optional_settings: ClassVar[Mapping[str, str]] = {
        "chat_username": "public username of the chat, for message links (t.me/<username>/<id>)",
        "parse_mode": "HTML, MarkdownV2 or Markdown (default: none, the text is sent as written)",
        "link_preview": "false to disable link previews (default: preview the post's featured link)",
        "message_thread_id": "forum topic to post in (supergroups with topics)",
        "disable_notification": "true to send silently",
    }
    docs = "https://core.telegram.org/bots/api#sendmessage"
    sample_account = SampleAccount(
        settings={"chat_id": "@contract_news"}, credentials={"token": "123456:{token}"}
    )

    def _method_url(self, method: str) -> str:
        token = self.secret("token")
        if not _TOKEN.match(token) and not (token.startswith("<") and token.endswith(">")):
            raise PermanentError(
                f"account {self.account.name!r}: credential 'token' is not a bot token (digits:characters)"
            )
        return f"{API}/bot{token}/{method}"

    def payload(self, part: Part) -> dict[str, Any]:
        """The ``sendMessage`` parameters for ``part``."""
        chat = self.setting("chat_id")
        body: dict[str, Any] = {"chat_id": int(chat) if _NUMERIC.match(chat) else chat, "text": part.text}
        parse_mode = self.account.settings.get("parse_mode")
        if parse_mode:
            body["parse_mode"] = str(parse_mode)
        if _is_false(self.account.settings.get("link_preview")):
            body["link_preview_options"] = {"is_disabled": True}
        elif part.link is not None:
            # Preview the featured link even when the text mentions other URLs first.
            body["link_preview_options"] = {"url": part.link.url}
        thread = self.account.settings.get("message_thread_id")
        if thread is not None:
            body["message_thread_id"] = int(thread)
        if _is_true(self.account.settings.get("disable_notification")):
            body["disable_notification"] = True
        if part.reply_to is not None:
            body["reply_parameters"] = {"message_id": _int_id(part.reply_to.remote_id)}
        return body

    def publish(self, part: Part) -> Exchange[Receipt]:
        """``sendMessage``; with media, ``sendPhoto``/``sendVideo``/``sendAnimation`` (one file) or
        ``sendMediaGroup`` (an album of 2-10, the caption on the first item), multipart with the files
        streamed from the media store. Upload and post are one request here, so its failures classify as a
        post's (https://core.telegram.org/bots/api#sendphoto, #sendmediagroup, #sending-files)."""
        if part.media:
            with ExitStack() as files:
                response = yield self._media_request(part, files)
        else:
            url = self._method_url("sendMessage")
            response = yield self.json_request("POST", url, json_body=self.payload(part))
        message = self._result(response)
        if isinstance(message, list) and message:  # sendMediaGroup answers the album's messages
            message = message[0]
        if not isinstance(message, dict) or "message_id" not in message:
            raise AmbiguousError("Telegram answered ok without a message id; the message may have been sent")
        message_id = str(message["message_id"])
        raw_chat = message.get("chat")
        chat: dict[str, Any] = raw_chat if isinstance(raw_chat, dict) else {}
        username: Any = chat.get("username") or self.account.settings.get("chat_username")
        if not username and self.setting("chat_id").startswith("@"):
            username = self.setting("chat_id")[1:]
        link = f"https://t.me/{username}/{message_id}" if username else None
        data: dict[str, str] = {"message_id": message_id}
        if chat.get("id") is not None:
            data["chat_id"] = str(chat["id"])
        return Receipt(remote_id=message_id, url=link, data=data)

    def _media_request(self, part: Part, files: ExitStack) -> httpx.Request:
        """The multipart request sending ``part``'s media with its text as the caption."""
        body = self.payload(part)
        text = body.pop("text")
        body.pop("link_preview_options", None)  # captions have no link preview
        parse_mode = body.get("parse_mode")
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        opened = {
            f"file{i}": (m.store_name, files.enter_context(open(m.path, "rb")), m.mime)  # noqa: SIM115 (closed by ExitStack)
            for i, m in enumerate(part.media)
        }
        if len(part.media) == 1:
            media = part.media[0]
            method, field = _SINGLE[kind_of(media.mime)]
            fields["caption"] = text
            upload = {field: opened["file0"]}
        else:
            album = []
            for i, media in enumerate(part.media):
                entry: dict[str, Any] = {"type": "video" if media.mime in VIDEO_TYPES else "photo",
                                         "media": f"attach://file{i}"}  # fmt: skip
                if i == 0:
                    entry["caption"] = text
                    if parse_mode:
                        entry["parse_mode"] = parse_mode
                album.append(entry)
            method, upload = "sendMediaGroup", opened
            fields.pop("parse_mode", None)
            fields["media"] = json.dumps(album, ensure_ascii=False)
        first = part.media[0]
        boundary = f"campaign-{first.sha256[:32]}"
        return httpx.Request(
            "POST",
            self._method_url(method),
            headers={
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            data=fields,
            files=upload,
            extensions={MEDIA: {**media_extension(first), "files": [m.source for m in part.media]}},
        )

    def verify(self) -> Exchange[str]:
        url = self._method_url("getMe")
        response = yield httpx.Request("GET", url, headers={"Accept": "application/json"})
        me = self._result(response)
        if not isinstance(me, dict):
            raise PermanentError("Telegram getMe answered without a user")
        who = f"@{me['username']}" if me.get("username") else str(me.get("first_name", "?"))
        return f"{who} (bot id {me.get('id')})"

    def _result(self, response: httpx.Response) -> Any:
        """The ``result`` of a Bot API answer, or the classified error it describes."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True and response.is_success:
            return body.get("result")
        if not isinstance(body, dict):
            if response.is_success:
                raise AmbiguousError(f"Telegram answered HTTP {response.status_code} with no readable body")
            raise self._classify(response, None)
        raise self._classify(response, body)

    def _classify(self, response: httpx.Response, body: dict[str, Any] | None) -> ChannelError:
        status = response.status_code
        if body is None:
            return classify_status(response, "", now=self.clock())
        code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
        description = str(body.get("description") or "")
        raw_params = body.get("parameters")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        what = f"Telegram error {code}: {description}" if description else f"Telegram error {code}"
        if params.get("retry_after") is not None:
            wait = as_seconds(params["retry_after"])
            return RateLimitedError(what, retry_after=wait, status=status, platform_message=description)
        if params.get("migrate_to_chat_id") is not None:
            return PermanentError(
                f"{what}; the group became a supergroup: set chat_id to {params['migrate_to_chat_id']}",
                status=status,
                platform_message=description,
            )
        if code in (401, 403):
            # 401: the token was revoked; 403: the bot was removed from (or never admitted to) the chat.
            return AuthError(what, status=status, platform_message=description)
        if code == 400 or (200 <= status < 300):
            return PermanentError(what, status=status, platform_message=description)
        return classify_status(response, description, now=self.clock())

    def fake_response(self, request: httpx.Request, part: Part | None) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            bot = {"id": 0, "is_bot": True, "first_name": PLACEHOLDER, "username": f"{PLACEHOLDER}-bot"}
            return fake_json(request, {"ok": True, "result": bot})
        chat_setting = self.setting("chat_id")
        chat: dict[str, Any] = {"id": f"{PLACEHOLDER}-chat", "type": "channel"}
        if chat_setting.startswith("@"):
            chat["username"] = chat_setting[1:]
        index = part.index if part else 0
        message = {"message_id": f"{PLACEHOLDER}-message-{index + 1}", "date": 0, "chat": chat}
        if request.url.path.endswith("/sendMediaGroup"):
            return fake_json(request, {"ok": True, "result": [message]})
        return fake_json(request, {"ok": True, "result": message})


def _int_id(remote_id: str) -> int | str:
    """Telegram message ids are integers; a dry run's placeholder id is passed through as text."""
    return int(remote_id) if _NUMERIC.match(remote_id) else remote_id


def _is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"))


def _is_false(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"))
