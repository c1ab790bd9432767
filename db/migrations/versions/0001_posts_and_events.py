"""Posts and their history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('scheduled', 'retry_wait')"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("post_key", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("scheduled_at", ts, nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("link", sa.JSON(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ts, nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", ts, nullable=True),
        sa.Column("remote_id", sa.String(500), nullable=True),
        sa.Column("remote_url", sa.String(2000), nullable=True),
        sa.Column("part_receipts", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("send_late", sa.Boolean(), nullable=False),
        sa.Column("late_window_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_index("ux_posts_idempotency_key", "posts", ["idempotency_key"], unique=True)
    op.create_index("ix_posts_campaign_status", "posts", ["campaign", "status"])
    op.create_index("ix_posts_account_status", "posts", ["account", "status"])
    op.create_index(
        "ix_posts_due",
        "posts",
        ["next_attempt_at"],
        sqlite_where=sa.text(CLAIMABLE),
        postgresql_where=sa.text(CLAIMABLE),
    )
    op.create_table(
        "post_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_post_events_post", "post_events", ["post_id", "id"])


def downgrade() -> None:
    op.drop_table("post_events")
    op.drop_table("posts")
