"""Claims and leases: the daemons' side of the queue (claim, heartbeat, release, recovery, next wake time).

A claim is one statement, ``UPDATE posts ... WHERE id IN (SELECT ... ORDER BY next_attempt_at LIMIT n)
RETURNING ...`` (SQLite >= 3.35, https://www.sqlite.org/lang_returning.html), run inside ``BEGIN
IMMEDIATE``; on PostgreSQL the inner SELECT adds ``FOR UPDATE SKIP LOCKED``. The inner SELECT walks the
partial index ``ix_posts_due`` in due order and skips blocked or paused accounts and paused campaigns.

PostgreSQL (several daemons on one queue):

- Transactions are READ COMMITTED (the server's default). A claim locks the rows it takes with ``FOR UPDATE
  SKIP LOCKED``, so concurrent claims never wait for each other and never hand out a row twice: a row
  another transaction holds is skipped, and a row changed and committed meanwhile is re-checked against the
  claim's WHERE before it is locked (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
- A claim with ``per_account`` (at most n posts of an account in flight, across every daemon) first takes a
  transaction-level advisory lock, ``pg_advisory_xact_lock`` (released at commit,
  https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS): in READ COMMITTED
  each statement sees what was committed before it began, so the claim statement that follows sees every
  earlier claim and its in-flight count is exact. On SQLite ``BEGIN IMMEDIATE`` serialises claims already.
- Lease recovery locks expired rows with ``SKIP LOCKED`` too: two daemons recovering at once, or a recovery
  racing a heartbeat, never deadlock; a skipped row is recovered on the next pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from campaign.media.model import media_from_json
from campaign.queue.core import StoreCore
from campaign.queue.models import ACCOUNTS, CAMPAIGNS, EVENTS, POSTS
from campaign.queue.precompiled import Precompiled
from campaign.queue.states import CLAIMABLE, CLAIMABLE_SQL, EMBARGOED_SQL, LEASED, Status, sources, sql_in
from campaign.queue.values import ClaimedPost, Recovered, aware, from_db, link_from, receipts_from

#: pg_advisory_xact_lock key serialising per-account-limited claims (any bigint unique to campaign).
CLAIM_LOCK = 0x63616D7061696701
_LOCK = f"SELECT pg_advisory_xact_lock({CLAIM_LOCK})"
#: A claim's COMMIT returns before its WAL is flushed (https://www.postgresql.org/docs/current/wal-async-commit.html);
#: the next synchronous COMMIT (a ``sending`` mark) flushes it. Losing it returns posts to ``scheduled``.
_NOT_FLUSHED = "SET LOCAL synchronous_commit TO OFF"
#: Due rows a per-account-limited claim looks at per post it may return (see :meth:`Claims.claim_due`).
#: Accounts already at their cap are skipped before this prefix is taken, so it only has to cover several
#: due posts of one account; ranking it is most of a claim's cost (8 made a 48-post claim at 10,000 queued
#: posts 1.8x slower than 2, and the claim rides in the transaction every ``sending`` mark waits for). A
#: claim that comes back short is followed by another as soon as slots free up.
PREFIX_FACTOR = 2

_LEASED_SQL = sql_in(LEASED)

_CLAIM_COLUMNS = (
    POSTS.c.id,
    POSTS.c.campaign,
    POSTS.c.post_key,
    POSTS.c.occurrence,
    POSTS.c.channel,
    POSTS.c.account,
    POSTS.c.parts,
    POSTS.c.link,
    POSTS.c.media,
    POSTS.c.idempotency_key,
    POSTS.c.part_receipts,
    POSTS.c.attempts,
    POSTS.c.scheduled_at,
    POSTS.c.next_attempt_at,
    POSTS.c.send_late,
    POSTS.c.late_window_seconds,
    POSTS.c.lease_owner,
    POSTS.c.lease_expires_at,
    POSTS.c.previous_status,
)


def _claimable_accounts(now: sa.ColumnElement[Any] | datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """Post terms: its account is neither paused nor blocked past ``now``, its campaign not paused."""
    a, p = ACCOUNTS, POSTS
    held = sa.select(a.c.account).where(sa.or_(a.c.paused == sa.true(), a.c.blocked_until > now))
    paused = sa.select(CAMPAIGNS.c.campaign).where(CAMPAIGNS.c.paused == sa.true())
    return (p.c.account.not_in(held), p.c.campaign.not_in(paused))


def _without_room(
    cap: sa.ColumnElement[Any] | int, hold: sa.ColumnElement[Any] | int, owner: sa.ColumnElement[Any] | str,
    *, sqlite: bool = False,
) -> sa.Select[Any]:
    """Accounts without room for another claim by ``owner`` (:func:`_room`): the same rule as a set.

    Written as a ``HAVING`` of its own rather than as :func:`_room` over :func:`_flying`: the plan is the
    same, but the nested form took PostgreSQL longer to plan, and claims (5.6 -> 6.7 ms) and
    :meth:`Claims.next_due_at` (6.5 -> 8.1 ms) ran slower at 10,000 due posts over 100 accounts.
    ``sqlite``: :func:`_room` over :func:`_flying`, which reads the partial index of leased posts (SQLite
    preferred a walk of ix_posts_account_status, an entry per post in the table, for the ``GROUP BY``:
    17 ms of :meth:`Claims.next_due_at` at 100,000 queued posts)."""
    if sqlite:
        flying = _flying(sa.bindparam("wr_owner", owner), sqlite=True)
        return sa.select(flying.c.account).where(_room(flying, cap, hold) <= 0)
    leased = POSTS.alias("leased")
    others = sa.func.count().filter(leased.c.lease_owner != owner)
    return (
        sa.select(leased.c.account)
        # The literal status term matches ix_posts_lease's WHERE.
        .where(sa.text("leased." + _LEASED_SQL))
        .group_by(leased.c.account)
        .having(sa.func.count() >= sa.case((others > 0, cap), else_=hold))
    )


def _room(
    flying: sa.Subquery, cap: sa.ColumnElement[Any] | int, hold: sa.ColumnElement[Any] | int
) -> sa.ColumnElement[Any]:
    """How many more posts of an account (joined to ``flying``, :func:`_flying`) a claim may take: up to
    ``hold`` in flight while only the claiming owner holds its posts, up to ``cap`` once another owner holds
    one. So posts beyond ``cap`` are only ever held by one owner, which sends at most ``cap`` of them at once
    (its pool's slots): across owners at most ``cap`` are sent at once (:meth:`Claims.claim_due`)."""
    busy = sa.func.coalesce(flying.c.n, 0)
    return sa.case((sa.func.coalesce(flying.c.others, 0) > 0, cap), else_=hold) - busy


def _under_cap(
    now: sa.ColumnElement[Any], cap: sa.ColumnElement[Any], hold: sa.ColumnElement[Any],
    owner: sa.BindParameter[Any], prefix: sa.ColumnElement[Any], *, postgres: bool = False,
) -> sa.Select[Any]:
    """Ids a capped claim may take: among the first ``prefix`` due posts of accounts with room
    (:func:`_room`), each account's earliest ones up to its room. The in-flight counts are one grouped read
    of the leased posts (few: at most what the daemons hold), joined to the due posts. Window functions may
    not share a query level with FOR UPDATE on PostgreSQL, so the ranking is a subquery of the locking SELECT.

    On PostgreSQL the walk along the due posts filters accounts without room with ``NOT IN`` (a hashed
    subplan, read once), and the counts are joined to the ``prefix`` rows it keeps only: a join at every
    due row was planned as a nested loop re-aggregating the leased posts per row while the table had no
    statistics.
    """
    if postgres:
        return _under_cap_pg(now, cap, hold, owner, prefix)
    p = POSTS
    flying = _flying(owner, sqlite=True)
    room = _room(flying, cap, hold)
    head = (
        sa.select(p.c.id, p.c.account, p.c.next_attempt_at, room.label("room"))
        .select_from(p.outerjoin(flying, flying.c.account == p.c.account))
        .where(sa.text("posts." + CLAIMABLE_SQL), p.c.next_attempt_at <= now, *_claimable_accounts(now))
        .where(room > 0)
        .order_by(p.c.next_attempt_at, p.c.id)
        .limit(prefix)
        .subquery("head")
    )
    rank = (
        sa.func.row_number()
        .over(partition_by=head.c.account, order_by=(head.c.next_attempt_at, head.c.id))
        .label("rank")
    )
    ranked = sa.select(head.c.id, head.c.room, rank).subquery("ranked")
    return sa.select(ranked.c.id).where(ranked.c.rank <= ranked.c.room)


def _flying(owner: sa.BindParameter[Any], *, sqlite: bool = False) -> sa.Subquery:
    """Posts in flight per account (``account``, ``n``, and ``others``: how many of them owners other than
    ``owner`` hold) as a subquery named ``flying``."""
    if sqlite:
        # SQLite otherwise reads every row's entry of ix_posts_account_status (a covering index) to find the
        # few leased posts; the partial index holds only those. A capped claim ran 2-4x faster at 5,000-10,000
        # queued posts, and its cost no longer grows with the sent posts kept in the table.
        # (SQLAlchemy renders no table hints for SQLite, hence the text.)
        return (
            sa.text(
                "SELECT leased.account AS account, count(*) AS n, count(*) FILTER (WHERE leased.lease_owner "
                f"<> :{owner.key}) AS others FROM posts AS leased INDEXED BY ix_posts_lease "
                f"WHERE leased.{_LEASED_SQL} GROUP BY leased.account"
            )
            .bindparams(owner)
            .columns(
                sa.column("account", sa.String), sa.column("n", sa.Integer), sa.column("others", sa.Integer)
            )
            .subquery("flying")
        )
    leased = POSTS.alias("leased")
    return (
        sa.select(
            leased.c.account, sa.func.count().label("n"),
            sa.func.count().filter(leased.c.lease_owner != owner).label("others"),
        )
        # The literal status term matches ix_posts_lease's WHERE.
        .where(sa.text("leased." + _LEASED_SQL))
        .group_by(leased.c.account)
        .subquery("flying")
    )


def _under_cap_pg(
    now: sa.ColumnElement[Any], cap: sa.ColumnElement[Any], hold: sa.ColumnElement[Any],
    owner: sa.BindParameter[Any], prefix: sa.ColumnElement[Any],
) -> sa.Select[Any]:
    """:func:`_under_cap` for PostgreSQL (see there)."""
    p = POSTS
    head = (
        sa.select(p.c.id, p.c.account, p.c.next_attempt_at)
        .where(sa.text("posts." + CLAIMABLE_SQL), p.c.next_attempt_at <= now, *_claimable_accounts(now))
        .where(p.c.account.not_in(_without_room(cap, hold, owner)))
        .order_by(p.c.next_attempt_at, p.c.id)
        .limit(prefix)
        .subquery("head")
    )
    flying = _flying(owner)
    rank = (
        sa.func.row_number()
        .over(partition_by=head.c.account, order_by=(head.c.next_attempt_at, head.c.id))
        .label("rank")
    )
    ranked = (
        sa.select(head.c.id, _room(flying, cap, hold).label("room"), rank)
        .select_from(head.outerjoin(flying, flying.c.account == head.c.account))
        .subquery("ranked")
    )
    return sa.select(ranked.c.id).where(ranked.c.rank <= ranked.c.room)


#: Claim statements by (capped, PostgreSQL): built once, with bind parameters (building one costs more
#: than running it).
_CLAIMS: dict[tuple[bool, bool], sa.Update | sa.Select[Any]] = {}


def _claim_statement(capped: bool, postgres: bool) -> sa.Update | sa.Select[Any]:
    """``UPDATE posts ... WHERE id IN (due ids) RETURNING ...`` with parameters ``b_now``, ``b_limit``,
    ``b_owner``, ``b_expires`` (and ``b_cap``, ``b_hold``, ``b_prefix`` when ``capped``); on PostgreSQL it
    also writes the claim events (:func:`_with_claim_events`)."""
    cached = _CLAIMS.get((capped, postgres))
    if cached is not None:
        return cached
    p = POSTS
    now = sa.bindparam("b_now", type_=p.c.next_attempt_at.type)
    due = (
        sa.select(p.c.id)
        # Literal text identical to ix_posts_due's WHERE, so the planner may use the partial index.
        .where(sa.text(CLAIMABLE_SQL), p.c.next_attempt_at <= now, _not_embargoed(now))
        .order_by(p.c.next_attempt_at, p.c.id)
        .limit(sa.bindparam("b_limit", type_=sa.Integer))
        .correlate(None)
    )
    if not capped:
        due = due.where(*_claimable_accounts(now))
    else:
        cap = sa.bindparam("b_cap", type_=sa.Integer)
        hold = sa.bindparam("b_hold", type_=sa.Integer)
        prefix = sa.bindparam("b_prefix", type_=sa.Integer)
        under = _under_cap(now, cap, hold, sa.bindparam("b_owner"), prefix, postgres=postgres)
        if postgres:
            # ``id = ANY(ARRAY(...))``: the ranked ids are computed once (an InitPlan) whatever the
            # planner believes. As ``id IN (...)`` a queue without statistics yet (fresh rows, before
            # autovacuum's ANALYZE) got a nested loop re-running the ranking per due row: 250-590 ms
            # per claim at 2,000 due posts instead of ~3 ms (docs/BENCHMARKS.md, PostgreSQL).
            due = due.where(p.c.id == sa.any_(sa.func.array(under.scalar_subquery())))
        else:
            due = due.where(p.c.id.in_(under))
    if postgres:
        due = due.with_for_update(skip_locked=True)
    claim = (
        sa.update(p)
        .where(p.c.id.in_(due))
        .values(
            status=Status.CLAIMED.value,
            previous_status=p.c.status,
            lease_owner=sa.bindparam("b_owner"),
            lease_expires_at=sa.bindparam("b_expires", type_=p.c.lease_expires_at.type),
            updated_at=sa.bindparam("b_updated", type_=p.c.updated_at.type),
        )
        .returning(*_CLAIM_COLUMNS)
    )
    stmt: sa.Update | sa.Select[Any] = _with_claim_events(claim) if postgres else claim
    _CLAIMS[(capped, postgres)] = stmt
    return stmt


def _with_claim_events(claim: sa.UpdateBase) -> sa.Select[Any]:
    """PostgreSQL: the claim and its ``post_events`` rows in one statement (a data-modifying CTE runs
    exactly once whatever reads it, https://www.postgresql.org/docs/current/queries-with.html), one round
    trip instead of two; the same rows as :meth:`StoreCore._events` writes after the claim on SQLite."""
    claimed = claim.cte("claimed")
    events = sa.insert(EVENTS).from_select(
        ["post_id", "at", "from_status", "to_status", "actor", "reason"],
        sa.select(
            claimed.c.id, sa.bindparam("b_updated", type_=EVENTS.c.at.type), claimed.c.previous_status,
            sa.literal_column(f"'{Status.CLAIMED.value}'"), sa.bindparam("b_owner"), sa.null(),
        ),
    )
    return sa.select(*(claimed.c[c.name] for c in _CLAIM_COLUMNS)).add_cte(events.cte("claim_events"))


def _overdue_late(r: Any, now: datetime) -> bool:
    """A claimed occurrence of a ``send_late`` recurrence found later than its lateness window (after a
    daemon's downtime, or an account held for long): a later occurrence may supersede it."""
    return bool(r.send_late) and bool(r.occurrence) and now - r.next_attempt_at > timedelta(
        seconds=r.late_window_seconds
    )


def _superseded(conn: sa.Connection, rows: list[Any], now: datetime) -> dict[int, str]:
    """Post id -> the occurrence that supersedes it, for the claimed ``rows`` that :func:`_overdue_late`
    picks: a later occurrence of the same post on the same account that is due too (not cancelled, in any
    other state: waiting, in flight or sent). ``send_late`` sends only the latest one, as ``apply`` does
    (:mod:`campaign.schedule.recurrence`); the dispatcher marks the others ``missed``. Ordinary posts never
    come here: one Python test a row, no statement."""
    overdue = [r for r in rows if r.send_late and _overdue_late(r, now)]  # the attribute first: the hot path
    if not overdue:
        return {}
    p = POSTS
    same = sa.tuple_(p.c.campaign, p.c.post_key, p.c.account)
    stmt = sa.select(p.c.campaign, p.c.post_key, p.c.account, p.c.scheduled_at, p.c.occurrence).where(
        same.in_(list({(r.campaign, r.post_key, r.account) for r in overdue})),
        p.c.occurrence != "",
        p.c.scheduled_at <= now,
        p.c.status != Status.CANCELLED.value,
    )
    latest: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    for campaign, post_key, account, at, occurrence in conn.execute(stmt):
        key = (campaign, post_key, account)
        if key not in latest or latest[key][0] < at:
            latest[key] = (at, occurrence)
    superseded: dict[int, str] = {}
    for r in overdue:
        at, occurrence = latest.get((r.campaign, r.post_key, r.account), (r.scheduled_at, ""))
        if at > r.scheduled_at:
            superseded[r.id] = occurrence
    return superseded


def _claimed(r: Any, superseded_by: str = "") -> ClaimedPost:
    """A claim's row (a named tuple of :data:`_CLAIM_COLUMNS`) as a :class:`ClaimedPost`."""
    media, link_image, media_base_url = media_from_json(r.media)
    return ClaimedPost(
        id=r.id,
        campaign=r.campaign,
        post_key=r.post_key,
        occurrence=r.occurrence,
        channel=r.channel,
        account=r.account,
        parts=tuple(r.parts),
        link=link_from(r.link),
        idempotency_key=r.idempotency_key,
        part_receipts=receipts_from(r.part_receipts),
        attempts=r.attempts,
        scheduled_at=r.scheduled_at,
        due_at=r.next_attempt_at,
        send_late=bool(r.send_late),
        late_window=timedelta(seconds=r.late_window_seconds),
        lease_owner=r.lease_owner,
        lease_expires_at=r.lease_expires_at,
        media=media,
        link_image=link_image,
        media_base_url=media_base_url,
        superseded_by=superseded_by,
    )


class Claims(StoreCore):
    """Claims, leases and recovery (mixed into :class:`campaign.queue.store.Store`)."""

    def claim_due(
        self, now: datetime, owner: str, lease_seconds: float, limit: int, *,
        per_account: int | None = None, ahead: int = 0,
    ) -> list[ClaimedPost]:
        """Lease up to ``limit`` posts due at or before ``now``, earliest first, in one atomic statement.

        Skips accounts blocked past ``now`` or paused, and paused campaigns. The lease lasts
        ``lease_seconds`` from ``now`` (extend it with :meth:`heartbeat`). Each claimed post is logged with
        ``owner`` as actor.

        ``per_account`` (optional) caps the posts of one account in flight (``claimed`` or ``sending``, by
        any owner in any process) after the claim: an account already at the cap gets nothing, one below it
        gets its earliest due posts up to the cap. Claims with a cap look at the first ``PREFIX_FACTOR *
        limit`` due posts of accounts below their cap, so a claim may return fewer than ``limit`` while more
        are due.

        ``ahead`` (with ``per_account``) lets ``owner`` hold up to ``per_account + ahead`` posts of an account
        while no other owner holds any: the caller keeps the extra ones ready and starts each the moment one
        of the account's sends ends, sending at most ``per_account`` at once, without a claim in between. An
        account another owner holds posts of gets claims up to ``per_account`` in total only, so posts beyond
        the cap are only ever held by a single owner and at most ``per_account`` are sent at once across all.
        """
        now = aware(now)
        if limit <= 0:
            return []
        if per_account is not None and per_account <= 0:
            raise ValueError(f"per_account must be positive, got {per_account}")
        if ahead < 0:
            raise ValueError(f"ahead must not be negative, got {ahead}")
        params: dict[str, Any] = {
            "b_now": now, "b_limit": limit, "b_owner": owner, "b_updated": now,
            "b_expires": now + timedelta(seconds=lease_seconds),
        }
        if per_account is not None:
            params.update(b_cap=per_account, b_hold=per_account + ahead, b_prefix=limit * PREFIX_FACTOR)
        capped = per_account is not None
        claim = self._precompiled(f"claim:{capped}", lambda: Precompiled(
            _claim_statement(capped, self.is_postgres), self.engine.dialect, columns=_CLAIM_COLUMNS))
        # A claim need not survive a crash (durable=False; StoreCore._hot_write), and on PostgreSQL capped
        # claims are serialised: the claim statement then sees every earlier one (module docstring).
        first: tuple[str, ...] = ()
        if self.is_postgres:
            first = (_NOT_FLUSHED, _LOCK) if capped else (_NOT_FLUSHED,)
        with self._hot_write(durable=False) as conn:
            rows = claim.execute(conn, params, first=first)
            if not self.is_postgres:  # PostgreSQL's statement wrote them
                self._log_moved(conn, [r.id for r in rows], owner)
            later = _superseded(conn, rows, now)
        claimed = [_claimed(r, later.get(r.id, "")) for r in rows]
        claimed.sort(key=lambda c: (c.due_at, c.id))  # RETURNING order is unspecified
        return claimed

    def release(self, post_ids: Iterable[int], *, owner: str, now: datetime) -> list[int]:
        """claimed (leased by ``owner``) -> scheduled, keeping their due time (a daemon shutting down).

        Posts already ``sending`` are not released (their outcome is pending). Returns the released ids.
        """
        now = aware(now)
        ids = list(post_ids)
        if not ids:
            return []
        p = POSTS
        sources(Status.SCHEDULED, among=(Status.CLAIMED,))
        stmt = (
            sa.update(p)
            .where(p.c.id.in_(ids), p.c.status == Status.CLAIMED.value, p.c.lease_owner == owner)
            .values(
                status=Status.SCHEDULED.value,
                previous_status=p.c.status,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(p.c.id, p.c.previous_status)
        )
        with self._write() as conn:
            rows = conn.execute(stmt).all()
            released = self._events(conn, rows, Status.SCHEDULED, now, owner, "released")
            if released:
                self._bump(conn)
        return sorted(released)

    def heartbeat(
        self, owner: str, until: datetime, *, now: datetime, ids: Collection[int] | None = None
    ) -> int:
        """Extend the leases ``owner`` holds to ``until``: every one, or only those of the posts ``ids``
        (a dispatcher names the posts it is handling, so a post it lost track of, after a bug, expires into
        recovery instead of being renewed for as long as the process lives). Returns how many it extended.

        ``now`` guards against reviving a lease that already expired (those are left for recovery). On
        PostgreSQL a post whose row another transaction holds (the owner's group commit marking it) is
        skipped this time, never waited for. Written on the hot path's connection: the dispatcher calls it
        where it claims (the group writer's thread).
        """
        now, until = aware(now), aware(until, "until")
        if ids is not None and not ids:
            return 0
        p = POSTS
        held = sa.and_(
            p.c.lease_owner == owner, p.c.status.in_([s.value for s in LEASED]), p.c.lease_expires_at >= now
        )
        if ids is not None:
            held = sa.and_(held, p.c.id.in_(sorted(ids)))
        if self.is_postgres:
            # Rows the owner's own group commit is marking right now (locked by its transaction on another
            # connection) are skipped, not waited for: both statements lock several rows, in no common order,
            # so waiting could deadlock. A skipped row is being moved on anyway; the next beat catches it
            # (leases last many beats).
            held = p.c.id.in_(sa.select(p.c.id).where(held).with_for_update(skip_locked=True))
        stmt = sa.update(p).where(held).values(lease_expires_at=until)
        with self._hot_write() as conn:
            return int(conn.execute(stmt).rowcount)

    def recover_expired(
        self, now: datetime, *, actor: str = "recovery", expired_before: datetime | None = None
    ) -> Recovered:
        """Leases expired before ``now``: claimed -> scheduled (not sent), sending -> unknown.

        ``expired_before`` (default ``now``) moves the cut-off: a lone SQLite daemon holding the daemon lock
        knows every lease is a dead process's and passes a time after every lease (dispatcher, issue 5).
        """
        now = aware(now)
        cutoff = now if expired_before is None else aware(expired_before, "expired_before")
        p = POSTS
        sources(Status.SCHEDULED, among=(Status.CLAIMED,))
        sources(Status.UNKNOWN, among=(Status.SENDING,))
        done = {"previous_status": p.c.status, "lease_owner": None, "lease_expires_at": None}
        lost = sa.literal("lease expired while sending (") + p.c.lease_owner + ")"
        with self._write() as conn:
            requeued = conn.execute(
                sa.update(p)
                .where(self._expired(Status.CLAIMED, cutoff))
                .values(status=Status.SCHEDULED.value, updated_at=now, **done)
                .returning(p.c.id, p.c.previous_status)
            ).all()
            unknown = conn.execute(
                sa.update(p)
                .where(self._expired(Status.SENDING, cutoff))
                .values(status=Status.UNKNOWN.value, last_error=lost, updated_at=now, **done)
                .returning(p.c.id, p.c.previous_status)
            ).all()
            a = self._events(conn, requeued, Status.SCHEDULED, now, actor, "lease expired before sending")
            b = self._events(conn, unknown, Status.UNKNOWN, now, actor, "lease expired while sending")
            if a or b:
                self._bump(conn)
        return Recovered(requeued=tuple(sorted(a)), unknown=tuple(sorted(b)))

    def _expired(self, status: Status, cutoff: datetime) -> sa.ColumnElement[bool]:
        """Posts in ``status`` whose lease expired before ``cutoff`` (on PostgreSQL: that this transaction
        could lock without waiting)."""
        p = POSTS
        # The literal status term matches ix_posts_lease's WHERE.
        expired = sa.and_(sa.text(_LEASED_SQL), p.c.lease_expires_at < cutoff)
        if not self.is_postgres:
            return sa.and_(expired, p.c.status == status.value)
        # Lock without waiting: a row another transaction holds (a heartbeat, another daemon's recovery,
        # the owner's own mark) is left for the next pass instead of risking a deadlock.
        in_status = sa.and_(expired, p.c.status == status.value)
        locked = sa.select(p.c.id).where(in_status).with_for_update(skip_locked=True)
        return sa.and_(p.c.id.in_(locked), in_status)

    def next_due_at(
        self, now: datetime, *, per_account: int | None = None, ahead: int = 0, owner: str = ""
    ) -> datetime | None:
        """When a claim could next succeed (UTC), or None when nothing is waiting.

        The earliest due post of an account that is not held, or the end of a block that holds an account
        with waiting posts. May be at or before ``now`` (then claim right away). With ``per_account``
        (and ``ahead``, as ``owner`` gives them to :meth:`claim_due`), accounts without room for another
        claim are left out: their next post becomes claimable when a post in flight ends, which this query
        cannot date (the daemon that holds it claims the next one itself; others notice at their safety tick).
        """
        now = aware(now)
        p, a = POSTS, ACCOUNTS
        # An embargoed post is due when both its time and its embargo have come: the later of the two. No
        # index holds that expression, and ordering by it read every waiting post (65-90 ms at 100,000
        # posts queued ahead, on the daemon's event loop). So two walks, each stopping at the first post a
        # claim could take: ix_posts_due for posts due no sooner than their embargo ends (due at
        # next_attempt_at), ix_posts_embargo for the few others (due at not_before). Each WHERE carries its
        # index's own text, so the planner may use the partial index.
        terms: list[sa.ColumnElement[bool]] = list(_claimable_accounts(now))
        if per_account is not None:
            # The accounts without room, read once (a hashed subplan on PostgreSQL), rather than a count
            # correlated to every claimable row: without statistics yet PostgreSQL ran the latter as ~30 ms
            # per call at 2,000 queued posts.
            full = _without_room(per_account, per_account + ahead, owner, sqlite=self.is_sqlite)
            terms.append(p.c.account.not_in(full))
        later = sa.or_(p.c.not_before.is_(None), p.c.not_before <= p.c.next_attempt_at)
        plain = (
            sa.select(p.c.next_attempt_at)
            .where(sa.text(CLAIMABLE_SQL), later)
            .where(*terms)
            .order_by(p.c.next_attempt_at, p.c.id)
            .limit(1)
        )
        embargoed = (
            sa.select(p.c.not_before)
            .where(sa.text(EMBARGOED_SQL))
            .where(*terms)
            .order_by(p.c.not_before, p.c.id)
            .limit(1)
        )
        blocked = (
            sa.select(sa.func.min(a.c.blocked_until))
            .where(a.c.blocked_until > now, a.c.paused == sa.false())
            .where(
                sa.exists().where(p.c.account == a.c.account, p.c.status.in_([s.value for s in CLAIMABLE]))
            )
        )
        reads = (plain.scalar_subquery(), embargoed.scalar_subquery(), blocked.scalar_subquery())
        with self._read() as conn:  # all in one statement: one round trip on PostgreSQL
            found = conn.execute(sa.select(*reads)).one()
        times = [from_db(t) for t in found if t is not None]
        return min(times) if times else None


def _not_embargoed(now: sa.ColumnElement[Any] | datetime) -> sa.ColumnElement[bool]:
    """Posts whose embargo (``not_before``) has passed, or that have none."""
    return sa.or_(POSTS.c.not_before.is_(None), POSTS.c.not_before <= now)
