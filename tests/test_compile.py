"""Compiling campaigns: schedule x render x fit, overrides, zones, past times, errors collected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign.plan.compile import compile_campaign
from campaign.source.config import load_campaign
from tests.conftest import MINI_CAMPAIGN

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_mini_campaign_compiles_to_one_post_per_account_and_time(mini: Callable[..., Path]) -> None:
    compiled = compile_campaign(str(mini()), now=NOW)
    assert compiled.ok, compiled.errors
    labels = [(p.post_key, p.account, p.scheduled_at.isoformat()) for p in compiled.posts]
    assert labels == [
        ("launch", "main_mastodon", "2030-03-02T01:00:00+00:00"),
        ("launch", "main_x", "2030-03-02T01:00:00+00:00"),
        ("quote", "main_mastodon", "2030-03-03T02:30:00+00:00"),
    ]
    launch_x = compiled.posts[1]
    assert launch_x.parts[0].startswith("Meetings with NVIDIA")
    assert "utm_source=x&utm_medium=social&utm_campaign=mini&utm_content=launch" in launch_x.parts[0]
    assert launch_x.lengths[0] <= launch_x.limit == 280
    assert launch_x.link is not None and launch_x.link.title.startswith("Meetings with NVIDIA")


def test_idempotency_key_survives_text_and_time_edits(mini: Callable[..., Path]) -> None:
    first = compile_campaign(str(mini()), now=NOW).posts
    edited = MINI_CAMPAIGN.replace('"+0d 09:00"', '"+0d 11:00"')
    second = compile_campaign(str(mini(edited, {"launch.j2": "Other text {{ link }}"})), now=NOW).posts
    assert [p.idempotency_key for p in first] == [p.idempotency_key for p in second]
    assert first[0].content_hash != second[0].content_hash


def test_audience_zone_and_overrides(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace(
        '  - key: quote\n    when: "+1d 10:30"',
        '  - key: quote\n    when: "+1d 10:30"\n    zone: America/Los_Angeles\n'
        '    overrides:\n      main_mastodon: {when: "+2d 08:00", hashtags: ["#Override"]}',
    )
    compiled = compile_campaign(str(mini(yaml_text)), now=NOW)
    assert compiled.ok, compiled.errors
    quote = next(p for p in compiled.posts if p.post_key == "quote")
    # campaign day 2 is 2030-03-04 (counted from the start date in Hong Kong); 08:00 in LA is 16:00 UTC
    assert quote.zone == "America/Los_Angeles"
    assert quote.scheduled_at == datetime(2030, 3, 4, 16, 0, tzinfo=UTC)


def test_skip_override_and_channel_filter(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace(
        '  - key: launch\n    when: "+0d 09:00"',
        '  - key: launch\n    when: "+0d 09:00"\n    overrides:\n      mastodon: {skip: true}',
    )
    path = mini(yaml_text)
    assert [p.account for p in compile_campaign(str(path), now=NOW).posts if p.post_key == "launch"] == [
        "main_x"
    ]
    only = compile_campaign(str(path), now=NOW, only_channels=["mastodon"]).posts
    assert {p.channel for p in only} == {"mastodon"}


def test_past_times_warn_in_preview_and_fail_at_apply(mini: Callable[..., Path]) -> None:
    path = mini()
    late = datetime(2031, 1, 1, tzinfo=UTC)
    preview = compile_campaign(str(path), now=late)
    assert preview.ok
    assert all(any("in the past" in w for w in p.warnings) for p in preview.posts)
    applied = compile_campaign(str(path), now=late, strict_past=True)
    assert len(applied.errors) == 3
    assert all("send_late" in str(e) for e in applied.errors)


def test_send_late_goes_out_at_once_when_applied(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace('    when: "+1d 10:30"', '    when: "+1d 10:30"\n    send_late: true')
    late = datetime(2031, 1, 1, tzinfo=UTC)
    compiled = compile_campaign(str(mini(yaml_text)), now=late, strict_past=True)
    quote = [p for p in compiled.posts if p.post_key == "quote"]
    assert quote and quote[0].scheduled_at == late and quote[0].send_late


def test_start_override_shifts_offsets(mini: Callable[..., Path]) -> None:
    compiled = compile_campaign(str(mini()), now=NOW, start="2030-06-01 09:00")
    assert compiled.posts[0].scheduled_at == datetime(2030, 6, 1, 1, 0, tzinfo=UTC)


def test_long_text_becomes_a_numbered_thread_where_allowed(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace("threads: [x]", "threads: [x, mastodon]")
    compiled = compile_campaign(
        str(mini(yaml_text, {"launch.j2": "{{ release.lead }} {{ release.quotes[0].text }}"})), now=NOW
    )
    assert compiled.ok, compiled.errors
    x = next(p for p in compiled.posts if p.account == "main_x")
    assert len(x.parts) > 1
    assert all(length <= 280 for length in x.lengths)
    assert x.parts[0].endswith(f"(1/{len(x.parts)})")


def test_errors_are_collected_per_post_not_raised(mini: Callable[..., Path]) -> None:
    compiled = compile_campaign(
        str(mini(MINI_CAMPAIGN, {"launch.j2": "{{ nope }}", "quote.j2": "{{ nada }}"})), now=NOW
    )
    messages = sorted(str(e) for e in compiled.errors)
    assert len(messages) == 3  # launch on two accounts, quote on one
    assert all("mini.yaml:" in m for m in messages)


def test_recurrence_occurrences_have_keys(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace('    when: "+1d 10:30"', '    when: {cron: "0 9 * * MON", count: 3}')
    compiled = compile_campaign(str(mini(yaml_text)), now=NOW)
    quotes = [p for p in compiled.posts if p.post_key == "quote"]
    assert [p.occurrence for p in quotes] == ["2030-03-04T09:00", "2030-03-11T09:00", "2030-03-18T09:00"]
    assert len({p.idempotency_key for p in quotes}) == 3


def test_slots_never_double_book_an_account(mini: Callable[..., Path]) -> None:
    yaml_text = MINI_CAMPAIGN.replace(
        "    instance: https://mastodon.example",
        "    instance: https://mastodon.example\n"
        '    slots: {days: [mon, tue, wed, thu, fri], times: ["09:00", "12:30"]}',
    ).replace('    when: "+1d 10:30"', "    when: next free slot") + (
        "  - key: more\n    template: quote\n    when: next free slot\n    accounts: [main_mastodon]\n"
        '  - key: fixed\n    template: quote\n    when: "2030-03-04 09:00"\n    accounts: [main_mastodon]\n'
    )
    compiled = compile_campaign(str(mini(yaml_text)), now=NOW)
    assert compiled.ok, compiled.errors
    times = [p.scheduled_at for p in compiled.posts if p.account == "main_mastodon"]
    assert len(times) == len(set(times)) == 4
    # 2030-03-02 is a Saturday: slots start Monday 03-04; 09:00 is taken by `fixed`: 12:30 and Tuesday 09:00
    slot_posts = sorted(p.scheduled_at for p in compiled.posts if p.post_key in ("quote", "more"))
    assert slot_posts == [datetime(2030, 3, 4, 4, 30, tzinfo=UTC), datetime(2030, 3, 5, 1, 0, tzinfo=UTC)]


def test_threads_allowed_resolution(mini: Callable[..., Path]) -> None:
    campaign = load_campaign(mini())
    post = campaign.posts[0]
    assert campaign.threads_allowed(post, campaign.accounts["main_x"])
    assert not campaign.threads_allowed(post, campaign.accounts["main_mastodon"])


def test_a_posts_time_is_expanded_once_per_zone_and_send_late(
    mini: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts that share a post's time, zone and send_late share its expansion; an account in another
    zone or with its own send_late gets its own."""
    from campaign.schedule import timespec

    yaml_text = MINI_CAMPAIGN.replace(
        "  main_mastodon:\n    channel: mastodon\n",
        "  main_mastodon:\n    channel: mastodon\n    zone: America/New_York\n",
    ).replace(
        "posts:\n",
        "  second_x:\n    channel: x\n    credentials:\n      token: MINI_X_TOKEN\n"
        "  third_x:\n    channel: x\n    credentials:\n      token: MINI_X_TOKEN\n"
        "posts:\n",
    ).replace(
        '  - key: launch\n    when: "+0d 09:00"',
        '  - key: launch\n    when: "+0d 09:00"\n    accounts: [main_x, second_x, third_x, main_mastodon]\n'
        "    overrides:\n      third_x: {send_late: true}",
    )
    calls: list[object] = []
    real = timespec.expand
    monkeypatch.setattr(timespec, "expand", lambda *a, **k: calls.append(k["zone"]) or real(*a, **k))
    path = mini(yaml_text)
    compiled = compile_campaign(str(path), now=NOW)
    assert compiled.ok, compiled.errors
    launch = {p.account: p.scheduled_at for p in compiled.posts if p.post_key == "launch"}
    hk, ny = datetime(2030, 3, 2, 1, 0, tzinfo=UTC), datetime(2030, 3, 2, 14, 0, tzinfo=UTC)
    assert launch == {"main_x": hk, "second_x": hk, "third_x": hk, "main_mastodon": ny}
    # launch in Hong Kong (main_x and second_x), with send_late (third_x), in New York; quote in New York
    assert len(calls) == 4
    late = datetime(2031, 1, 1, tzinfo=UTC)
    applied = compile_campaign(str(path), now=late, strict_past=True)
    assert [p.account for p in applied.posts] == ["third_x"] and applied.posts[0].scheduled_at == late
    assert len(applied.errors) == 4  # main_x, second_x and main_mastodon's launch, and the quote


def test_a_campaign_is_capped_in_posts_in_total_while_it_expands(
    mini: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each recurrence is within its own limit, but twenty of them on one account would plan 20 million
    posts (over 3 GB): the whole file is capped (posts x accounts x occurrences), and a recurrence expands
    only as far as the cap leaves room, so memory stays bounded. One error names the file and the post."""
    import campaign.plan.compile as compile_module
    from campaign.schedule import timespec

    assert compile_module.MAX_POSTS == 100_000
    monkeypatch.setattr(compile_module, "MAX_POSTS", 50)
    limits: list[int] = []
    real = timespec.expand
    monkeypatch.setattr(timespec, "expand", lambda *a, **k: limits.append(k["limit"]) or real(*a, **k))
    posts = "".join(
        f"  - key: p{i}\n    template: launch\n    accounts: [main_x]\n"
        '    when: {cron: "* * * * *", count: 30}\n'
        for i in range(20)
    )
    path = mini(MINI_CAMPAIGN[: MINI_CAMPAIGN.index("posts:")] + "posts:\n" + posts)
    compiled = compile_campaign(str(path), now=NOW)
    assert [str(e) for e in compiled.errors] == [
        f"{path}:24: post 'p1' on main_x: the campaign would have more than 50 posts (every occurrence on"
        " every account); narrow its recurrences with end or count, or split it into several files"
    ]
    assert len(compiled.posts) == 30
    assert limits == [50, 20]  # the second recurrence stopped at what the first left; no third was expanded


def test_the_post_cap_counts_every_account_and_one_off_time(
    mini: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import campaign.plan.compile as compile_module

    monkeypatch.setattr(compile_module, "MAX_POSTS", 2)  # the mini campaign plans 3: launch twice, quote
    compiled = compile_campaign(str(mini()), now=NOW)
    assert len(compiled.errors) == 1
    message = str(compiled.errors[0])
    assert "mini.yaml:22: post 'quote' on main_mastodon: the campaign would have more than 2 posts" in message
    monkeypatch.setattr(compile_module, "MAX_POSTS", 3)
    assert compile_campaign(str(mini()), now=NOW).ok
