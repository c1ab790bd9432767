"""Each platform's media rules, declared as data that prepare, check, preview and the adapters all read.

A :class:`MediaRules` says how many items a post may carry, which types, the byte, pixel, aspect and
duration limits per type, how alt text is limited and counted, whether images and video mix, and whether the
platform shows media only from a public URL. :data:`PLATFORM_MEDIA_RULES` holds one per channel; every value
cites the platform's documentation (see also ``docs/platforms/media.md``).

Where a platform writes "MB" without saying which, the decimal reading (10^6 bytes, the smaller) is used, so
a file we pass is never one the platform refuses. Where a platform scales an image itself (Threads' width,
Mastodon's pixel matrix) the limit is kept anyway: we scale once, and the preview shows what is sent.
This module is light (no Pillow, no httpx): `check` and `preview` import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from campaign.text.counting import codepoints, graphemes, utf16_units

#: How an alt-text limit is counted: Unicode code points ("characters"), grapheme clusters, UTF-16 units.
AltUnit = Literal["characters", "graphemes", "utf16"]
#: What kind of media a MIME type is, for the per-kind limits.
Kind = Literal["image", "gif", "video"]

JPEG, PNG, WEBP, GIF, MP4 = "image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4"
IMAGE_TYPES = frozenset({JPEG, PNG, WEBP, GIF})
VIDEO_TYPES = frozenset({MP4})
ALL_TYPES = IMAGE_TYPES | VIDEO_TYPES
#: File extension used in the media store for each type.
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", GIF: "gif", MP4: "mp4"}
MB = 1_000_000
MIB = 1024 * 1024


def kind_of(mime: str) -> Kind:
    """``video`` for MP4, ``gif`` for GIF, ``image`` for every other image type."""
    if mime in VIDEO_TYPES:
        return "video"
    return "gif" if mime == GIF else "image"


@dataclass(frozen=True)
class TypeLimits:
    """Limits for one kind of media on one platform; None means the platform documents no limit.

    Aspect ratios are width / height. ``prefer_max_side`` is not a refusal: `prepare` scales down to it
    because the platform would (Bluesky's app uploads at most 2000 px), which also saves bytes and time.
    """

    max_bytes: int | None = None
    min_bytes: int | None = None
    max_pixels: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    min_width: int | None = None
    min_height: int | None = None
    #: Width + height (Telegram photos: at most 10,000 in total).
    max_dimension_sum: int | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    #: Frames of an animated image (LinkedIn GIFs: 250; X GIFs: 350).
    max_frames: int | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    prefer_max_side: int | None = None


NO_LIMITS = TypeLimits()


@dataclass(frozen=True)
class MediaRules:
    """What one platform accepts as media on a post.

    ``max_items`` bounds all items together, ``max_videos`` the videos among them. ``gif_alone``: an animated
    GIF must be the post's only item (X; Telegram albums take no animations). ``mix``: images and videos may
    share a post. ``alt_limit`` is counted in ``alt_unit`` (``video_alt_limit`` where video alt text has its
    own limit); ``alt_supported`` is False where the platform has no field for it (the campaign still requires
    alt text: it is shown in previews and kept for platforms that do). ``needs_public_url``: the platform
    fetches media from a URL we give it (``media_base_url``) instead of taking an upload.
    """

    platform: str
    max_items: int
    types: frozenset[str]
    image: TypeLimits = NO_LIMITS
    gif: TypeLimits = NO_LIMITS
    video: TypeLimits = NO_LIMITS
    max_videos: int = 1
    gif_alone: bool = False
    #: False where an animated GIF would show as a still (it is reported, so nobody is surprised).
    animated_gif: bool = True
    mix: bool = False
    alt_limit: int | None = None
    alt_unit: AltUnit = "characters"
    video_alt_limit: int | None = None
    alt_supported: bool = True
    needs_public_url: bool = False
    #: Sample-entry codes accepted in an MP4's video track (``avc1``/``avc3``: H.264, ``hvc1``/``hev1``: HEVC)
    video_codecs: frozenset[str] = frozenset({"avc1", "avc3"})
    #: Sample-entry codes accepted in an MP4's audio track (``mp4a``: AAC).
    audio_codecs: frozenset[str] = frozenset({"mp4a"})
    #: The text limit of a post that carries media, where it differs (Telegram captions: 1,024).
    caption_limit: int | None = None
    #: Whether the platform takes a focal point (Mastodon's ``focus``).
    focus: bool = False
    #: Limits for a link card's thumbnail, where the platform builds the card from an uploaded image.
    link_image: TypeLimits | None = None
    #: Where these facts are documented.
    docs: tuple[str, ...] = field(default=())

    def accepts(self, mime: str) -> bool:
        return mime in self.types

    def limits_for(self, mime: str) -> TypeLimits:
        """The limits that apply to a file of type ``mime``."""
        return {"image": self.image, "gif": self.gif, "video": self.video}[kind_of(mime)]

    def alt_length(self, text: str) -> int:
        """``text``'s length counted as this platform counts alt text."""
        if self.alt_unit == "graphemes":
            return graphemes(text)
        if self.alt_unit == "utf16":
            return utf16_units(text)
        return codepoints(text)

    def alt_max(self, mime: str) -> int | None:
        """The alt-text limit for a file of type ``mime`` (None: no documented limit)."""
        if mime in VIDEO_TYPES and self.video_alt_limit is not None:
            return self.video_alt_limit
        return self.alt_limit


# -- the table ---------------------------------------------------------------------------------------------
# Each entry cites the page its numbers come from. "verified" values were read in the platform's own pages or
# schemas; values from the platform's help pages that only a secondary source restates are marked so in
# docs/platforms/media.md.

_X = MediaRules(
    platform="x",
    # https://docs.x.com/x-api/media/quickstart/best-practices: up to 4 photos, 1 animated GIF or 1 video.
    max_items=4,
    max_videos=1,
    gif_alone=True,
    mix=False,
    types=ALL_TYPES,
    # https://docs.x.com/x-api/media/introduction: image 5 MB, GIF 15 MB, video 512 MB (amplify_video).
    # Image dimensions 4x4 to 8192x8192; GIF at most 1280x1080 and 350 frames; video 0.5-140 s, at most
    # 1280x1024, aspect 1:3 to 3:1 (X's media best practices, restated at
    # https://www.ayrshare.com/docs/media-guidelines/x-twitter).
    image=TypeLimits(max_bytes=5 * MB, max_width=8192, max_height=8192, min_width=4, min_height=4),
    gif=TypeLimits(max_bytes=15 * MB, max_width=1280, max_height=1080, max_frames=350),
    video=TypeLimits(
        max_bytes=512 * MB,
        max_width=1280,
        max_height=1024,
        min_aspect=1 / 3,
        max_aspect=3.0,
        min_seconds=0.5,
        max_seconds=140.0,
    ),
    # https://docs.x.com/x-api/media/metadata-create: alt_text.text, at most 1,000 characters.
    alt_limit=1000,
    docs=("https://docs.x.com/x-api/media/introduction", "https://docs.x.com/x-api/media/metadata-create"),
)

_BLUESKY = MediaRules(
    platform="bluesky",
    # Lexicon app.bsky.embed.images: images maxLength 4, image blob accept image/*, maxSize 1,000,000; the
    # post's embed is one of images | video | external (a union), so images and video never mix.
    # https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/images.json (verified in
    # the reference PDS our tests run, @atproto/pds 0.4.217).
    max_items=4,
    max_videos=1,
    mix=False,
    types=ALL_TYPES,
    image=TypeLimits(max_bytes=1_000_000, prefer_max_side=2000),
    # A GIF blob is shown as a still image; the official app turns animated GIFs into video.
    gif=TypeLimits(max_bytes=1_000_000, prefer_max_side=2000),
    animated_gif=False,
    # Lexicon app.bsky.embed.video: video blob accept video/mp4, maxSize 100,000,000; alt maxGraphemes 1000.
    # Duration up to 3 minutes: https://bsky.social/about/blog/09-11-2024-video (raised from 60 s in 2025).
    video=TypeLimits(max_bytes=100_000_000, max_seconds=180.0),
    # Image alt text has no lexicon limit; the official app allows 2,000 graphemes (social-app
    # src/lib/constants.ts MAX_ALT_TEXT), and Bluesky counts text in graphemes.
    alt_limit=2000,
    alt_unit="graphemes",
    video_alt_limit=1000,
    # Lexicon app.bsky.embed.external: thumb blob accept image/*, maxSize 1,000,000.
    link_image=TypeLimits(max_bytes=1_000_000, prefer_max_side=2000),
    docs=(
        "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/images.json",
        "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/video.json",
        "https://docs.bsky.app/docs/advanced-guides/posts#images-embeds",
    ),
)

_MASTODON = MediaRules(
    platform="mastodon",
    # https://docs.joinmastodon.org/methods/statuses/#create: media_ids, up to 4 (the instance's
    # configuration.statuses.max_media_attachments, 4 by default); a video or audio cannot share a post with
    # images.
    max_items=4,
    max_videos=1,
    mix=False,
    types=ALL_TYPES,
    # https://docs.joinmastodon.org/entities/Instance/#media_attachments: image_size_limit,
    # image_matrix_limit, video_size_limit, video_matrix_limit; Mastodon 4.2+ defaults: 16 MiB, 3840x2160
    # (8,294,400 px), 99 MiB.
    image=TypeLimits(max_bytes=16 * MIB, max_pixels=8_294_400),
    gif=TypeLimits(max_bytes=16 * MIB, max_pixels=8_294_400),
    video=TypeLimits(max_bytes=99 * MIB, max_pixels=8_294_400),
    # https://docs.joinmastodon.org/methods/media/#v2: description, "plain-text description of the media, for
    # accessibility purposes"; MediaAttachment::MAX_DESCRIPTION_LENGTH = 1_500 (String#length: code points).
    alt_limit=1500,
    focus=True,
    docs=("https://docs.joinmastodon.org/methods/media/", "https://docs.joinmastodon.org/entities/Instance/"),
)

_LINKEDIN = MediaRules(
    platform="linkedin",
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/multiimage-post-api:
    # a multiImage post has 2 to 20 images; a post carries images or one video, never both.
    max_items=20,
    max_videos=1,
    mix=False,
    types=frozenset({JPEG, PNG, GIF, MP4}),
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api: JPG, GIF,
    # PNG; fewer than 36,152,320 pixels; a GIF at most 250 frames.
    image=TypeLimits(max_pixels=36_152_319),
    gif=TypeLimits(max_pixels=36_152_319, max_frames=250),
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api: MP4,
    # 75 KB to 500 MB, 3 seconds to 30 minutes. Frame 256x144 to 4096x2304, aspect 1:2.4 to 2.4:1: LinkedIn's
    # help page on video specifications, restated at https://www.quickads.ai/blog/linkedin-video-specifications
    # (secondary). H.264 video, AAC audio (the default codecs below).
    video=TypeLimits(
        min_bytes=75_000,
        max_bytes=500 * MB,
        min_seconds=3.0,
        max_seconds=1800.0,
        min_width=256,
        min_height=144,
        max_width=4096,
        max_height=2304,
        min_aspect=1 / 2.4,
        max_aspect=2.4,
    ),
    # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api:
    # content.media altText, at most 4,086 characters.
    alt_limit=4086,
    docs=(
        "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api",
        "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api",
    ),
)

_FACEBOOK = MediaRules(
    platform="facebook",
    # https://developers.facebook.com/docs/graph-api/reference/page/photos/: photos are uploaded unpublished
    # (published=false) and attached with attached_media[n]; Facebook documents no count, 10 is our cap.
    # A video is its own post (/videos), so images and video never mix.
    max_items=10,
    max_videos=1,
    mix=False,
    types=ALL_TYPES,
    # Same page: "Photos should be less than 4MB and saved as JPG, PNG, GIF, TIFF, HEIF or WebP files."
    image=TypeLimits(max_bytes=4 * MB),
    gif=TypeLimits(max_bytes=4 * MB),
    # https://developers.facebook.com/docs/graph-api/video-uploads: the resumable upload (start, transfer,
    # finish; what we use) takes videos up to 10 GB and 4 hours; "the aspect ratio of the video must be
    # between 9x16 and 16x9". H.264 video, AAC audio (the default codecs below).
    video=TypeLimits(max_bytes=10_000 * MB, max_seconds=4 * 3600.0, min_aspect=9 / 16, max_aspect=16 / 9),
    # /photos takes alt_text_custom; no length is documented.
    alt_limit=None,
    docs=(
        "https://developers.facebook.com/docs/graph-api/reference/page/photos/",
        "https://developers.facebook.com/docs/graph-api/video-uploads",
    ),
)

_THREADS = MediaRules(
    platform="threads",
    # https://developers.facebook.com/docs/threads/posts#carousel-posts: a carousel has 2 to 20 items, images
    # and videos mixed. Media are fetched by Threads from image_url / video_url.
    max_items=20,
    max_videos=20,
    mix=True,
    needs_public_url=True,
    types=frozenset({JPEG, PNG, MP4}),
    # https://developers.facebook.com/docs/threads/overview#image-specifications: JPEG and PNG, 8 MB, width
    # 320-1440 (scaled by Threads), aspect ratio at most 10:1.
    image=TypeLimits(max_bytes=8 * MB, max_width=1440, min_aspect=0.1, max_aspect=10.0),
    # https://developers.facebook.com/docs/threads/overview#video-specifications: MOV or MP4, HEVC or H.264,
    # AAC, at most 1920 px wide, aspect 0.01:1 to 10:1, at most 5 minutes and 1 GB.
    video=TypeLimits(
        max_bytes=1000 * MB, max_width=1920, min_aspect=0.01, max_aspect=10.0, max_seconds=300.0
    ),
    video_codecs=frozenset({"avc1", "avc3", "hvc1", "hev1"}),
    # https://developers.facebook.com/docs/threads/posts/accessibility: containers take alt_text; no length is
    # documented.
    alt_limit=None,
    docs=(
        "https://developers.facebook.com/docs/threads/overview",
        "https://developers.facebook.com/docs/threads/posts",
    ),
)

_TELEGRAM = MediaRules(
    platform="telegram",
    # https://core.telegram.org/bots/api#sendmediagroup: an album of 2-10 photos and videos (no animations).
    max_items=10,
    max_videos=10,
    mix=True,
    gif_alone=True,
    types=ALL_TYPES,
    # https://core.telegram.org/bots/api#sendphoto: at most 10 MB; width and height at most 10000 in total;
    # width/height ratio at most 20.
    image=TypeLimits(max_bytes=10 * MB, max_dimension_sum=10_000, min_aspect=1 / 20, max_aspect=20.0),
    # https://core.telegram.org/bots/api#sending-files: other files up to 50 MB by upload.
    gif=TypeLimits(max_bytes=50 * MB),
    video=TypeLimits(max_bytes=50 * MB),
    # Telegram has no alt-text field; caption 0-1024 characters after entities parsing (#sendphoto).
    alt_supported=False,
    alt_unit="utf16",
    caption_limit=1024,
    docs=(
        "https://core.telegram.org/bots/api#sendphoto",
        "https://core.telegram.org/bots/api#sendmediagroup",
    ),
)

_DISCORD = MediaRules(
    platform="discord",
    # https://discord.com/developers/docs/reference#uploading-files: files[n] multipart parts, up to 10 per
    # message; the default upload limit is 10 MiB per file (more on boosted servers).
    max_items=10,
    max_videos=10,
    mix=True,
    types=ALL_TYPES,
    image=TypeLimits(max_bytes=10 * MIB),
    gif=TypeLimits(max_bytes=10 * MIB),
    video=TypeLimits(max_bytes=10 * MIB),
    # https://discord.com/developers/docs/resources/message#attachment-object: description, max 1024 chars.
    alt_limit=1024,
    docs=("https://discord.com/developers/docs/reference#uploading-files",),
)

_SLACK = MediaRules(
    platform="slack",
    # https://docs.slack.dev/reference/block-kit/blocks/image-block: image_url (at most 3000 characters),
    # alt_text (at most 2000 characters); PNG, JPG, JPEG and GIF. Incoming webhooks cannot upload files.
    # A message holds at most 50 blocks; 10 images is our cap.
    max_items=10,
    max_videos=0,
    needs_public_url=True,
    types=frozenset({JPEG, PNG, GIF}),
    alt_limit=2000,
    docs=("https://docs.slack.dev/reference/block-kit/blocks/image-block",),
)

_TEAMS = MediaRules(
    platform="teams",
    # https://adaptivecards.io/explorer/Image.html: Image.url and Image.altText; cards show images by URL.
    # https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference:
    # PNG, JPEG and GIF; no animated GIF. 10 images is our cap.
    max_items=10,
    max_videos=0,
    needs_public_url=True,
    types=frozenset({JPEG, PNG, GIF}),
    animated_gif=False,
    alt_limit=None,
    docs=("https://adaptivecards.io/explorer/Image.html",),
)

_WEBHOOK = MediaRules(
    platform="webhook",
    # Our own JSON payload: media are given by URL (media_base_url) with their alt text; no platform limits.
    max_items=20,
    max_videos=20,
    mix=True,
    needs_public_url=True,
    types=ALL_TYPES,
    video_codecs=frozenset({"avc1", "avc3", "hvc1", "hev1"}),
    alt_limit=None,
    docs=(),
)

#: The media rules of every built-in channel, by channel name.
PLATFORM_MEDIA_RULES: dict[str, MediaRules] = {
    r.platform: r
    for r in (
        _X,
        _BLUESKY,
        _MASTODON,
        _LINKEDIN,
        _FACEBOOK,
        _THREADS,
        _TELEGRAM,
        _DISCORD,
        _SLACK,
        _TEAMS,
        _WEBHOOK,
    )
}
