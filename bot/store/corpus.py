"""Reading the corpus: pages of articles, full-text matches, topics, providers, titles, stats."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import aiosqlite

from bot.articles import Article, article_from_json
from bot.results import Page, ProviderCount, Stats, TitleEntry, TitleRow, TopicCount
from bot.store.files import FOLDER_SOURCE
from bot.store.sql import json_list

# Totals are counted up to this: "1000+" reads as well as the exact figure, and counting
# every one of 100,000 matches would cost more than finding the page.
COUNT_CAP = 1000
_TITLE_BATCH = 5000  # rows per fetch of every title
# How many of a provider's ids gathering costs as much as reading one article's row: a row
# is wide, an id is an index entry (set from the ask bench's slowest questions).
ROW_READ_COST = 3


@dataclass(frozen=True, slots=True)
class Filter:
    """What a question narrows articles to; None: not narrowed by that."""

    topic_id: int | None = None
    provider_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


def _window(where: Filter, dated: str) -> tuple[str, list[object]]:
    """The conditions on the column `dated` (Unix seconds) of the window of `where`."""
    sql, params = "", list[object]()
    if where.start is not None:
        sql += f" AND {dated} >= ?"
        params.append(int(where.start.timestamp()))
    if where.end is not None:
        sql += f" AND {dated} < ?"
        params.append(int(where.end.timestamp()))
    return sql, params


def _narrowed(sql: str, params: list[object], where: Filter, dated: str
              ) -> tuple[str, list[object]]:
    """`sql` (FROM … WHERE …, articles as `a`, joined to the topic when one is given) with
    the provider and window of `where` added."""
    params = list(params)
    if where.provider_id is not None:
        sql += " AND a.provider_id = ?"
        params.append(where.provider_id)
    window, dates = _window(where, dated)
    return sql + window, params + dates


def _search_conditions(where: Filter, *, sparse: bool) -> tuple[str, list[object]]:
    """The conditions of `where` on a full-text match (`articles_fts.rowid`), the most
    selective and cheapest first: a common word's matches are tested one by one, and
    reading an articles row (a wide one) costs far more than a look in article_topics or
    in a set of ids. `sparse`: few matches, each read for its provider."""
    sql, params = "", list[object]()
    provider, provider_params = (" AND a.provider_id = ?", list[object]([where.provider_id])
                                 ) if where.provider_id is not None else ("", [])
    window, dates = _window(where, "a.published_at")
    if where.topic_id is not None:
        # article_topics holds each article's publication time: the window is tested
        # there, and only the few matches with the topic are read for their provider.
        topic_window, topic_dates = _window(where, "x.published_at")
        sql += (" AND EXISTS (SELECT 1 FROM article_topics x WHERE x.topic_id = ? "  # noqa: S608 - fixed fragments only
                f"AND x.article_id = articles_fts.rowid{topic_window})")
        params += [where.topic_id, *topic_dates]
        window, dates = "", []
    elif provider and not sparse:
        # The unary plus keeps SQLite from handing each of the provider's ids to FTS5 as
        # a lookup of its own: they are gathered once and each match looked up in them.
        sql += " AND +articles_fts.rowid IN (SELECT id FROM articles WHERE provider_id = ?)"
        params += provider_params
        provider, provider_params = "", []
    if provider or window:
        sql += (" AND EXISTS (SELECT 1 FROM articles a "  # noqa: S608 - fixed fragments only
                f"WHERE a.id = articles_fts.rowid{provider}{window})")
        params += [*provider_params, *dates]
    return sql, params


def _article_from_row(row: aiosqlite.Row | tuple[int, str]) -> Article:
    return article_from_json(row[1], article_id=row[0])


class CorpusReads:
    """The corpus reads of `Store`, on its reader connections: they see the last committed
    corpus, also while a sync is being written. What a build of the in-memory index reads
    of every article goes through a connection of its own: a query of a command waiting
    behind those reads on one connection waited as long as they took."""

    path: Path
    _reader: aiosqlite.Connection
    _index_reader: aiosqlite.Connection

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
        """`search_within` the whole corpus."""
        return await self.search_within(match, Filter())

    async def search_within(self, match: str, where: Filter
                            ) -> tuple[list[tuple[int, float]], bool]:
        """Full-text matches within `where` as (article id, bm25 relevance: lower is
        better), and whether more than COUNT_CAP matched; `match` must be an FTS5
        expression of quoted terms.

        A hit in the title counts most, then provider and topics. A broad query ("ai")
        matches much of the corpus, and ranking every match would be slow: only its
        COUNT_CAP newest matches (ids grow with publication) are read, in one pass over the
        index, newest first. The filter is applied in that same pass: narrowing the newest
        matches afterwards would lose every match of an older window or a rarer topic.
        """
        sparse = where.topic_id is None and where.provider_id is not None \
            and await self._sparse(match, where.provider_id)
        conditions, params = _search_conditions(where, sparse=sparse)
        async with self._reader.execute(
            "SELECT rowid, bm25(articles_fts, 8.0, 2.0, 4.0, 4.0) FROM articles_fts "  # noqa: S608 - fixed fragments only
            f"WHERE articles_fts MATCH ?{conditions} ORDER BY rowid DESC "
            f"LIMIT {COUNT_CAP + 1}", [match, *params],
        ) as cursor:
            matches = list(await cursor.fetchall())
        return [(row[0], row[1]) for row in matches[:COUNT_CAP]], len(matches) > COUNT_CAP

    async def _sparse(self, match: str, provider_id: int) -> bool:
        """Whether the match holds so few articles against the provider's that reading
        each match's row costs less than gathering the provider's ids (both counts are
        read off indexes, the match's only as far as it takes to tell)."""
        gathered = await self._count(
            "SELECT count(*) FROM articles WHERE provider_id = ?", [provider_id])
        enough = gathered // ROW_READ_COST
        found = await self._count(
            f"SELECT count(*) FROM (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? "  # noqa: S608 - fixed fragments only
            f"LIMIT {enough})", [match])
        return found < enough

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
                "SELECT a.id, a.data FROM articles a WHERE a.published_at >= ? "
                "AND a.published_at < ? AND a.id IN (SELECT article_id FROM article_topics "
                "WHERE topic_id IN (SELECT value FROM json_each(?))) "
                "ORDER BY a.score DESC, a.id LIMIT ?"
            )
            params.append(json_list(topic_ids))
        return await self._articles(sql, [*params, limit])

    async def filtered(self, where: Filter, limit: int, offset: int = 0) -> Page:
        """Articles of a topic and/or a provider, published in a window: best ranked first
        (newest first when only the window is given)."""
        if where.topic_id is not None:
            sql = ("FROM article_topics t JOIN articles a ON a.id = t.article_id "
                   "WHERE t.topic_id = ?")
            params: list[object] = [where.topic_id]
            dated, order = "t.published_at", "t.score DESC, t.article_id"
        else:
            sql, params, dated = "FROM articles a WHERE 1", [], "a.published_at"
            order = "a.score DESC, a.id" if where.provider_id is not None \
                else "a.published_at DESC, a.id"
        sql, params = _narrowed(sql, params, where, dated)
        items = await self._articles(
            f"SELECT a.id, a.data {sql} ORDER BY {order} LIMIT ? OFFSET ?",  # fixed fragments
            [*params, limit, offset])
        total, capped = await self._count_capped(f"SELECT 1 {sql}", params)
        return Page(items, total, offset, limit, capped)

    async def article(self, article_id: int) -> Article | None:
        items = await self._articles("SELECT id, data FROM articles WHERE id = ?", [article_id])
        return items[0] if items else None

    async def article_by_url(self, canonical: str) -> Article | None:
        items = await self._articles("SELECT id, data FROM articles WHERE url = ?", [canonical])
        return items[0] if items else None

    async def articles_by_url(self, canonical: Sequence[str]) -> dict[str, Article]:
        """The stored articles of these canonical URLs, by URL (missing ones left out)."""
        sql = "SELECT id, data FROM articles WHERE url IN (SELECT value FROM json_each(?))"
        return {article.url: article
                for article in await self._articles(sql, [json_list(canonical)])}

    async def articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        sql = "SELECT id, data FROM articles WHERE id IN (SELECT value FROM json_each(?))"
        return {article.article_id or 0: article
                for article in await self._articles(sql, [json_list(article_ids)])}

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
        sql, params = f"{columns} ORDER BY a.id", []
        if article_ids is not None:
            sql = f"{columns} WHERE a.id IN (SELECT value FROM json_each(?)) ORDER BY a.id"  # noqa: S608 - fixed fragments only
            params = [json_list(article_ids)]
        async with self._index_reader.execute(sql, params) as cursor:
            while rows := list(await cursor.fetchmany(_TITLE_BATCH)):
                yield cast("list[TitleRow]", rows)

    async def names(self) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
        """Every topic's name and every provider's (name, domain), by id."""
        async with self._reader.execute("SELECT id, name FROM topics") as cursor:
            topics = {row[0]: row[1] for row in await cursor.fetchall()}
        async with self._reader.execute("SELECT id, name, domain FROM providers") as cursor:
            providers = {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}
        return topics, providers

    async def word_counts(self) -> AsyncIterator[list[tuple[str, int]]]:
        """(word, how many articles hold it) of every word of the full-text index, a batch
        at a time. Words are as the index keeps them: lower case, without diacritics."""
        async with self._index_reader.execute("SELECT term, doc FROM temp.article_words"
                                              ) as cursor:
            while rows := list(await cursor.fetchmany(_TITLE_BATCH)):
                yield [(row[0], row[1]) for row in rows]

    async def holding(self, words: Sequence[str], cap: int) -> dict[str, int]:
        """How many articles hold each of these words (letters and digits only), counted
        up to `cap`: a word's count from the index's own statistics would read every
        article that holds it, and a common word is held by most."""
        async with self._reader.execute(
            "SELECT value, (SELECT count(*) FROM (SELECT 1 FROM articles_fts "
            "WHERE articles_fts MATCH '\"' || value || '\"' LIMIT ?)) FROM json_each(?)",
            [cap, json_list(words)],
        ) as cursor:
            return {row[0]: row[1] for row in await cursor.fetchall()}

    async def word_texts(self, article_ids: Sequence[int]) -> list[str]:
        """The indexed text (title, excerpt, provider, topics) of these articles, one string
        each, for the words they hold."""
        async with self._reader.execute(
            "SELECT coalesce(title, '') || ' ' || coalesce(excerpt, '') || ' ' || "
            "coalesce(provider, '') || ' ' || coalesce(topics, '') FROM articles_fts_text "
            "WHERE id IN (SELECT value FROM json_each(?))", [json_list(article_ids)],
        ) as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def topic_activity(self, start: datetime, split: datetime, end: datetime
                             ) -> list[tuple[str, int, int]]:
        """(topic name, articles in [split, end), articles in [start, split)) of every topic
        with an article in [start, end)."""
        return await self._activity(
            "SELECT n.name, sum(t.published_at >= ?), sum(t.published_at < ?) "
            "FROM article_topics t JOIN topics n ON n.id = t.topic_id "
            "WHERE t.published_at >= ? AND t.published_at < ? GROUP BY t.topic_id",
            start, split, end)

    async def provider_activity(self, start: datetime, split: datetime, end: datetime
                                ) -> list[tuple[str, int, int]]:
        """`topic_activity` of the providers."""
        return await self._activity(
            "SELECT p.name, sum(a.published_at >= ?), sum(a.published_at < ?) "
            "FROM articles a JOIN providers p ON p.id = a.provider_id "
            "WHERE a.published_at >= ? AND a.published_at < ? GROUP BY a.provider_id",
            start, split, end)

    async def _activity(self, sql: str, start: datetime, split: datetime, end: datetime
                        ) -> list[tuple[str, int, int]]:
        at = int(split.timestamp())
        async with self._reader.execute(
            sql, [at, at, int(start.timestamp()), int(end.timestamp())]
        ) as cursor:
            return [(row[0], row[1], row[2]) for row in await cursor.fetchall()]

    async def last_published(self, before: datetime) -> datetime | None:
        """When the newest article published before `before` was published."""
        async with self._reader.execute(
            "SELECT max(published_at) FROM articles WHERE published_at < ?",
            [int(before.timestamp())],
        ) as cursor:
            row = await cursor.fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row and row[0] is not None else None

    async def coverage(self, start: datetime, end: datetime) -> dict[int, set[int]]:
        """For each article published in [start, end) that lists or is listed by others:
        those others (its related articles and the articles that list it)."""
        in_window = ("SELECT id FROM articles WHERE published_at >= ? AND published_at < ?")
        sql = (
            "SELECT stub.article_id, own.article_id FROM mentions stub "  # noqa: S608 - fixed fragments only
            "JOIN mentions own ON own.file_id = stub.file_id AND own.is_stub = 0 "
            f"WHERE stub.is_stub = 1 AND stub.article_id IN ({in_window}) "
            "UNION SELECT own.article_id, stub.article_id FROM mentions own "
            "JOIN mentions stub ON stub.file_id = own.file_id AND stub.is_stub = 1 "
            f"WHERE own.is_stub = 0 AND own.article_id IN ({in_window})"
        )
        window = [int(start.timestamp()), int(end.timestamp())]
        linked: dict[int, set[int]] = {}
        async with self._reader.execute(sql, window * 2) as cursor:
            for article_id, other in await cursor.fetchall():
                if other != article_id:
                    linked.setdefault(article_id, set()).add(other)
        return linked

    async def provider_ids(self, article_ids: Sequence[int]) -> dict[int, int | None]:
        """Each article's provider id (None for none)."""
        async with self._reader.execute(
            "SELECT id, provider_id FROM articles WHERE id IN (SELECT value FROM json_each(?))",
            [json_list(article_ids)],
        ) as cursor:
            return {row[0]: row[1] for row in await cursor.fetchall()}

    async def get_meta(self, key: str) -> str | None:
        async with self._reader.execute("SELECT value FROM meta WHERE key = ?", [key]) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def article_count(self) -> int:
        return await self._count("SELECT count(*) FROM articles")

    async def articles_by_source_kind(self) -> dict[str, int]:
        """How many articles each kind of source (folder, feed) mentions; an article that
        both mention counts in each."""
        async with self._reader.execute(
            "SELECT sources.kind, count(DISTINCT mentions.article_id) FROM mentions "
            "JOIN files ON files.id = mentions.file_id "
            "JOIN sources ON sources.id = files.source_id GROUP BY sources.kind"
        ) as cursor:
            return {str(kind): int(count) for kind, count in await cursor.fetchall()}

    async def stats(self) -> Stats:
        counts = []
        for sql in (
            "SELECT count(*) FROM articles",
            "SELECT count(*) FROM articles WHERE is_stub = 0",
            "SELECT count(*) FROM topics",
            "SELECT count(*) FROM providers",
            f"SELECT count(*) FROM files WHERE source_id = {FOLDER_SOURCE}",  # noqa: S608
            f"SELECT count(*) FROM files WHERE source_id = {FOLDER_SOURCE} "  # noqa: S608
            "AND error IS NOT NULL",
        ):
            counts.append(await self._count(sql))
        last_sync = await self.get_meta("last_sync")
        size = sum(
            os.path.getsize(candidate)
            for candidate in (self.path, Path(f"{self.path}-wal"))
            if candidate.exists()
        )
        articles, full_articles, topics, providers, files, failing_files = counts
        return Stats(
            articles=articles, full_articles=full_articles, topics=topics,
            providers=providers, files=files, failing_files=failing_files,
            database_bytes=size,
            last_sync=datetime.fromisoformat(last_sync) if last_sync else None,
        )
