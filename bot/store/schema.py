"""Opening the database: refusing files that are not ours, migrating the schema, and turning
SQLite's errors into the project's `StorageError`s."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import aiosqlite

from bot.exceptions import (
    OTHER_DB,
    DamagedDatabase,
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseUnavailable,
    NewerDatabase,
    NotOurDatabase,
    StorageError,
)
from bot.store.sql import immediate

# How long a write waits for another connection's transaction (another process's sync, as a
# rule) before failing with "database is locked": five minutes, several times as long as a
# cold load of 100,000 files takes on two cores, so that two syncs, or a digest write and a
# sync, wait their turn instead of failing; a process that keeps the lock for longer than
# that is stuck, and the error says so.
BUSY_TIMEOUT_MS = 300_000
WAL_RETRY_S = 0.05  # between tries to switch a new database to WAL (see `_use_wal`)


async def connect(path: Path
                  ) -> tuple[aiosqlite.Connection, aiosqlite.Connection, aiosqlite.Connection]:
    """The (reader, writer, index reader) connections of the database at `path`, created and
    migrated if needed; a file that is not ours, damaged or from a newer version is refused
    with a `StorageError`, untouched. The index reader serves the bulk reads that build the
    in-memory index, so that no command's query waits behind them on the reader."""
    writer = await _Connection.adopt(path, _open_checked(path))
    opened: list[aiosqlite.Connection] = []
    try:
        await writer.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await _use_wal(writer)
        await writer.execute("PRAGMA synchronous=NORMAL")
        # A sync touches many index pages at once; 64 MiB of cache keeps them in memory.
        await writer.execute("PRAGMA cache_size=-65536")
        # Foreign keys are declared but not enforced: checking them made writing 100,000
        # articles take twice as long, and the store is their only writer (the loader
        # tests check that nothing dangles after every kind of sync).
        await _migrate(writer)
        opened.append(await _read_only(path))
        # The corpus's words and how many articles hold each, read from the full-text index
        # as it stands (bot/vocabulary.py). A temp table: the database file is not changed.
        opened.append(await _read_only(path, "CREATE VIRTUAL TABLE temp.article_words "
                                             "USING fts5vocab(main, 'articles_fts', 'row')"))
    except BaseException:
        for connection in (*opened, writer):
            await connection.close()
        raise
    reader, index_reader = opened
    return reader, writer, index_reader


async def _read_only(path: Path, *setup: str) -> aiosqlite.Connection:
    """A connection of the database at `path` that only reads, once `setup` has run."""
    reader = await _Connection.adopt(path, _open_file(path))
    try:
        for statement in setup:
            await reader.execute(statement)
        await reader.execute("PRAGMA query_only=ON")
        await reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except BaseException:
        await reader.close()
        raise
    return reader


async def _use_wal(db: _Connection) -> None:
    """Put the database in WAL mode (kept in the file).

    Switching a new database's journal mode takes a lock SQLite does not wait for (its busy
    handler is not called there), so several processes opening a new database at once
    would see "database is locked": they wait their turn here instead, as long as any
    other write would wait.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            return
        except StorageError as exc:
            cause = exc.__cause__
            busy = (isinstance(cause, sqlite3.Error)
                    and getattr(cause, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY)
            if not busy or time.monotonic() > deadline:
                raise
        await asyncio.sleep(WAL_RETRY_S)


def _migrations() -> list[tuple[int, Traversable]]:
    """The numbered migration scripts, oldest first."""
    found = []
    for entry in (resources.files("bot") / "migrations").iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found, key=lambda numbered: numbered[0])


async def _migrate(db: aiosqlite.Connection) -> None:
    """Apply every numbered migration newer than the database, in one transaction.

    The version is read inside the write lock: two processes opening a new database at
    once would otherwise both apply migration 1, and the second fail on its tables.
    """
    async with immediate(db):
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, entry in _migrations():
            if version > current:
                for statement in _statements(entry.read_text(encoding="utf-8")):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration file, one at a time (executescript would commit
    the transaction they must run in)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending


# ---- opening and errors ------------------------------------------------------------------

# Tables every version of this bot's schema has (migration 0001 made them; none dropped them).
_OUR_TABLES = frozenset({"files", "articles", "meta"})
_MOVE_AWAY = ("move the file away and run again to rebuild the corpus from the seeds (its digest "
              f"settings are lost), or use {OTHER_DB}")


class _Connection(aiosqlite.Connection):
    """An aiosqlite connection that adopts an already-open sqlite3 connection and raises
    SQLite's errors as `StorageError`s naming the database."""

    def __init__(self, path: Path, db: sqlite3.Connection):
        # aiosqlite connects in its worker thread; when that connect fails, the event loop
        # may be closed before the thread reports it, and the thread dies with a traceback
        # instead of the error (omnilib/aiosqlite#241). The file is opened in this thread
        # instead, so the worker's connect only hands it over and cannot fail.
        super().__init__(lambda: db, iter_chunk_size=64)
        self.path = path

    @classmethod
    async def adopt(cls, path: Path, db: sqlite3.Connection) -> _Connection:
        """The connection on `db`, its worker thread started."""
        connection = cls(path, db)
        await connection
        return connection

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # Every statement, fetch and commit of aiosqlite passes here: the one place that
        # turns SQLite's errors into ours, for the cost of a try.
        try:
            return await super()._execute(fn, *args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from exc


def storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """The `StorageError` for an error SQLite raised on the database at `path`."""
    reason = str(exc)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
    if code == sqlite3.SQLITE_CORRUPT:
        return DamagedDatabase(path, f"is damaged ({reason})", _MOVE_AWAY)
    if code == sqlite3.SQLITE_NOTADB:
        return NotOurDatabase(path, f"is not an SQLite database ({reason}); it was left "
                              "untouched", f"use another path with {OTHER_DB}")
    if code == sqlite3.SQLITE_FULL:
        return DatabaseFull(path, f"could not be written: the disk is full ({reason}); the "
                            "corpus from before is kept", "free some space and sync again")
    if code == sqlite3.SQLITE_READONLY:
        return DatabaseReadOnly(path, f"could not be written: it is read-only ({reason}); the "
                                "corpus from before is kept",
                                f"make the file and its folder writable, or use {OTHER_DB}")
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        return DatabaseUnavailable(path, f"cannot be opened ({reason})",
                                   "check that it is a file in a folder this user can write, "
                                   f"or use {OTHER_DB}")
    if code == sqlite3.SQLITE_IOERR:
        return StorageError(path, f"could not be read or written ({reason})",
                            "check the disk and its free space, then try again")
    return StorageError(path, f"failed: {reason}", "try again; if it persists, "
                        f"move the file away or use {OTHER_DB}")


def _open_file(path: Path) -> sqlite3.Connection:
    """Open (or create) the file in this thread; the errors are ours (see `_Connection`)."""
    try:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise storage_error(path, exc) from None


def _open_checked(path: Path) -> sqlite3.Connection:
    """Open the database at `path` for writing once it is known to be ours, or new."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(path, f"cannot be created: its folder cannot be made "
                                  f"({exc.strerror})", f"use another path with {OTHER_DB}"
                                  ) from None
    if path.is_dir():
        raise DatabaseUnavailable(path, "is a folder", f"give the path of a file with {OTHER_DB}")
    if path.exists():
        _check_ours(path)
    return _open_file(path)


def _check_ours(path: Path) -> None:
    """Refuse a file that is not a database of ours (or a new, empty one) before writing.

    The look is read-only, so that closing it cannot checkpoint another program's
    write-ahead log into its file. A refused file is left as it was: the -wal and -shm
    files the look made are removed. Those beside a database of ours are kept: another
    process of ours may have opened it meanwhile, and they are its live log.
    """
    companions = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    made = [companion for companion in companions if not companion.exists()]
    try:
        _refuse_unless_ours(path)
    except StorageError:
        for companion in made:
            companion.unlink(missing_ok=True)
        raise


def _refuse_unless_ours(path: Path) -> None:
    """Raise the `StorageError` that says why the file at `path` is not ours to write."""
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise storage_error(path, exc) from None
    newest = _migrations()[-1][0]
    if version == 0 and not tables:
        return
    if version == 0 or not tables >= _OUR_TABLES:
        named = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise NotOurDatabase(path, f"is another program's SQLite database (tables: {named}); "
                             "it was left untouched", f"use another path with {OTHER_DB}")
    if version > newest:
        raise NewerDatabase(path, f"is from a newer version of this bot (schema {version}; "
                            f"this one knows up to {newest}); it was left untouched",
                            f"run the newer version, or use another path with {OTHER_DB}")
