"""Embargoed waiting posts in embargo order: ``ix_posts_embargo`` on ``not_before``.

``Store.next_due_at`` (read by the daemon on its event loop each time it decides how long to sleep) took the
earliest of each waiting post's due time and embargo, an expression no index had, so it read every waiting
post: 65-90 ms at 100,000 posts queued a month ahead, the daemon's every send stalled meanwhile
(docs/BENCHMARKS.md). It now walks ``ix_posts_due`` for posts due no sooner than their embargo ends, and this
index for the others: waiting posts due before their embargo ends, which are few (``apply`` queues a post due
no sooner than its embargo; a retry or a requeue may make it due earlier). Each walk stops at the first post a
claim could take.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHERE = "status IN ('scheduled', 'retry_wait') AND not_before > next_attempt_at"


def upgrade() -> None:
    op.create_index(
        "ix_posts_embargo", "posts", ["not_before", "id"],
        sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_posts_embargo", table_name="posts")
