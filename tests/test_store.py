"""The store's schema: numbered migrations applied once, the version kept in the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store import Store

MIGRATIONS = sorted((Path(__file__).resolve().parents[1] / "bot" / "migrations").glob("*.sql"))


async def test_a_new_database_gets_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    # Opening it again applies nothing twice (a second CREATE TABLE would fail).
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    tables = {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"articles", "versions", "related", "files", "digests", "meta"} <= tables
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
