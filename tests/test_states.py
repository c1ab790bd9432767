"""The post state machine: the table itself, and that the store obeys it and logs every change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from campaign.channels.base import Receipt
from campaign.errors import IllegalTransitionError
from campaign.queue import states
from campaign.queue.states import TRANSITIONS, Status
from campaign.queue.store import Store
from tests.helpers.queue import T0, planned

S = Status

# Every change the issue names, plus the ones the daemon needs (see the module docstring).
REQUIRED = [
    (S.SCHEDULED, S.CLAIMED),
    (S.CLAIMED, S.SENDING),
    (S.SENDING, S.SENT),
    (S.CLAIMED, S.SCHEDULED),
    (S.SENDING, S.UNKNOWN),
    (S.UNKNOWN, S.SCHEDULED),
    (S.UNKNOWN, S.SENT),
    (S.FAILED, S.SCHEDULED),
    (S.RETRY_WAIT, S.CLAIMED),
    (S.SCHEDULED, S.PAUSED),
    (S.RETRY_WAIT, S.PAUSED),
    (S.PAUSED, S.SCHEDULED),
    (S.SCHEDULED, S.CANCELLED),
    (S.RETRY_WAIT, S.CANCELLED),
    (S.PAUSED, S.CANCELLED),
    (S.UNKNOWN, S.CANCELLED),
    (S.SCHEDULED, S.MISSED),
    (S.RETRY_WAIT, S.MISSED),
    (S.SENDING, S.RETRY_WAIT),
    (S.SENDING, S.FAILED),
    (S.CLAIMED, S.MISSED),
]

FORBIDDEN = [
    (S.SENT, S.SCHEDULED),  # sent is final
    (S.SENT, S.CANCELLED),
    (S.SENDING, S.SCHEDULED),  # a send in flight must never be silently requeued (duplicate risk)
    (S.SENDING, S.CLAIMED),
    (S.CLAIMED, S.CANCELLED),  # a daemon holds it
    (S.SCHEDULED, S.SENT),  # must pass through sending
    (S.SCHEDULED, S.SENDING),
    (S.FAILED, S.SENT),
    (S.PAUSED, S.CLAIMED),
    (S.CANCELLED, S.CLAIMED),
]


@pytest.mark.parametrize(("src", "dst"), REQUIRED)
def test_required_transitions_are_allowed(src: Status, dst: Status) -> None:
    assert states.allowed(src, dst)
    states.check(src, dst)


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN)
def test_forbidden_transitions_raise(src: Status, dst: Status) -> None:
    assert not states.allowed(src, dst)
    with pytest.raises(IllegalTransitionError, match=f"{src.value} -> {dst.value}"):
        states.check(src, dst, post_id=7)


def test_table_covers_every_state_and_sent_is_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[S.SENT] == frozenset()
    assert not states.allowed("bogus", "sent")
    for status in Status:  # the diagram in the docstring names every state
        assert status.value in (states.__doc__ or "")


def test_sources_drive_set_based_statements() -> None:
    assert set(states.sources(S.CLAIMED)) == set(states.CLAIMABLE)
    assert set(states.sources(S.CANCELLED)) == set(states.CANCELLABLE)
    assert states.sources(S.SCHEDULED, among=(S.FAILED, S.UNKNOWN)) == (S.UNKNOWN, S.FAILED)
    with pytest.raises(IllegalTransitionError):
        states.sources(S.SCHEDULED, among=(S.SENT,))
    assert states.CLAIMABLE_SQL == "status IN ('scheduled', 'retry_wait')"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "q.db"))
    yield s
    s.close()


def _statuses(store: Store, post_id: int) -> list[tuple[str | None, str]]:
    return [(e.from_status, e.to_status) for e in store.history(post_id)]


def test_every_store_transition_writes_one_event(store: Store) -> None:
    store.apply_changes(add=[planned("a"), planned("b", text="B")], now=T0 - timedelta(hours=1))
    owner = "daemon:test:1"
    # a: scheduled -> claimed -> sending -> unknown -> scheduled (retry) -> claimed -> sending -> sent
    [a, b] = store.claim_due(T0, owner, 60, 10)
    store.mark_sending(a.id, owner=owner, now=T0)
    store.mark_unknown(a.id, "read timeout", owner=owner, now=T0)
    store.retry([a.id], now=T0 + timedelta(minutes=1))
    [again] = store.claim_due(T0 + timedelta(minutes=1), owner, 60, 10)
    store.mark_sending(again.id, owner=owner, now=T0 + timedelta(minutes=1))
    store.mark_sent(again.id, Receipt("r1"), owner=owner, now=T0 + timedelta(minutes=1))
    assert _statuses(store, a.id) == [
        (None, "scheduled"),
        ("scheduled", "claimed"),
        ("claimed", "sending"),
        ("sending", "unknown"),
        ("unknown", "scheduled"),
        ("scheduled", "claimed"),
        ("claimed", "sending"),
        ("sending", "sent"),
    ]
    # b: claimed -> sending -> retry_wait -> claimed -> missed
    store.mark_sending(b.id, owner=owner, now=T0)
    store.mark_retry(b.id, T0 + timedelta(hours=1), "HTTP 503", owner=owner, now=T0)
    [b2] = store.claim_due(T0 + timedelta(days=3), owner, 60, 10)
    store.mark_missed(b2.id, "too late", owner=owner, now=T0 + timedelta(days=3))
    assert [t for _, t in _statuses(store, b.id)] == [
        "scheduled",
        "claimed",
        "sending",
        "retry_wait",
        "claimed",
        "missed",
    ]
    assert store.get_post(b.id).attempts == 1


def test_illegal_store_changes_raise_and_change_nothing(store: Store) -> None:
    store.apply_changes(add=[planned("a")], now=T0 - timedelta(hours=1))
    post = store.get_post(1)
    events = len(store.history(1))
    with pytest.raises(IllegalTransitionError, match="post 1 is scheduled"):
        store.mark_sent(1, Receipt("x"), owner="d", now=T0)
    with pytest.raises(IllegalTransitionError):
        store.retry([1], now=T0)
    with pytest.raises(IllegalTransitionError):
        store.mark_sending(1, owner="d", now=T0)
    assert store.get_post(1) == post
    assert len(store.history(1)) == events
    # A sent post cannot be cancelled; the whole cancel (of several ids) is refused, all or none.
    store.apply_changes(add=[planned("b")], now=T0 - timedelta(hours=1))
    [c1, c2] = store.claim_due(T0, "d", 60, 10)
    store.mark_sending(c1.id, owner="d", now=T0)
    store.mark_sent(c1.id, Receipt("x"), owner="d", now=T0)
    store.release([c2.id], owner="d", now=T0)
    with pytest.raises(IllegalTransitionError, match="is sent"):
        store.cancel([c2.id, c1.id], now=T0)
    assert store.get_post(c2.id).status == "scheduled"
