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
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from campaign.logs import printable

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


def visible(text: str) -> str:
    """``text`` with every control character (but new line and tab) and bidirectional override shown as its
    escape (``\\x1b``, ``\\u202e``), for terminals and logs: a post's text may hold them, and a terminal or a
    CI log would obey them (``ESC ] 8`` draws a link to anywhere, ``ESC [ 2 J`` clears the screen, U+202E
    shows text reversed)."""
    return printable(text, lines=True)


def _summary(doc: dict[str, Any]) -> str:
    warnings = sum(len(p["warnings"]) for p in doc["posts"])
    return f"{len(doc['posts'])} posts, {warnings} warnings, {len(doc['errors'])} errors"


#: The preview's budget in characters: under GitHub's comment limit (65,536, a longer comment is refused),
#: leaving room for what CI adds around it.
MARKDOWN_LIMIT = 60_000


def to_markdown(doc: dict[str, Any], limit: int = MARKDOWN_LIMIT) -> str:
    """A CI job summary / pull-request comment: a summary table, then each post in a collapsible block.

    Safe for hostile campaigns (:mod:`campaign.plan.markdown`): every post part and request is a fenced code
    block shown verbatim, every other text is escaped for where it lands, so nothing from a campaign file can
    add markup, HTML, a link, an image or a mention. At most ``limit`` characters: posts that do not fit are
    left out whole, and a closing line says how many.
    """
    from campaign.plan import markdown as md

    camp = doc["campaign"]
    status = "✅" if not doc["errors"] else "❌"
    head = f"## {status} Campaign preview: {md.code_span(camp['name'] if camp else 'campaign')}"
    blocks = [f"{head}\n\n{_summary(doc)}\n"]
    errors = [f"- {md.inline(e['message'], 1_000)}" for e in doc["errors"]]
    if errors:
        errors[0] = "### Errors\n" + errors[0]
        errors[-1] += "\n"
    blocks += errors
    per_channel = Counter(p["channel"] for p in doc["posts"])
    if per_channel:
        table = ["| channel | posts | longest | limit | warnings |", "|---|---:|---:|---:|---:|"]
        for channel in sorted(per_channel):
            items = [p for p in doc["posts"] if p["channel"] == channel]
            table.append(
                f"| {md.inline(channel)} | {per_channel[channel]} | {max(p['length'] for p in items)} | "
                f"{items[0]['limit']} | {sum(len(p['warnings']) for p in items)} |"
            )
        blocks.append("\n".join(table) + "\n")
    blocks += [_markdown_post(post) for post in doc["posts"]]

    def dropped(count: int) -> str:
        return (
            f"\n**Cut to fit a comment**: the last {count} block{'s' if count > 1 else ''} (posts, errors) "
            f"of this preview {'are' if count > 1 else 'is'} not shown; `--format json` or `--format html` "
            "shows them all.\n"
        )

    return visible(md.fit(blocks, limit, dropped))


def _markdown_post(post: Mapping[str, Any]) -> str:
    """One post of the Markdown view: a ``<details>`` block, each part and request a fenced code block."""
    from campaign.plan import markdown as md

    local = datetime.fromisoformat(post["local_time"])
    flag = " ⚠️" if post["warnings"] else ""
    out = [
        f"<details><summary>{local:%Y-%m-%d %H:%M} {md.html_text(post['zone'])} · "
        f"<b>{md.html_text(post['channel'])}</b> {md.html_text(post['account'])} · "
        f"{md.html_text(post['post'] + _language_tag(post))} · "
        f"{post['length']}/{post['limit']}{flag}</summary>",
        "",
    ]
    for index, part in enumerate(post["parts"]):
        if len(post["parts"]) > 1:
            out.append(f"Part {index + 1}/{len(post['parts'])}:")
        out.append(md.fence(part, "text"))
    out.extend(f"- 🖼️ {md.inline(line)}" for line in _media_lines(post))
    out.extend(f"- ⚠️ {md.inline(warning)}" for warning in post["warnings"])
    for request in post.get("requests", []):
        lines = [f"{request['method']} {request['url']}"]
        lines += [f"{k}: {v}" for k, v in request["headers"].items()]
        if request["body"] is not None:
            body = request["body"]
            lines += ["", body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)]
        out.append(md.fence("\n".join(lines), "http", 20_000))
    out += ["", "</details>", ""]
    return "\n".join(out)


def _language_tag(post: Mapping[str, Any]) -> str:
    return f" [{post['language']}]" if post.get("language") else ""
