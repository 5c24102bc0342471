"""The measurement store: SQLite by default, PostgreSQL by URL, one schema."""

from transfertune.db.storage import Storage, StoredMeasurement, default_url

__all__ = ["Storage", "StoredMeasurement", "default_url"]
