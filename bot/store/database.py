"""The open database: `Store`, its two connections, the write lock and its transaction.

It keeps three connections: a writer that holds one transaction per sync, and two readers
that, thanks to WAL, keep seeing the last committed corpus while a sync is being written:
one for commands, one for the bulk reads that build the in-memory index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

import aiosqlite

from bot.store.corpus import CorpusReads
from bot.store.digests import DigestStore
from bot.store.feeds import FeedStore
from bot.store.files import (
    FOLDER_SOURCE,
    FileState,
    failing_files,
    file_states,
    file_stats,
    folder_file_count,
)
from bot.store.follows import FollowStore
from bot.store.lease import LeaseStore
from bot.store.schema import connect
from bot.store.sql import SET_META
from bot.store.sync import Transaction

CORPUS_VERSION_KEY = "corpus_version"


class Store(CorpusReads):
    """An open corpus database. Use `async with Store.open(path) as store:`."""

    def __init__(self, path: Path, reader: aiosqlite.Connection, writer: aiosqlite.Connection,
                 index_reader: aiosqlite.Connection):
        self.path = path
        self._reader = reader
        self._writer = writer
        self._index_reader = index_reader
        # One writer connection: a statement issued during a sync would join (and could be
        # rolled back with) the sync's transaction, so every write takes this lock.
        self._write_lock = asyncio.Lock()
        self.digests = DigestStore(writer, self._write_lock)
        self.feeds = FeedStore(writer, self._write_lock)
        self.follows = FollowStore(writer, self._write_lock)
        self.leases = LeaseStore(reader, writer, self._write_lock)
        # Corpus versions this store committed (see `written_elsewhere`), down to the last
        # one asked about.
        self._own_versions: set[int] = set()

    @property
    def writing(self) -> bool:
        """Whether a write (usually a sync's transaction) holds the database now."""
        return self._write_lock.locked()

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating and migrating if needed) the database at `path`; a file that is not
        ours, damaged or from a newer version is refused with a `StorageError`, untouched."""
        path = Path(path)
        reader, writer, index_reader = await connect(path)
        return cls(path, reader, writer, index_reader)

    async def close(self) -> None:
        await self._index_reader.close()
        await self._reader.close()
        await self._writer.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self._reader.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    # ---- files -------------------------------------------------------------------------

    async def file_stats(self) -> list[tuple[str, int, int]]:
        """(path, size, mtime_ns) of every known file of the seeds folder: all a sync reads
        of most."""
        return await file_stats(self._reader)

    async def folder_file_count(self) -> int:
        """How many files of the seeds folder the store knows."""
        return await folder_file_count(self._reader)

    async def file_states(self, paths: Sequence[str]) -> dict[str, FileState]:
        """What the store knows of these files of the seeds folder, by path (unknown ones
        left out)."""
        return await file_states(self._reader, paths, FOLDER_SOURCE)

    async def data_version(self) -> int:
        """A number that changes whenever any connection, this store's writer included, has
        committed a write: equal before and after, nothing was written in between."""
        async with self._reader.execute("PRAGMA data_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction: committed on success, rolled back on any error. One that
        wrote anything counts up the corpus version (see `written_elsewhere`)."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            changes = self._writer.total_changes
            version = None
            try:
                yield Transaction(self._writer)
                if self._writer.total_changes != changes:
                    version = await self._count_up_corpus_version()
            except BaseException:
                # SQLite ends the transaction itself on some errors (a full disk): a second
                # rollback would fail and hide the reason.
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
            if version is not None:
                self._own_versions.add(version)

    async def _count_up_corpus_version(self) -> int:
        async with self._writer.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + 1 RETURNING value", [CORPUS_VERSION_KEY]
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def corpus_version(self) -> int:
        """A count of the committed writes to the corpus, by any process."""
        return int(await self.get_meta(CORPUS_VERSION_KEY) or 0)

    async def written_elsewhere(self, since: int) -> tuple[int, bool]:
        """The corpus version now, and whether another process (another `Store`) wrote to
        the corpus after version `since`: what an index built at `since` has not seen,
        since this store's own writes are followed where they are made."""
        version = await self.corpus_version()
        others = any(v not in self._own_versions for v in range(since + 1, version + 1))
        self._own_versions = {v for v in self._own_versions if v > version}
        return version, others

    async def failing_files(self) -> list[tuple[str, str]]:
        return await failing_files(self._reader)

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write_lock:
            await self._writer.execute(SET_META, [key, value])
