"""The HTML campaign preview: one self-contained page (no server, no network) built from the preview document.

:func:`to_html` renders the document of :func:`campaign.plan.preview.build` (its JSON schema is in that
module)
into a single HTML file that CI can publish as an artifact: a day-by-channel calendar, a timeline of cards
that look like each platform's post, filters by channel and day (plain JavaScript), and a summary. Styles and
script are inlined from ``campaign/assets/``; a Content-Security-Policy with the hashes of exactly those two
blocks forbids every other script, style and network fetch, so the page works offline and an injected
``<script>`` could not run even if escaping failed (it does not: the template autoescapes everything).

Two optional per-post fields extend the document (schema 1 stays compatible; consumers ignore them):

* ``handle``: the account's public handle for display (``"@hkstp.bsky.social"``), or absent/null; the card
  then shows the account name. :func:`display_handle` derives it from an account's settings.
* ``queue``: ``{"status", "remote_url", "id"}`` when the campaign is already queued (``--db``), ``null``
  for a post that is not in the queue; absent when the queue was not consulted. Filled by
  :func:`attach_queue_state`.

A campaign in several languages (``campaign.languages``) shows the languages of one post side by side: the
cards of one (post, occurrence, channel) on a day share a row, one column per language in the campaign's
order, each card marked with its language (and its text with ``lang=``, so the browser picks CJK fonts).

Highlighting shows where each platform would turn text into links, hashtags and mentions, using
:func:`campaign.text.facets.link_spans` (Bluesky's facets, X's twitter-text entities, Mastodon's entities;
other
channels: http(s) URLs only).

Importing this module is cheap; Jinja2 is imported and the template compiled on the first render only.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign.plan.preview import display_handle

__all__ = [
    "QueueRow", "Segment", "attach_queue_state", "display_handle", "highlight", "safe_href", "to_html",
]

#: How each channel is named on the page (third-party channels show their own name).
PLATFORM_NAMES = {
    "x": "X",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "threads": "Threads",
    "telegram": "Telegram",
    "slack": "Slack",
    "discord": "Discord",
    "teams": "Microsoft Teams",
    "webhook": "Webhook",
}


class QueueRow(Protocol):
    """What :func:`attach_queue_state` reads from a queued post (``campaign.queue.store.QueuedPost`` has
    it)."""

    @property
    def id(self) -> int: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def remote_url(self) -> str | None: ...


def attach_queue_state(doc: dict[str, Any], rows: Iterable[QueueRow]) -> int:
    """Set each post's ``queue`` field from the queue ``rows`` of its campaign; return how many matched.

    Posts and rows are matched by idempotency key (derived from the post's identity, so it survives edits of
    text and time). A post with no row gets ``queue: null`` ("not queued"). Mutates ``doc`` in place.
    """
    by_key = {row.idempotency_key: row for row in rows}
    matched = 0
    for post in doc["posts"]:
        row = by_key.get(post["idempotency_key"])
        if row is None:
            post["queue"] = None
            continue
        matched += 1
        post["queue"] = {"status": str(row.status), "remote_url": row.remote_url, "id": row.id}
    return matched


# ----------------------------------------------------------------------------------------------------------
# Highlighting
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A run of a post's text: plain (``kind`` None), or what the platform makes a link, tag or mention.

    ``href`` is set only for links, and only to an http(s) URL (the page never links anything else).
    """

    text: str
    kind: str | None = None
    href: str | None = None


def _nfc_to_original(text: str, norm: str) -> list[int]:
    """For each index ``n`` of ``norm = NFC(text)`` (and its end), the matching index in ``text``.

    That is the last original index ``i`` whose prefix normalises to at most ``n`` characters, so a span of
    the normalised text maps onto whole characters as written, combining marks included. Only texts that
    are not already NFC take this path (quadratic, but posts are short).
    """
    prefix = [len(unicodedata.normalize("NFC", text[:i])) for i in range(len(text) + 1)]
    return [max(i for i, length in enumerate(prefix) if length <= n) for n in range(len(norm) + 1)]


def _spans(text: str, channel: str) -> list[tuple[int, int, str]]:
    """Code-point spans of ``text`` (start, end, kind) that ``channel`` would link, in order, disjoint."""
    from campaign.text.facets import link_spans

    if channel != "x":
        return [(s.start, s.end, str(s.kind)) for s in link_spans(text, channel)]
    # X finds its entities on the NFC form of the text (twitter-text parseTweet normalises first), so all
    # of its spans are computed there and mapped back onto the text as written.
    norm = unicodedata.normalize("NFC", text)
    spans = [(s.start, s.end, str(s.kind)) for s in link_spans(norm, channel)]
    if norm == text:
        return spans
    back = _nfc_to_original(text, norm)
    return [(back[s], back[e], kind) for s, e, kind in spans]


def _href(url: str) -> str | None:
    """An http(s) URL to link ``url`` to (a bare domain gets https://, as Bluesky does), or None."""
    return safe_href(url if "://" in url else f"https://{url}")


def highlight(text: str, channel: str) -> list[Segment]:
    """``text`` cut into segments, marking what ``channel`` would make links, hashtags and mentions.

    The segments' texts joined are exactly ``text``.
    """
    segments: list[Segment] = []
    pos = 0
    for start, end, kind in _spans(text, channel):
        if start < pos or end <= start:
            continue  # defensive: spans are disjoint and ordered; a bad one is shown as plain text
        if start > pos:
            segments.append(Segment(text[pos:start]))
        piece = text[start:end]
        segments.append(Segment(piece, kind, _href(piece) if kind == "link" else None))
        pos = end
    if pos < len(text):
        segments.append(Segment(text[pos:]))
    return segments


# ----------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------


def _zone(name: str | None) -> Any:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(iso: str, zone: str) -> dict[str, str]:
    moment = datetime.fromisoformat(iso).astimezone(_zone(zone))
    return {
        "iso": iso,
        "time": f"{moment:%H:%M}",
        "date": f"{moment:%Y-%m-%d}",
        "day": f"{moment:%a %d %b}",
        "abbr": moment.tzname() or zone,
        "zone": zone,
    }


def safe_href(url: object) -> str | None:
    """``url`` itself when a browser would open it as an http(s) link, else None.

    The scheme is read as a browser reads it (leading blanks and control characters dropped, tabs and new
    lines inside ignored, any letter case), so ``javascript:``, ``data:``, ``vbscript:`` and every disguise
    of them, relative URLs, a URL :func:`~urllib.parse.urlsplit` cannot parse (``https://[x``, as a
    platform may answer) and anything that is not text are never links. The caller still escapes it.
    """
    if not isinstance(url, str) or not url:
        return None
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme.lower() in ("http", "https") else None


def _host(url: str) -> str | None:
    """The host name of ``url`` for display, or None (also when it cannot be parsed)."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _card(post: Mapping[str, Any], campaign_zone: str) -> dict[str, Any]:
    channel = post["channel"]
    at = _when(post["campaign_time"], campaign_zone)
    local = _when(post["local_time"], post["zone"])
    # The audience's time is worth showing when it reads differently from the campaign's.
    reads = ("time", "date", "abbr")
    audience = local if any(local[k] != at[k] for k in reads) else None
    lengths = post.get("lengths") or [post.get("length", 0)]
    parts = []
    for index, text in enumerate(post["parts"]):
        length = lengths[index] if index < len(lengths) else 0
        parts.append({
            "segments": highlight(text, channel),
            "length": length,
            "over": bool(post["limit"]) and length > post["limit"],
            "link": post.get("link") if index == 0 else None,  # adapters attach the card to the first part
            "media": [_figure(m) for m in post.get("media") or ()] if index == 0 else [],
            "link_image": _figure(post["link_image"]) if index == 0 and post.get("link_image") else None,
        })
    link = post.get("link")
    queue = post.get("queue")
    return {
        "id": post["id"],
        "post": post["post"],
        "language": post.get("language"),
        "occurrence": post.get("occurrence"),
        "channel": channel,
        "platform": PLATFORM_NAMES.get(channel, channel),
        "account": post["account"],
        "handle": post.get("handle") or None,
        "initial": (post["account"][:1] or "?").upper(),
        "at": at,
        "audience": audience,
        "parts": parts,
        "limit": post["limit"],
        "unit": post["unit"],
        "warnings": post["warnings"],
        "link_host": _host(link["url"]) if link else None,
        "link_href": safe_href(link["url"]) if link else None,
        "queued": "queue" in post,
        "queue": None if not queue else {
            "status": queue["status"], "id": queue.get("id"), "remote_url": queue.get("remote_url"),
            "href": safe_href(queue.get("remote_url")),
        },
    }


@cache
def _thumbnail(path: str, sha256: str, mime: str) -> str | None:
    """A data-URL thumbnail of a prepared file (None for video, or when the file is gone)."""
    from pathlib import Path

    from campaign.media.model import PreparedMedia
    from campaign.media.preview import thumbnail_data_url

    media = PreparedMedia(sha256=sha256, mime=mime, size=0, width=0, height=0, path=Path(path), source="")
    try:
        return thumbnail_data_url(media)
    except OSError:
        return None


def _figure(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A card's view of one prepared file: an inline thumbnail (the page stays one file) and its alt text."""
    return {
        "src": _thumbnail(entry["path"], entry["sha256"], entry["mime"]),
        "alt": entry["alt"],
        "decorative": entry["decorative"],
        "file": entry["file"],
        "facts": f"{entry['mime']}, {entry['width']}x{entry['height']}, {entry['size']:,} bytes",
    }


def _summary(cards: list[dict[str, Any]], errors: list[Any]) -> dict[str, Any]:
    channels = sorted({c["channel"] for c in cards})
    days: dict[str, str] = {}
    for card in cards:
        days.setdefault(card["at"]["date"], card["at"]["day"])
    grid = Counter((c["at"]["date"], c["channel"]) for c in cards)
    per_channel = []
    for channel in channels:
        mine = [c for c in cards if c["channel"] == channel]
        per_channel.append({
            "channel": channel,
            "platform": PLATFORM_NAMES.get(channel, channel),
            "posts": len(mine),
            "warnings": sum(len(c["warnings"]) for c in mine),
            "over": sum(1 for c in mine for p in c["parts"] if p["over"]),
            "longest": max((p["length"] for c in mine for p in c["parts"]), default=0),
            "limit": mine[0]["limit"],
            "unit": mine[0]["unit"],
        })
    per_day = [
        {"date": date, "label": label, "posts": sum(grid[date, ch] for ch in channels),
         "by_channel": [grid[date, ch] for ch in channels]}
        for date, label in sorted(days.items())
    ]
    statuses = Counter(c["queue"]["status"] if c["queue"] else "not queued" for c in cards if c["queued"])
    return {
        "posts": len(cards),
        "channels": per_channel,
        "days": per_day,
        "warnings": sum(len(c["warnings"]) for c in cards),
        "errors": len(errors),
        "queue": sorted(statuses.items()),
    }


def _asset(name: str) -> str:
    return resources.files("campaign.plan").joinpath("assets", name).read_text(encoding="utf-8")


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def _template() -> Any:
    """The compiled page template (Jinja2 is imported here, on the first render only)."""
    import jinja2
    from markupsafe import Markup  # Jinja2's own dependency

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _asset(name)),
        autoescape=True,  # every value is escaped; the only Markup is our own CSS and JS below
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css, js = _asset("preview.css"), _asset("preview.js")
    env.globals.update(
        css=Markup(css),
        js=Markup(js),
        csp=f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; img-src data:; "
        "base-uri 'none'; form-action 'none'",
    )
    return env.get_template("preview.html.j2")


def _rows(cards: list[dict[str, Any]], languages: list[str]) -> list[list[dict[str, Any]]]:
    """The day's cards in rows: one card per row, except that in a campaign with ``languages`` the cards of
    one (post, occurrence, channel) share a row, in the campaign's language order (a row sits where its
    first card is in time)."""
    if not languages:
        return [[card] for card in cards]
    order = {tag: i for i, tag in enumerate(languages)}
    rows: dict[tuple[str, Any, str], list[dict[str, Any]]] = {}
    for card in cards:
        rows.setdefault((card["post"], card["occurrence"], card["channel"]), []).append(card)
    for row in rows.values():
        row.sort(key=lambda c: (order.get(c["language"], -1), c["account"]))
    return list(rows.values())


def to_html(doc: Mapping[str, Any]) -> str:
    """The whole page for a preview document (see the module docstring); pure, no network."""
    from campaign import __version__

    camp = doc.get("campaign") or {}
    zone = camp.get("zone") or "UTC"
    cards = [_card(post, zone) for post in doc["posts"]]
    days: dict[str, dict[str, Any]] = {}
    for card in cards:
        day = days.setdefault(card["at"]["date"], {"date": card["at"]["date"], "label": card["at"]["day"],
                                                   "cards": []})
        day["cards"].append(card)
    languages = list(camp.get("languages") or ())
    for day in days.values():
        day["cards"].sort(key=lambda c: c["at"]["iso"])
        day["rows"] = _rows(day["cards"], languages)
    for index, card in enumerate(c for d in days.values() for row in d["rows"] for c in row):
        card["index"] = index + 1
    page: str = _template().render(
        campaign={"name": camp.get("name") or "campaign", "file": camp.get("file"), "zone": zone,
                  "start": _when(camp["start"], zone) if camp.get("start") else None},
        days=[days[d] for d in sorted(days)],
        summary=_summary(cards, doc.get("errors", [])),
        errors=[e["message"] for e in doc.get("errors", [])],
        version=__version__,
    )
    return page
