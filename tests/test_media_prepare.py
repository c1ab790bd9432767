"""Preparing images: type from bytes, metadata stripped, orientation kept, pixel and byte limits met.

Every image is generated here with Pillow (tests/helpers/media.py); nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from campaign.errors import MediaError
from campaign.media.prepare import prepare, sniff, strip_jpeg_metadata
from campaign.media.rules import GIF, JPEG, PLATFORM_MEDIA_RULES, PNG, WEBP, TypeLimits
from campaign.media.store import MediaStore
from tests.helpers.media import BLUE, RED, animated_gif, exif_with, item, noisy, save, two_tone

RULES = PLATFORM_MEDIA_RULES


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "db" / "media")


def reopen(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    return im


def assert_no_metadata(path: Path) -> None:
    im = reopen(path)
    assert not im.getexif(), "EXIF left in the output"
    leftovers = {k for k in im.info if k in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "Description")}
    assert not leftovers
    assert b"Exif\x00\x00" not in path.read_bytes()
    assert b"GPS" not in path.read_bytes()


def near(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


# -- type sniffing -----------------------------------------------------------------------------------------


def test_type_is_sniffed_from_bytes_not_the_extension(tmp_path: Path, store: MediaStore) -> None:
    png_named_jpg = save(two_tone(30, 20), tmp_path / "photo.jpg", "PNG")
    prepared = prepare(item(png_named_jpg), RULES["mastodon"], store)
    assert prepared.mime == PNG
    assert prepared.path.suffix == ".png"


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"BM" + b"\0" * 60, "image/bmp"),
        (b"%PDF-1.7\n" + b"\0" * 40, "application/pdf"),
        (b"II*\x00" + b"\0" * 40, "image/tiff"),
    ],
)
def test_unsupported_types_are_refused_naming_the_type(
    tmp_path: Path, store: MediaStore, content: bytes, found: str
) -> None:
    path = tmp_path / "banner.jpg"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        prepare(item(path), RULES["x"], store)
    assert (
        str(caught.value)
        == f"banner.jpg: {found} files are not supported (use JPEG, PNG, WebP, GIF or MP4) (type)"
    )
    assert caught.value.rule == "type"
    assert not store.root.exists() or not any(store.root.iterdir())


def test_a_text_file_named_like_an_image_is_refused(tmp_path: Path, store: MediaStore) -> None:
    path = tmp_path / "photo.png"
    path.write_text("not an image at all\n")
    with pytest.raises(
        MediaError, match=r"^photo.png: not an image or video file \(unknown type\) \(type\)$"
    ):
        prepare(item(path), RULES["mastodon"], store)


def test_a_truncated_image_is_a_clear_error(tmp_path: Path, store: MediaStore) -> None:
    data = (tmp_path / "x").with_suffix(".jpg")
    save(noisy(200, 200), data, "JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data.read_bytes()[:20])
    with pytest.raises(MediaError) as caught:
        prepare(item(cut), RULES["x"], store)
    assert caught.value.rule == "file"
    assert str(caught.value).startswith("cut.jpg: cannot decode the image")


def test_a_missing_file_is_a_clear_error(tmp_path: Path, store: MediaStore) -> None:
    with pytest.raises(MediaError, match=r"^gone.jpg: cannot read the file: .* \(file\)$"):
        prepare(item(tmp_path / "gone.jpg"), RULES["x"], store)


def test_sniff_knows_each_accepted_type() -> None:
    assert sniff(b"\xff\xd8\xff\xe0rest") == JPEG
    assert sniff(b"\x89PNG\r\n\x1a\nrest") == PNG
    assert sniff(b"GIF89a....") == GIF
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == WEBP
    assert sniff(b"\0\0\0\x18ftypisom") == "video/mp4"
    assert sniff(b"\0\0\0\x18ftypqt  ") == "video/quicktime"
    assert sniff(b"hello") is None


# -- metadata and orientation ------------------------------------------------------------------------------


def test_exif_with_gps_is_stripped_losslessly_when_nothing_else_changes(
    tmp_path: Path, store: MediaStore
) -> None:
    source = save(
        noisy(64, 48), tmp_path / "gps.jpg", "JPEG", quality=90, exif=exif_with(1, gps=True, camera="X100")
    )
    assert Image.open(source).getexif().get_ifd(0x8825), "the fixture must carry GPS"
    prepared = prepare(item(source), RULES["x"], store)
    assert prepared.notes == ("metadata removed (lossless)",)
    assert_no_metadata(prepared.path)
    # Lossless: the decoded pixels are exactly the source's.
    assert reopen(prepared.path).tobytes() == reopen(source).tobytes()


def test_orientation_6_comes_out_rotated_with_no_tag(tmp_path: Path, store: MediaStore) -> None:
    source = save(two_tone(40, 20), tmp_path / "phone.jpg", "JPEG", quality=95, exif=exif_with(6, gps=True))
    prepared = prepare(item(source), RULES["mastodon"], store)
    out = reopen(prepared.path)
    # Orientation 6: the stored picture is shown turned 90 degrees clockwise: its left half (red) on top.
    assert (prepared.width, prepared.height) == out.size == (20, 40)
    assert near(out.getpixel((10, 5)), RED) and near(out.getpixel((10, 35)), BLUE)
    assert 0x0112 not in out.getexif()
    assert_no_metadata(prepared.path)
    assert "orientation 6 applied" in prepared.notes


@pytest.mark.parametrize("orientation", [3, 8])
def test_other_orientations_are_applied(tmp_path: Path, store: MediaStore, orientation: int) -> None:
    source = save(two_tone(40, 20), tmp_path / "o.jpg", "JPEG", quality=95, exif=exif_with(orientation))
    out = reopen(prepare(item(source), RULES["mastodon"], store).path)
    if orientation == 3:  # turned 180 degrees: red now on the right
        assert out.size == (40, 20) and near(out.getpixel((35, 10)), RED)
    else:  # 8: turned 90 degrees counter-clockwise: red at the bottom
        assert out.size == (20, 40) and near(out.getpixel((10, 35)), RED)


def test_png_text_chunks_are_removed_and_the_icc_profile_kept(tmp_path: Path, store: MediaStore) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Photographer")
    info.add_text("Description", "taken at home, 12 Some Street")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = save(two_tone(30, 30), tmp_path / "chart.png", "PNG", pnginfo=info, icc_profile=icc)
    prepared = prepare(item(source), RULES["bluesky"], store)
    out = reopen(prepared.path)
    assert "Author" not in out.info and "Description" not in out.info
    assert out.info.get("icc_profile") == icc
    assert b"Jane Photographer" not in prepared.path.read_bytes()


def test_a_clean_file_that_fits_is_stored_byte_for_byte(tmp_path: Path, store: MediaStore) -> None:
    source = save(two_tone(64, 32), tmp_path / "clean.png", "PNG")
    prepared = prepare(item(source), RULES["bluesky"], store)
    assert prepared.path.read_bytes() == source.read_bytes()
    assert prepared.notes == ()


def test_strip_jpeg_metadata_keeps_the_picture_and_drops_trailers() -> None:
    buf = io.BytesIO()
    noisy(48, 32).save(buf, "JPEG", exif=exif_with(1, gps=True), comment=b"secret note", progressive=True)
    data = buf.getvalue() + b"TRAILER-with-a-second-image"
    stripped = strip_jpeg_metadata(data)
    assert b"secret note" not in stripped and b"TRAILER" not in stripped and b"Exif" not in stripped
    assert stripped.endswith(b"\xff\xd9")
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(buf.getvalue())).tobytes()


# -- pixel and byte limits ---------------------------------------------------------------------------------


def test_oversize_is_resized_within_the_pixel_limit_keeping_aspect(tmp_path: Path, store: MediaStore) -> None:
    source = save(two_tone(4000, 3000), tmp_path / "big.png", "PNG")
    prepared = prepare(item(source), RULES["mastodon"], store)  # 8,294,400 pixels at most
    assert prepared.width * prepared.height <= 8_294_400
    assert abs(prepared.width / prepared.height - 4 / 3) < 0.01
    assert prepared.notes[0].startswith("resized 4000x3000 to ")


def test_width_limit_threads(tmp_path: Path, store: MediaStore) -> None:
    source = save(noisy(2000, 1000), tmp_path / "wide.jpg", "JPEG")
    prepared = prepare(item(source), RULES["threads"], store)
    assert (prepared.width, prepared.height) == (1440, 720)


def test_telegram_width_plus_height(tmp_path: Path, store: MediaStore) -> None:
    source = save(two_tone(9000, 3000), tmp_path / "panorama.png", "PNG")
    prepared = prepare(item(source), RULES["telegram"], store)
    assert prepared.width + prepared.height <= 10_000


def test_byte_limit_met_by_quality_then_size(tmp_path: Path, store: MediaStore) -> None:
    source = save(noisy(2400, 1800), tmp_path / "press.jpg", "JPEG", quality=97)
    assert source.stat().st_size > 1_000_000
    prepared = prepare(item(source), RULES["bluesky"], store)
    assert prepared.size <= 1_000_000 == RULES["bluesky"].image.max_bytes
    assert prepared.path.stat().st_size == prepared.size
    assert any(note.startswith("encoded as image/jpeg quality") for note in prepared.notes)


def test_a_photo_saved_as_png_becomes_jpeg_when_it_cannot_fit(tmp_path: Path, store: MediaStore) -> None:
    source = save(noisy(1600, 1200), tmp_path / "photo.png", "PNG")
    assert source.stat().st_size > 1_000_000
    prepared = prepare(item(source), RULES["bluesky"], store)
    assert prepared.mime == JPEG and prepared.size <= 1_000_000
    assert "PNG too large: converted to JPEG" in prepared.notes


def test_transparent_png_shrinks_but_stays_png(tmp_path: Path, store: MediaStore) -> None:
    im = noisy(1400, 1400).convert("RGBA")
    im.putalpha(180)
    source = save(im, tmp_path / "logo.png", "PNG")
    prepared = prepare(item(source), RULES["bluesky"], store)
    assert prepared.mime == PNG and prepared.size <= 1_000_000
    assert reopen(prepared.path).mode == "RGBA"


def test_webp_becomes_jpeg_where_webp_is_not_taken(tmp_path: Path, store: MediaStore) -> None:
    source = save(noisy(300, 200), tmp_path / "shot.webp", "WEBP")
    prepared = prepare(item(source), RULES["threads"], store)  # Threads: JPEG and PNG only
    assert prepared.mime == JPEG and prepared.path.suffix == ".jpg"


def test_an_image_that_cannot_be_made_small_enough_is_an_error(tmp_path: Path, store: MediaStore) -> None:
    tiny_limit = dataclasses.replace(RULES["bluesky"], image=TypeLimits(max_bytes=300))
    source = save(noisy(400, 400), tmp_path / "dense.jpg", "JPEG")
    with pytest.raises(MediaError, match=r"^dense.jpg: cannot be made smaller than 300 bytes \(bytes\)$"):
        prepare(item(source), tiny_limit, store)


def test_aspect_ratio_violations_are_refused_not_cropped(tmp_path: Path, store: MediaStore) -> None:
    source = save(two_tone(2200, 100), tmp_path / "strip.png", "PNG")
    with pytest.raises(MediaError) as caught:
        prepare(item(source), RULES["threads"], store)
    assert caught.value.rule == "aspect"
    assert str(caught.value) == "strip.png: aspect ratio 1440:65 is wider than 10:1 on threads (aspect)"


# -- animated GIFs -----------------------------------------------------------------------------------------


def test_animated_gif_keeps_every_frame(tmp_path: Path, store: MediaStore) -> None:
    source = animated_gif(tmp_path / "loop.gif", frames=6, comment=b"made by someone")
    prepared = prepare(item(source), RULES["x"], store)
    out = reopen(prepared.path)
    assert prepared.frames == 6 and getattr(out, "n_frames", 1) == 6
    assert b"made by someone" not in prepared.path.read_bytes()


def test_animated_gif_resized_within_pixel_limits_stays_animated(tmp_path: Path, store: MediaStore) -> None:
    source = animated_gif(tmp_path / "wide.gif", frames=4, size=(1600, 400))
    prepared = prepare(item(source), RULES["x"], store)  # X GIFs: at most 1280x1080
    out = Image.open(prepared.path)
    assert out.size == (1280, 320) and getattr(out, "n_frames", 1) == 4
    assert prepared.notes[-1] == "resized 1600x400 to 1280x320 (4 frames kept)"


def test_animated_gif_that_cannot_fit_is_an_error_not_a_still(tmp_path: Path, store: MediaStore) -> None:
    rules = dataclasses.replace(RULES["x"], gif=TypeLimits(max_bytes=200))
    source = animated_gif(tmp_path / "party.gif", frames=8)
    with pytest.raises(MediaError) as caught:
        prepare(item(source), rules, store)
    assert str(caught.value) == (
        "party.gif: animated image cannot fit under 200 bytes without losing its animation "
        "(shorten it, or make it an MP4 video) (bytes)"
    )


def test_animated_gif_over_the_frame_limit(tmp_path: Path, store: MediaStore) -> None:
    rules = dataclasses.replace(RULES["linkedin"], gif=TypeLimits(max_frames=3))
    with pytest.raises(MediaError, match=r"^many.gif: 5 frames > 3 on linkedin \(frames\)$"):
        prepare(item(animated_gif(tmp_path / "many.gif", frames=5)), rules, store)


def test_animated_gif_where_the_platform_takes_no_gif(tmp_path: Path, store: MediaStore) -> None:
    with pytest.raises(MediaError, match=r"^a.gif: animated image/gif is not accepted on threads \(type\)$"):
        prepare(item(animated_gif(tmp_path / "a.gif")), RULES["threads"], store)
