"""Media attached to posts (content-addressed, with their upload results), embargoes (``not_before``), and
the metrics read back after publication: a time series of samples and the schedule of the next readings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("media", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("media_uploads", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("not_before", ts, nullable=True))
    with op.batch_alter_table("queue_state") as batch:
        batch.add_column(sa.Column("metrics_cursor", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("campaign_state") as batch:
        batch.add_column(sa.Column("destinations", sa.JSON(), nullable=True))
    with op.batch_alter_table("account_state") as batch:
        batch.add_column(sa.Column("followers", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("followers_at", ts, nullable=True))
    op.create_table(
        "post_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("collected_at", ts, nullable=False),
    )
    op.create_index("ix_post_metrics_post", "post_metrics", ["post_id", "collected_at"])
    op.create_table(
        "metric_schedule",
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("sent_at", ts, nullable=False),
        sa.Column("offsets", sa.JSON(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("next_at", ts, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_metric_schedule_due",
        "metric_schedule",
        ["next_at"],
        sqlite_where=sa.text("next_at IS NOT NULL"),
        postgresql_where=sa.text("next_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("metric_schedule")
    op.drop_table("post_metrics")
    with op.batch_alter_table("campaign_state") as batch:
        batch.drop_column("destinations")
    with op.batch_alter_table("account_state") as batch:
        batch.drop_column("followers_at")
        batch.drop_column("followers")
    with op.batch_alter_table("queue_state") as batch:
        batch.drop_column("metrics_cursor")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("not_before")
        batch.drop_column("media_uploads")
        batch.drop_column("media")
