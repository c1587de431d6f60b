"""A migrated SQLite database of the router's own schema in a test's directory."""

from __future__ import annotations

from pathlib import Path

from router.store.database import Database
from router.store.migrate import upgrade


async def migrated_sqlite(directory: Path, name: str) -> Database:
    url = f"sqlite+aiosqlite:///{directory / name}"
    await upgrade(url)
    return Database(url)
