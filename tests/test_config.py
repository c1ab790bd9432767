"""Campaign files: YAML with line numbers, validation messages naming file:line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.errors import ConfigError
from campaign.source.config import load_campaign, parse_duration
from campaign.source.yamlfile import load_yaml
from tests.conftest import MINI_CAMPAIGN


def test_yaml_keeps_times_as_strings_and_refuses_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("start: 2027-01-18 09:00:00\nday: 2027-01-18\n", encoding="utf-8")
    assert load_yaml(path) == {"start": "2027-01-18 09:00:00", "day": "2027-01-18"}
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.yaml:3: duplicate key 'a'"):
        load_yaml(path)


def test_yaml_aliases_load_until_they_would_repeat_a_million_values(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("base: &b {tags: [x, y]}\none: *b\ntwo: [*b, *b]\n", encoding="utf-8")
    data = load_yaml(path)
    assert data["one"] == data["two"][1] == {"tags": ["x", "y"]}
    # Five levels of lists of ten (10**5 values) load; six (10**6) are refused, naming
    # the anchor repeated most.
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 5)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(load_yaml(path)["l4"]) == 10
    lines.append(f"l5: &l5 [{', '.join(['*l4'] * 10)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.yaml:5: aliases repeat the anchor here into more than 1,000,"):
        load_yaml(path)
    path.write_text("a: &a [*a]\n", encoding="utf-8")  # a cycle: the constructor's own message
    with pytest.raises(ConfigError, match=r"a\.yaml:1: invalid YAML: found unconstructable recursive node"):
        load_yaml(path)


def test_the_mini_campaign_loads(mini: Callable[..., Path]) -> None:
    campaign = load_campaign(mini())
    assert campaign.name == "mini" and campaign.zone == "Asia/Hong_Kong"
    assert campaign.hashtags == ("#HKSTP", "#InnovationMixer")
    assert [p.key for p in campaign.posts] == ["launch", "quote"]
    assert campaign.posts[0].accounts == ("main_x", "main_mastodon")
    assert campaign.accounts["main_mastodon"].settings == {"instance": "https://mastodon.example"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "campaign: mini",
            "campaign: mini\nchanels: [x]",
            r"mini\.yaml:2: unknown key 'chanels' in the campaign",
        ),
        ("campaign: mini\n", "", "the campaign needs 'campaign'"),
        ("    instance: https://mastodon.example\n", "", r"needs setting 'instance'"),
        (
            "    instance: https://mastodon.example",
            "    instance: https://mastodon.example\n    colour: red",
            r"mini\.yaml:17: unknown setting 'colour'",
        ),
        (
            "    instance: https://mastodon.example",
            "    instance: https://mastodon.example\n    api_token: abc",
            r"unknown setting 'api_token'",
        ),
        ("      token: MINI_X_TOKEN\n", "      tokn: MINI_X_TOKEN\n", r"unknown credential 'tokn'"),
        ("  - key: quote", "  - key: launch", r"duplicate post key 'launch' \(first at line 20\)"),
        ('    when: "+1d 10:30"\n', "", r"post 'quote' needs 'when'"),
        ("late_window", "late_window: soon\nx_", r"invalid duration 'soon'"),
        ("threads: [x]", "threads: [myspace]", r"'threads' names 'myspace'"),
        ("accounts: [main_mastodon]", "channels: [teams]", r"unknown channel 'teams' \(no account"),
    ],
)
def test_validation_messages(mini: Callable[..., Path], old: str, new: str, message: str) -> None:
    text = (
        MINI_CAMPAIGN
        if old != "late_window"
        else MINI_CAMPAIGN.replace("threads:", "late_window: soon\nthreads:")
    )
    if old != "late_window":
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(ConfigError, match=message):
        load_campaign(mini(text))


def test_durations() -> None:
    assert parse_duration("90m").total_seconds() == 5400
    assert parse_duration("24h").days == 1
    assert parse_duration("3600").total_seconds() == 3600
    with pytest.raises(ValueError):
        parse_duration("1 fortnight")
