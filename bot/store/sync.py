"""The sync's writes: one `Transaction` stores what sources say, merged into articles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import aiosqlite
import orjson

from bot.articles import Record
from bot.ranking import rank_score
from bot.store.files import (
    FOLDER_SOURCE,
    FileState,
    Version,
    failing_files,
    file_states,
    file_stats,
    unpack_versions,
)
from bot.store.sql import SET_META, K, json_list, meanwhile

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


def _provider_name_quality(name: str) -> tuple[bool, bool, int, str]:
    """Prefer "The Register" over "theregister": spaces, capitals, then length."""
    return (" " in name, name != name.lower(), len(name), name)


class Transaction:
    """The write API, valid inside `Store.transaction()`.

    Its reads of the files see the store as this transaction holds it: what a sync decides
    from them cannot be overtaken by another process's sync (see `Store.data_version`).
    """

    def __init__(self, db: aiosqlite.Connection):
        self._db = db
        # The topics and providers whose names this transaction's writes can have changed,
        # so that `refresh_names` looks at them alone: a stored name is the best spelling
        # until a row spelling it otherwise arrives or a row of it goes.
        self._touched_topics: set[int] = set()
        self._touched_providers: set[int] = set()
        # The articles written or deleted: the change log of this write (migration 0010),
        # which the store records under the corpus version it commits.
        self.changed_articles: set[int] = set()

    async def file_stats(self) -> list[tuple[str, int, int]]:
        """As `Store.file_stats`, inside the transaction."""
        return await file_stats(self._db)

    async def file_states(self, paths: Sequence[str], source_id: int = FOLDER_SOURCE
                          ) -> dict[str, FileState]:
        """As `Store.file_states`, inside the transaction; of any source."""
        return await file_states(self._db, paths, source_id)

    async def failing_files(self) -> list[tuple[str, str]]:
        """As `Store.failing_files`, inside the transaction."""
        return await failing_files(self._db)

    async def feed_source(self, feed_id: int) -> int | None:
        """The source id of a feed; None if it was removed."""
        async with self._db.execute("SELECT source_id FROM feeds WHERE id = ?",
                                    [feed_id]) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def source_paths(self, source_id: int) -> list[str]:
        """The paths (for a feed: entry URLs) of every file of a source."""
        async with self._db.execute("SELECT path FROM files WHERE source_id = ? ORDER BY path",
                                    [source_id]) as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def feed_sources(self, feed_ids: Sequence[int]) -> dict[int, int]:
        """The source ids of these feeds, by feed id; feeds removed are left out."""
        return await self._lookup("feeds", "id", "source_id", feed_ids)

    async def entries_published_before(self, source_ids: Sequence[int], before: datetime
                                       ) -> dict[int, list[str]]:
        """The entries of these feeds' sources whose article was published before `before`,
        by source id (sources with none left out)."""
        found: dict[int, list[str]] = {}
        async with self._db.execute(
            "SELECT f.source_id, f.path FROM files f "
            "JOIN mentions m ON m.file_id = f.id AND m.is_stub = 0 "
            "JOIN articles a ON a.id = m.article_id "
            "WHERE f.source_id IN (SELECT value FROM json_each(?)) AND a.published_at < ? "
            "ORDER BY f.source_id, f.path",
            [json_list(source_ids), int(before.timestamp())],
        ) as cursor:
            for source_id, path in await cursor.fetchall():
                found.setdefault(source_id, []).append(path)
        return found

    async def feed_file_states(self, paths: Mapping[int, Sequence[str]]
                               ) -> dict[int, dict[str, FileState]]:
        """What the store knows of these files of several sources (source id → paths), by
        source id and path (unknown files left out): one query for a group of feeds."""
        pairs = [[source_id, path] for source_id, source_paths in paths.items()
                 for path in source_paths]
        found: dict[int, dict[str, FileState]] = {source_id: {} for source_id in paths}
        if not pairs:  # nothing to ask SQLite: spare the round trip to its thread
            return found
        async with self._db.execute(
            "SELECT f.source_id, f.id, f.path, f.size, f.mtime_ns, f.hash, f.error "
            "FROM json_each(?) AS wanted JOIN files f "
            "ON f.source_id = wanted.value ->> 0 AND f.path = wanted.value ->> 1",
            [orjson.dumps(pairs).decode()],  # pairs, which `json_list` does not take
        ) as cursor:
            for source_id, *state in await cursor.fetchall():
                found[source_id][state[1]] = FileState._make(state)
        return found

    async def drop_feed(self, feed_id: int, source_id: int) -> None:
        """Forget a feed whose entries were removed, and remember it was removed."""
        await self._db.execute(
            "INSERT OR IGNORE INTO removed_feeds (key) SELECT key FROM feeds WHERE id = ?",
            [feed_id],
        )
        await self._db.execute("DELETE FROM feeds WHERE id = ?", [feed_id])
        await self._db.execute("DELETE FROM sources WHERE id = ?", [source_id])

    async def stored_versions(self, file_ids: Sequence[int]) -> dict[int, list[Version]]:
        """The versions stored for each of these files (files that never loaded have none)."""
        if not file_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return {}
        async with self._db.execute(
            "SELECT file_id, data FROM file_versions "
            "WHERE file_id IN (SELECT value FROM json_each(?))",
            [json_list(file_ids)],
        ) as cursor:
            return {row[0]: unpack_versions(row[1]) for row in await cursor.fetchall()}

    async def mentioned_by(self, article_ids: dict[str, int]) -> dict[str, dict[int, bool]]:
        """The files that mention each of these articles (URL → id), by URL: file id → as a
        stub. An article no file mentions is left out."""
        if not article_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return {}
        urls = {article_id: url for url, article_id in article_ids.items()}
        found: dict[str, dict[int, bool]] = {}
        async with self._db.execute(
            "SELECT article_id, file_id, is_stub FROM mentions "
            "WHERE article_id IN (SELECT value FROM json_each(?))",
            [json_list(sorted(urls))],
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
        if not file_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return
        ids = json_list(file_ids)
        for table, column in (("mentions", "file_id"), ("file_versions", "file_id"),
                              ("files", "id")):
            await self._db.execute(
                f"DELETE FROM {table} WHERE {column} IN (SELECT value FROM json_each(?))",  # noqa: S608 - our own names
                [ids],
            )

    async def record_files(
        self, states: Sequence[tuple[int, str, int, int, str, str | None]],
        source_id: int = FOLDER_SOURCE,
    ) -> None:
        """Insert or update file rows (id, path, size, mtime_ns, hash, error) of a source."""
        await self._db.executemany(
            "INSERT INTO files (id, source_id, path, size, mtime_ns, hash, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, hash = excluded.hash, error = excluded.error",
            [(file_id, source_id, *rest) for file_id, *rest in states],
        )

    async def _lookup(
        self, table: str, key: str, column: str, keys: Sequence[K]
    ) -> dict[K, Any]:
        """`column` of the rows of `table` whose unique `key` is among `keys`, by key (table
        and columns are our own names, not input)."""
        if not keys:  # nothing to ask SQLite: spare the round trip to its thread
            return {}
        async with self._db.execute(
            f"SELECT {key}, {column} FROM {table} "  # noqa: S608 - our own names
            f"WHERE {key} IN (SELECT value FROM json_each(?))",
            [json_list(keys)],
        ) as cursor:
            return {row[0]: row[1] for row in await cursor.fetchall()}

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
        if not file_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return
        await self._db.execute(
            "DELETE FROM mentions WHERE file_id IN (SELECT value FROM json_each(?))",
            [json_list(file_ids)],
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
            [json_list(packed)],
        )

    async def write_articles(self, rows: dict[int, ArticleRow], new_from: int) -> None:
        """Store merged articles by id: their rows, topics, providers and full-text entries.

        Ids from `new_from` on (see `next_id`) are new articles, with nothing stored to replace.
        """
        ids = sorted(rows)
        self.changed_articles.update(ids)
        providers = await self._providers(rows.values())
        topics = await self._topics(rows.values())
        topic_names = dict(topics.values())
        released = await self._release([article_id for article_id in ids if article_id < new_from])
        stored_indexed, stored_topics = released.indexed, released.topic_rows
        article_rows = []
        # Articles whose indexed columns are as stored: only their other columns are written,
        # since assigning an indexed column, even its own value, rewrites its index entries.
        text_rows = []
        for article_id in ids:
            row = rows[article_id]
            provider_id, provider_name = (providers[row.provider_domain]
                                          if row.provider_domain is not None else (None, None))
            indexed = (row.published_at, row.score, provider_id, row.provider_name)
            stored = stored_indexed.get(article_id) if article_id < new_from else None
            if stored == indexed:
                text_rows.append((row.title, row.is_stub, row.data, article_id))
                continue
            article_rows.append((article_id, row.url, row.title, *indexed, row.is_stub,
                                 row.data))
            if stored is not None and stored[2] is not None:
                self._touched_providers.add(stored[2])  # its spelling there may be its last
            if provider_id is not None and row.provider_name not in (None, provider_name):
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
        # An article written full for the first time takes this write's number of the
        # follows' counter (migration 0008): a stub stays unnumbered, and a full article
        # keeps its number through every update, so follows see it as new once.
        await self._db.execute(
            "UPDATE articles SET first_full_seq = "
            "(SELECT coalesce(max(first_full_seq), 0) + 1 FROM articles) "
            "WHERE id IN (SELECT value FROM json_each(?)) AND is_stub = 0 "
            "AND first_full_seq IS NULL",
            [json_list(ids)],
        )
        # The full-text index reads the articles just written (see migration 0005), while
        # this thread lists their topics.
        async with meanwhile(self._db.execute(
            "INSERT INTO articles_fts (rowid, title, excerpt, provider, topics) "
            "SELECT id, title, excerpt, provider, topics FROM articles_fts_text "
            "WHERE id IN (SELECT value FROM json_each(?))",
            [json_list(ids)],
        )):
            topic_rows = sorted(
                (topics[topic.casefold()][0], article_id, row.score, row.published_at, topic)
                for article_id, row in rows.items() for topic in row.topics
            )
            # A topic row that has not changed is left as it is: rewriting it would rewrite
            # its index entries too (an edited excerpt changes none of an article's).
            new_topic_rows = [row for row in topic_rows if row not in stored_topics]
        await self._drop_topic_rows(stored_topics.difference(topic_rows))
        self._touched_topics.update(topic_id for topic_id, _article, _score, _when, name
                                    in new_topic_rows if name != topic_names[topic_id])
        await self._db.executemany(
            "INSERT OR IGNORE INTO article_topics "
            "(topic_id, article_id, score, published_at, name) VALUES (?, ?, ?, ?, ?)",
            new_topic_rows,
        )

    async def _providers(self, rows: Iterable[ArticleRow]) -> dict[str, tuple[int, str]]:
        """Ids and stored names of the articles' providers by domain, creating new ones
        (named by refresh_names)."""
        domains = {row.provider_domain for row in rows if row.provider_domain is not None}
        await self._db.executemany(
            "INSERT OR IGNORE INTO providers (domain, name) VALUES (?, ?)",
            ((domain, domain) for domain in domains),
        )
        async with self._db.execute("SELECT domain, id, name FROM providers") as cursor:
            return {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}

    async def _topics(self, rows: Iterable[ArticleRow]) -> dict[str, tuple[int, str]]:
        """Ids and stored names of the articles' topics by key, creating new ones."""
        names: dict[str, str] = {}
        for row in rows:
            for topic in row.topics:
                names.setdefault(topic.casefold(), topic)
        await self._db.executemany(
            "INSERT OR IGNORE INTO topics (key, name) VALUES (?, ?)", names.items()
        )
        async with self._db.execute("SELECT key, id, name FROM topics") as cursor:
            return {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}

    async def delete_articles(self, article_ids: Sequence[int]) -> None:
        """Remove articles that no file mentions any more."""
        if not article_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return
        self.changed_articles.update(article_ids)
        released = await self._release(article_ids)
        self._touched_providers.update(
            provider_id for _when, _score, provider_id, _name in released.indexed.values()
            if provider_id is not None
        )
        await self._drop_topic_rows(released.topic_rows)
        await self._db.execute(
            "DELETE FROM articles WHERE id IN (SELECT value FROM json_each(?))",
            [json_list(article_ids)],
        )

    async def _release(self, article_ids: Sequence[int]) -> _Released:
        """Before these articles are rewritten or deleted: remove their full-text entries,
        and return what they have stored in indexed columns and topic rows."""
        if not article_ids:  # nothing to ask SQLite: spare the round trip to its thread
            return _Released({}, set())
        ids = json_list(article_ids)
        # The index finds the words to remove in the articles as they still are.
        await self._db.execute(
            "DELETE FROM articles_fts WHERE rowid IN (SELECT value FROM json_each(?))", [ids]
        )
        async with self._db.execute(
            "SELECT id, published_at, score, provider_id, provider_name FROM articles "
            "WHERE id IN (SELECT value FROM json_each(?))",
            [ids],
        ) as cursor:
            indexed = {row[0]: tuple(row[1:]) for row in await cursor.fetchall()}
        async with self._db.execute(
            "SELECT topic_id, article_id, score, published_at, name FROM article_topics "
            "WHERE article_id IN (SELECT value FROM json_each(?))",
            [ids],
        ) as cursor:
            return _Released(indexed, {tuple(row) for row in await cursor.fetchall()})

    async def _drop_topic_rows(self, topic_rows: Iterable[_TopicRow]) -> None:
        """Delete these topic rows, noting their topics, whose names may change."""
        keys = sorted((topic_id, article_id) for topic_id, article_id, *_rest in topic_rows)
        if not keys:  # nothing to ask SQLite: spare the round trip to its thread
            return
        self._touched_topics.update(topic_id for topic_id, _article_id in keys)
        await self._db.executemany(
            "DELETE FROM article_topics WHERE topic_id = ? AND article_id = ?", keys
        )

    async def refresh_names(self) -> None:
        """Drop unused topics and providers; name the rest from their current articles.

        Names derive from what the corpus says now, never from the order files arrived in:
        a topic takes the spelling most of its articles use, a provider its nicest spelling.
        Only the topics and providers whose names this transaction's writes can have
        changed are looked at (see `__init__`).
        """
        if not (self._touched_topics or self._touched_providers):
            return
        topic_ids = json_list(sorted(self._touched_topics))
        await self._drop_unused("topics", "article_topics", "topic_id", topic_ids)
        await self._db.execute(
            "UPDATE topics SET name = (SELECT name FROM article_topics "
            "WHERE topic_id = topics.id GROUP BY name ORDER BY count(*) DESC, name LIMIT 1) "
            "WHERE id IN (SELECT value FROM json_each(?))",
            [topic_ids],
        )
        best: dict[int, str] = {}
        provider_ids = json_list(sorted(self._touched_providers))
        await self._drop_unused("providers", "articles", "provider_id", provider_ids)
        async with self._db.execute(
            "SELECT DISTINCT provider_id, provider_name FROM articles "
            "WHERE provider_id IN (SELECT value FROM json_each(?)) AND provider_name IS NOT NULL",
            [provider_ids],
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

    async def _drop_unused(self, table: str, user: str, column: str, ids: str) -> None:
        """Delete the rows of `table` among `ids` (a `json_list`) that no row of `user` refers
        to by `column` (our own names, not input)."""
        await self._db.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT value FROM json_each(?)) "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {user} WHERE {column} = {table}.id)",
            [ids],
        )

    async def set_meta(self, key: str, value: str) -> None:
        await self._db.execute(SET_META, [key, value])
