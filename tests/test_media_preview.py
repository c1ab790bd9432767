"""Media in previews (issue 14): text, Markdown and JSON list each post's files; the HTML page shows inline
thumbnails with their alt text and stays one file; ``--requests`` shows uploads by their facts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from campaign.plan import preview
from campaign.plan.compile import compile_campaign
from campaign.plan.html_preview import to_html
from tests.test_media_compile import NOW, WITH_MEDIA


@pytest.fixture
def doc(mini: Callable[..., Path], tmp_path: Path) -> Callable[..., dict]:  # type: ignore[type-arg]
    def build(requests: bool = False, text: str = WITH_MEDIA) -> dict:  # type: ignore[type-arg]
        path = mini(text)
        Image.new("RGB", (800, 400), (10, 30, 90)).save(path.parent / "banner.png")
        Image.new("RGB", (64, 64), (200, 200, 200)).save(path.parent / "swirl.png")
        compiled = compile_campaign(str(path), now=NOW, media_root=tmp_path / "media")
        return preview.build(compiled, requests=requests)

    return build


def test_text_markdown_and_json_list_each_posts_media(doc: Callable[..., dict]) -> None:  # type: ignore[type-arg]
    d = doc()
    masto = next(p for p in d["posts"] if p["account"] == "main_mastodon" and p["post"] == "launch")
    banner = masto["media"][0]
    assert banner["file"] == "banner.png" and banner["mime"] == "image/png" and len(banner["sha256"]) == 64
    assert banner["alt"].startswith("Banner: ") and banner["size"] > 0
    text = preview.to_text(d)
    assert (
        f"  + media banner.png (image/png, 800x400, {banner['size']:,} bytes, "
        f"sha256 {banner['sha256'][:16]}…)" in text
    )
    assert "swirl.png (image/png, 64x64" in text and ") decorative" in text
    assert "🖼️ media banner.png" in preview.to_markdown(d)
    assert json.loads(preview.to_json(d))["posts"][0]["media"]


def test_html_shows_thumbnails_with_alt_text_inline(doc: Callable[..., dict]) -> None:  # type: ignore[type-arg]
    page = to_html(doc())
    assert '<img src="data:image/jpeg;base64,' in page
    assert 'alt="Banner: ' in page and "Decorative (no alt text)" in page
    assert "banner.png" in page and "http" not in page.split("<img", 1)[1].split(">", 1)[0]


def test_requests_show_uploads_by_method_url_type_size_and_hash(doc: Callable[..., dict]) -> None:  # type: ignore[type-arg]
    d = doc(requests=True)
    masto = next(p for p in d["posts"] if p["account"] == "main_mastodon" and p["post"] == "launch")
    upload = masto["requests"][0]
    banner = masto["media"][0]
    assert upload["method"] == "POST" and upload["url"] == "https://mastodon.example/api/v2/media"
    assert upload["body"] == {
        "upload": {
            "file": "banner.png",
            "mime": "image/png",
            "sha256": banner["sha256"],
            "size": banner["size"],
        },
        "content_type": "multipart/form-data",
    }
    status = masto["requests"][-1]
    assert status["url"].endswith("/api/v1/statuses") and len(status["body"]["media_ids"]) == 2
