"""Alembic environment: run migrations on the connection :mod:`campaign.queue.schema` hands in.

The store opens its own (``BEGIN IMMEDIATE``) transaction and passes the connection as
``config.attributes["connection"]`` (the Alembic cookbook's "sharing a connection" recipe,
https://alembic.sqlalchemy.org/en/latest/cookbook.html#connection-sharing), so a migration and the check of
the stored revision happen under one write lock. Batch mode lets SQLite's limited ALTER TABLE be used
(https://alembic.sqlalchemy.org/en/latest/batch.html). Migrations never import the models: each revision is
a frozen description of its schema.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

config = context.config
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("campaign migrations run through campaign.queue.store (pass a connection)")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
