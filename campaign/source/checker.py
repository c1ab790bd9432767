"""Checking a campaign file's values: small helpers that raise one ConfigError naming ``file:line``.

Shared by the campaign file's loaders (:mod:`campaign.source.config`, :mod:`campaign.source.accounts`,
:mod:`campaign.source.media_config`): durations, zones, names, strings, booleans and hashtags, each refused
with the file and line it came from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from campaign.errors import ConfigError
from campaign.source.yamlfile import Node

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


_DURATION = re.compile(r"^\s*([0-9]+)\s*(s|m|h|d|w)\s*$")


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: How alike a word and a known name must be (difflib's ratio) to be named as the typo it surely is.
_CLOSE = 0.7
#: Longer words are not compared (difflib is quadratic in the length; no name we know is this long).
_CLOSE_LONGEST = 64


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """``": did you mean 'NAME'?"`` for the one name in ``names`` closest to ``word`` (a typo: ``zonee`` ->
    ``zone``, ``mastodn`` -> ``mastodon``), else ``""`` (nothing is close enough)."""
    if not isinstance(word, str) or len(word) > _CLOSE_LONGEST:
        return ""
    close = difflib.get_close_matches(word, [n for n in names if n != word], n=1, cutoff=_CLOSE)
    return f": did you mean {close[0]!r}?" if close else ""


class Checker:
    """Small helpers that raise ConfigError with file and line."""

    def __init__(self, display: str) -> None:
        self.display = display

    def fail(self, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, file=self.display, line=line)

    def mapping(self, value: Any, what: str, line: int) -> Node:
        if not isinstance(value, Node):
            raise self.fail(f"{what} must be a mapping", line)
        return value

    def keys(self, node: Node, allowed: set[str] | Mapping[str, str], what: str) -> None:
        for key in node:
            if key not in allowed:
                raise self.fail(
                    f"unknown key {key!r} in {what}{did_you_mean(key, allowed)} "
                    f"(expected one of: {', '.join(sorted(allowed))})",
                    node.line_of(key),
                )

    def string(self, node: Node, key: str, what: str, *, required: bool = False) -> str | None:
        if key not in node or node[key] is None:
            if required:
                raise self.fail(f"{what} needs {key!r}{did_you_mean(key, node)}", node.line)
            return None
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"{key!r} in {what} must be a string", node.line_of(key))
        return str(value)

    def link(self, node: Node, key: str, what: str) -> str | None:
        """``key`` of ``node``: a web address (:func:`is_web_address`), the link a post features."""
        value = self.string(node, key, what)
        if value is not None and not is_web_address(value):
            shown = value if len(value) <= 60 else value[:60] + "..."
            raise self.fail(
                f"{key!r} in {what} must be a URL (http or https) such as https://example.org, not {shown!r}",
                node.line_of(key),
            )
        return value

    def boolean(self, node: Node, key: str, what: str) -> bool | None:
        if key not in node or node[key] is None:
            return None
        if not isinstance(node[key], bool):
            raise self.fail(f"{key!r} in {what} must be true or false", node.line_of(key))
        return bool(node[key])

    def strings(self, node: Node, key: str, what: str) -> tuple[str, ...] | None:
        if key not in node or node[key] is None:
            return None
        value = node[key]
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(f"{key!r} in {what} must be a list of strings", node.line_of(key))
        return tuple(str(v) for v in value)

    def variables(self, node: Node, what: str) -> dict[str, Any]:
        """``vars:`` of ``node``: a mapping of names (absent or empty: no variables)."""
        value = node.get("vars") or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise self.fail(f"'vars' of {what} must be a mapping of names to values", node.line_of("vars"))
        return dict(value)

    def hashtags(self, node: Node, key: str, what: str) -> tuple[str, ...] | None:
        tags = self.strings(node, key, what)
        if tags is None:
            return None
        out = []
        for tag in tags:
            bare = tag.lstrip("#＃")
            if not bare or any(ch.isspace() for ch in bare):
                raise self.fail(f"invalid hashtag {tag!r} in {what}", node.line_of(key))
            out.append("#" + bare)
        return tuple(out)


def is_web_address(text: str) -> bool:
    """Whether ``text`` is an ``http(s)://host...`` URL. A post's link gets UTM tags and makes link cards
    only as one; ``www.example.org``, ``12`` or ``javascript:...`` would lose the tags silently and fail only
    at the platform."""
    from urllib.parse import urlsplit

    if any(ch.isspace() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # an unclosed IPv6 bracket, a port that is no number
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


#: The longest duration a campaign file may give (late windows, gaps): beyond it is surely a typo.
MAX_DURATION = timedelta(days=100 * 365)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``2d``, ``1w`` or plain seconds, at most :data:`MAX_DURATION`. Raises ValueError."""
    digits = text.strip()
    if digits.isascii() and digits.isdigit():
        number, unit = digits, 1
    else:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"invalid duration {text!r} (use e.g. 30m, 24h, 2d)")
        number, unit = match.group(1), _DURATION_UNITS[match.group(2)]
    if len(number.lstrip("0")) > 12:  # past any bound below, and Python's int() refuses 4,300 digits
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"duration {shown!r} is longer than {MAX_DURATION.days // 365} years")
    seconds = int(number) * unit
    # Checked on the integer: timedelta itself overflows (OverflowError) near 2.7 million years.
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is longer than {MAX_DURATION.days // 365} years")
    return timedelta(seconds=seconds)


def check_zone(check: Checker, zone: str, line: int) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from campaign.schedule.zones import is_iana_zone

    try:
        if not is_iana_zone(zone):  # ZoneInfo also opens 'localtime' (the host's zone) and 'right/...'
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        shown = zone if len(zone) <= 60 else zone[:60] + "..."
        raise check.fail(f"unknown time zone {shown!r} (use an IANA name such as Europe/London)", line) \
            from None
