"""MediaPreparer: a post's media for a channel, every issue listed, prepared once across posts and runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign.media import prepare as prepare_module
from campaign.media.batch import MediaPreparer, rules_fingerprint
from campaign.media.model import MediaItem, PreparedMedia
from campaign.media.rules import PLATFORM_MEDIA_RULES
from campaign.media.store import MediaStore
from tests.helpers.media import item, noisy, save, two_tone, write_mp4

RULES = PLATFORM_MEDIA_RULES
ROOT = Path(__file__).resolve().parent.parent


def test_a_post_prepared_for_a_channel(tmp_path: Path) -> None:
    a = save(noisy(300, 200), tmp_path / "a.jpg", "JPEG")
    b = save(two_tone(60, 40), tmp_path / "b.png", "PNG")
    preparer = MediaPreparer(MediaStore(tmp_path / "media"))
    items = [item(a), MediaItem(file=b, alt="", decorative=True, label="b.png", skip=frozenset({"x"}))]
    on_mastodon, issues = preparer.prepare_post(items, RULES["mastodon"], "mastodon", "launch")
    assert [p.source for p in on_mastodon] == ["a.jpg", "b.png"] and issues == []
    on_x, issues = preparer.prepare_post(items, RULES["x"], "x", "launch")
    assert [p.source for p in on_x] == ["a.jpg"] and issues == []


def test_every_issue_of_a_post_is_listed_including_files_that_failed(tmp_path: Path) -> None:
    good = [item(save(two_tone(40, 40), tmp_path / f"{i}.png", "PNG"), alt="") for i in range(4)]
    broken = tmp_path / "notes.jpg"
    broken.write_text("not a picture")
    long_clip = write_mp4(tmp_path / "talk.mp4", seconds=200.0)
    preparer = MediaPreparer(MediaStore(tmp_path / "media"))
    _, issues = preparer.prepare_post([*good, item(broken), item(long_clip)], RULES["x"], "x", "launch")
    lines = [str(i) for i in issues]
    assert lines[:2] == [
        "post 'launch' on x: notes.jpg: not an image or video file (unknown type) (type)",
        "post 'launch' on x: talk.mp4: 200 s long > 140 s on x (duration)",
    ]
    assert "post 'launch' on x: 6 media items > 4 per post (count)" in lines
    assert sum(i.rule == "alt" for i in issues) == 4


def test_results_are_reused_across_posts_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = save(noisy(2400, 1800), tmp_path / "photo.jpg", "JPEG", quality=95)
    store = MediaStore(tmp_path / "media")
    first = MediaPreparer(store).prepare(item(source, alt="first alt"), RULES["bluesky"])

    def refuse(*args: object, **kwargs: object) -> PreparedMedia:
        raise AssertionError("prepared again instead of using the cache")

    monkeypatch.setattr(prepare_module, "prepare", refuse)  # batch imports it when it must prepare
    again = MediaPreparer(store).prepare(item(source, alt="second alt"), RULES["bluesky"])  # a new run
    assert again.alt == "second alt" and again.sha256 == first.sha256 and again.path == first.path
    assert (again.width, again.height, again.size, again.notes) == (
        first.width,
        first.height,
        first.size,
        first.notes,
    )

    first.path.unlink()  # the prepared file is gone: the cache entry is not trusted
    monkeypatch.undo()
    assert MediaPreparer(store).prepare(item(source), RULES["bluesky"]).path.is_file()


def test_a_stored_file_of_another_size_is_prepared_again(tmp_path: Path) -> None:
    source = save(noisy(800, 600), tmp_path / "photo.jpg", "JPEG", quality=95)
    store = MediaStore(tmp_path / "media")
    first = MediaPreparer(store).prepare(item(source), RULES["bluesky"])
    good = first.path.read_bytes()
    first.path.write_bytes(good[: len(good) // 2])  # truncated in the store: never served as it is
    again = MediaPreparer(store).prepare(item(source), RULES["bluesky"])
    assert again.path == first.path and again.path.read_bytes() == good


def test_a_preview_whose_media_the_store_holds_loads_neither_the_preparation_code_nor_pillow(
    tmp_path: Path,
) -> None:
    source = save(noisy(800, 600), tmp_path / "photo.jpg", "JPEG", quality=95)
    MediaPreparer(MediaStore(tmp_path / "media")).prepare(item(source), RULES["bluesky"])
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from campaign.media.batch import MediaPreparer\n"
        "from campaign.media.rules import PLATFORM_MEDIA_RULES\n"
        "from campaign.media.model import MediaItem\n"
        "from campaign.media.store import MediaStore\n"
        f"root = Path({str(tmp_path)!r})\n"
        "photo = MediaItem(file=root / 'photo.jpg', alt='A test picture', label='photo.jpg')\n"
        "store = MediaStore(root / 'media')\n"
        "prepared = MediaPreparer(store).prepare(photo, PLATFORM_MEDIA_RULES['bluesky'])\n"
        "assert prepared.path.is_file()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'PIL' or m == 'campaign.media.prepare'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-c", code]
    done = subprocess.run(run, capture_output=True, text=True, check=True, env=env, cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "[]"


def test_a_changed_source_is_prepared_again(tmp_path: Path) -> None:
    source = save(two_tone(50, 50), tmp_path / "logo.png", "PNG")
    preparer = MediaPreparer(MediaStore(tmp_path / "media"))
    one = preparer.prepare(item(source), RULES["x"])
    save(two_tone(80, 50), source, "PNG")
    os.utime(source, ns=(1, 1))
    two = preparer.prepare(item(source), RULES["x"])
    assert one.sha256 != two.sha256 and two.width == 80


def test_a_missing_source_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    preparer = MediaPreparer(MediaStore(tmp_path / "media"))
    _, issues = preparer.prepare_post([item(tmp_path / "gone.png")], RULES["x"], "x", "p")
    assert [i.rule for i in issues] == ["file"] and str(issues[0]).startswith(
        "post 'p' on x: gone.png: cannot read"
    )


def test_rules_fingerprint_is_stable_between_processes() -> None:
    code = (
        "from campaign.media.batch import rules_fingerprint as f; "
        "from campaign.media.rules import PLATFORM_MEDIA_RULES as R; print(f(R['x']))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert outputs == {rules_fingerprint(RULES["x"])}
    assert rules_fingerprint(RULES["x"]) != rules_fingerprint(RULES["bluesky"])
