"""Draw the example campaign's banner with Pillow (no downloaded photos, no other tools).

    python scripts/make_example_media.py            # writes schedules/media/innovation-mixer-us-banner.png
    python scripts/make_example_media.py --check    # exits 1 if the committed file differs from a fresh one

The banner is 1200x675 (16:9, what X and LinkedIn show uncropped): the campaign title on a dark blue
gradient, a line from the release beneath it, and a dotted arc from Hong Kong to the US West Coast. It is
drawn from code, so it is reproducible; its alt text lives in the campaign file next to the ``media:`` item.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "schedules" / "media" / "innovation-mixer-us-banner.png"
SIZE = (1200, 675)
TITLE = "HKSTP Innovation Mixer US tour"
SUBTITLE = "Connecting the US and Hong Kong innovation communities"
TOP, BOTTOM = (9, 30, 66), (16, 94, 112)
WHITE, ACCENT, SOFT = (255, 255, 255), (255, 196, 61), (190, 214, 230)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, ValueError, OSError):
        return ImageFont.load_default()


def _gradient() -> Image.Image:
    height = SIZE[1]
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / (height - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM, strict=True)))
    return column.resize(SIZE)


def _arc(draw: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int], lift: int) -> None:
    """A dotted arc over the Pacific from ``start`` to ``end``."""
    steps = 60
    for i in range(steps + 1):
        t = i / steps
        x = start[0] + (end[0] - start[0]) * t
        y = start[1] + (end[1] - start[1]) * t - lift * math.sin(math.pi * t)
        if i % 2 == 0:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=SOFT)


def _place(draw: ImageDraw.ImageDraw, centre: tuple[int, int], label: str) -> None:
    x, y = centre
    draw.ellipse((x - 13, y - 13, x + 13, y + 13), fill=ACCENT)
    draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=TOP)
    font = _font(30)
    width = draw.textlength(label, font=font)
    draw.text((x - width / 2, y + 24), label, font=font, fill=WHITE)


def banner() -> bytes:
    """The banner as PNG bytes (deterministic for a given Pillow version)."""
    im = _gradient()
    draw = ImageDraw.Draw(im)
    hong_kong, west_coast = (260, 500), (940, 500)
    _arc(draw, hong_kong, west_coast, lift=150)
    _place(draw, hong_kong, "Hong Kong")
    _place(draw, west_coast, "US West Coast")
    title_font, sub_font = _font(70), _font(34)
    for text, font, y, fill in ((TITLE, title_font, 120, WHITE), (SUBTITLE, sub_font, 220, SOFT)):
        width = draw.textlength(text, font=font)
        draw.text(((SIZE[0] - width) / 2, y), text, font=font, fill=fill)
    draw.rectangle((SIZE[0] / 2 - 80, 300, SIZE[0] / 2 + 80, 306), fill=ACCENT)
    buf = io.BytesIO()
    im.quantize(colors=128, dither=Image.Dither.NONE).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed file instead of writing"
    )
    args = parser.parse_args()
    data = banner()
    if args.check:
        same = OUT.is_file() and OUT.read_bytes() == data
        print(f"{OUT.relative_to(ROOT)}: {'up to date' if same else 'differs from a fresh drawing'}")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data):,} bytes, {SIZE[0]}x{SIZE[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
