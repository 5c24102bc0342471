"""The measurement store: SQLite by default, PostgreSQL by URL, one schema."""

from transfertune.db.storage import Storage, StoredMeasurement, Transfer, default_url, open_store, seed_store

__all__ = ["Storage", "StoredMeasurement", "Transfer", "default_url", "open_store", "seed_store"]
