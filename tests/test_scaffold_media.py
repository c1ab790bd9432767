"""`campaign init` turns a Markdown release's images (``![alt](file)``) into the launch post's ``media:`` with
the release's alt text; images are confined to the project like the release; what cannot be used is a
warning naming it; the result passes `campaign check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from campaign.cli import main
from campaign.plan.compile import compile_campaign
from campaign.source.config import load_campaign

ALT = "The delegation on stage at the Innovation Mixer in San Francisco"
RELEASE = f"""\
---
title: "Tidewater opens its Hong Kong lab"
date: 2030-01-02
url: https://tidewater.example/news/hong-kong-lab
---

![{ALT}](img/delegation.jpg)

HONG KONG, 2 January 2030 - Tidewater today opened its first lab in Asia, at the Hong Kong Science Park, with
40 engineers working on ocean sensors. #Tidewater

![](img/divider.png)
![A chart that is not there](img/missing.png)
![The logo, hosted elsewhere](https://tidewater.example/logo.png)
![A file from elsewhere](../secrets/key.png)
![Notes](img/notes.png)

"We chose Hong Kong for its talent," says Mei Chan, Tidewater's chief executive.
"""


def write_release(folder: Path, text: str = RELEASE) -> Path:
    (folder / "img").mkdir(parents=True)
    Image.new("RGB", (1200, 800), (10, 60, 120)).save(folder / "img" / "delegation.jpg", "JPEG")
    Image.new("RGB", (600, 20), (200, 200, 200)).save(folder / "img" / "divider.png")
    (folder / "img" / "notes.png").write_text("not an image", encoding="utf-8")
    (folder.parent / "secrets").mkdir(exist_ok=True)
    Image.new("RGB", (10, 10)).save(folder.parent / "secrets" / "key.png")
    release = folder / "launch.md"
    release.write_text(text, encoding="utf-8")
    return release


@pytest.fixture(autouse=True)
def media_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` prepares media into the store beside $CAMPAIGN_DB: keep it in the test's folder."""
    monkeypatch.setenv("CAMPAIGN_DB", str(tmp_path / "queue" / "campaign.db"))


def init(release: Path, project: Path) -> int:
    args = ["init", "--from-release", str(release), "--dir", str(project), "--name", "lab"]
    return main([*args, "--zone", "Asia/Hong_Kong", "--start", "2030-01-07 09:00"])


def test_images_of_a_release_outside_the_project_are_copied_in_and_carried_by_the_launch_post(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = write_release(tmp_path / "press")
    project = tmp_path / "project"
    assert init(release, project) == 0
    out, err = capsys.readouterr()
    copied = project / "media" / "img" / "delegation.jpg"
    assert copied.read_bytes() == (tmp_path / "press" / "img" / "delegation.jpg").read_bytes()
    assert f"wrote {copied}" in out
    for name, why in [
        ("img/missing.png", "was not found"),
        ("https://tidewater.example/logo.png", "is not a local file"),
        ("../secrets/key.png", "is outside the release's folder"),
        ("img/notes.png", "is not a JPEG, PNG, WebP or GIF image"),
    ]:
        assert f"warning: {release}: image {name!r} {why}: left out of the posts" in err
    assert not (project / "media" / "secrets").exists() and not (project / "media" / "key.png").exists()

    schedule = project / "schedules" / "lab.yaml"
    campaign = load_campaign(schedule)
    launch = next(p for p in campaign.posts if p.key == "launch")
    assert [(m.file.name, m.alt, m.decorative) for m in launch.media] == [
        ("delegation.jpg", ALT, False),
        ("divider.png", "", True),
    ]
    assert {"threads", "slack"} <= set(launch.media[0].skip)  # by URL only: media_base_url is not set
    # 30:1 is wider than Telegram takes (20:1): skipped there, and said so
    assert "telegram" in launch.media[1].skip and "telegram" not in launch.media[0].skip
    assert "warning: divider.png cannot go to telegram (" in err
    assert all(not p.media for p in campaign.posts if p.key != "launch")

    assert main(["check", str(schedule), "--now", "2029-12-01T00:00:00Z"]) == 0
    compiled = compile_campaign(str(schedule), now=None)
    by_channel = {p.channel: p for p in compiled.posts if p.post_key == "launch"}
    assert [m.alt for m in by_channel["mastodon"].media] == [ALT, ""]
    assert by_channel["linkedin"].media[0].mime == "image/jpeg"
    assert not by_channel["threads"].media


def test_an_image_inside_the_project_is_named_in_place_and_its_alt_stays_literal(tmp_path: Path) -> None:
    project = tmp_path / "project"
    alt = "Slide: {{ release.title }} is {% not %} a template"
    text = "\n".join(line for line in RELEASE.splitlines() if "![" not in line or "delegation" in line)
    release = write_release(project / "releases", text.replace(ALT, alt) + "\n")
    assert init(release, project) == 0
    assert not (project / "media").exists()
    schedule = project / "schedules" / "lab.yaml"
    assert "file: ../releases/img/delegation.jpg" in schedule.read_text(encoding="utf-8")
    compiled = compile_campaign(str(schedule))
    assert compiled.ok, [str(e) for e in compiled.errors][:3]
    launch = next(p for p in compiled.posts if p.post_key == "launch" and p.channel == "bluesky")
    assert [m.alt for m in launch.media] == [alt]
