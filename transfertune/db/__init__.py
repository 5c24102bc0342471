"""The measurement store: SQLite by default, PostgreSQL by URL, one schema."""

from transfertune.db.storage import (
    ProgramRun,
    RequestRecord,
    Storage,
    StoredMeasurement,
    Token,
    Transfer,
    default_url,
    open_store,
    seed_store,
)

__all__ = ["ProgramRun", "RequestRecord", "Storage", "StoredMeasurement", "Token", "Transfer", "default_url", "open_store",
           "seed_store"]
