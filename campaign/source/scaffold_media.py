"""`campaign init`: the images a Markdown release references (``![alt](file)``) as the launch post's media.

:func:`launch_media` turns ``release.images`` into the campaign file's ``media:`` lines, with the release's
alt text (an empty alt makes the item ``decorative: true``), so the derived campaign carries the release's
photos and passes ``campaign check``:

* Only local files are taken, written relative to the release and staying inside the release's folder (a
  release must not pull in files from elsewhere on the machine); each must be a regular file that reads as
  JPEG, PNG, WebP or GIF. Anything else (a URL, a missing file, another type) is a warning naming the image,
  never a crash, and the image is left out.
* Every file a campaign names must be inside the project (:mod:`campaign.source.paths`): an image already
  inside it is named where it is; one from a release outside the project is copied to ``media/`` in the
  project (its path below the release's folder kept), like the release itself is copied to ``releases/``.
* A post carries at most as many images as the strictest channel of the campaign allows (4 on X, Bluesky and
  Mastodon); channels that show media only from a public URL (Threads, Slack, Teams, webhooks) skip the items
  until the operator sets ``media_base_url``; an animated-GIF candidate is skipped where a GIF must be alone,
  and an image a channel refuses even after preparing (an aspect ratio, say) is skipped there, with a warning.

Alt text is a template in a campaign file, so Jinja markup in a release's alt is written inside ``{% raw %}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_REMOTE = ("http:", "https:", "data:", "ftp:", "//", "mailto:")


@dataclass
class LaunchMedia:
    """What :func:`launch_media` found: the ``media:`` lines of the launch post, files it copied, warnings."""

    lines: list[str] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def launch_media(
    release: Any,
    release_file: Path,
    schedule: Path,
    channels: list[str],
    *,
    load: Callable[[str], Any],
    force: bool = False,
    warn: Callable[[str], None] | None = None,
) -> LaunchMedia:
    """The launch post's ``media:`` lines (indented for a post) for the images ``release`` references.

    ``release_file`` is where the release was read (image paths are relative to it), ``schedule`` the campaign
    file to be written, ``channels`` the campaign's channels and ``load`` the adapter class of a channel.
    Each warning is also given to ``warn`` (default: :func:`print_warning`) once all images are looked at.
    """
    found = _launch_media(release, release_file, schedule, channels, load, force)
    for warning in found.warnings:
        (warn or print_warning)(warning)
    return found


def _launch_media(
    release: Any,
    release_file: Path,
    schedule: Path,
    channels: list[str],
    load: Callable[[str], Any],
    force: bool,
) -> LaunchMedia:
    from campaign.source.paths import find_project_root

    found = LaunchMedia()
    project = find_project_root(schedule)
    folder = release_file.resolve().parent
    picked: list[tuple[Path, str, str]] = []  # (file inside the project, alt, mime)
    for image in getattr(release, "images", ()):
        source, mime, problem = _local_image(image.url, folder)
        if problem:
            found.warnings.append(f"{release_file}: image {image.url!r} {problem}: left out of the posts")
            continue
        assert source is not None and mime is not None
        target = source if source.is_relative_to(project) else project / "media" / source.relative_to(folder)
        if target != source and not _copy(source, target, force, found):
            continue
        picked.append((target, image.alt, mime))
    rules = {chan: load(chan).media_rules for chan in channels}
    by_url = sorted(c for c, r in rules.items() if r.needs_public_url or r.max_items == 0)
    room = min((r.max_items for c, r in rules.items() if c not in by_url), default=0)
    if len(picked) > room:
        kept = ", ".join(p.name for p, _, _ in picked[room:])
        found.warnings.append(f"{release_file}: a post carries at most {room} images here; left out: {kept}")
        picked = picked[:room]
    if not picked:
        return found
    found.lines.append("    media:   # the release's images, with its alt text")
    gif_alone = sorted(c for c, r in rules.items() if r.gif_alone and c not in by_url)
    for target, alt, mime in picked:
        found.lines.append(f"      - file: {_relpath(target, schedule.parent)}")
        if alt.strip():
            found.lines.append(f"        alt: {_alt_yaml(alt)}")
        else:
            found.lines.append("        decorative: true   # the release has no alt text for it: add one")
        uploads = {c: r for c, r in rules.items() if c not in by_url}
        refused = _refused_by(target, uploads, found.warnings)
        skip = sorted({*by_url, *refused, *(gif_alone if mime == "image/gif" and len(picked) > 1 else [])})
        if skip:
            found.lines.append(
                f"        skip: [{', '.join(skip)}]"
                + ("   # these show media by URL: set media_base_url, then remove them" if by_url else "")
            )
    return found


def _refused_by(image: Path, rules: dict[str, Any], warnings: list[str]) -> list[str]:
    """The channels whose rules ``image`` breaks even after preparing (an aspect ratio, say): it is skipped
    there, with a warning, so the derived campaign passes `check`. Prepared into a throwaway store."""
    import tempfile

    from campaign.errors import MediaError
    from campaign.media.model import MediaItem
    from campaign.media.prepare import prepare
    from campaign.media.store import MediaStore

    refused = []
    with tempfile.TemporaryDirectory(prefix="campaign-init-") as scratch:
        store = MediaStore(scratch)
        for channel, channel_rules in sorted(rules.items()):
            try:
                prepare(MediaItem(file=image, alt="-", label=image.name), channel_rules, store)
            except MediaError as exc:
                refused.append(channel)
                warnings.append(f"{image.name} cannot go to {channel} ({exc}): skipped there")
    return refused


def print_warning(message: str) -> None:
    """How init reports an image it left out when its caller gives no ``warn``: a line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def _local_image(url: str, folder: Path) -> tuple[Path | None, str | None, str | None]:
    """(the image file, its type, None), or (None, None, why it is left out)."""
    if url.lower().startswith(_REMOTE) or ":" in url.split("/")[0]:
        return None, None, "is not a local file"
    written = Path(url.split("#")[0].split("?")[0])
    if written.is_absolute():
        return None, None, "is an absolute path (write it relative to the release)"
    path = Path(os.path.realpath(folder / written))
    if not path.is_relative_to(folder):
        return None, None, "is outside the release's folder"
    if not path.exists():
        return None, None, "was not found"
    if not path.is_file():
        return None, None, "is not a regular file"
    from campaign.media.prepare import MAX_SOURCE_IMAGE_BYTES, sniff
    from campaign.media.rules import IMAGE_TYPES

    if path.stat().st_size > MAX_SOURCE_IMAGE_BYTES:  # prepare would refuse it
        return None, None, f"is larger than {MAX_SOURCE_IMAGE_BYTES:,} bytes"
    with open(path, "rb") as file:
        mime = sniff(file.read(64))
    if mime not in IMAGE_TYPES:
        return None, None, "is not a JPEG, PNG, WebP or GIF image"
    return path, mime, None


def _copy(source: Path, target: Path, force: bool, found: LaunchMedia) -> bool:
    """Copy ``source`` into the project at ``target`` (an identical file is kept; a different one needs
    ``force``); False, with a warning, when it is left out."""
    if target.exists() and target.read_bytes() == source.read_bytes():
        return True
    if target.exists() and not force:
        found.warnings.append(f"{target} exists and differs from {source}; left out (--force overwrites)")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    found.copied.append(target)
    return True


def _alt_yaml(alt: str) -> str:
    """``alt`` as a YAML string holding a template that renders to exactly ``alt``."""
    if any(mark in alt for mark in ("{{", "{%", "{#")):
        alt = "{% raw %}" + alt.replace("{% endraw %}", "") + "{% endraw %}"
    return json.dumps(alt, ensure_ascii=False)


def _relpath(target: Path, base: Path) -> str:
    return Path(os.path.relpath(target, base.resolve())).as_posix()
