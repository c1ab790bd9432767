"""Shared builders for the queue tests (store, planner, migrations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign.plan.posts import PlannedPost

T0 = datetime(2027, 1, 18, 9, 0, tzinfo=UTC)


def planned(
    key: str = "p1",
    *,
    campaign: str = "launch",
    at: datetime = T0,
    text: str | tuple[str, ...] = "Hello",
    channel: str = "mastodon",
    account: str = "main",
    occurrence: str = "",
    send_late: bool = False,
) -> PlannedPost:
    parts = (text,) if isinstance(text, str) else text
    return PlannedPost(
        campaign=campaign,
        post_key=key,
        occurrence=occurrence,
        channel=channel,
        account=account,
        scheduled_at=at,
        zone="Europe/Berlin",
        parts=parts,
        send_late=send_late,
    )


def many(
    n: int, *, start: datetime = T0, step: timedelta = timedelta(minutes=1), **kw: object
) -> list[PlannedPost]:
    return [planned(f"p{i}", at=start + i * step, text=f"post {i}", **kw) for i in range(n)]  # type: ignore[arg-type]
