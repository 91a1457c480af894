"""The feed list and each feed's poll state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.articles import canonical_url
from bot.feeds.opml import FeedEntry
from bot.feeds.state import Feed
from bot.store.sql import immediate

_FEED_COLUMNS = (
    "f.id, f.url, f.title, f.topic_hint, f.etag, f.last_modified, f.status, f.failures, "
    "f.failing_since, f.last_error, f.last_poll_at, f.next_poll_at, f.min_interval_minutes, "
    "(SELECT count(*) FROM files WHERE source_id = f.source_id)"
)


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _feed_from_row(row: Sequence[Any]) -> Feed:
    return Feed(
        id=int(row[0]), url=str(row[1]), title=row[2], topic_hint=row[3], etag=row[4],
        last_modified=row[5], status=str(row[6]), failures=int(row[7]),
        failing_since=_when(row[8]), last_error=row[9], last_poll_at=_when(row[10]),
        next_poll_at=_when(row[11]), min_interval_minutes=row[12], articles=int(row[13]),
    )


class FeedStore:
    """The feed list: each feed's URL, what it is called and the state of its polls.

    A feed is a source of articles (see migration 0006); its entries are written and
    removed by the loader (`sync_feed`, `remove_feed`), never here.
    """

    def __init__(self, writer: aiosqlite.Connection, write_lock: asyncio.Lock):
        self._writer = writer
        self._write_lock = write_lock

    async def add(self, url: str, title: str | None = None, topic_hint: str | None = None
                  ) -> tuple[Feed, bool]:
        """The feed at `url` and whether it is new: one per canonical URL (a feed removed
        before is added again)."""
        added = await self._adding([(url, title, topic_hint)], again=True)
        feed = await self.get(url)
        if feed is None:  # pragma: no cover - the row was just written
            raise RuntimeError("feed vanished after adding")
        return feed, bool(added)

    async def merge(self, entries: Iterable[FeedEntry], *, again: bool = False) -> list[str]:
        """Add the feeds of a list that are not known; the URLs added. Feeds the operator
        removed are added back only `again` (an import by hand, not the feed list file)."""
        # A list written without titles names each feed by its URL (see `write_opml`).
        return await self._adding([(entry.url, entry.title if entry.title != entry.url else None,
                                    entry.topic_hint) for entry in entries], again=again)

    async def _adding(self, feeds: Sequence[tuple[str, str | None, str | None]], *,
                      again: bool) -> list[str]:
        """Add feeds (url, title, topic hint) in one transaction; the URLs added."""
        added: list[str] = []
        async with self._write_lock, immediate(self._writer):
            for url, title, topic_hint in feeds:
                if await self._add(canonical_url(url), url, title, topic_hint, again=again):
                    added.append(url)
        return added

    async def _add(self, key: str, url: str, title: str | None, topic_hint: str | None,
                   *, again: bool) -> bool:
        async with self._writer.execute("SELECT 1 FROM feeds WHERE key = ?", [key]) as cursor:
            if await cursor.fetchone() is not None:
                if again:  # by hand: a feed disabled (410 Gone) is polled again
                    await self._writer.execute(
                        "UPDATE feeds SET status = 'new', failures = 0, failing_since = NULL, "
                        "last_error = NULL, next_poll_at = NULL "
                        "WHERE key = ? AND status = 'disabled'", [key])
                return False
        if not again:
            async with self._writer.execute(
                "SELECT 1 FROM removed_feeds WHERE key = ?", [key]
            ) as cursor:
                if await cursor.fetchone() is not None:
                    return False
        cursor = await self._writer.execute("INSERT INTO sources (kind) VALUES ('feed')")
        await self._writer.execute(
            "INSERT INTO feeds (source_id, key, url, title, topic_hint) VALUES (?, ?, ?, ?, ?)",
            [cursor.lastrowid, key, url, title, topic_hint],
        )
        await self._writer.execute("DELETE FROM removed_feeds WHERE key = ?", [key])
        return True

    async def _select(self, where: str, params: Sequence[object]) -> list[Feed]:
        async with self._writer.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds f {where} ORDER BY f.id", params  # noqa: S608
        ) as cursor:
            return [_feed_from_row(row) for row in await cursor.fetchall()]

    async def all(self) -> list[Feed]:
        """Every feed, in the order they were added, with its number of articles."""
        return await self._select("", ())

    async def get(self, url: str) -> Feed | None:
        """The feed added with `url` (in any spelling of it) or polled at it now."""
        found = await self._select("WHERE f.key = ? OR f.url = ?", (canonical_url(url), url))
        return found[0] if found else None

    async def save(self, feeds: Sequence[Feed]) -> None:
        """Store feeds' states after a poll, in one statement (a feed removed meanwhile
        stays removed)."""
        async with self._write_lock:
            await self._writer.executemany(
                "UPDATE feeds SET url = ?, title = coalesce(?, title), etag = ?, "
                "last_modified = ?, status = ?, failures = ?, failing_since = ?, "
                "last_error = ?, last_poll_at = ?, next_poll_at = ?, min_interval_minutes = ? "
                "WHERE id = ?",
                [(feed.url, feed.title, feed.etag, feed.last_modified, feed.status,
                  feed.failures, _iso(feed.failing_since), feed.last_error,
                  _iso(feed.last_poll_at), _iso(feed.next_poll_at), feed.min_interval_minutes,
                  feed.id) for feed in feeds],
            )
