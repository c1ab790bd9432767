"""Every violation of a platform's media rules, found before anything is queued.

:func:`check_media` looks at one post's prepared items on one channel and returns every
:class:`~campaign.media.model.MediaIssue` (never stops at the first): item count, videos, an animated GIF that
must be alone, images mixed with video, and per file the type, bytes, pixels, aspect ratio, frames, duration
and codecs (:func:`file_issues`), missing or empty alt text (unless the item is decorative), alt text over the
platform's limit as the platform counts it, and a URL-only platform without ``media_base_url``.
"""

from __future__ import annotations

from collections.abc import Sequence

from campaign.media.model import MediaIssue, PreparedMedia
from campaign.media.rules import VIDEO_TYPES, MediaRules, TypeLimits


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _size_issues(media: PreparedMedia, limits: TypeLimits) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    w, h = media.width, media.height
    if limits.max_bytes is not None and media.size > limits.max_bytes:
        found.append(("bytes", f"{_n(media.size)} bytes > {_n(limits.max_bytes)}"))
    if limits.min_bytes is not None and media.size < limits.min_bytes:
        found.append(("bytes", f"{_n(media.size)} bytes < {_n(limits.min_bytes)}"))
    if limits.max_pixels is not None and w * h > limits.max_pixels:
        found.append(("pixels", f"{w}x{h} = {_n(w * h)} pixels > {_n(limits.max_pixels)}"))
    if limits.max_width is not None and w > limits.max_width:
        found.append(("pixels", f"{w} pixels wide > {limits.max_width}"))
    if limits.max_height is not None and h > limits.max_height:
        found.append(("pixels", f"{h} pixels high > {limits.max_height}"))
    if limits.min_width is not None and w < limits.min_width:
        found.append(("pixels", f"{w} pixels wide < {limits.min_width}"))
    if limits.min_height is not None and h < limits.min_height:
        found.append(("pixels", f"{h} pixels high < {limits.min_height}"))
    if limits.max_dimension_sum is not None and w + h > limits.max_dimension_sum:
        found.append(("pixels", f"width + height = {_n(w + h)} > {_n(limits.max_dimension_sum)}"))
    if w and h:
        aspect = w / h
        if limits.min_aspect is not None and aspect < limits.min_aspect * (1 - 1e-9):
            found.append(("aspect", f"aspect ratio {w}:{h} is narrower than {_ratio(limits.min_aspect)}"))
        if limits.max_aspect is not None and aspect > limits.max_aspect * (1 + 1e-9):
            found.append(("aspect", f"aspect ratio {w}:{h} is wider than {_ratio(limits.max_aspect)}"))
    return found


def _ratio(aspect: float) -> str:
    return f"{_n(aspect)}:1" if aspect >= 1 else f"1:{_n(1 / aspect)}"


def file_issues(media: PreparedMedia, rules: MediaRules) -> list[tuple[str, str]]:
    """(rule, message) for each way one file breaks ``rules``, ignoring post-level rules and alt text."""
    if not rules.accepts(media.mime):
        taken = ", ".join(sorted(rules.types)) or "no media"
        return [("type", f"{media.mime} is not accepted on {rules.platform} (takes {taken})")]
    limits = rules.limits_for(media.mime)
    found = _size_issues(media, limits)
    if media.animated:
        if limits.max_frames is not None and media.frames > limits.max_frames:
            found.append(("frames", f"{media.frames} frames > {limits.max_frames}"))
        if not rules.animated_gif:
            found.append(("animation", f"{rules.platform} shows animated images as stills; use an MP4 video"))
    if media.mime in VIDEO_TYPES:
        seconds = media.duration or 0.0
        if limits.max_seconds is not None and seconds > limits.max_seconds:
            found.append(("duration", f"{_n(seconds)} s long > {_n(limits.max_seconds)} s"))
        if limits.min_seconds is not None and seconds < limits.min_seconds:
            found.append(("duration", f"{_n(seconds)} s long < {_n(limits.min_seconds)} s"))
        if media.video_codec not in rules.video_codecs:
            takes = ", ".join(sorted(rules.video_codecs))
            found.append(
                ("codec", f"video codec {media.video_codec or 'none'} is not accepted (takes {takes})")
            )
        if media.audio_codec is not None and media.audio_codec not in rules.audio_codecs:
            takes = ", ".join(sorted(rules.audio_codecs))
            found.append(("codec", f"audio codec {media.audio_codec} is not accepted (takes {takes})"))
    return found


def alt_issues(media: PreparedMedia, rules: MediaRules) -> list[tuple[str, str]]:
    """(rule, message) for missing alt text (unless decorative) and alt text over the platform's limit."""
    if not media.alt.strip():
        if media.decorative:
            return []
        return [("alt", "alt text is missing: describe the image in alt:, or mark it decorative: true")]
    limit = rules.alt_max(media.mime)
    if limit is None or not rules.alt_supported:
        return []
    length = rules.alt_length(media.alt)
    if length > limit:
        return [("alt-length", f"alt text is {_n(length)} {rules.alt_unit} > {_n(limit)}")]
    return []


def check_media(
    items: Sequence[PreparedMedia],
    rules: MediaRules,
    channel: str,
    post_key: str,
    *,
    media_base_url: str | None = None,
    total: int | None = None,
) -> list[MediaIssue]:
    """Every violation of ``rules`` by the media of post ``post_key`` on ``channel`` (empty: all good).

    ``total`` is how many items the post asks for when some could not be prepared (they still count
    towards the platform's item limit); by default, ``len(items)``.
    """
    issues: list[MediaIssue] = []

    def add(file: str, rule: str, message: str) -> None:
        issues.append(MediaIssue(post_key, channel, file, rule, message))

    count = len(items) if total is None else max(total, len(items))
    if count > rules.max_items:
        add("", "count", f"{count} media items > {rules.max_items} per post")
    if not items:
        return issues
    videos = [m for m in items if m.mime in VIDEO_TYPES]
    if 0 < rules.max_videos < len(videos):
        add("", "count", f"{len(videos)} videos > {rules.max_videos} per post")
    if rules.gif_alone and len(items) > 1 and any(m.animated for m in items):
        add("", "gif-alone", f"an animated image must be the only media item of a post on {channel}")
    if not rules.mix and videos and len(videos) < len(items):
        add("", "mix", f"{channel} does not mix images and video in one post")
    if rules.needs_public_url and not media_base_url:
        add("", "public-url", f"{channel} shows media only from a public URL: set media_base_url")
    for media in items:
        for rule, message in file_issues(media, rules) + alt_issues(media, rules):
            add(media.source, rule, message)
    return issues
