"""Alembic environment: runs on the connection `Storage` hands over (never a URL of
its own), with batch mode so SQLite can alter tables."""

from alembic import context

from transfertune.db.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
