"""Prepare a media file for one platform, once, before queuing: the result is content-addressed in the store.

Images (Pillow, imported here only): the type is sniffed from the bytes (never the extension); the EXIF
orientation is applied to the pixels, then EXIF (with GPS), XMP, comments and text chunks are dropped (the
ICC colour profile is kept); the image is scaled within the platform's pixel limits (aspect kept) and
re-encoded until it is under the byte limit (JPEG/WebP quality steps, PNG optimisation, then smaller sizes).
A file that already fits and carries no metadata is stored unchanged; a JPEG whose only fault is metadata
loses its metadata segments losslessly, without re-encoding. Animated GIFs stay animated: they are scaled as
a whole, and if they cannot fit, that is an error (frames are never dropped).

Video is checked, never transcoded (DECISIONS.md): :mod:`campaign.media.mp4` reads container, codecs,
duration and picture size; a violation is a :class:`~campaign.errors.MediaError` and nothing is stored.
Every refusal is one line naming the file and the rule.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from campaign.errors import MediaError
from campaign.media.check import file_issues
from campaign.media.model import MediaItem, PreparedMedia
from campaign.media.mp4 import MP4_BRANDS, read_mp4
from campaign.media.rules import EXTENSIONS, GIF, JPEG, MP4, PNG, VIDEO_TYPES, WEBP, MediaRules, TypeLimits
from campaign.media.store import MediaStore

if TYPE_CHECKING:
    from PIL import Image

#: Image files larger than this are refused before decoding (a press photo is a few MB; video goes via MP4).
MAX_SOURCE_IMAGE_BYTES = 100 * 1000 * 1000
#: An animation whose frames x canvas pixels exceed this is refused before any frame is decoded (a 69 KB GIF
#: can declare an 8000x8000 canvas and 3000 one-pixel frames: 192 billion pixels to compose). The value is the
#: largest animation a platform documents at full size, X's GIF limit of 1280x1080 px x 350 frames
#: (rules.py; LinkedIn's 36 MP is a still-image limit, and Bluesky/Mastodon cap each frame at 8.3 MP), about
#: 5.4x Pillow's MAX_IMAGE_PIXELS (89,478,485, where Pillow warns about one image as a bomb). Frames are
#: decoded one at a time, so memory is one canvas plus the encoder's copy of the output (1 byte a pixel for
#: GIF), which this bounds to under 500 MB; the time to compose and scale the frames is bounded by it too.
MAX_ANIMATION_PIXELS = 1280 * 1080 * 350
#: JPEG/WebP qualities tried, best first; the highest that fits is kept.
QUALITIES = (92, 88, 84, 80, 75, 70, 65, 60, 50, 40)
#: Each further attempt scales by this much when no quality fits; at most this many attempts.
SHRINK, MAX_SHRINKS = 0.8, 12
#: Info keys that are image structure, not metadata about the picture or its author.
_TECHNICAL = frozenset({
    "dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "progressive", "progression", "icc_profile",
    "transparency", "gamma", "srgb", "chromaticity", "adobe", "adobe_transform", "interlace", "loop",
    "duration", "background", "version", "extension", "lossless", "aspect", "compression", "disposal",
    "blend", "timestamp", "bbox", "default_image",
})  # fmt: skip


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes of a file show (None: unknown). The extension is never consulted."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1")
        if brand in MP4_BRANDS:
            return MP4
        return {"qt  ": "video/quicktime", "heic": "image/heic", "avif": "image/avif"}.get(
            brand, "video/unknown"
        )
    for magic, mime in ((b"BM", "image/bmp"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"),
                        (b"%PDF", "application/pdf")):  # fmt: skip
        if head.startswith(magic):
            return mime
    return None


def prepare(item: MediaItem, rules: MediaRules, store: MediaStore) -> PreparedMedia:
    """Prepare ``item`` for the platform of ``rules`` and store the result; raises :class:`MediaError`."""
    name = item.name
    try:
        with open(item.file, "rb") as f:
            head = f.read(32)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}", file=name, rule="file") from None
    mime = sniff(head)
    if mime is None:
        raise MediaError("not an image or video file (unknown type)", file=name, rule="type")
    if mime in VIDEO_TYPES or mime.startswith("video/"):
        prepared = _prepare_video(item, mime, rules, store)
    elif mime in (JPEG, PNG, GIF, WEBP):
        prepared = _prepare_image(item, mime, rules, store)
    else:
        raise MediaError(
            f"{mime} files are not supported (use JPEG, PNG, WebP, GIF or MP4)", file=name, rule="type"
        )
    return prepared


def _refuse_if_broken(draft: PreparedMedia, rules: MediaRules) -> None:
    found = file_issues(draft, rules)
    if found:
        message = "; ".join(message for _, message in found)
        rule = ", ".join(dict.fromkeys(rule for rule, _ in found))
        raise MediaError(f"{message} on {rules.platform}", file=draft.source, rule=rule)


# -- video -------------------------------------------------------------------------------------------------


def _prepare_video(item: MediaItem, mime: str, rules: MediaRules, store: MediaStore) -> PreparedMedia:
    name = item.name
    if mime != MP4:
        raise MediaError(f"{mime} is not accepted: video must be MP4 (H.264/AAC)", file=name, rule="type")
    info = read_mp4(item.file, name=name)
    draft = PreparedMedia(
        sha256="",
        mime=MP4,
        size=item.file.stat().st_size,
        width=info.width,
        height=info.height,
        path=item.file,
        source=name,
        alt=item.alt,
        decorative=item.decorative,
        focus=item.focus,
        duration=info.duration,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
    )
    _refuse_if_broken(draft, rules)  # checked before storing: a refused 500 MB video is never copied
    stored = store.put_file(item.file, EXTENSIONS[MP4])
    notes = () if info.faststart else ("moov after mdat: not optimised for streaming",)
    return _replace(draft, sha256=stored.sha256, path=stored.path, size=stored.size, notes=notes)


def _replace(media: PreparedMedia, **changes: Any) -> PreparedMedia:
    import dataclasses

    return dataclasses.replace(media, **changes)


# -- images ------------------------------------------------------------------------------------------------


def _open(data: bytes, name: str) -> Image.Image:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("too many pixels to open safely", file=name, rule="pixels") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"cannot decode the image: {exc}", file=name, rule="file") from None


def _has_metadata(im: Image.Image) -> bool:
    if any(key not in _TECHNICAL for key in im.info):
        return True  # exif, xmp, comment, PNG text chunks, photoshop blocks, ...
    return bool(im.getexif())


def _orientation(im: Image.Image) -> int:
    value = im.getexif().get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def scale_for(width: int, height: int, limits: TypeLimits) -> float:
    """The largest scale <= 1 that brings ``width`` x ``height`` within the pixel limits (aspect kept)."""
    s = 1.0
    if limits.max_pixels is not None and width * height > limits.max_pixels:
        s = min(s, math.sqrt(limits.max_pixels / (width * height)))
    sides = (
        (limits.max_width, width),
        (limits.max_height, height),
        (limits.prefer_max_side, max(width, height)),
        (limits.max_dimension_sum, width + height),
    )
    for limit, side in sides:
        if limit is not None and side > limit:
            s = min(s, limit / side)
    return s


def _scaled(width: int, height: int, s: float) -> tuple[int, int]:
    # floor keeps us under every limit the scale was computed for
    return max(1, math.floor(width * s + 1e-9)), max(1, math.floor(height * s + 1e-9))


def _target_type(mime: str, rules: MediaRules, has_alpha: bool, animated: bool, name: str) -> str:
    """``mime`` if the platform takes it, else a still type to convert to (animations are never flattened)."""
    if rules.accepts(mime):
        return mime
    if animated:
        raise MediaError(f"animated {mime} is not accepted on {rules.platform}", file=name, rule="type")
    for candidate in (PNG, JPEG) if has_alpha else (JPEG, PNG):
        if rules.accepts(candidate):
            return candidate
    raise MediaError(
        f"{mime} is not accepted on {rules.platform} and no image type is", file=name, rule="type"
    )


def _prepare_image(item: MediaItem, mime: str, rules: MediaRules, store: MediaStore) -> PreparedMedia:
    name = item.name
    size = item.file.stat().st_size
    if size > MAX_SOURCE_IMAGE_BYTES:
        raise MediaError(f"{size:,} bytes is too large for an image file", file=name, rule="bytes")
    data = item.file.read_bytes()
    im = _open(data, name)
    try:
        with im:
            frames = getattr(im, "n_frames", 1)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            target = _target_type(mime, rules, has_alpha, frames > 1, name)
            limits = rules.limits_for(target)
            if frames > 1:
                out, width, height, notes = _fit_animation(im, frames, target, limits, rules, name)
            else:
                out, target, width, height, notes = _fit_still(im, data, mime, target, limits, rules, name)
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        # Pillow decodes lazily: a truncated or corrupt file fails here (EXIF read, frame seek, pixel load),
        # after `_open` has read only the header.
        raise MediaError(f"cannot decode the image: {exc}", file=name, rule="file") from None
    draft = PreparedMedia(
        sha256="",
        mime=target,
        size=len(out),
        width=width,
        height=height,
        path=item.file,
        source=name,
        alt=item.alt,
        decorative=item.decorative,
        focus=item.focus,
        frames=frames,
        notes=tuple(notes),
    )
    _refuse_if_broken(draft, rules)
    stored = store.put_bytes(out, EXTENSIONS[target])
    return _replace(draft, sha256=stored.sha256, path=stored.path, size=stored.size)


def _fit_still(
    im: Image.Image, data: bytes, mime: str, target: str, limits: TypeLimits, rules: MediaRules, name: str
) -> tuple[bytes, str, int, int, list[str]]:
    """Bytes of the still image as sent, its type, width, height and what was done to it."""
    orientation = _orientation(im)
    raw_w, raw_h = im.size
    width, height = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    scale = scale_for(width, height, limits)
    fits_bytes = limits.max_bytes is None or len(data) <= limits.max_bytes
    if target == mime and orientation == 1 and scale == 1.0 and fits_bytes:
        if not _has_metadata(im):
            return data, mime, width, height, []
        if mime == JPEG:
            stripped = strip_jpeg_metadata(data)
            if limits.max_bytes is None or len(stripped) <= limits.max_bytes:
                return stripped, mime, width, height, ["metadata removed (lossless)"]
    notes = ["metadata removed"] if _has_metadata(im) else []
    if orientation != 1:
        notes.append(f"orientation {orientation} applied")
    if scale < 1.0 and mime == JPEG:
        # Decode at a reduced DCT scale when we shrink a lot: same result, a fraction of the work.
        want = _scaled(raw_w, raw_h, scale)
        im.draft("RGB", want)
    img = _pixels(im)
    if scale < 1.0:
        new = _scaled(width, height, scale)
        notes.append(f"resized {width}x{height} to {new[0]}x{new[1]}")
        # reducing_gap: a fast box reduction first, Lanczos for the last factor of 3 (no visible difference).
        img = img.resize(new, _lanczos(), reducing_gap=3.0)
    out, target, img, more = _encode_to_fit(
        img, target, limits.max_bytes, rules, name, im.info.get("icc_profile")
    )
    return out, target, img.width, img.height, notes + more


def _lanczos() -> Any:
    from PIL import Image

    return Image.Resampling.LANCZOS


def _pixels(im: Image.Image) -> Image.Image:
    """The decoded picture, oriented, with no metadata left in ``info`` (only the ICC profile is kept)."""
    from PIL import ImageOps

    img = ImageOps.exif_transpose(im) or im.copy()
    icc = im.info.get("icc_profile")
    img.info = {"icc_profile": icc} if icc else {}
    return img


def _encode(img: Image.Image, mime: str, quality: int, icc: bytes | None, *, optimize: bool = True) -> bytes:
    """``img`` encoded as ``mime`` with no metadata but the ICC profile. ``optimize`` (JPEG: optimal Huffman
    tables, PNG: best compression) only ever makes the file smaller, so the quality search runs without it."""
    buf = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if mime == JPEG:
        if img.mode not in ("RGB", "L", "CMYK"):
            img = _flatten(img)
        img.save(buf, "JPEG", quality=quality, optimize=optimize, comment=b"", **extra)
    elif mime == WEBP:
        img.save(buf, "WEBP", quality=quality, method=4, **extra)
    elif mime == PNG:
        img.save(buf, "PNG", optimize=True, **extra)
    else:  # a still GIF
        img.save(buf, "GIF", optimize=True, comment=b"")
    return buf.getvalue()


def _flatten(img: Image.Image) -> Image.Image:
    """An RGB copy; transparent areas become white (JPEG has no alpha)."""
    from PIL import Image

    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _encode_to_fit(
    img: Image.Image, mime: str, max_bytes: int | None, rules: MediaRules, name: str, icc: bytes | None
) -> tuple[bytes, str, Image.Image, list[str]]:
    """Encode ``img`` as ``mime`` under ``max_bytes``: best quality that fits, then smaller sizes.

    A PNG without transparency that cannot fit becomes a JPEG where the platform takes JPEG (photos saved as
    PNG are the usual case). Raises MediaError when even the smallest attempt does not fit.
    """
    notes: list[str] = []
    for _ in range(MAX_SHRINKS):
        if mime in (JPEG, WEBP):
            out = _best_quality(img, mime, max_bytes, icc)
            if out is not None:
                return out[0], mime, img, [*notes, f"encoded as {mime} quality {out[1]}"]
        else:
            out_bytes = _encode(img, mime, 0, icc)
            if max_bytes is None or len(out_bytes) <= max_bytes:
                return out_bytes, mime, img, notes
            opaque = "A" not in img.getbands() and "transparency" not in img.info
            if mime == PNG and opaque and rules.accepts(JPEG):
                notes.append("PNG too large: converted to JPEG")
                mime = JPEG
                continue
        new = _scaled(img.width, img.height, SHRINK)
        if new == img.size or min(new) < 16:
            break
        notes.append(f"resized {img.width}x{img.height} to {new[0]}x{new[1]} to fit {max_bytes:,} bytes")
        img = img.resize(new, _lanczos())
    raise MediaError(f"cannot be made smaller than {max_bytes:,} bytes", file=name, rule="bytes")


def _best_quality(
    img: Image.Image, mime: str, max_bytes: int | None, icc: bytes | None
) -> tuple[bytes, int] | None:
    """The highest quality in :data:`QUALITIES` whose encoding fits (binary search: size grows with it)."""
    if max_bytes is None:
        return _encode(img, mime, QUALITIES[0], icc), QUALITIES[0]
    # Most images fit at the best quality: try it first (as sent), then search the rest.
    first = _encode(img, mime, QUALITIES[0], icc)
    if len(first) <= max_bytes:
        return first, QUALITIES[0]
    lo, hi, best = 1, len(QUALITIES) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        out = _encode(img, mime, QUALITIES[mid], icc, optimize=False)
        if len(out) <= max_bytes:
            best, hi = (out, QUALITIES[mid]), mid - 1
        else:
            lo = mid + 1
    if best is not None and mime == JPEG:
        optimized = _encode(img, mime, best[1], icc)
        if len(optimized) <= len(best[0]):
            best = (optimized, best[1])
    return best


def _fit_animation(
    im: Image.Image, count: int, mime: str, limits: TypeLimits, rules: MediaRules, name: str
) -> tuple[bytes, int, int, list[str]]:
    """An animated GIF (or WebP) within the limits with every frame kept, or a MediaError saying why not.

    ``count`` frames are checked against the platform's frame limit and :data:`MAX_ANIMATION_PIXELS` before
    any is decoded; each attempt then decodes, converts and scales one frame at a time.
    """
    from PIL import ImageSequence

    width, height = im.size
    if limits.max_frames is not None and count > limits.max_frames:
        found = f"{count} frames > {limits.max_frames} on {rules.platform}"
        raise MediaError(found, file=name, rule="frames")
    if count * width * height > MAX_ANIMATION_PIXELS:
        raise MediaError(
            f"animation too large to decode safely: {count:,} frames of {width}x{height} px is more than "
            f"{MAX_ANIMATION_PIXELS:,} pixels in all",
            file=name,
            rule="pixels",
        )
    durations = [
        int(frame.info.get("duration", im.info.get("duration", 100))) for frame in ImageSequence.Iterator(im)
    ]
    loop = int(im.info.get("loop", 0))
    scale = scale_for(width, height, limits)
    notes = ["metadata removed"] if _has_metadata(im) else []

    def scaled_frames(size: tuple[int, int]) -> Iterator[Image.Image]:
        for frame in ImageSequence.Iterator(im):
            rgba = frame.convert("RGBA")
            yield rgba if size == (width, height) else rgba.resize(size, _lanczos())

    for _ in range(MAX_SHRINKS):
        size = _scaled(width, height, scale)
        buf = io.BytesIO()
        fmt = "GIF" if mime == GIF else "WEBP"
        extra: dict[str, Any] = {"disposal": 2, "comment": b""} if fmt == "GIF" else {"quality": 80}
        scaled = scaled_frames(size)
        first = next(scaled)
        # The GIF writer takes the rest one by one (Pillow's WebP writer makes a list of them: scaled size).
        first.save(buf, fmt, save_all=True, append_images=scaled, duration=durations, loop=loop, **extra)
        out = buf.getvalue()
        if limits.max_bytes is None or len(out) <= limits.max_bytes:
            if size != (width, height):
                notes.append(f"resized {width}x{height} to {size[0]}x{size[1]} ({count} frames kept)")
            return out, size[0], size[1], notes
        if min(size) < 32:
            break
        scale *= SHRINK
    raise MediaError(
        f"animated image cannot fit under {limits.max_bytes:,} bytes without losing its animation "
        "(shorten it, or make it an MP4 video)",
        file=name,
        rule="bytes",
    )


# -- lossless JPEG metadata removal ------------------------------------------------------------------------

#: Segments kept: JFIF (APP0), ICC profile (APP2 "ICC_PROFILE"), Adobe colour transform (APP14).
_KEEP_APP = {0xE0: b"JFIF", 0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """``data`` without EXIF/XMP (APP1), comments (COM) and other APPn segments; pixels untouched.

    Walks the marker segments (ITU T.81 annex B): entropy-coded data after each SOS is copied as is (up to
    the next marker that is not a stuffed 0xFF00 or a restart marker), and everything after EOI (thumbnails
    of multi-picture files, vendor trailers) is dropped.
    """
    out = bytearray(data[:2])
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos : pos + 2 + length]
        keep = not (0xE0 <= marker <= 0xEF or marker == 0xFE)
        if marker in _KEEP_APP and segment[4:].startswith(_KEEP_APP[marker]):
            keep = True
        if keep:
            out += segment
        pos += 2 + length
        if marker == 0xDA:  # start of scan: copy the entropy-coded data that follows
            end = _scan_end(data, pos)
            out += data[pos:end]
            pos = end
    out += b"\xff\xd9"
    return bytes(out)


def _scan_end(data: bytes, pos: int) -> int:
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos
