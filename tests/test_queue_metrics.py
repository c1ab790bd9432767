"""Metrics in the queue (issue 15), on SQLite and PostgreSQL alike: scheduling readings of sent posts,
claiming due readings with a lease, recording samples and planning the next reading."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from campaign.channels.base import Receipt
from campaign.queue.metrics import DEFAULT_OFFSETS, MetricResult
from campaign.queue.store import Store
from tests.helpers.queue import T0, many

OWNER = "daemon:m:1"
HOUR = timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = str(tmp_path / "q.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    with Store.open(url) as s:
        yield s


def send(store: Store, n: int, *, account: str = "main", campaign: str = "launch") -> list[int]:
    """Queue ``n`` posts due at T0 and mark them sent at T0; returns their ids."""
    store.apply_changes(add=many(n, account=account, campaign=campaign, step=timedelta(0)), now=T0 - HOUR)
    ids = []
    for claimed in store.claim_due(T0, OWNER, 90, n):
        store.mark_sending(claimed.id, owner=OWNER, now=T0)
        store.mark_sent(claimed.id, Receipt(remote_id=f"r{claimed.id}"), owner=OWNER, now=T0)
        ids.append(claimed.id)
    return ids


def default_offsets(campaign: str) -> tuple[int, ...]:
    return DEFAULT_OFFSETS


def test_sent_posts_are_scheduled_once_at_the_campaigns_offsets(store: Store) -> None:
    ids = send(store, 3)
    assert store.schedule_sent(T0, lambda c: (600, 3600)).scheduled == 3
    assert store.schedule_sent(T0, lambda c: (600, 3600)).scheduled == 0  # already scheduled
    assert store.next_metrics_at() == T0 + timedelta(minutes=10)
    assert store.claim_metrics(T0 + timedelta(minutes=9)) == []
    tasks = store.claim_metrics(T0 + timedelta(minutes=10))
    assert sorted(t.post_id for t in tasks) == sorted(ids)
    assert tasks[0].receipts[0].remote_id.startswith("r") and tasks[0].stage == 0


def test_rescanning_recent_events_is_harmless(store: Store) -> None:
    send(store, 2)
    # Events newer than `settle` are scanned again next time; ON CONFLICT keeps one schedule row per post.
    assert store.schedule_sent(T0, default_offsets, settle=300).scheduled == 2
    assert store.schedule_sent(T0, default_offsets, settle=300).scheduled == 0  # scanned again, once
    assert len(store.claim_metrics(T0 + 2 * HOUR)) == 2
    # Once the events are old enough, the cursor passes them.
    store.schedule_sent(T0 + HOUR, default_offsets, settle=300)
    assert store.schedule_sent(T0 + HOUR, default_offsets, settle=300).scheduled == 0


def test_a_full_chunk_says_more_may_follow(store: Store) -> None:
    send(store, 5)
    chunks = [store.schedule_sent(T0 + HOUR, default_offsets, limit=2) for _ in range(4)]
    assert [(c.scheduled, c.more) for c in chunks] == [(2, True), (2, True), (1, False), (0, False)]
    assert len(store.claim_metrics(T0 + 2 * HOUR)) == 5


def test_a_chunk_too_recent_to_move_the_cursor_says_no_more(store: Store) -> None:
    """Events newer than ``settle`` keep the cursor where it is: calling again would read the same chunk, so
    a caller looping on ``more`` stops (the rest is scheduled once they settle)."""
    send(store, 5)
    first = store.schedule_sent(T0, default_offsets, limit=2, settle=300)
    assert (first.scheduled, first.more) == (2, False)
    assert store.schedule_sent(T0, default_offsets, limit=2, settle=300).scheduled == 0  # the same two
    later = [store.schedule_sent(T0 + HOUR, default_offsets, limit=2, settle=300) for _ in range(3)]
    assert [(c.scheduled, c.more) for c in later] == [(0, True), (2, True), (1, False)]


def test_a_claimed_reading_is_leased_so_a_crash_only_delays_it(store: Store) -> None:
    send(store, 1)
    store.schedule_sent(T0, default_offsets)
    due = T0 + HOUR
    assert len(store.claim_metrics(due, lease=600)) == 1
    assert store.claim_metrics(due) == []  # leased to the first collector
    # The collector died without recording anything: the reading comes back after the lease.
    assert len(store.claim_metrics(due + timedelta(minutes=10))) == 1


def test_results_plan_the_next_reading_and_keep_history(store: Store) -> None:
    (pid,) = send(store, 1)
    store.schedule_sent(T0, default_offsets)
    store.claim_metrics(T0 + HOUR)
    store.record_metrics([MetricResult(pid, values={"likes": 2})], now=T0 + HOUR)
    assert store.next_metrics_at() == T0 + timedelta(days=1)
    store.claim_metrics(T0 + timedelta(days=1))
    store.record_metrics([MetricResult(pid, values={"likes": 5, "reposts": 1})], now=T0 + timedelta(days=1))
    assert store.next_metrics_at() == T0 + timedelta(days=7)
    store.claim_metrics(T0 + timedelta(days=7))
    store.record_metrics([MetricResult(pid, values={"likes": 9})], now=T0 + timedelta(days=7))
    assert store.next_metrics_at() is None  # every stage read
    samples = store.metric_samples("launch")
    assert [(s.metric, s.value) for s in samples] == [
        ("likes", 2),
        ("likes", 5),
        ("reposts", 1),
        ("likes", 9),
    ]


def test_a_reading_after_downtime_covers_the_stages_it_missed(store: Store) -> None:
    (pid,) = send(store, 1)
    store.schedule_sent(T0, default_offsets)
    late = T0 + timedelta(days=3)  # the 1 h and 24 h readings were both missed
    store.claim_metrics(late)
    store.record_metrics([MetricResult(pid, values={"likes": 4})], now=late)
    assert store.next_metrics_at() == T0 + timedelta(days=7)


def test_gone_posts_errors_deferrals_and_channels_without_an_api(store: Store) -> None:
    a, b, c, d = send(store, 4)
    store.schedule_sent(T0, default_offsets)
    now = T0 + HOUR
    store.claim_metrics(now)
    store.record_metrics(
        [
            MetricResult(a, gone=True),
            MetricResult(b, error="HTTP 503"),
            MetricResult(c, retry_at=now + timedelta(minutes=15)),
            MetricResult(d, done=True),
        ],
        now=now,
    )
    rows = {r.post_id: r for r in store.sent_rows("launch")}
    assert rows[a].gone and not rows[b].gone
    # b retries after 5 minutes (backoff), c at the platform's reset; a and d are finished.
    assert {t.post_id for t in store.claim_metrics(now + timedelta(minutes=5))} == {b}
    store.record_metrics([MetricResult(b, values={"likes": 1})], now=now + timedelta(minutes=5))
    assert {t.post_id for t in store.claim_metrics(now + timedelta(minutes=15))} == {c}
    assert store.claim_metrics(now + timedelta(days=30)) != []  # b and c still have later stages


def test_accounts_blocked_for_publishing_are_not_read(store: Store) -> None:
    send(store, 1, account="busy")
    send_other = send(store, 1, account="idle")
    store.schedule_sent(T0, default_offsets)
    store.block_account("busy", T0 + 2 * HOUR, now=T0, reason="rate limited")
    assert [t.post_id for t in store.claim_metrics(T0 + HOUR)] == send_other


def test_the_report_reads_sent_posts_with_their_publication_time(store: Store) -> None:
    ids = send(store, 2)
    rows = store.sent_rows("launch")
    assert [r.post_id for r in rows] == ids
    assert all(r.sent_at == T0 for r in rows)
    assert rows[0].parts == ("post 0",)
