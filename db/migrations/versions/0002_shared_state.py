"""State shared by several daemons: account blocks and pauses, campaign pauses, the queue revision; the
previous status of a post (so a set-based claim can log its events) and the lease index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LEASED = "status IN ('claimed', 'sending')"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("previous_status", sa.String(16), nullable=True))
    op.create_index(
        "ix_posts_lease",
        "posts",
        ["lease_expires_at"],
        sqlite_where=sa.text(LEASED),
        postgresql_where=sa.text(LEASED),
    )
    op.create_table(
        "account_state",
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("blocked_until", ts, nullable=True),
        sa.Column("block_reason", sa.Text(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("counter_day", sa.String(10), nullable=True),
        sa.Column("sent_today", sa.Integer(), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_table(
        "campaign_state",
        sa.Column("campaign", sa.String(200), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_table(
        "queue_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO queue_state (id, revision) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("queue_state")
    op.drop_table("campaign_state")
    op.drop_table("account_state")
    op.drop_index("ix_posts_lease", table_name="posts")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("previous_status")
