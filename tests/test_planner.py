"""plan/apply: the diff between a campaign file's posts and the queue, applied in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.channels.base import Receipt
from campaign.errors import ConfigError, ScheduleError
from campaign.queue import planner
from campaign.queue.store import Store
from tests.conftest import MINI_CAMPAIGN
from tests.helpers.queue import T0, many, planned

NOW = T0 - timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def test_first_apply_adds_and_second_changes_nothing(store: Store) -> None:
    desired = many(5)
    plan = planner.plan(store, "launch", desired, NOW)
    assert len(plan.add) == 5 and not plan.is_empty
    result = planner.apply(store, plan)
    assert result.added == (1, 2, 3, 4, 5)
    revision = store.queue_revision()
    again = planner.plan(store, "launch", desired, NOW)
    assert again.is_empty and len(again.unchanged) == 5
    assert planner.apply(store, again).changed == 0
    assert store.queue_revision() == revision
    assert "No changes." in planner.format_plan(again)


def test_editing_one_post_changes_only_that_post(store: Store) -> None:
    desired = many(4)
    planner.apply(store, planner.plan(store, "launch", desired, NOW))
    before = {p.id: p for p in store.campaign_posts("launch")}
    edited = list(desired)
    edited[2] = replace(edited[2], parts=("post 2, now better",))
    plan = planner.plan(store, "launch", edited, NOW + timedelta(minutes=1))
    assert [c.old.id for c in plan.update] == [3] and len(plan.unchanged) == 3
    assert plan.update[0].text_changed and not plan.update[0].time_changed
    text = planner.format_plan(plan)
    assert "~ update  #3 p2/main" in text
    assert "-post 2" in text and "+post 2, now better" in text
    planner.apply(store, plan)
    after = {p.id: p for p in store.campaign_posts("launch")}
    assert after[3].parts == ("post 2, now better",)
    assert after[3].idempotency_key == before[3].idempotency_key  # identity, not content
    assert after[3].content_hash != before[3].content_hash
    assert all(after[i] == before[i] for i in (1, 2, 4))


def test_time_change_cancel_and_readd(store: Store) -> None:
    desired = many(3)
    planner.apply(store, planner.plan(store, "launch", desired, NOW))
    moved = [replace(desired[0], scheduled_at=T0 + timedelta(hours=2)), desired[1]]  # p2 removed
    plan = planner.plan(store, "launch", moved, NOW)
    assert [c.old.id for c in plan.update] == [1] and plan.update[0].time_changed
    assert [c.old.id for c in plan.cancel] == [3]
    text = planner.format_plan(plan)
    assert "time: 2027-01-18 10:00 Europe/Berlin -> 2027-01-18 12:00 Europe/Berlin" in text
    assert "- cancel  #3 p2/main" in text
    planner.apply(store, plan)
    assert store.get_post(1).next_attempt_at == T0 + timedelta(hours=2)
    assert store.get_post(3).status == "cancelled"
    # p2 comes back to the file: the same row is re-added, with its id and key.
    plan = planner.plan(store, "launch", [*moved, desired[2]], NOW)
    assert [c.old.id for c in plan.readd] == [3]
    planner.apply(store, plan)
    assert store.get_post(3).status == "scheduled"
    assert [e.to_status for e in store.history(3)] == ["scheduled", "cancelled", "scheduled"]


def test_person_cancelled_and_sent_posts_are_untouchable(store: Store) -> None:
    desired = many(3)
    planner.apply(store, planner.plan(store, "launch", desired, NOW))
    store.cancel([1], now=NOW)
    [c] = store.claim_due(T0 + timedelta(minutes=1), "d", 60, 1)
    assert c.id == 2
    store.mark_sending(2, owner="d", now=T0)
    store.mark_sent(2, Receipt("r"), owner="d", now=T0)
    edited = [replace(p, parts=("changed",)) for p in desired[:2]]  # p2 removed, p0/p1 edited
    plan = planner.plan(store, "launch", edited, NOW)
    assert {c.old.id: c.reason for c in plan.untouchable} == {
        1: "cancelled by a person (campaign cancel)",
        2: "already sent",
    }
    assert [c.old.id for c in plan.cancel] == [3]
    assert "! keep    #2 p1/main on mastodon: already sent" in planner.format_plan(plan)
    planner.apply(store, plan)
    assert store.get_post(2).parts == ("post 1",)


def test_concurrent_claim_between_plan_and_apply_is_not_overwritten(store: Store) -> None:
    desired = many(2)
    planner.apply(store, planner.plan(store, "launch", desired, NOW))
    plan = planner.plan(store, "launch", [replace(p, parts=("new",)) for p in desired], NOW)
    store.claim_due(T0, "d", 60, 1)  # post 1 claimed by a daemon after the plan was made
    result = planner.apply(store, plan)
    assert result.updated == (2,) and result.skipped == ("post 1: changed meanwhile",)
    assert store.get_post(1).parts == ("post 0",) and store.get_post(1).status == "claimed"


def test_paused_campaign_or_account_adds_paused(store: Store) -> None:
    store.pause(campaign="launch", now=NOW)
    store.pause(account="alt", now=NOW)
    planner.apply(store, planner.plan(store, "launch", [planned("a")], NOW))
    planner.apply(store, planner.plan(store, "other", [planned("b", campaign="other", account="alt")], NOW))
    assert store.counts() == {"paused": 2}
    store.resume(campaign="launch", now=NOW)
    store.resume(account="alt", now=NOW)
    assert store.counts() == {"scheduled": 2}


def test_past_times_are_refused_unless_sent_late(store: Store) -> None:
    with pytest.raises(ScheduleError, match="p1/main on mastodon: 2027-01-18 09:00 UTC is in the past"):
        planner.plan(store, "launch", [planned("p1")], T0 + timedelta(hours=1))
    late = planned("p1", send_late=True)
    planner.apply(store, planner.plan(store, "launch", [late], T0 + timedelta(hours=1)))
    post = store.get_post(1)
    assert post.scheduled_at == T0 and post.next_attempt_at == T0 + timedelta(hours=1)  # due now
    with pytest.raises(ConfigError, match="appears twice"):
        planner.plan(store, "launch", [late, late], NOW)
    with pytest.raises(ConfigError, match="belongs to campaign"):
        planner.plan(store, "other", [late], NOW)


def test_retry_wait_update_keeps_a_later_backoff(store: Store) -> None:
    planner.apply(store, planner.plan(store, "launch", [planned("a")], NOW))
    store.claim_due(T0, "d", 60, 1)
    store.mark_sending(1, owner="d", now=T0)
    store.mark_retry(1, T0 + timedelta(hours=1), "HTTP 503", owner="d", now=T0)
    edit = planned("a", text="fixed", at=T0 + timedelta(minutes=30))
    planner.apply(store, planner.plan(store, "launch", [edit], T0))
    post = store.get_post(1)
    assert post.status == "retry_wait" and post.parts == ("fixed",)
    assert post.next_attempt_at == T0 + timedelta(hours=1)


def test_plan_json(store: Store) -> None:
    planner.apply(store, planner.plan(store, "launch", many(2), NOW))
    plan = planner.plan(store, "launch", [replace(many(2)[0], parts=("x",)), planned("new")], NOW)
    data = json.loads(json.dumps(planner.plan_to_json(plan)))
    assert data["campaign"] == "launch" and data["empty"] is False
    assert [a["label"] for a in data["add"]] == ["new/main"]
    assert data["update"][0]["old"]["parts"] == ["post 0"] and data["update"][0]["new"]["parts"] == ["x"]
    assert data["cancel"][0]["id"] == 2 and data["unchanged"] == []


# -- property: any sequence of edits and applies ------------------------------------------------------

KEYS = ["a", "b", "c", "d"]
ACCOUNTS = ["main", "alt"]
edit = st.tuples(
    st.sampled_from(["add", "remove", "text", "time", "apply"]),
    st.sampled_from(KEYS),
    st.sampled_from(ACCOUNTS),
    st.integers(0, 5),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(edit, max_size=25))
def test_any_edit_sequence_leaves_one_live_post_per_identity(
    tmp_path: Path, steps: list[tuple[str, str, str, int]]
) -> None:
    db = tmp_path / f"prop-{abs(hash(tuple(steps)))}.db"
    file: dict[tuple[str, str], tuple[str, int]] = {}
    with Store.open(str(db)) as store:

        def desired() -> list:  # type: ignore[type-arg]
            return [
                planned(k, account=acct, text=text, at=T0 + timedelta(hours=hours))
                for (k, acct), (text, hours) in sorted(file.items())
            ]

        for action, key, account, n in [*steps, ("apply", "", "", 0)]:
            ident = (key, account)
            if action == "add":
                file.setdefault(ident, (f"{key} text", n))
            elif action == "remove":
                file.pop(ident, None)
            elif action == "text" and ident in file:
                file[ident] = (f"{key} text {n}", file[ident][1])
            elif action == "time" and ident in file:
                file[ident] = (file[ident][0], n)
            elif action == "apply":
                planner.apply(store, planner.plan(store, "launch", desired(), NOW))
        rows = store.campaign_posts("launch")
        live = [r for r in rows if r.status != "cancelled"]
        assert len({r.idempotency_key for r in rows}) == len(rows)
        assert sorted((r.post_key, r.account) for r in live) == sorted(file)
        for r in live:
            text, hours = file[(r.post_key, r.account)]
            assert r.parts == (text,) and r.scheduled_at == T0 + timedelta(hours=hours)
            assert r.status == "scheduled"
        assert planner.plan(store, "launch", desired(), NOW).is_empty


def test_a_past_send_late_post_is_unchanged_when_the_same_file_is_applied_again(
    mini: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its time had passed, so every plan made it due at that plan's own "now": each apply of the same
    file "updated" it (``time: 12:00 -> 12:05``), and ``plan`` never said "No changes". A post moved
    from that past time to a future one is still an update."""
    from campaign.cli import main

    late = MINI_CAMPAIGN.replace('    when: "+0d 09:00"\n', '    when: "+0d 09:00"\n    send_late: true\n')
    path, db = mini(late), str(tmp_path / "q.db")
    assert main(["apply", str(path), "--db", db, "--now", "2030-03-02T04:00:00"]) == 0  # 12:00 HKT
    capsys.readouterr()
    assert main(["plan", str(path), "--db", db, "--now", "2030-03-02T04:05:00"]) == 0
    assert "No changes. 0 to add, 0 to update" in capsys.readouterr().out
    moved = late.replace('"+0d 09:00"', '"+0d 18:00"')
    assert main(["plan", str(mini(moved)), "--db", db, "--now", "2030-03-02T04:05:00"]) == 0
    assert "2 to update" in capsys.readouterr().out
