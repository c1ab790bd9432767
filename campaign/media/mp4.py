"""A small reader of MP4 (ISO base media file format) boxes: duration, picture size, codecs. No decoding.

Why our own reader: the facts we check (container, codec, duration, size) sit in a few fixed-layout boxes
(ISO/IEC 14496-12: ``ftyp``; ``moov/mvhd``; ``moov/trak/tkhd``; ``trak/mdia/hdlr``;
``trak/mdia/minf/stbl/stsd``), so some eighty lines of ``struct`` do it. The Python wrappers of
ffprobe/MediaInfo need system binaries or libraries, which DECISIONS.md rules out; pure-Python parsers on PyPI
(pymp4, construct-based) are larger than this and little maintained. Only the ``moov`` box is read into memory
(it holds sample tables, a few MB even for long videos); ``mdat`` (the media data) is skipped by seeking.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import MediaError

#: ``moov`` boxes larger than this are refused rather than read (no real file comes near it).
MAX_MOOV_BYTES = 64 * 1024 * 1024
#: Brands of the ``ftyp`` box we read as MP4 (MPEG-4 part 14 and its ISO base family; QuickTime is ``qt  ``).
MP4_BRANDS = frozenset(
    {"isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "M4A ", "dash"}
)


@dataclass(frozen=True)
class Mp4Info:
    """What an MP4 says about itself. ``duration`` in seconds; sizes in pixels (display size, from tkhd)."""

    brand: str
    duration: float
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    #: ``moov`` comes before ``mdat`` (players and Threads can start without reading the whole file).
    faststart: bool


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError("truncated box header")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int] | None:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _path(data: bytes, start: int, end: int, *kinds: str) -> tuple[int, int] | None:
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        if span is None:
            return None
        span = _child(data, span[0], span[1], kind)
    return span


def _top_level(path: Path) -> tuple[str, bytes, bool]:
    """The ftyp brand, the ``moov`` payload and whether moov precedes mdat, seeking past everything else."""
    brand, moov, seen_mdat, faststart = "", b"", False, False
    size_total = path.stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            size, kind = struct.unpack(">I4s", f.read(8))
            header = 8
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
                header = 16
            elif size == 0:
                size = size_total - pos
            if size < header or pos + size > size_total:
                raise ValueError(f"box {kind!r} runs past the end of the file")
            if kind == b"ftyp":
                brand = f.read(4).decode("latin-1")
            elif kind == b"mdat":
                seen_mdat = True
            elif kind == b"moov":
                if size - header > MAX_MOOV_BYTES:
                    raise ValueError("moov box larger than 64 MB")
                moov = f.read(size - header)
                faststart = not seen_mdat
            pos += size
    return brand, moov, faststart


def read_mp4(path: str | Path, *, name: str | None = None) -> Mp4Info:
    """Read an MP4's container facts. Raises :class:`MediaError` (rule ``container``, naming the file as
    ``name`` or the path) if it is not one."""
    p = Path(path)
    try:
        brand, moov, faststart = _top_level(p)
        if not brand:
            raise ValueError("no ftyp box: not an MP4 file")
        if not moov:
            raise ValueError("no moov box (an unfinished recording?)")
        return _read_moov(brand, moov, faststart)
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable MP4: {exc}", file=name or str(path), rule="container") from None


def _read_moov(brand: str, moov: bytes, faststart: bool) -> Mp4Info:
    mvhd = _child(moov, 0, len(moov), "mvhd")
    if mvhd is None:
        raise ValueError("no mvhd box")
    s = mvhd[0]
    if moov[s] == 1:  # version 1: 64-bit times
        timescale, duration = struct.unpack_from(">IQ", moov, s + 20)
    else:
        timescale, duration = struct.unpack_from(">II", moov, s + 12)
    seconds = duration / timescale if timescale else 0.0
    width = height = 0
    video_codec = audio_codec = None
    for kind, ts, te in _boxes(moov):
        if kind != "trak":
            continue
        hdlr = _path(moov, ts, te, "mdia", "hdlr")
        stsd = _path(moov, ts, te, "mdia", "minf", "stbl", "stsd")
        if hdlr is None or stsd is None:
            continue
        handler = moov[hdlr[0] + 8 : hdlr[0] + 12].decode("latin-1")
        # stsd: version/flags (4), entry count (4), then the first sample entry: size (4), format (4).
        codec = moov[stsd[0] + 12 : stsd[0] + 16].decode("latin-1") if stsd[1] - stsd[0] >= 16 else None
        if handler == "vide" and video_codec is None:
            video_codec = codec
            width, height = _track_size(moov, ts, te)
        elif handler == "soun" and audio_codec is None:
            audio_codec = codec
    return Mp4Info(brand, seconds, width, height, video_codec, audio_codec, faststart)


def _track_size(moov: bytes, start: int, end: int) -> tuple[int, int]:
    """A track's display width and height (16.16 fixed point at the end of ``tkhd``)."""
    tkhd = _child(moov, start, end, "tkhd")
    if tkhd is None:
        return 0, 0
    w, h = struct.unpack_from(">II", moov, tkhd[1] - 8)
    return w >> 16, h >> 16
