"""The media keys of campaign files: ``media:`` items and ``link_image:`` of posts and overrides, and the
campaign's ``media_base_url`` (issue 14). Errors are ConfigErrors naming ``file:line`` and the post.

Kept apart from :mod:`campaign.source.config` (which calls :func:`with_media` once the rest is loaded) so each
module stays readable; the paths are resolved relative to the campaign file, the files are read by `compile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign.source.yamlfile import Node, NodeList

if TYPE_CHECKING:  # config calls this module lazily; importing it back at run time would be a cycle
    from campaign.source.checker import Checker as _Checker
    from campaign.source.config import Campaign

#: Keys of one ``media:`` item.
MEDIA_KEYS = {
    "file": "image or video file, relative to the campaign file",
    "alt": "alt text (a template; required unless decorative)",
    "decorative": "true when the image carries no information (no alt text needed)",
    "focus": "focal point [x, y], each -1.0 to 1.0 (Mastodon crops around it)",
    "skip": "channels or accounts this item is left out on",
}


@dataclass(frozen=True)
class MediaSpec:
    """One ``media:`` item (or ``link_image:``) as written; ``alt`` is still a template."""

    file: Path
    #: The path as written (messages name it).
    label: str
    alt: str
    decorative: bool
    focus: tuple[float, float] | None
    skip: frozenset[str]
    line: int


def _confined(check: _Checker, base: Path, file: str, line: int | None, project: Path | None) -> Path:
    """A media file inside the campaign's project root (:mod:`campaign.source.paths`: symlinks resolved
    first, no /proc, /sys or /dev, regular files only); a missing one is reported when it is prepared."""
    import os

    from campaign.source.paths import resolve_inside

    path = base / file
    if not os.path.lexists(path) or project is None:
        return path
    return resolve_inside(project, file, "media", campaign_file=check.display, line=line, base=base)


def with_media(check: _Checker, root: Node, campaign: Campaign, base: Path) -> Campaign:
    """``campaign`` with the ``media:``/``link_image:`` of every post and override, and ``media_base_url``.

    A media item needs ``alt:`` text unless it says ``decorative: true`` (an error naming the post and line).
    """
    from dataclasses import replace

    project = campaign.root
    base_url = check.string(root, "media_base_url", "the campaign")
    if base_url is not None and not base_url.startswith("https://"):
        raise check.fail("'media_base_url' must be an https:// URL", root.line_of("media_base_url"))
    posts = []
    for post, body in zip(campaign.posts, root["posts"], strict=True):
        what = f"post {post.key!r}"
        overrides = dict(post.overrides)
        raw_over = body.get("overrides") or Node()
        for target, variant in post.overrides.items():
            obody = raw_over[target]
            if "media" in obody or "link_image" in obody:
                owhat = f"{what} (override {target!r})"
                overrides[target] = replace(
                    variant,
                    media=_media_list(check, obody, owhat, base, project) if "media" in obody else None,
                    link_image=_link_image(check, obody, owhat, base, project),
                )
        posts.append(
            replace(
                post,
                media=_media_list(check, body, what, base, project),
                link_image=_link_image(check, body, what, base, project),
                overrides=overrides,
            )
        )
    return replace(campaign, posts=tuple(posts), media_base_url=base_url)


def _media_list(
    check: _Checker, body: Node, what: str, base: Path, project: Path | None
) -> tuple[MediaSpec, ...]:
    raw = body.get("media")
    if raw is None:
        return ()
    if not isinstance(raw, NodeList):
        raise check.fail(
            f"'media' of {what} must be a list of items with file: and alt:", body.line_of("media")
        )
    return tuple(_media_item(check, item, raw.line_of(i), what, base, project) for i, item in enumerate(raw))


def _link_image(check: _Checker, body: Node, what: str, base: Path, project: Path | None) -> MediaSpec | None:
    file = check.string(body, "link_image", what)
    if file is None:
        return None
    # A link card's thumbnail repeats the card's title: it is decorative by nature.
    line = body.line_of("link_image")
    return MediaSpec(_confined(check, base, file, line, project), file, "", True, None, frozenset(), line)


def _media_item(
    check: _Checker, raw: Any, line: int, what: str, base: Path, project: Path | None
) -> MediaSpec:
    item = check.mapping(raw, f"each media item of {what}", line)
    check.keys(item, MEDIA_KEYS, f"a media item of {what}")
    file = check.string(item, "file", f"a media item of {what}", required=True)
    assert file is not None
    alt = check.string(item, "alt", f"media {file!r} of {what}") or ""
    decorative = bool(check.boolean(item, "decorative", f"media {file!r} of {what}"))
    if not alt.strip() and not decorative:
        raise check.fail(
            f"{what}: media {file!r} needs alt: text describing it (or decorative: true)", item.line
        )
    focus = item.get("focus")
    if focus is not None:
        if (
            not isinstance(focus, list)
            or len(focus) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and -1 <= v <= 1 for v in focus)
        ):
            raise check.fail(
                f"'focus' of media {file!r} of {what} must be [x, y], each -1.0 to 1.0", item.line_of("focus")
            )
        focus = (float(focus[0]), float(focus[1]))
    skip = check.strings(item, "skip", f"media {file!r} of {what}") or ()
    path = _confined(check, base, file, item.line, project)
    return MediaSpec(path, file, alt, decorative, focus, frozenset(skip), item.line)
