"""The open database: `Store`, its connections, the write lock and its transaction.

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
import orjson

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
from bot.store.sql import SET_META, json_list
from bot.store.sync import Transaction

CORPUS_VERSION_KEY = "corpus_version"
# The change log (migration 0010) holds every change of the versions after this one.
CHANGES_FROM_KEY = "corpus_changes_from"
# The change log keeps this many versions: a process that checks far more seldom than the
# writer commits builds its index again instead.
CHANGE_LOG_VERSIONS = 1000
# A write that changes more articles than this is not logged but cuts the log: an index
# that missed it is built again (a change this big makes any index up to a quarter million
# articles due for a fresh build anyway), and the log stays small.
CHANGE_LOG_MAX_ARTICLES = 5000


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
        """Close every connection, even when closing one fails (that error is raised)."""
        try:
            await self._index_reader.close()
        finally:
            try:
                await self._reader.close()
            finally:
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
                tx = Transaction(self._writer)
                yield tx
                if self._writer.total_changes != changes:
                    version = await self._count_up_corpus_version()
                    await self._log_changes(version, tx.changed_articles)
                    # Ours before it is committed: a read of the version that races the
                    # commit must not take this write for another process's.
                    self._own_versions.add(version)
                await self._writer.execute("COMMIT")
            except BaseException:
                if version is not None:
                    self._own_versions.discard(version)
                # SQLite ends the transaction itself on some errors (a full disk): a second
                # rollback would fail and hide the reason.
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                raise

    async def _count_up_corpus_version(self) -> int:
        async with self._writer.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE "
            "SET value = CAST(value AS INTEGER) + 1 RETURNING value", [CORPUS_VERSION_KEY]
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _log_changes(self, version: int, article_ids: set[int]) -> None:
        """Record which articles the write committing `version` changed or removed, in its
        transaction, and forget the versions too old to be asked about."""
        if len(article_ids) > CHANGE_LOG_MAX_ARTICLES:
            await self._writer.execute("DELETE FROM corpus_changes")
            logged_from = version
        else:
            if article_ids:
                await self._writer.execute(
                    "INSERT INTO corpus_changes (version, article_id) "
                    "SELECT ?, value FROM json_each(?)",
                    [version, json_list(sorted(article_ids))],
                )
            logged_from = version - CHANGE_LOG_VERSIONS
            await self._writer.execute("DELETE FROM corpus_changes WHERE version <= ?",
                                       [logged_from])
        await self._writer.execute(
            "UPDATE meta SET value = ? WHERE key = ? AND CAST(value AS INTEGER) < ?",
            [str(logged_from), CHANGES_FROM_KEY, logged_from],
        )

    async def changed_since(self, since: int, until: int) -> list[int] | None:
        """The articles (ids, ascending) that the corpus writes after version `since` up to
        `until` changed or removed, by any process; None when the change log does not reach
        back to `since` (pruned, cut by a big write, or a database older than the log)."""
        # One statement, one snapshot: the log's start is read with the rows it covers.
        async with self._reader.execute(
            "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?), "
            "(SELECT json_group_array(DISTINCT article_id) FROM corpus_changes "
            "WHERE version > ? AND version <= ?)",
            [CHANGES_FROM_KEY, since, until],
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] is None or row[0] > since:
            return None
        return sorted(orjson.loads(row[1]))

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
