"""What a campaign asks for (:class:`MediaItem`), what preparing it made (:class:`PreparedMedia`), and what a
check found wrong (:class:`MediaIssue`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from campaign.media.rules import EXTENSIONS, kind_of


@dataclass(frozen=True)
class MediaItem:
    """One ``media:`` entry of a post, as the campaign file gives it.

    ``file`` is already resolved inside the project root by the caller. ``focus`` is Mastodon's focal point
    (x, y in -1.0..1.0). ``skip`` names channels this item is left out on.
    """

    file: Path
    alt: str = ""
    decorative: bool = False
    focus: tuple[float, float] | None = None
    skip: frozenset[str] = frozenset()
    #: How messages name the file (the path as written in the campaign file).
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.file.name


@dataclass(frozen=True)
class PreparedMedia:
    """A file as it will be sent to one platform: content-addressed in the media store.

    ``size`` is in bytes, ``duration`` in seconds (video only), ``width``/``height`` in pixels after
    orientation was applied. ``notes`` say what preparing did ("resized 4000x3000 to 2000x1500", ...).
    """

    sha256: str
    mime: str
    size: int
    width: int
    height: int
    path: Path
    source: str
    alt: str = ""
    decorative: bool = False
    focus: tuple[float, float] | None = None
    frames: int = 1
    duration: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str:
        return kind_of(self.mime)

    @property
    def animated(self) -> bool:
        return self.frames > 1

    @property
    def store_name(self) -> str:
        """The file's name in the media store (``<sha256>.<ext>``), also its name under ``media_base_url``."""
        return f"{self.sha256}.{EXTENSIONS[self.mime]}"

    def public_url(self, media_base_url: str) -> str:
        """Where a URL-only platform fetches this file: ``media_base_url`` + the store name."""
        return media_base_url.rstrip("/") + "/" + self.store_name


@dataclass(frozen=True)
class MediaIssue:
    """One violation of a platform's media rules; ``str()`` is one line naming post, channel, file, rule."""

    post: str
    channel: str
    file: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"post {self.post!r} on {self.channel}"
        if self.file:
            where += f": {self.file}"
        return f"{where}: {self.message} ({self.rule})"


#: The keys a prepared file keeps in the queue (``posts.media``), enough to send it again after a restart.
_JSON_FIELDS = (
    "sha256", "mime", "size", "width", "height", "source", "alt", "decorative", "frames", "duration"
)  # fmt: skip


def media_to_json(
    media: tuple[PreparedMedia, ...], link_image: PreparedMedia | None = None, base_url: str | None = None
) -> list[dict[str, object]] | None:
    """A post's media as stored in ``posts.media`` (None when it has none); the link image has a ``role``,
    and every item carries the campaign's ``media_base_url`` (``base_url``)."""
    if not media and link_image is None:
        return None

    def one(item: PreparedMedia, role: str) -> dict[str, object]:
        data: dict[str, object] = {name: getattr(item, name) for name in _JSON_FIELDS}
        data.update(role=role, path=str(item.path), focus=list(item.focus) if item.focus else None)
        data["base_url"] = base_url
        return data

    items = [one(m, "media") for m in media]
    if link_image is not None:
        items.append(one(link_image, "link_image"))
    return items


def media_from_json(raw: object) -> tuple[tuple[PreparedMedia, ...], PreparedMedia | None, str | None]:
    """The inverse of :func:`media_to_json`: (media, link image, media_base_url)."""
    media: list[PreparedMedia] = []
    link_image = None
    base_url = None
    for data in raw if isinstance(raw, list) else ():
        base_url = data.get("base_url") or base_url
        focus = data.get("focus")
        item = PreparedMedia(
            **{name: data[name] for name in _JSON_FIELDS if name in data},
            path=Path(data["path"]),
            focus=(float(focus[0]), float(focus[1])) if focus else None,
        )
        if data.get("role") == "link_image":
            link_image = item
        else:
            media.append(item)
    return tuple(media), link_image, base_url
