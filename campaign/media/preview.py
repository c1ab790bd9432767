"""Small, self-contained views of prepared media for the HTML preview (a data URL per image).

The HTML preview is one self-contained file, so images are inlined; a full-size photo would make it tens of
megabytes, so each image is shown as a JPEG thumbnail (PNG where it has transparency) of at most
``max_side`` pixels. Animated images show their first frame; videos have no thumbnail (None) and are shown
by their facts (size, duration) with their alt text.
"""

from __future__ import annotations

import base64
import io

from campaign.media.model import PreparedMedia
from campaign.media.rules import VIDEO_TYPES

#: Thumbnails are at most this many pixels on their longer side.
THUMBNAIL_SIDE = 480


def thumbnail_data_url(media: PreparedMedia, max_side: int = THUMBNAIL_SIDE) -> str | None:
    """A ``data:`` URL of a thumbnail of ``media`` (None for video)."""
    if media.mime in VIDEO_TYPES:
        return None
    from PIL import Image

    with Image.open(media.path) as im:
        im.seek(0)
        frame = im.convert("RGBA")
    frame.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    lowest_alpha = frame.getchannel("A").getextrema()[0]
    if isinstance(lowest_alpha, int) and lowest_alpha < 255:  # some transparency: keep it
        frame.save(buf, "PNG", optimize=True)
        mime = "image/png"
    else:
        frame.convert("RGB").save(buf, "JPEG", quality=80)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
