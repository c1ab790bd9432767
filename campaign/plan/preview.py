"""The dry-run preview: every post exactly as it would be published, and optionally the exact HTTP requests.

JSON schema (stable; ``schema`` is bumped on any incompatible change)::

    {
      "schema": 1,
      "campaign": {"name", "file", "zone", "start" (ISO, campaign zone), "posts": N, "channels": [...],
                   "languages": [...] (``languages:``, the default first; [] for one language)},
      "posts": [{
          "id": "launch/hkstp_x" (post key, :language when not the default, @occurrence when recurring,
                /account),
          "post" (the key as written), "language" (BCP 47, or null without ``languages:``),
          "occurrence", "channel", "account", "handle" (public handle for display, or null),
          "scheduled_at": "2027-01-18T01:00:00Z" (UTC), "local_time": "2027-01-18T09:00:00+08:00" (post zone),
          "zone", "campaign_time" (campaign zone),
          "text" (parts joined by blank lines), "parts": [...], "length" (longest part), "lengths": [...],
          "limit", "unit", "warnings": [...], "link": {"url","title","description"} | null,
          "idempotency_key",
          "media": [{"file", "mime", "size", "sha256", "width", "height", "duration", "alt", "decorative",
                     "path", "notes"}] (prepared for this channel; first part),
          "link_image": the same shape | null (the link card's thumbnail, where the platform takes one),
          "requests": [{"method","url","headers","body"}] (only with --requests; secrets redacted),
          "queue": {"status", "remote_url", "id"} | null (only with --db: the post's state in the queue)
      }],
      "errors": [{"message"}]
    }
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from campaign.media.model import PreparedMedia
    from campaign.plan.compile import Compiled
    from campaign.plan.posts import PlannedPost

SCHEMA = 1


def _iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post_id(post: PlannedPost) -> str:
    return f"{post.post_key}{'@' + post.occurrence if post.occurrence else ''}/{post.account}"


def build(compiled: Compiled, *, requests: bool = False) -> dict[str, Any]:
    """The preview document (see the module docstring)."""
    campaign = compiled.campaign
    campaign_zone = ZoneInfo(campaign.zone) if campaign else UTC
    posts = []
    recorder = _Recorder(compiled) if requests else None
    for post in compiled.posts:
        item = _post_item(post, campaign, campaign_zone)
        if recorder is not None:
            try:
                item["requests"] = recorder.requests_for(post)
            except Exception as exc:  # a campaign error while building requests is reported, not raised
                from campaign.errors import CampaignError

                if not isinstance(exc, CampaignError):
                    raise
                compiled.errors.append(exc)
                item["requests"] = []
        posts.append(item)
    return {
        "schema": SCHEMA,
        "campaign": None
        if campaign is None
        else {
            "name": campaign.name,
            "file": campaign.display,
            "zone": campaign.zone,
            "start": compiled.start.isoformat() if compiled.start else None,
            "posts": len(posts),
            "channels": sorted({p.channel for p in compiled.posts}),
            "languages": list(campaign.languages),
        },
        "posts": posts,
        "errors": [{"message": str(e)} for e in compiled.errors],
    }


def _post_item(post: PlannedPost, campaign: Any, campaign_zone: Any) -> dict[str, Any]:
    """One post of the preview document, without its requests."""
    local = post.scheduled_at.astimezone(ZoneInfo(post.zone))
    item: dict[str, Any] = {
        "id": post_id(post),
        "post": post.base_key,
        "language": post.language,
        "occurrence": post.occurrence or None,
        "channel": post.channel,
        "account": post.account,
        "handle": None
        if campaign is None
        else display_handle(post.channel, campaign.accounts[post.account].settings),
        "scheduled_at": _iso_utc(post.scheduled_at),
        "local_time": local.isoformat(),
        "zone": post.zone,
        "campaign_time": post.scheduled_at.astimezone(campaign_zone).isoformat(),
        "text": post.text,
        "parts": list(post.parts),
        "length": max(post.lengths) if post.lengths else 0,
        "lengths": list(post.lengths),
        "limit": post.limit,
        "unit": _unit(post.channel),
        "warnings": list(post.warnings),
        "link": None
        if post.link is None
        else {"url": post.link.url, "title": post.link.title, "description": post.link.description},
        "idempotency_key": post.idempotency_key,
        "media": [media_entry(m) for m in post.media],
        "link_image": media_entry(post.link_image) if post.link_image else None,
    }
    return item


def media_entry(media: PreparedMedia) -> dict[str, Any]:
    """One prepared file as the preview shows it (``path``: where the media store keeps it)."""
    return {
        "file": media.source,
        "mime": media.mime,
        "size": media.size,
        "sha256": media.sha256,
        "width": media.width,
        "height": media.height,
        "duration": media.duration,
        "alt": media.alt,
        "decorative": media.decorative,
        "path": str(media.path),
        "notes": list(media.notes),
    }


def media_line(entry: Mapping[str, Any]) -> str:
    """One line naming a prepared file: name, type, pixels, bytes, hash and alt text."""
    alt = "decorative" if entry["decorative"] and not entry["alt"] else f"alt: {entry['alt']}"
    return (
        f"{entry['file']} ({entry['mime']}, {entry['width']}x{entry['height']}, {entry['size']:,} bytes, "
        f"sha256 {entry['sha256'][:16]}…) {alt}"
    )


def _media_lines(post: Mapping[str, Any]) -> list[str]:
    lines = [f"media {media_line(entry)}" for entry in post.get("media", [])]
    if post.get("link_image"):
        lines.append(f"link image {media_line(post['link_image'])}")
    return lines


def display_handle(channel: str, settings: Mapping[str, Any]) -> str | None:
    """The public handle an account's settings imply, for display (None when they do not name one).

    An explicit ``handle`` setting wins on any channel; otherwise X ``username``, Bluesky ``handle``,
    Mastodon ``username`` on ``instance``, Threads ``username`` and a Telegram ``@channel`` chat id.
    """
    handle = settings.get("handle")
    if isinstance(handle, str) and handle:
        return handle if handle.startswith("@") else f"@{handle}"
    username = settings.get("username")
    if channel == "mastodon" and isinstance(username, str) and username:
        host = urlsplit(str(settings.get("instance", ""))).hostname
        return f"@{username.lstrip('@')}@{host}" if host else f"@{username.lstrip('@')}"
    if channel in ("x", "threads") and isinstance(username, str) and username:
        return f"@{username.lstrip('@')}"
    if channel == "telegram":
        for key in ("chat_username", "chat_id"):
            value = settings.get(key)
            if isinstance(value, str) and value.startswith("@"):
                return value
            if key == "chat_username" and isinstance(value, str) and value:
                return f"@{value}"
    return None


def _unit(channel: str) -> str:
    from campaign import channels

    return channels.load(channel).rules.unit


class _Recorder:
    """Runs each post's exchange through the dry-run recorder with placeholder credentials."""

    def __init__(self, compiled: Compiled) -> None:
        assert compiled.campaign is not None
        self.campaign = compiled.campaign
        self.adapters: dict[str, Any] = {}

    def requests_for(self, post: PlannedPost) -> list[dict[str, Any]]:
        from campaign import channels
        from campaign.http.exchange import Recording, describe_request, run_dry
        from campaign.plan.posts import part_for

        adapter = self.adapters.get(post.account)
        if adapter is None:
            account = self.campaign.accounts[post.account].to_account(placeholder=True)
            adapter = self.adapters[post.account] = channels.load(post.channel)(account)
        recording = Recording()
        receipts: list[Any] = []
        for index in range(len(post.parts)):
            part = part_for(post, index, receipts)
            receipts.append(run_dry(adapter.publish(part), adapter, part, recording))
        secrets = adapter.account.credentials.known_values()
        return [describe_request(r, secrets) for r in recording.requests]


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)


def by_post(doc: Mapping[str, Any]) -> list[tuple[tuple[str, str | None], list[dict[str, Any]]]]:
    """The document's posts grouped by (post key as written, occurrence), groups in time order of their first
    post, and inside a group by channel, then language (in the campaign's order), then account: the
    languages of one post side by side."""
    camp = doc.get("campaign") or {}
    order = {tag: i for i, tag in enumerate(camp.get("languages") or ())}
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for post in doc["posts"]:
        groups.setdefault((post["post"], post.get("occurrence")), []).append(post)
    for items in groups.values():
        items.sort(key=lambda p: (p["channel"], order.get(p.get("language"), -1), p["account"]))
    return list(groups.items())


def to_text(doc: dict[str, Any]) -> str:
    """A terminal view: one block per post, parts numbered, lengths against limits, warnings. A campaign in
    several languages is grouped per post, each post's languages one after the other (:func:`by_post`)."""
    lines: list[str] = []
    camp = doc["campaign"]
    if camp:
        langs = f" in {', '.join(camp['languages'])}" if camp.get("languages") else ""
        lines.append(
            f"Campaign {camp['name']} ({camp['file']}), zone {camp['zone']}, start {camp['start']}: "
            f"{camp['posts']} posts on {', '.join(camp['channels'])}{langs}"
        )
        lines.append("")
    if camp and camp.get("languages"):
        for (key, occurrence), items in by_post(doc):
            order = {tag: i for i, tag in enumerate(camp["languages"])}
            present = sorted({p["language"] for p in items}, key=lambda tag: order.get(tag, -1))
            lines.append(f"== {key}" + (f" @{occurrence}" if occurrence else "") + f" ({', '.join(present)})")
            lines.append("")
            for post in items:
                _text_block(post, lines)
    else:
        for post in doc["posts"]:
            _text_block(post, lines)
    for error in doc["errors"]:
        lines.append(f"error: {error['message']}")
    lines.append(_summary(doc))
    return visible("\n".join(lines))


def _text_block(post: Mapping[str, Any], lines: list[str]) -> None:
    """One post of the terminal view (appended to ``lines``)."""
    local = datetime.fromisoformat(post["local_time"])
    head = (
        f"{local:%a %Y-%m-%d %H:%M} {post['zone']} ({post['scheduled_at']})  "
        f"{post['channel']}/{post['account']}  {post['post']}"
        + _language_tag(post)
        + (f" @{post['occurrence']}" if post["occurrence"] else "")
    )
    lines.append(head)
    count = len(post["parts"])
    for index, (part, length) in enumerate(zip(post["parts"], post["lengths"], strict=True)):
        label = f"  [{index + 1}/{count}] " if count > 1 else "  "
        lines.append(f"{label}{length}/{post['limit']} {post['unit']}")
        lines.extend("    | " + line for line in part.splitlines() or [""])
    lines.extend(f"  + {line}" for line in _media_lines(post))
    for warning in post["warnings"]:
        lines.append(f"  ! {warning}")
    for request in post.get("requests", []):
        lines.append(f"  > {request['method']} {request['url']}")
        for name, value in request["headers"].items():
            lines.append(f"  >   {name}: {value}")
        if request["body"] is not None:
            body = (
                request["body"]
                if isinstance(request["body"], str)
                else json.dumps(request["body"], ensure_ascii=False)
            )
            lines.append(f"  >   {body}")
    lines.append("")


#: Control characters (C0 but newline and tab, DEL, C1): a post's text may hold them, and a terminal or a CI
#: log would obey them (ESC ] 8 draws a link to anywhere, ESC [ 2 J clears the screen).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``), for terminals and logs."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def _summary(doc: dict[str, Any]) -> str:
    warnings = sum(len(p["warnings"]) for p in doc["posts"])
    return f"{len(doc['posts'])} posts, {warnings} warnings, {len(doc['errors'])} errors"


def to_markdown(doc: dict[str, Any]) -> str:
    """A CI job summary / pull-request comment: a summary table, then each post in a collapsible block."""
    out: list[str] = []
    camp = doc["campaign"]
    title = camp["name"] if camp else "campaign"
    status = "✅" if not doc["errors"] else "❌"
    out.append(f"## {status} Campaign preview: `{title}`")
    out.append("")
    out.append(_summary(doc))
    out.append("")
    if doc["errors"]:
        out.append("### Errors")
        out.extend(f"- {_md_escape(e['message'])}" for e in doc["errors"])
        out.append("")
    per_channel = Counter(p["channel"] for p in doc["posts"])
    if per_channel:
        out.append("| channel | posts | longest | limit | warnings |")
        out.append("|---|---:|---:|---:|---:|")
        for channel in sorted(per_channel):
            items = [p for p in doc["posts"] if p["channel"] == channel]
            out.append(
                f"| {channel} | {per_channel[channel]} | {max(p['length'] for p in items)} | "
                f"{items[0]['limit']} | {sum(len(p['warnings']) for p in items)} |"
            )
        out.append("")
    for post in doc["posts"]:
        local = datetime.fromisoformat(post["local_time"])
        flag = " ⚠️" if post["warnings"] else ""
        out.append(
            f"<details><summary>{local:%Y-%m-%d %H:%M} {post['zone']} · <b>{post['channel']}</b> "
            f"{post['account']} · {post['post']}{_language_tag(post)} · "
            f"{post['length']}/{post['limit']}{flag}</summary>"
        )
        out.append("")
        for index, part in enumerate(post["parts"]):
            if len(post["parts"]) > 1:
                out.append(f"Part {index + 1}/{len(post['parts'])}:")
            out.append("```text")
            out.append(part.replace("```", "`\u200b``"))
            out.append("```")
        out.extend(f"- 🖼️ {_md_escape(line)}" for line in _media_lines(post))
        for warning in post["warnings"]:
            out.append(f"- ⚠️ {_md_escape(warning)}")
        for request in post.get("requests", []):
            out.append("```http")
            out.append(f"{request['method']} {request['url']}")
            out.extend(f"{k}: {v}" for k, v in request["headers"].items())
            if request["body"] is not None:
                out.append("")
                out.append(
                    request["body"]
                    if isinstance(request["body"], str)
                    else json.dumps(request["body"], ensure_ascii=False, indent=2)
                )
            out.append("```")
        out.append("")
        out.append("</details>")
        out.append("")
    return visible("\n".join(out))


def _language_tag(post: Mapping[str, Any]) -> str:
    return f" [{post['language']}]" if post.get("language") else ""


def _md_escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")
