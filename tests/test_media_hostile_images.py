"""Hostile image files: an animated GIF bomb, a truncated PNG, a file name with a NUL byte.

Each is refused as one MediaError line naming the file and the rule, never an internal error, and the bomb is
refused before its frames are decoded.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from campaign.errors import MediaError
from campaign.media import prepare as prepare_module
from campaign.media.batch import MediaPreparer
from campaign.media.model import MediaItem
from campaign.media.prepare import MAX_ANIMATION_PIXELS, prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import item, noisy, save

RULES = PLATFORM_MEDIA_RULES


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "db" / "media")


def gif_bomb(path: Path, canvas: tuple[int, int], frames: int) -> Path:
    """A small file (15 bytes a frame): a ``canvas`` screen holding ``frames`` frames of 1x1 px each."""
    header = b"GIF89a" + struct.pack("<HH", *canvas) + bytes([0x80, 0, 0])  # a 2-colour global table follows
    out = bytearray(header + b"\x00\x00\x00\xff\xff\xff")
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        out += b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00"  # image descriptor: 1x1 at 0,0
        out += b"\x02\x02\x44\x01\x00"  # LZW min code size 2, one sub-block: one pixel of colour 1
    out += b"\x3b"
    path.write_bytes(bytes(out))
    return path


def test_an_animated_gif_bomb_is_refused_before_its_frames_are_decoded(
    tmp_path: Path, store: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = MAX_ANIMATION_PIXELS // (8000 * 8000) + 1  # 8 frames of 8000x8000: over the cap
    source = gif_bomb(tmp_path / "gifbomb.gif", (8000, 8000), frames)
    assert source.stat().st_size < 1000

    def decoded(*args: object, **kwargs: object) -> None:
        raise AssertionError("frames decoded")

    monkeypatch.setattr(prepare_module, "_lanczos", decoded)
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["mastodon"], store)  # Mastodon: no frame limit, so the pixel cap decides
    assert str(caught.value) == (
        f"gifbomb.gif: animation too large to decode safely: {frames:,} frames of 8000x8000 px is more than "
        f"{MAX_ANIMATION_PIXELS:,} pixels in all (pixels)"
    )
    assert list(store.root.rglob("*.gif")) == []


def test_an_animation_over_the_platform_frame_limit_is_refused_before_decoding(
    tmp_path: Path, store: MediaStore
) -> None:
    source = gif_bomb(tmp_path / "many.gif", (4000, 4000), 3000)
    with pytest.raises(MediaError, match=r"^many\.gif: 3000 frames > 350 on x \(frames\)$"):
        prepare(item(source), RULES["x"], store)


def test_a_small_canvas_with_many_tiny_frames_still_prepares(tmp_path: Path, store: MediaStore) -> None:
    source = gif_bomb(tmp_path / "dots.gif", (40, 30), 20)
    prepared = prepare(item(source), RULES["mastodon"], store)
    assert (prepared.frames, prepared.width, prepared.height) == (20, 40, 30)


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
def test_a_truncated_png_is_one_line_naming_the_file(
    tmp_path: Path, store: MediaStore, platform: str
) -> None:
    whole = save(noisy(200, 150), tmp_path / "whole.png", "PNG").read_bytes()
    half = tmp_path / "half.png"
    half.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaError) as caught:
        prepare(item(half), RULES[platform], store)
    assert str(caught.value) == "half.png: cannot decode the image: image file is truncated (file)"


def test_a_file_name_with_a_nul_byte_is_one_issue_naming_the_file(tmp_path: Path) -> None:
    preparer = MediaPreparer(MediaStore(tmp_path / "media"))
    bad = MediaItem(file=tmp_path / "a\0b.png", alt="x", label="a\0b.png")
    prepared, issues = preparer.prepare_post([bad], RULES["x"], "x", "launch")
    assert prepared == []
    assert [str(i) for i in issues] == [
        "post 'launch' on x: a\0b.png: cannot read the file: embedded null byte (file)"
    ]
