"""Media made in the tests: Pillow images with chosen metadata, and tiny MP4 files written box by box.

No downloaded files: every image and video the media tests use is generated here. The MP4 builder writes
only the boxes our reader looks at (ISO/IEC 14496-12: ftyp, moov/mvhd, trak/tkhd, mdia/mdhd, mdia/hdlr,
minf/stbl/stsd, mdat); it is not a playable video, and does not need to be.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import ExifTags, Image

from campaign.media.model import MediaItem

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_tone(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: orientation is visible in the pixels."""
    im = Image.new(mode, (width, height), RED if mode == "RGB" else (*RED, 255))
    im.paste(BLUE if mode == "RGB" else (*BLUE, 255), (width // 2, 0, width, height))
    return im


def noisy(width: int, height: int, seed: int = 7) -> Image.Image:
    """A photo-like image that compresses poorly (so byte limits bite)."""
    import random

    rng = random.Random(seed)
    small = Image.new("RGB", (max(1, width // 8), max(1, height // 8)))
    small.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(small.width * small.height)
        ]
    )
    big = small.resize((width, height), Image.Resampling.BICUBIC)
    return Image.blend(big, Image.effect_noise((width, height), 60).convert("RGB"), 0.35)


def exif_with(orientation: int | None = None, gps: bool = False, camera: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if camera:
        exif[ExifTags.Base.Model] = camera
    if gps:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N"
        info[ExifTags.GPS.GPSLatitude] = (22.0, 25.0, 30.0)
        info[ExifTags.GPS.GPSLongitudeRef] = "E"
        info[ExifTags.GPS.GPSLongitude] = (114.0, 12.0, 45.0)
    return exif


def save(im: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    im.save(path, fmt, **params)
    return path


def item(path: Path, alt: str = "A test picture", **kw: object) -> MediaItem:
    return MediaItem(file=path, alt=alt, label=path.name, **kw)  # type: ignore[arg-type]


def animated_gif(
    path: Path, frames: int = 6, size: tuple[int, int] = (120, 80), comment: bytes = b""
) -> Path:
    images = []
    for i in range(frames):
        im = Image.new("RGB", size, (40 * i % 256, 90, 200 - 20 * i % 200))
        im.paste((255, 255, 255), (i * 10 % size[0], 10, i * 10 % size[0] + 20, 40))
        images.append(im)
    extra = {"comment": comment} if comment else {}
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0, **extra)
    return path


# -- MP4 ---------------------------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def _track(handler: bytes, codec: bytes, width: int, height: int, duration: int, timescale: int) -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = full_box(
        b"tkhd", 0,
        struct.pack(">IIIII", 0, 0, 1, 0, duration) + b"\0" * 8 + struct.pack(">hhhH", 0, 0, 0, 0) + matrix
        + struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, struct.pack(">I4s", 0, handler) + b"\0" * 12 + b"track\0")
    entry = box(codec, b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 70)
    stsd = full_box(b"stsd", 0, struct.pack(">I", 1) + entry)
    mdia = box(b"mdia", mdhd + hdlr + box(b"minf", box(b"stbl", stsd)))
    return box(b"trak", tkhd + mdia)


def mp4_bytes(
    seconds: float = 10.0,
    width: int = 1280,
    height: int = 720,
    video: bytes = b"avc1",
    audio: bytes | None = b"mp4a",
    brand: bytes = b"isom",
    mdat_size: int = 1000,
    moov_first: bool = True,
    version1: bool = False,
) -> bytes:
    """A minimal MP4: the boxes our reader needs, and ``mdat_size`` bytes of (meaningless) media data."""
    timescale = 1000
    duration = round(seconds * timescale)
    if version1:
        mvhd = full_box(b"mvhd", 1, struct.pack(">QQIQ", 0, 0, timescale, duration) + b"\0" * 80)
    else:
        mvhd = full_box(b"mvhd", 0, struct.pack(">IIII", 0, 0, timescale, duration) + b"\0" * 80)
    tracks = _track(b"vide", video, width, height, duration, timescale)
    if audio is not None:
        tracks += _track(b"soun", audio, 0, 0, duration, timescale)
    moov = box(b"moov", mvhd + tracks)
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mdat = box(b"mdat", bytes(i % 251 for i in range(mdat_size)))
    return ftyp + (moov + mdat if moov_first else mdat + moov)


def write_mp4(path: Path, **kw: object) -> Path:
    path.write_bytes(mp4_bytes(**kw))  # type: ignore[arg-type]
    return path


def jpeg_bytes(im: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **params)
    return buf.getvalue()
