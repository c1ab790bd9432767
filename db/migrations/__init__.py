"""Alembic migrations of the queue database (shipped as ``campaign.migrations``; see campaign.queue.store)."""
