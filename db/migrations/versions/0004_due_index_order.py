"""The claim's index in the claim's own order: ``ix_posts_due`` on (``next_attempt_at``, ``id``).

A claim takes due posts ``ORDER BY next_attempt_at, id`` with a LIMIT. SQLite's index on ``next_attempt_at``
alone already ends with the rowid (the ``id``), so it gave that order; PostgreSQL's does not, and it sorted
every due row to keep the first few (2,984 rows read and sorted per claim at 3,000 due posts, 2.9 ms; with
the id in the index the walk stops after the rows it keeps, 1.0 ms; docs/BENCHMARKS.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('scheduled', 'retry_wait')"


def _due_index(columns: list[str]) -> None:
    op.drop_index("ix_posts_due", table_name="posts")
    op.create_index(
        "ix_posts_due", "posts", columns,
        sqlite_where=sa.text(CLAIMABLE), postgresql_where=sa.text(CLAIMABLE),
    )


def upgrade() -> None:
    _due_index(["next_attempt_at", "id"])


def downgrade() -> None:
    _due_index(["next_attempt_at"])
