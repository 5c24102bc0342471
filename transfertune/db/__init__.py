"""The measurement store: SQLite by default, PostgreSQL by URL, one schema."""

from transfertune.db.storage import (
    ProgramRun,
    Storage,
    StoredMeasurement,
    Token,
    Transfer,
    default_url,
    open_store,
    seed_store,
)

__all__ = ["ProgramRun", "Storage", "StoredMeasurement", "Token", "Transfer", "default_url", "open_store", "seed_store"]
