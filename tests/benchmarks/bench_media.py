"""Benchmark: images prepared per second (a 12-megapixel camera JPEG to each platform's limits).

Run ``python tests/benchmarks/bench_media.py`` (a 4000x3000 JPEG, 3 rounds) or ``--quick`` (2000x1500, 1
round, for CI). The source is generated with Pillow: a photo-like picture with EXIF (camera, GPS,
orientation 6), saved at quality 95, so every platform has work to do (orientation, metadata, pixel and byte
limits). Each platform's preparation runs on a fresh store (no content-addressed shortcut) with the shipped
code and defaults.

No speed target is set for preparation; the rate is printed beside a reference measured in the same run:
Pillow's plain decode + encode of the same image (``Image.open().load()`` then ``save(JPEG, quality=85)``),
which is the least any converter must do. Printed targets are about correctness: every prepared file is
within its platform's limits and carries no EXIF or GPS.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PIL import ExifTags, Image

from campaign.media.check import check_media
from campaign.media.model import MediaItem
from campaign.media.prepare import prepare
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore

#: Platforms that take an upload or a URL of an image (all of them); the webhook has no limits to meet.
PLATFORMS = [name for name in PLATFORM_MEDIA_RULES if name != "webhook"]


def camera_jpeg(width: int, height: int) -> bytes:
    """A photo-like JPEG with camera EXIF, GPS and orientation 6, like a phone's."""
    rng = random.Random(12)
    small = Image.new("RGB", (width // 16, height // 16))
    small.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(small.width * small.height)
        ]
    )
    picture = Image.blend(
        small.resize((width, height), Image.Resampling.BICUBIC),
        Image.effect_noise((width, height), 40).convert("RGB"),
        0.25,
    )
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Model] = "Bench Camera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (22.0, 25.0, 30.0)
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


def plain_reencode(data: bytes) -> float:
    """Seconds for Pillow's plain decode + encode of ``data`` (the reference)."""
    start = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        im.save(io.BytesIO(), "JPEG", quality=85)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 3-megapixel source and one round (for CI)")
    args = parser.parse_args(argv)
    width, height, rounds = (2000, 1500, 1) if args.quick else (4000, 3000, 3)
    data = camera_jpeg(width, height)
    print(
        f"source: {width}x{height} JPEG, {len(data):,} bytes, EXIF with GPS, orientation 6; {rounds} round(s)"
    )

    failures: list[str] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "camera.jpg"
        source.write_bytes(data)
        item = MediaItem(file=source, alt="A test photograph", label="camera.jpg")
        reference = min(plain_reencode(data) for _ in range(rounds))
        for name in PLATFORMS:
            rules = PLATFORM_MEDIA_RULES[name]
            best = float("inf")
            for r in range(rounds):
                store = MediaStore(Path(tmp) / f"store-{name}-{r}")
                start = time.perf_counter()
                prepared = prepare(item, rules, store)
                best = min(best, time.perf_counter() - start)
            timings[name] = best
            issues = check_media([prepared], rules, name, "bench", media_base_url="https://media.example")
            with Image.open(prepared.path) as out:
                # Reopened: no EXIF block at all (so no GPS IFD). Searching the bytes for "GPS" would also
                # match compressed picture data by chance.
                leaked = bool(out.getexif()) or "exif" in out.info
            failures += [str(issue) for issue in issues]
            if leaked:
                failures.append(f"{name}: EXIF or GPS left in {prepared.path.name}")
            print(
                f"  {name:9} {prepared.width}x{prepared.height} {prepared.mime:10} {prepared.size:>10,} B "
                f"{best * 1000:6.0f} ms ({best / reference:4.1f}x plain) {'; '.join(prepared.notes)}"
            )
    total = sum(timings.values())
    leaks = any("EXIF or GPS" in f for f in failures)
    rate = len(timings) / total
    print(
        f"reference: Pillow's plain decode + encode of the same image: {reference * 1000:.0f} ms "
        f"({1 / reference:.2f}/s)"
    )
    print(
        f"RATE images prepared per second over {len(timings)} platforms: {rate:.2f}/s "
        f"({total / len(timings) / reference:.1f}x the plain decode+encode time per image; no numeric target)"
    )
    print(f"TARGET every prepared image within its platform's limits: {'met' if not failures else 'NOT met'}")
    print(f"TARGET no EXIF or GPS in any prepared image: {'NOT met' if leaks else 'met'}")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
