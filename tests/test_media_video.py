"""Video: MP4 boxes read (not transcoded); accepted or refused by container, codec, duration and size.

The MP4 files are written box by box in tests/helpers/media.py (ISO/IEC 14496-12 layouts).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from campaign.errors import MediaError
from campaign.media.mp4 import read_mp4
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import box, item, mp4_bytes, write_mp4

RULES = PLATFORM_MEDIA_RULES


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def test_reader_finds_duration_size_and_codecs(tmp_path: Path) -> None:
    info = read_mp4(write_mp4(tmp_path / "a.mp4", seconds=12.5, width=1080, height=1920))
    assert (info.brand, info.duration, info.width, info.height) == ("isom", 12.5, 1080, 1920)
    assert (info.video_codec, info.audio_codec, info.faststart) == ("avc1", "mp4a", True)


def test_reader_reads_version_1_headers_and_moov_at_the_end(tmp_path: Path) -> None:
    info = read_mp4(write_mp4(tmp_path / "b.mp4", seconds=3.25, version1=True, moov_first=False, audio=None))
    assert info.duration == 3.25 and info.audio_codec is None and info.faststart is False


def test_reader_follows_64_bit_box_sizes(tmp_path: Path) -> None:
    data = mp4_bytes(seconds=2.0, mdat_size=0)
    payload = b"\0" * 100
    large_mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(payload)) + payload
    path = tmp_path / "large.mp4"
    path.write_bytes(data + large_mdat)
    assert read_mp4(path).duration == 2.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (box(b"ftyp", b"isom\0\0\0\0") + box(b"mdat", b"x" * 50), "no moov box"),
        (box(b"mdat", b"x" * 50), "no ftyp box"),
        (mp4_bytes(mdat_size=5000)[:-2000], "runs past the end of the file"),
    ],
)
def test_broken_files_are_refused_as_containers(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        read_mp4(path)
    assert caught.value.rule == "container" and reason in str(caught.value)
    assert str(caught.value).startswith(f"{path}: not a readable MP4: ")


def test_a_valid_video_is_stored_unchanged(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "teaser.mp4", seconds=30.0, mdat_size=5000)
    prepared = prepare(item(source, alt="Teaser: the delegation at Stanford"), RULES["x"], store)
    assert prepared.mime == "video/mp4" and prepared.duration == 30.0
    assert prepared.path.read_bytes() == source.read_bytes()
    assert prepared.path.name == f"{prepared.sha256}.mp4"
    assert prepared.notes == ()


def test_a_video_too_long_is_refused_and_not_stored(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "talk.mp4", seconds=200.0)
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["x"], store)
    assert str(caught.value) == "talk.mp4: 200 s long > 140 s on x (duration)"
    assert not store.root.exists()


def test_a_video_too_short_for_linkedin(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "blink.mp4", seconds=1.5, mdat_size=80_000)
    with pytest.raises(MediaError, match=r"^blink.mp4: 1.50 s long < 3 s on linkedin \(duration\)$"):
        prepare(item(source), RULES["linkedin"], store)


def test_hevc_is_refused_on_x_and_taken_on_threads(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "hevc.mp4", video=b"hvc1")
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["x"], store)
    assert str(caught.value) == "hevc.mp4: video codec hvc1 is not accepted (takes avc1, avc3) on x (codec)"
    assert prepare(item(source), RULES["threads"], store).video_codec == "hvc1"


def test_every_video_fault_is_named_in_one_line(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(
        tmp_path / "bad.mp4", seconds=600.0, video=b"vp09", audio=b"Opus", width=4000, height=400
    )
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["x"], store)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.rule == "pixels, aspect, duration, codec"
    for part in ("4000 pixels wide > 1280", "aspect ratio 4000:400 is wider than 3:1", "600 s long > 140 s",
                 "video codec vp09", "audio codec Opus"):  # fmt: skip
        assert part in message


def test_quicktime_is_not_mp4(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "clip.mov", brand=b"qt  ")
    with pytest.raises(MediaError, match=r"^clip.mov: video/quicktime is not accepted: video must be MP4"):
        prepare(item(source), RULES["mastodon"], store)


def test_video_where_the_platform_takes_none(tmp_path: Path, store: MediaStore) -> None:
    source = write_mp4(tmp_path / "clip.mp4")
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["slack"], store)
    assert caught.value.rule == "type"
    assert "video/mp4 is not accepted on slack (takes image/gif, image/jpeg, image/png)" in str(caught.value)


def test_an_unreadable_video_names_the_file_as_written(tmp_path: Path, store: MediaStore) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4_bytes(mdat_size=5000)[:-2000])
    with pytest.raises(MediaError, match=r"^clip.mp4: not a readable MP4: box b'mdat' runs past"):
        prepare(item(path), RULES["x"], store)
