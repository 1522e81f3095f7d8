"""Alembic environment: run the revisions on the connection that the store hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through `seatguard-collector migrate` (collector.storage.schema)")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
