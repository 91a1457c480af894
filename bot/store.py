"""The SQLite store: schema migrations, the one write transaction per sync, and every read.

This is the only module with SQL. It keeps two connections: a writer that holds one
transaction per sync, and a reader that, thanks to WAL, keeps seeing the last committed
corpus while a sync is being written.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar, cast

import aiosqlite
import lz4.block
import orjson

from bot.articles import Article, Record, article_from_json
from bot.digest import Digest
from bot.ranking import rank_score

_SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Totals are counted up to this: "1000+" reads as well as the exact figure, and counting
# every one of 100,000 matches would cost more than finding the page.
COUNT_CAP = 1000
K = TypeVar("K", int, str)
# SQLite allows 32766 host parameters; stay well below when expanding IN (...) lists.
_CHUNK = 900
_TITLE_BATCH = 5000  # rows per fetch of every title


class FileState(NamedTuple):
    """What the store knows about one source file (a tuple: read for every file per sync)."""

    id: int
    path: str
    size: int
    mtime_ns: int
    hash: str
    error: str | None


# One article as one file gives it: (canonical URL, is a stub, published (ISO 8601 in UTC,
# or ""), the article's JSON).
Version = tuple[str, bool, str, str]


def pack_versions(versions: Iterable[Version]) -> bytes:
    """A file's versions as stored: one line each, compressed.

    Neither a canonical URL, a date nor compact JSON holds a tab or a newline, so lines and
    tabs separate them without any escaping; unpacking is a split, not a JSON parse.
    """
    text = "\n".join(f"{url}\t{int(is_stub)}\t{published}\t{data}"
                     for url, is_stub, published, data in versions)
    return lz4.block.compress(text.encode())


def unpack_versions(packed: bytes) -> list[Version]:
    """The versions `pack_versions` stored."""
    versions: list[Version] = []
    for line in lz4.block.decompress(packed).decode().split("\n"):
        url, is_stub, published, data = line.split("\t", 3)
        versions.append((url, is_stub == "1", published, data))
    return versions


# One row of article_topics: (topic id, article id, score, published_at, the article's
# spelling of the topic).
_TopicRow = tuple[int, int, float, int | None, str]
# An article's indexed columns: (published_at, score, provider_id, provider_name).
_Indexed = tuple[int | None, float, int | None, str | None]


class _Released(NamedTuple):
    """What articles about to be rewritten or deleted have stored (see `_release`)."""

    indexed: dict[int, _Indexed]  # by article id
    topic_rows: set[_TopicRow]


class ArticleRow(NamedTuple):
    """A merged article as it is written: its JSON and the columns indexed beside it."""

    url: str
    title: str
    published_at: int | None  # Unix seconds, UTC
    score: float
    provider_name: str | None
    provider_domain: str | None
    is_stub: bool
    topics: tuple[str, ...]
    data: str  # the article as JSON


def article_row(record: Record, data: str) -> ArticleRow:
    """The row of an article record (see `article_record`) and its JSON (pure: runs in the
    sync's worker processes)."""
    published = record["published_at"]
    timestamp = datetime.fromisoformat(published).timestamp() if published else None
    provider = record["provider"]
    return ArticleRow(
        url=record["url"],
        title=record["title"],
        published_at=int(timestamp) if timestamp is not None else None,
        score=rank_score(record["quality"], record["heat"], record["published"], timestamp),
        provider_name=provider[0] if provider else None,
        provider_domain=provider[1] if provider else None,
        is_stub=record["is_stub"],
        topics=tuple(record["topics"]),
        data=data,
    )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and how many there are in all."""

    items: list[Article]
    total: int  # at most COUNT_CAP
    offset: int
    limit: int
    capped: bool = False  # more than COUNT_CAP matched: "1000+"


@dataclass(frozen=True, slots=True)
class TopicCount:
    id: int
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ProviderCount:
    id: int
    name: str
    domain: str
    names: tuple[str, ...]  # every spelling seen, for fuzzy matching
    count: int


@dataclass(frozen=True, slots=True)
class TitleEntry:
    id: int
    title: str
    is_stub: bool
    score: float


# id, title, is_stub, score, provider id, the article's spelling of its provider's name, and
# its topic ids ("3,17"; None for none).
TitleRow = tuple[int, str, int, float, int | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    full_articles: int
    topics: int
    providers: int
    files: int
    failing_files: int
    database_bytes: int
    last_sync: datetime | None


@asynccontextmanager
async def meanwhile(write: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run `write` (a store call whose SQL runs without Python's lock: one statement over a
    JSON array, say) in SQLite's thread while the body does Python work in this one; leave
    when both are done."""
    async with asyncio.TaskGroup() as group:
        group.create_task(write)
        await asyncio.sleep(0)  # lets the task hand its statement to SQLite's thread first
        yield


def _chunks(items: Sequence[K], size: int = _CHUNK) -> Iterable[Sequence[K]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _provider_name_quality(name: str) -> tuple[bool, bool, int, str]:
    """Prefer "The Register" over "theregister": spaces, capitals, then length."""
    return (" " in name, name != name.lower(), len(name), name)


def _article_from_row(row: aiosqlite.Row | tuple[int, str]) -> Article:
    return article_from_json(row[1], article_id=row[0])


class Store:
    """An open corpus database. Use `async with Store.open(path) as store:`."""

    def __init__(self, path: Path, reader: aiosqlite.Connection, writer: aiosqlite.Connection):
        self.path = path
        self._reader = reader
        self._writer = writer
        # One writer connection: a statement issued during a sync would join (and could be
        # rolled back with) the sync's transaction, so every write takes this lock.
        self._write_lock = asyncio.Lock()
        self.digests = DigestStore(writer, self._write_lock)

    @property
    def writing(self) -> bool:
        """Whether a write (usually a sync's transaction) holds the database now."""
        return self._write_lock.locked()

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating and migrating if needed) the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await writer.execute("PRAGMA synchronous=NORMAL")
            # A sync touches many index pages at once; 64 MiB of cache keeps them in memory.
            await writer.execute("PRAGMA cache_size=-65536")
            # Foreign keys are declared but not enforced: checking them made writing 100,000
            # articles take twice as long, and this module is their only writer (the loader
            # tests check that nothing dangles after every kind of sync).
            await _migrate(writer)
            reader = await aiosqlite.connect(path, isolation_level=None)
        except BaseException:
            await writer.close()
            raise
        await reader.execute("PRAGMA query_only=ON")
        return cls(path, reader, writer)

    async def close(self) -> None:
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
        """(path, size, mtime_ns) of every known source file: all a sync reads of most."""
        async with self._reader.execute("SELECT path, size, mtime_ns FROM files") as cursor:
            return cast("list[tuple[str, int, int]]", list(await cursor.fetchall()))

    async def file_states(self, paths: Sequence[str]) -> dict[str, FileState]:
        """What the store knows of these source files, by path (unknown ones left out)."""
        states: dict[str, FileState] = {}
        for chunk in _chunks(paths):
            async with self._reader.execute(
                "SELECT id, path, size, mtime_ns, hash, error FROM files "  # noqa: S608
                f"WHERE path IN ({_marks(len(chunk))})",
                chunk,
            ) as cursor:
                states.update((row[1], FileState._make(row)) for row in await cursor.fetchall())
        return states

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction: committed on success, rolled back on any error."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    # ---- reads -------------------------------------------------------------------------

    async def _articles(self, sql: str, params: Sequence[object]) -> list[Article]:
        async with self._reader.execute(sql, params) as cursor:
            return [_article_from_row(row) for row in await cursor.fetchall()]

    async def _count(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._reader.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _count_capped(self, rows_sql: str, params: Sequence[object]) -> tuple[int, bool]:
        """How many rows `rows_sql` selects, counted up to COUNT_CAP; and whether there are more."""
        found = await self._count(
            f"SELECT count(*) FROM ({rows_sql} LIMIT {COUNT_CAP + 1})", params  # noqa: S608
        )
        return min(found, COUNT_CAP), found > COUNT_CAP

    async def latest(
        self, limit: int, offset: int = 0, since: datetime | None = None
    ) -> Page:
        """Newest first."""
        since_seconds = int(since.timestamp()) if since else None
        where = "WHERE published_at >= ?" if since else ""
        params: list[object] = [since_seconds] if since else []
        items = await self._articles(
            f"SELECT id, data FROM articles {where} "  # noqa: S608 - fixed fragments only
            "ORDER BY published_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        total, capped = await self._count_capped(f"SELECT 1 FROM articles {where}", params)  # noqa: S608
        return Page(items, total, offset, limit, capped)

    async def by_topic(
        self, topic_id: int, limit: int, offset: int = 0, since: datetime | None = None
    ) -> Page:
        """A topic's articles, best ranked first (straight off the topic's score index)."""
        since_sql = " AND t.published_at >= ?" if since else ""
        params: list[object] = [topic_id, *([int(since.timestamp())] if since else [])]
        items = await self._articles(
            "SELECT a.id, a.data FROM article_topics t JOIN articles a ON a.id = t.article_id "  # noqa: S608 - fixed fragments only
            f"WHERE t.topic_id = ?{since_sql} "
            "ORDER BY t.score DESC, t.article_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        total, capped = await self._count_capped(
            f"SELECT 1 FROM article_topics t WHERE t.topic_id = ?{since_sql}", params  # noqa: S608
        )
        return Page(items, total, offset, limit, capped)

    async def by_provider(self, provider_id: int, limit: int, offset: int = 0) -> Page:
        """A provider's articles, best ranked first."""
        items = await self._articles(
            "SELECT id, data FROM articles WHERE provider_id = ? "
            "ORDER BY score DESC, id LIMIT ? OFFSET ?",
            [provider_id, limit, offset],
        )
        total, capped = await self._count_capped(
            "SELECT 1 FROM articles WHERE provider_id = ?", [provider_id]
        )
        return Page(items, total, offset, limit, capped)

    async def search(self, match: str) -> tuple[list[tuple[int, float]], bool]:
        """Full-text matches as (article id, bm25 relevance: lower is better), and whether
        more than COUNT_CAP matched; `match` must be an FTS5 expression of quoted terms.

        A hit in the title counts most, then provider and topics. A broad query ("ai")
        matches much of the corpus, and ranking every match would be slow: only its
        COUNT_CAP newest matches (ids grow with publication) are read, in one pass over the
        index, newest first.
        """
        async with self._reader.execute(
            "SELECT rowid, bm25(articles_fts, 8.0, 2.0, 4.0, 4.0) FROM articles_fts "  # noqa: S608
            f"WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT {COUNT_CAP + 1}",
            [match],
        ) as cursor:
            matches = await cursor.fetchall()
        return [(row[0], row[1]) for row in matches[:COUNT_CAP]], len(matches) > COUNT_CAP

    async def published_between(
        self, start: datetime, end: datetime, topic_ids: Sequence[int] | None, limit: int
    ) -> list[Article]:
        """Articles published in [start, end), optionally with any of the topics, best first."""
        params: list[object] = [int(start.timestamp()), int(end.timestamp())]
        if topic_ids is None:
            sql = ("SELECT id, data FROM articles WHERE published_at >= ? AND published_at < ? "
                   "ORDER BY score DESC, id LIMIT ?")
        else:
            sql = (
                "SELECT a.id, a.data FROM articles a WHERE a.published_at >= ? "  # noqa: S608
                "AND a.published_at < ? AND a.id IN (SELECT article_id FROM article_topics "
                f"WHERE topic_id IN ({_marks(len(topic_ids))})) ORDER BY a.score DESC, a.id LIMIT ?"
            )
            params.extend(topic_ids)
        return await self._articles(sql, [*params, limit])

    async def article(self, article_id: int) -> Article | None:
        items = await self._articles("SELECT id, data FROM articles WHERE id = ?", [article_id])
        return items[0] if items else None

    async def article_by_url(self, canonical: str) -> Article | None:
        items = await self._articles("SELECT id, data FROM articles WHERE url = ?", [canonical])
        return items[0] if items else None

    async def articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        found: dict[int, Article] = {}
        for chunk in _chunks(list(article_ids)):
            sql = f"SELECT id, data FROM articles WHERE id IN ({_marks(len(chunk))})"  # noqa: S608
            for article in await self._articles(sql, chunk):
                found[article.article_id or 0] = article
        return found

    async def linked(self, article_id: int) -> tuple[list[int], list[int]]:
        """(ids the article lists as related, ids of articles that list it)."""
        # A file lists as related every stub it mentions besides its own article.
        async with self._reader.execute(
            "SELECT DISTINCT stub.article_id FROM mentions own JOIN mentions stub "
            "ON stub.file_id = own.file_id AND stub.is_stub = 1 "
            "WHERE own.article_id = ? AND own.is_stub = 0",
            [article_id],
        ) as cursor:
            listed = [row[0] for row in await cursor.fetchall()]
        async with self._reader.execute(
            "SELECT DISTINCT own.article_id FROM mentions stub JOIN mentions own "
            "ON own.file_id = stub.file_id AND own.is_stub = 0 "
            "WHERE stub.article_id = ? AND stub.is_stub = 1",
            [article_id],
        ) as cursor:
            listing = [row[0] for row in await cursor.fetchall()]
        return listed, listing

    async def topic_neighbours(self, article_id: int, per_topic: int) -> dict[int, int]:
        """The best `per_topic` other articles of each of the article's topics → topics shared."""
        shared: dict[int, int] = {}
        async with self._reader.execute(
            "SELECT topic_id FROM article_topics WHERE article_id = ?", [article_id]
        ) as cursor:
            topic_ids = [row[0] for row in await cursor.fetchall()]
        for topic_id in topic_ids:
            async with self._reader.execute(
                "SELECT article_id FROM article_topics WHERE topic_id = ? AND article_id != ? "
                "ORDER BY score DESC LIMIT ?",
                [topic_id, article_id, per_topic],
            ) as cursor:
                for row in await cursor.fetchall():
                    shared[row[0]] = shared.get(row[0], 0) + 1
        return shared

    async def topic_counts(self) -> list[TopicCount]:
        """Every topic with its number of articles, most used first."""
        sql = (
            "SELECT t.id, t.name, count(*) AS n FROM topics t "
            "JOIN article_topics a ON a.topic_id = t.id GROUP BY t.id ORDER BY n DESC, t.name"
        )
        async with self._reader.execute(sql) as cursor:
            return [TopicCount(*row) for row in await cursor.fetchall()]

    async def provider_counts(self) -> list[ProviderCount]:
        """Every provider with its spellings and number of articles, most used first."""
        sql = (
            "SELECT p.id, p.name, p.domain, "
            " (SELECT json_group_array(DISTINCT provider_name) FROM articles"
            "  WHERE provider_id = p.id),"
            " (SELECT count(*) FROM articles WHERE provider_id = p.id) AS n "
            "FROM providers p ORDER BY n DESC, p.name"
        )
        async with self._reader.execute(sql) as cursor:
            return [
                ProviderCount(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4])
                for row in await cursor.fetchall()
            ]

    async def titles(self) -> list[TitleEntry]:
        """Every article's title, for fuzzy matching."""
        sql = "SELECT id, title, is_stub, score FROM articles"
        async with self._reader.execute(sql) as cursor:
            return [TitleEntry(row[0], row[1], bool(row[2]), row[3])
                    for row in await cursor.fetchall()]

    async def title_batches(self, article_ids: Sequence[int] | None = None
                            ) -> AsyncIterator[list[TitleRow]]:
        """What the search index keeps of every article, or of these (see TitleRow),
        ascending by id, a batch at a time: it never holds a Python object per article."""
        columns = ("SELECT a.id, a.title, a.is_stub, a.score, a.provider_id, a.provider_name, "
                   "(SELECT group_concat(topic_id) FROM article_topics WHERE article_id = a.id) "
                   "FROM articles a")
        if article_ids is None:
            async with self._reader.execute(f"{columns} ORDER BY a.id") as cursor:
                while rows := list(await cursor.fetchmany(_TITLE_BATCH)):
                    yield cast("list[TitleRow]", rows)
            return
        for chunk in _chunks(sorted(article_ids)):
            sql = f"{columns} WHERE a.id IN ({_marks(len(chunk))}) ORDER BY a.id"
            async with self._reader.execute(sql, chunk) as cursor:
                yield cast("list[TitleRow]", list(await cursor.fetchall()))

    async def names(self) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
        """Every topic's name and every provider's (name, domain), by id."""
        async with self._reader.execute("SELECT id, name FROM topics") as cursor:
            topics = {row[0]: row[1] for row in await cursor.fetchall()}
        async with self._reader.execute("SELECT id, name, domain FROM providers") as cursor:
            providers = {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}
        return topics, providers

    async def failing_files(self) -> list[tuple[str, str]]:
        sql = "SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path"
        async with self._reader.execute(sql) as cursor:
            return [(row[0], row[1]) for row in await cursor.fetchall()]

    async def get_meta(self, key: str) -> str | None:
        async with self._reader.execute("SELECT value FROM meta WHERE key = ?", [key]) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write_lock:
            await self._writer.execute(_SET_META, [key, value])

    async def article_count(self) -> int:
        return await self._count("SELECT count(*) FROM articles")

    async def stats(self) -> Stats:
        counts = []
        for sql in (
            "SELECT count(*) FROM articles",
            "SELECT count(*) FROM articles WHERE is_stub = 0",
            "SELECT count(*) FROM topics",
            "SELECT count(*) FROM providers",
            "SELECT count(*) FROM files",
            "SELECT count(*) FROM files WHERE error IS NOT NULL",
        ):
            counts.append(await self._count(sql))
        last_sync = await self.get_meta("last_sync")
        size = sum(
            os.path.getsize(candidate)
            for candidate in (self.path, Path(f"{self.path}-wal"))
            if candidate.exists()
        )
        return Stats(
            *counts,
            database_bytes=size,
            last_sync=datetime.fromisoformat(last_sync) if last_sync else None,
        )


class Transaction:
    """The write API, valid inside `Store.transaction()`."""

    def __init__(self, db: aiosqlite.Connection):
        self._db = db
        # The topics and providers whose articles this transaction wrote or deleted: only
        # their names can change, so `refresh_names` looks at them alone.
        self._touched_topics: set[int] = set()
        self._touched_providers: set[int] = set()

    async def stored_versions(self, file_ids: Sequence[int]) -> dict[int, list[Version]]:
        """The versions stored for each of these files (files that never loaded have none)."""
        found: dict[int, list[Version]] = {}
        for chunk in _chunks(list(file_ids)):
            async with self._db.execute(
                "SELECT file_id, data FROM file_versions "  # noqa: S608 - placeholders only
                f"WHERE file_id IN ({_marks(len(chunk))})",
                chunk,
            ) as cursor:
                found.update((row[0], unpack_versions(row[1])) for row in await cursor.fetchall())
        return found

    async def mentioned_by(self, article_ids: dict[str, int]) -> dict[str, dict[int, bool]]:
        """The files that mention each of these articles (URL → id), by URL: file id → as a
        stub. An article no file mentions is left out."""
        urls = {article_id: url for url, article_id in article_ids.items()}
        found: dict[str, dict[int, bool]] = {}
        for chunk in _chunks(sorted(urls)):
            async with self._db.execute(
                "SELECT article_id, file_id, is_stub FROM mentions "  # noqa: S608
                f"WHERE article_id IN ({_marks(len(chunk))})",
                chunk,
            ) as cursor:
                for article_id, file_id, is_stub in await cursor.fetchall():
                    found.setdefault(urls[article_id], {})[file_id] = bool(is_stub)
        return found

    async def article_data(self, article_ids: Sequence[int]) -> dict[int, str]:
        """The stored JSON of these articles, by id."""
        return await self._lookup("articles", "id", "data", article_ids)

    async def versions_in(self, files_of: Mapping[str, Iterable[int]]) -> dict[str, list[str]]:
        """The stored versions (JSON) of these articles in these files (URL → file ids)."""
        stored = await self.stored_versions(sorted(set().union(*files_of.values())))
        found: dict[str, list[str]] = {}
        for url, file_ids in files_of.items():
            found[url] = [data for file_id in file_ids
                          for version_url, _stub, _when, data in stored.get(file_id, ())
                          if version_url == url]
        return found

    async def remove_files(self, file_ids: Sequence[int]) -> None:
        """Forget files and everything they said."""
        for chunk in _chunks(list(file_ids)):
            marks = _marks(len(chunk))
            for table, column in (("mentions", "file_id"), ("file_versions", "file_id"),
                                  ("files", "id")):
                await self._db.execute(
                    f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk  # noqa: S608
                )

    async def record_files(
        self, states: Sequence[tuple[int, str, int, int, str, str | None]]
    ) -> None:
        """Insert or update file rows (id, path, size, mtime_ns, hash, error)."""
        await self._db.executemany(
            "INSERT INTO files (id, path, size, mtime_ns, hash, error) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, hash = excluded.hash, error = excluded.error",
            states,
        )

    async def _lookup(
        self, table: str, key: str, column: str, keys: Sequence[K]
    ) -> dict[K, Any]:
        """`column` of the rows of `table` whose unique `key` is among `keys`, by key (table
        and columns are our own names, not input)."""
        found: dict[K, Any] = {}
        for chunk in _chunks(keys):
            async with self._db.execute(
                f"SELECT {key}, {column} FROM {table} WHERE {key} IN ({_marks(len(chunk))})",  # noqa: S608
                chunk,
            ) as cursor:
                found.update((row[0], row[1]) for row in await cursor.fetchall())
        return found

    async def article_ids(self, urls: Sequence[str]) -> dict[str, int]:
        """Ids of the stored articles among these canonical URLs."""
        return await self._lookup("articles", "url", "id", urls)

    async def next_id(self, table: str) -> int:
        """The first free id of `table` ("articles" or "files"), handed out by the caller.

        Ids are handed out by the loader rather than by inserts so that it needs no read
        back, can write files and mentions before the merged articles, and can give new
        articles ids in publication order: a higher id means a newer article, which lets a
        broad search read its newest matches first.
        """
        async with self._db.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}") as cursor:  # noqa: S608
            row = await cursor.fetchone()
        return int(row[0]) if row else 1

    async def save_packed(self, packed: Sequence[tuple[int, bytes]]) -> None:
        """Store what each file now says: (file id, its versions as `pack_versions` made them)."""
        await self._db.executemany(
            "INSERT OR REPLACE INTO file_versions (file_id, data) VALUES (?, ?)", sorted(packed)
        )

    async def forget_mentions(self, file_ids: Sequence[int]) -> None:
        """Drop what these files mention, before `add_mentions` gives what they say now."""
        for chunk in _chunks(list(file_ids)):
            await self._db.execute(
                f"DELETE FROM mentions WHERE file_id IN ({_marks(len(chunk))})", chunk  # noqa: S608
            )

    async def add_mentions(
        self, mentioned: dict[int, list[str]], article_ids: dict[str, int]
    ) -> None:
        """Store what each file mentions, by file id: the URLs of its own article (first), then
        of its related stubs.

        The rows go to SQLite as one JSON array of integers, each a whole row, rather than
        one row at a time: SQLite then inserts them all without taking Python's lock, twice
        as fast, and Python can go on working meanwhile. Ids are handed out one at a time
        from 1 (see `next_id`), far below the 2**31 the packing allows for each.
        """
        packed = [(article_ids[url] << 32) | (file_id << 1) | (position > 0)
                  for file_id, urls in mentioned.items() for position, url in enumerate(urls)]
        # In file order, unsorted: the table fits in the cache, where sorting 600,000 rows
        # took longer than inserting them in any order.
        await self._db.execute(
            "INSERT OR IGNORE INTO mentions (article_id, file_id, is_stub) "
            "SELECT value >> 32, (value >> 1) & 2147483647, value & 1 FROM json_each(?)",
            [orjson.dumps(packed).decode()],
        )

    async def write_articles(self, rows: dict[int, ArticleRow], new_from: int) -> None:
        """Store merged articles by id: their rows, topics, providers and full-text entries.

        Ids from `new_from` on (see `next_id`) are new articles, with nothing stored to replace.
        """
        ids = sorted(rows)
        provider_ids = await self._provider_ids(rows.values())
        topic_ids = await self._topic_ids(rows.values())
        stored_indexed: dict[int, _Indexed] = {}
        stored_topics: set[_TopicRow] = set()
        for chunk in _chunks([article_id for article_id in ids if article_id < new_from]):
            released = await self._release(chunk)
            stored_indexed.update(released.indexed)
            stored_topics |= released.topic_rows
        article_rows = []
        # Articles whose indexed columns are as stored: only their other columns are written,
        # since assigning an indexed column, even its own value, rewrites its index entries.
        text_rows = []
        for article_id in ids:
            row = rows[article_id]
            provider_id = (provider_ids[row.provider_domain]
                           if row.provider_domain is not None else None)
            indexed = (row.published_at, row.score, provider_id, row.provider_name)
            if article_id < new_from and stored_indexed.get(article_id) == indexed:
                text_rows.append((row.title, row.is_stub, row.data, article_id))
            else:
                article_rows.append((article_id, row.url, row.title, *indexed, row.is_stub,
                                     row.data))
            if provider_id is not None:
                self._touched_providers.add(provider_id)
        await self._db.executemany(
            "INSERT INTO articles (id, url, title, published_at, score, provider_id, "
            "provider_name, is_stub, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
            "published_at = excluded.published_at, score = excluded.score, "
            "provider_id = excluded.provider_id, provider_name = excluded.provider_name, "
            "is_stub = excluded.is_stub, data = excluded.data",
            article_rows,
        )
        await self._db.executemany(
            "UPDATE articles SET title = ?, is_stub = ?, data = ? WHERE id = ?", text_rows
        )
        # The full-text index reads the articles just written (see migration 0005), while
        # this thread lists their topics.
        async with meanwhile(self._db.execute(
            "INSERT INTO articles_fts (rowid, title, excerpt, provider, topics) "
            "SELECT id, title, excerpt, provider, topics FROM articles_fts_text "
            "WHERE id IN (SELECT value FROM json_each(?))",
            [orjson.dumps(ids).decode()],
        )):
            topic_rows = sorted(
                (topic_ids[topic.casefold()], article_id, row.score, row.published_at, topic)
                for article_id, row in rows.items() for topic in row.topics
            )
            # A topic row that has not changed is left as it is: rewriting it would rewrite
            # its index entries too (an edited excerpt changes none of an article's).
            new_topic_rows = [row for row in topic_rows if row not in stored_topics]
        await self._drop_topic_rows(stored_topics.difference(topic_rows))
        self._touched_topics.update(topic_row[0] for topic_row in new_topic_rows)
        await self._db.executemany(
            "INSERT OR IGNORE INTO article_topics "
            "(topic_id, article_id, score, published_at, name) VALUES (?, ?, ?, ?, ?)",
            new_topic_rows,
        )

    async def _provider_ids(self, rows: Iterable[ArticleRow]) -> dict[str, int]:
        """Ids of the articles' providers by domain, creating new ones (named by refresh_names)."""
        domains = {row.provider_domain for row in rows if row.provider_domain is not None}
        await self._db.executemany(
            "INSERT OR IGNORE INTO providers (domain, name) VALUES (?, ?)",
            ((domain, domain) for domain in domains),
        )
        async with self._db.execute("SELECT domain, id FROM providers") as cursor:
            return {row[0]: row[1] for row in await cursor.fetchall()}

    async def _topic_ids(self, rows: Iterable[ArticleRow]) -> dict[str, int]:
        names: dict[str, str] = {}
        for row in rows:
            for topic in row.topics:
                names.setdefault(topic.casefold(), topic)
        await self._db.executemany(
            "INSERT OR IGNORE INTO topics (key, name) VALUES (?, ?)", names.items()
        )
        async with self._db.execute("SELECT key, id FROM topics") as cursor:
            return {row[0]: row[1] for row in await cursor.fetchall()}

    async def delete_articles(self, article_ids: Sequence[int]) -> None:
        """Remove articles that no file mentions any more."""
        for chunk in _chunks(list(article_ids)):
            await self._drop_topic_rows((await self._release(chunk)).topic_rows)
            await self._db.execute(
                f"DELETE FROM articles WHERE id IN ({_marks(len(chunk))})", chunk  # noqa: S608
            )

    async def _release(self, article_ids: Sequence[int]) -> _Released:
        """Before these articles are rewritten or deleted: remove their full-text entries,
        note the providers they were in, whose names may change, and return what they have
        stored in indexed columns and topic rows."""
        marks = _marks(len(article_ids))
        # The index finds the words to remove in the articles as they still are.
        await self._db.execute(
            f"DELETE FROM articles_fts WHERE rowid IN ({marks})", article_ids  # noqa: S608
        )
        async with self._db.execute(
            "SELECT id, published_at, score, provider_id, provider_name FROM articles "  # noqa: S608
            f"WHERE id IN ({marks})",
            article_ids,
        ) as cursor:
            indexed = {row[0]: tuple(row[1:]) for row in await cursor.fetchall()}
        self._touched_providers.update(
            provider_id for _when, _score, provider_id, _name in indexed.values()
            if provider_id is not None
        )
        async with self._db.execute(
            "SELECT topic_id, article_id, score, published_at, name FROM article_topics "  # noqa: S608
            f"WHERE article_id IN ({marks})",
            article_ids,
        ) as cursor:
            return _Released(indexed, {tuple(row) for row in await cursor.fetchall()})

    async def _drop_topic_rows(self, topic_rows: Iterable[_TopicRow]) -> None:
        """Delete these topic rows, noting their topics, whose names may change."""
        keys = sorted((topic_id, article_id) for topic_id, article_id, *_rest in topic_rows)
        self._touched_topics.update(topic_id for topic_id, _article_id in keys)
        await self._db.executemany(
            "DELETE FROM article_topics WHERE topic_id = ? AND article_id = ?", keys
        )

    async def refresh_names(self) -> None:
        """Drop unused topics and providers; name the rest from their current articles.

        Names derive from what the corpus says now, never from the order files arrived in:
        a topic takes the spelling most of its articles use, a provider its nicest spelling.
        Only the topics and providers whose articles this transaction changed are looked at.
        """
        for chunk in _chunks(sorted(self._touched_topics)):
            await self._drop_unused("topics", "article_topics", "topic_id", chunk)
            await self._db.execute(
                "UPDATE topics SET name = (SELECT name FROM article_topics "  # noqa: S608
                "WHERE topic_id = topics.id GROUP BY name ORDER BY count(*) DESC, name LIMIT 1) "
                f"WHERE id IN ({_marks(len(chunk))})",
                chunk,
            )
        best: dict[int, str] = {}
        for chunk in _chunks(sorted(self._touched_providers)):
            await self._drop_unused("providers", "articles", "provider_id", chunk)
            async with self._db.execute(
                "SELECT DISTINCT provider_id, provider_name FROM articles "  # noqa: S608
                f"WHERE provider_id IN ({_marks(len(chunk))}) AND provider_name IS NOT NULL",
                chunk,
            ) as cursor:
                for provider_id, name in await cursor.fetchall():
                    current = best.get(provider_id)
                    if current is None or (
                        _provider_name_quality(name) > _provider_name_quality(current)
                    ):
                        best[provider_id] = name
        await self._db.executemany(
            "UPDATE providers SET name = ? WHERE id = ?",
            ((name, provider_id) for provider_id, name in best.items()),
        )
        self._touched_topics.clear()
        self._touched_providers.clear()

    async def _drop_unused(self, table: str, user: str, column: str, ids: Sequence[int]) -> None:
        """Delete the rows of `table` among `ids` that no row of `user` refers to by `column`
        (our own names, not input)."""
        await self._db.execute(
            f"DELETE FROM {table} WHERE id IN ({_marks(len(ids))}) AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {user} WHERE {column} = {table}.id)",
            ids,
        )

    async def set_meta(self, key: str, value: str) -> None:
        await self._db.execute(_SET_META, [key, value])


async def _migrate(db: aiosqlite.Connection) -> None:
    """Apply every numbered migration newer than the database, each in one transaction."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    folder = resources.files("bot") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if not match or int(match.group(1)) <= current:
            continue
        version = int(match.group(1))
        script = entry.read_text(encoding="utf-8")
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")


_DIGEST_COLUMNS = (
    "guild_id, channel_id, post_time, timezone, topics, keywords, size, role_id, quiet_day, "
    "last_day, last_window_end, failure, id"
)


def _digest_from_row(row: Sequence[object]) -> Digest:
    last_window_end = row[10]
    return Digest(
        guild_id=int(row[0]),  # type: ignore[arg-type]
        channel_id=int(row[1]),  # type: ignore[arg-type]
        post_time=time.fromisoformat(str(row[2])),
        timezone=str(row[3]),
        topics=tuple(json.loads(str(row[4]))),
        keywords=tuple(json.loads(str(row[5]))),
        size=int(row[6]),  # type: ignore[arg-type]
        role_id=int(row[7]) if row[7] is not None else None,  # type: ignore[arg-type]
        quiet_day=bool(row[8]),
        last_day=date.fromisoformat(str(row[9])) if row[9] else None,
        last_window_end=(datetime.fromtimestamp(int(last_window_end), UTC)  # type: ignore[arg-type]
                         if last_window_end is not None else None),
        failure=str(row[11]) if row[11] is not None else None,
        id=int(row[12]),  # type: ignore[arg-type]
    )


class DigestStore:
    """Digest settings and their posting record, per server and channel."""

    def __init__(self, writer: aiosqlite.Connection, write_lock: asyncio.Lock):
        self._writer = writer
        self._write_lock = write_lock

    async def save(self, digest: Digest) -> Digest:
        """Create or replace the settings of a channel's digest, keeping its posting record."""
        await self._write(
            "INSERT INTO digests (guild_id, channel_id, post_time, timezone, topics, keywords, "
            "size, role_id, quiet_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, channel_id) DO UPDATE SET post_time = excluded.post_time, "
            "timezone = excluded.timezone, topics = excluded.topics, "
            "keywords = excluded.keywords, size = excluded.size, role_id = excluded.role_id, "
            "quiet_day = excluded.quiet_day, failure = NULL",
            (digest.guild_id, digest.channel_id, digest.post_time.strftime("%H:%M"),
             digest.timezone, json.dumps(list(digest.topics)), json.dumps(list(digest.keywords)),
             digest.size, digest.role_id, digest.quiet_day),
        )
        saved = await self.get(digest.guild_id, digest.channel_id)
        if saved is None:  # pragma: no cover - the row was just written
            raise RuntimeError("digest vanished after saving")
        return saved

    async def _select(self, where: str, params: Sequence[object]) -> list[Digest]:
        async with self._writer.execute(
            f"SELECT {_DIGEST_COLUMNS} FROM digests {where} ORDER BY guild_id, channel_id",  # noqa: S608
            params,
        ) as cursor:
            return [_digest_from_row(row) for row in await cursor.fetchall()]

    async def get(self, guild_id: int, channel_id: int) -> Digest | None:
        found = await self._select("WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id))
        return found[0] if found else None

    async def for_guild(self, guild_id: int) -> list[Digest]:
        return await self._select("WHERE guild_id = ?", (guild_id,))

    async def all(self) -> list[Digest]:
        return await self._select("", ())

    async def delete(self, guild_id: int, channel_id: int | None = None) -> int:
        """Remove one channel's digest, or every digest of the server; returns how many."""
        if channel_id is None:
            return await self._write("DELETE FROM digests WHERE guild_id = ?", (guild_id,))
        return await self._write("DELETE FROM digests WHERE guild_id = ? AND channel_id = ?",
                                 (guild_id, channel_id))

    async def _write(self, sql: str, params: Sequence[object]) -> int:
        async with self._write_lock:
            cursor = await self._writer.execute(sql, params)
            return cursor.rowcount

    async def record(self, digest_id: int, day: date, window_end: datetime | None,
                     failure: str | None) -> None:
        """Mark a local day handled, with how far articles were covered and any failure."""
        await self._write(
            "UPDATE digests SET last_day = ?, failure = ?, "
            "last_window_end = coalesce(?, last_window_end) WHERE id = ?",
            (day.isoformat(), failure,
             int(window_end.timestamp()) if window_end else None, digest_id),
        )
