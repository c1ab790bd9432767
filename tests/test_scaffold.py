"""`campaign init --from-release`: the derived campaign passes `campaign check` unchanged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from campaign.cli import main
from campaign.errors import UsageError
from campaign.plan.compile import compile_campaign
from campaign.source.config import load_campaign
from campaign.source.scaffold import scaffold
from tests.conftest import RELEASE

RELEASES = Path(__file__).parent / "data" / "releases"


def test_init_from_the_real_release_passes_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "init",
            "--from-release",
            str(RELEASE),
            "--dir",
            str(tmp_path),
            "--name",
            "demo",
            "--zone",
            "Asia/Hong_Kong",
            "--start",
            "2030-01-07 09:00",
        ]
    )
    assert code == 0
    schedule = tmp_path / "schedules" / "demo.yaml"
    assert f"wrote {schedule}" in capsys.readouterr().out
    campaign = load_campaign(schedule)
    assert campaign.hashtags == ("#HKSTP", "#InnovationMixer", "#technology")
    assert [p.key for p in campaign.posts] == [
        "launch",
        "quote",
        "figure-1",
        "figure-2",
        "figure-3",
        "people",
        "about",
    ]
    assert {a.channel for a in campaign.accounts.values()} >= {
        "x",
        "linkedin",
        "mastodon",
        "bluesky",
        "facebook",
        "threads",
        "telegram",
        "slack",
        "discord",
    }
    code = main(["check", str(schedule), "--now", "2029-12-01T00:00:00Z"])
    assert code == 0
    compiled = compile_campaign(str(schedule))
    quote = next(p for p in compiled.posts if p.post_key == "quote" and p.channel == "linkedin")
    assert "The sheer talent" in quote.text and "Albert Wong" in quote.text
    # spread over the first days, never two posts of one account at the same time
    times = {(p.account, p.scheduled_at) for p in compiled.posts}
    assert len(times) == len(compiled.posts)


@pytest.mark.parametrize("release", [*sorted(p.name for p in RELEASES.glob("*.md")), "hkstp-zh.txt"])
def test_init_from_other_layouts(tmp_path: Path, release: str) -> None:
    written = scaffold(
        RELEASES / release,
        root=tmp_path,
        name="other",
        channels=["x", "mastodon", "linkedin"],
        today=date(2029, 12, 1),
    )
    compiled = compile_campaign(str(written[0]))
    assert compiled.ok, [str(e) for e in compiled.errors]
    assert compiled.posts


def test_refuses_to_overwrite_and_unknown_channels(tmp_path: Path) -> None:
    scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"])
    with pytest.raises(UsageError, match="exists"):
        scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"])
    scaffold(RELEASE, root=tmp_path, name="demo", channels=["x"], force=True)
    with pytest.raises(UsageError, match="unknown channel 'myspace'"):
        scaffold(RELEASE, root=tmp_path, name="other", channels=["myspace"])
