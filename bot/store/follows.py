"""Follows, their outbox (what each matched and how far its post went) and the cursor of new
articles the matching has read up to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import aiosqlite
import orjson

from bot.follows.rules import Candidate, FollowRule, FollowRuleError
from bot.follows.state import PAUSE_AFTER, PAUSED_FAILING, Follow, Outgoing
from bot.store.sql import SET_META, immediate, json_list

log = logging.getLogger(__name__)

CURSOR_KEY = "follow_cursor"
_FOLLOW_COLUMNS = (
    "guild_id, channel_id, rule, created_at, role_id, paused, failure, failing_since, "
    "retry_at, posted, last_post_at, id"
)
_OUTGOING_COLUMNS = "follow_id, url, guild_id, batch, state, nonce, attempt_at"
# A full article as the matcher needs it, with what the outbox keeps of it.
_CANDIDATES = (
    "SELECT a.id, a.url, a.title, coalesce(json_extract(a.data, '$.excerpt'), ''), "
    "p.domain, a.published_at, a.first_full_seq, "
    "(SELECT json_group_array(t.key) FROM article_topics x JOIN topics t ON t.id = x.topic_id "
    "WHERE x.article_id = a.id) "
    "FROM articles a LEFT JOIN providers p ON p.id = a.provider_id "
)


class NewArticle(NamedTuple):
    """A full article to match: the matcher's view, and its key and date for the outbox."""

    candidate: Candidate
    url: str
    published_at: datetime | None


class Match(NamedTuple):
    """An outbox row to insert: a follow matched an article, to be posted."""

    follow_id: int
    guild_id: int
    url: str
    published_at: datetime | None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _follow_from_row(row: Sequence[Any]) -> Follow:
    created = _time(row[3]) or datetime.now(UTC)
    return Follow(
        guild_id=int(row[0]), channel_id=int(row[1]), rule=FollowRule.from_json(str(row[2])),
        created_at=created, role_id=int(row[4]) if row[4] is not None else None,
        paused=row[5], failure=row[6], failing_since=_time(row[7]), retry_at=_time(row[8]),
        posted=int(row[9]), last_post_at=_time(row[10]), id=int(row[11]),
    )


def _new_article(row: Sequence[Any]) -> NewArticle:
    published = datetime.fromtimestamp(int(row[5]), UTC) if row[5] is not None else None
    candidate = Candidate(id=int(row[0]), title=str(row[2]), excerpt=str(row[3]),
                          topic_keys=frozenset(orjson.loads(row[7] or "[]")),
                          provider_domain=row[4])
    return NewArticle(candidate, str(row[1]), published)


class FollowStore:
    """Follows and their outbox, per server."""

    def __init__(self, writer: aiosqlite.Connection, write_lock: asyncio.Lock):
        self._writer = writer
        self._write_lock = write_lock
        self._unreadable: set[int] = set()  # ids of follows whose rule was found unreadable

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock, immediate(self._writer) as db:
            yield db

    async def _write(self, sql: str, params: Sequence[object]) -> int:
        async with self._write_lock:
            cursor = await self._writer.execute(sql, params)
            return cursor.rowcount

    async def _rows(self, sql: str, params: Sequence[object]) -> list[Any]:
        async with self._writer.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # ---- the follows -------------------------------------------------------------------

    async def add(self, follow: Follow) -> Follow:
        async with self._write_lock:
            cursor = await self._writer.execute(
                "INSERT INTO follows (guild_id, channel_id, rule, created_at, role_id) "
                "VALUES (?, ?, ?, ?, ?)",
                (follow.guild_id, follow.channel_id, follow.rule.to_json(),
                 _iso(follow.created_at), follow.role_id),
            )
            follow_id = cursor.lastrowid
        saved = await self.get(int(follow_id or 0))
        if saved is None:  # pragma: no cover - the row was just written
            raise RuntimeError("follow vanished after saving")
        return saved

    async def _select(self, where: str, params: Sequence[object]) -> list[Follow]:
        rows = await self._rows(
            f"SELECT {_FOLLOW_COLUMNS} FROM follows {where} ORDER BY guild_id, id",  # noqa: S608
            params)
        follows = []
        for row in rows:
            try:
                follows.append(_follow_from_row(row))
            except FollowRuleError as error:
                # One unreadable row (a hand edit, a newer bot's format) must not stop every
                # other follow: it is left out, and said so once (it is read every round).
                if row[11] not in self._unreadable:
                    self._unreadable.add(row[11])
                    log.warning("Follow %s of server %s is left out: %s "
                                "(/follow remove follow:%s)", row[11], row[0], error, row[11])
        return follows

    async def get(self, follow_id: int) -> Follow | None:
        found = await self._select("WHERE id = ?", (follow_id,))
        return found[0] if found else None

    async def for_guild(self, guild_id: int) -> list[Follow]:
        return await self._select("WHERE guild_id = ?", (guild_id,))

    async def all(self) -> list[Follow]:
        return await self._select("", ())

    async def remove(self, guild_id: int, follow_id: int) -> bool:
        """Remove a follow of this server and its record; whether there was one."""
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM follows WHERE id = ? AND guild_id = ?",
                                      (follow_id, guild_id))
            for table in ("follow_posts", "follow_rounds"):
                await db.execute(f"DELETE FROM {table} WHERE follow_id = ? AND "  # noqa: S608
                                 "NOT EXISTS (SELECT 1 FROM follows WHERE id = ?)",
                                 (follow_id, follow_id))
            return cursor.rowcount > 0

    async def remove_guild(self, guild_id: int) -> int:
        """Remove every follow of a server (it removed the bot); how many."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM follow_posts WHERE guild_id = ?", (guild_id,))
            await db.execute("DELETE FROM follow_rounds WHERE follow_id IN "
                             "(SELECT id FROM follows WHERE guild_id = ?)", (guild_id,))
            cursor = await db.execute("DELETE FROM follows WHERE guild_id = ?", (guild_id,))
            return cursor.rowcount

    async def set_paused(self, guild_id: int, follow_id: int, paused: str | None) -> bool:
        """Pause (with the reason) or resume a follow of this server; whether there was one.

        A pause drops what is still to post: resuming a week later posts what arrives from
        then on, not the backlog. Resuming forgets the failure and its back-off.
        """
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE follows SET paused = ?, failure = CASE WHEN ? IS NULL THEN NULL "
                "ELSE failure END, failing_since = CASE WHEN ? IS NULL THEN NULL "
                "ELSE failing_since END, retry_at = NULL WHERE id = ? AND guild_id = ?",
                (paused, paused, paused, follow_id, guild_id))
            if paused is not None:
                await db.execute("DELETE FROM follow_posts "
                                 "WHERE follow_id = ? AND state = 'pending'", (follow_id,))
                await self._forget_finished_rounds(db, follow_id)
            return cursor.rowcount > 0

    async def record_failure(self, follow_id: int, reason: str, now: datetime,
                             retry_at: datetime) -> Follow | None:
        """Note why posting failed and when to try again; after failing for 3 days the
        follow pauses itself. The follow as it now is."""
        await self._write(
            "UPDATE follows SET failure = ?, failing_since = coalesce(failing_since, ?), "
            "retry_at = ? WHERE id = ?",
            (reason, _iso(now), _iso(retry_at), follow_id))
        follow = await self.get(follow_id)
        if follow and follow.failing_since and now - follow.failing_since >= PAUSE_AFTER:
            await self.set_paused(follow.guild_id, follow_id, PAUSED_FAILING)
            follow = await self.get(follow_id)
        return follow

    # ---- new articles and matching -----------------------------------------------------

    async def cursor(self) -> int:
        rows = await self._rows("SELECT value FROM meta WHERE key = ?", (CURSOR_KEY,))
        return int(rows[0][0]) if rows else 0

    async def newest_seq(self) -> int:
        rows = await self._rows("SELECT coalesce(max(first_full_seq), 0) FROM articles", ())
        return int(rows[0][0])

    async def new_articles(self, after: int) -> tuple[list[NewArticle], int]:
        """The full articles first stored after counter value `after`, newest first, and
        the highest counter value among them (`after` if none)."""
        rows = await self._rows(
            _CANDIDATES + "WHERE a.first_full_seq > ? ORDER BY a.published_at DESC, a.id DESC",
            (after,))
        newest = max((int(row[6]) for row in rows), default=after)
        return [_new_article(row) for row in rows], newest

    async def published_since(self, since: datetime) -> list[NewArticle]:
        """The full articles published since `since`, newest first (what a new follow would
        have matched)."""
        rows = await self._rows(
            _CANDIDATES + "WHERE a.is_stub = 0 AND a.published_at >= ? "
            "ORDER BY a.published_at DESC, a.id DESC", (int(since.timestamp()),))
        return [_new_article(row) for row in rows]

    async def record_matches(self, matches: Sequence[Match], batch: int,
                             cursor: int | None, more: Mapping[int, int] | None = None) -> int:
        """Put matches in the outbox, each follow's count of those its round leaves out
        (`more`, by follow id) and (for a sync's round) advance the cursor, in one
        transaction: a crash before it commits leaves all as they were, and the round is
        done again. A (follow, URL) already there is left as it is. How many were added."""
        async with self._transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT OR IGNORE INTO follow_posts (follow_id, url, guild_id, batch, "
                "published_at) SELECT ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM follows WHERE id = ?)",
                [(m.follow_id, m.url, m.guild_id, batch,
                  int(m.published_at.timestamp()) if m.published_at else None,
                  m.follow_id) for m in matches])
            added = db.total_changes - before
            await db.executemany(
                "INSERT OR IGNORE INTO follow_rounds (follow_id, batch, more) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM follows WHERE id = ?)",
                [(follow_id, batch, count, follow_id) for follow_id, count in
                 (more or {}).items()])
            if cursor is not None:
                await db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                    "SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                    (CURSOR_KEY, str(cursor)))
            return added

    async def set_cursor(self, cursor: int) -> None:
        await self._write(SET_META, (CURSOR_KEY, str(cursor)))

    # ---- the outbox --------------------------------------------------------------------

    async def open_posts(self) -> list[Outgoing]:
        """Outbox rows still to post or whose send was started, oldest round first."""
        rows = await self._rows(
            f"SELECT {_OUTGOING_COLUMNS} FROM follow_posts "  # noqa: S608 - our own names
            "WHERE state IN ('pending', 'sending') "
            "ORDER BY batch, follow_id, published_at DESC, url", ())
        return [Outgoing(int(r[0]), str(r[1]), int(r[2]), int(r[3]), str(r[4]), r[5],
                         _time(r[6])) for r in rows]

    async def left_out(self, follow_id: int, batch: int) -> int:
        """How many matches of a round were left out of its posts ("and N more")."""
        rows = await self._rows("SELECT more FROM follow_rounds WHERE follow_id = ? AND "
                                "batch = ?", (follow_id, batch))
        return int(rows[0][0]) if rows else 0

    async def mark_sending(self, follow_id: int, urls: Sequence[str], nonce: str,
                           now: datetime) -> None:
        """Before a send: committed, so that a crash after it is found at the next start."""
        await self._write(
            "UPDATE follow_posts SET state = 'sending', nonce = ?, attempt_at = ? "
            "WHERE follow_id = ? AND url IN (SELECT value FROM json_each(?))",
            (nonce, _iso(now), follow_id, json_list(urls)))

    async def mark_pending(self, follow_id: int, urls: Sequence[str]) -> None:
        """After a send Discord refused (it made nothing): the rows are to post again."""
        await self._write(
            "UPDATE follow_posts SET state = 'pending', nonce = NULL, attempt_at = NULL "
            "WHERE follow_id = ? AND state = 'sending' "
            "AND url IN (SELECT value FROM json_each(?))",
            (follow_id, json_list(urls)))

    async def mark_sent(self, follow_id: int, urls: Sequence[str], message_id: int | None,
                        now: datetime) -> None:
        """After a send (or a post found in the channel): the rows are done, the follow ok."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE follow_posts SET state = 'sent', message_id = ? WHERE follow_id = ? "
                "AND state != 'sent' AND url IN (SELECT value FROM json_each(?))",
                (message_id, follow_id, json_list(urls)))
            await db.execute(
                "UPDATE follows SET posted = posted + ?, last_post_at = ?, failure = NULL, "
                "failing_since = NULL, retry_at = NULL WHERE id = ?",
                (cursor.rowcount, _iso(now), follow_id))
            await self._forget_finished_rounds(db, follow_id)

    @staticmethod
    async def _forget_finished_rounds(db: aiosqlite.Connection, follow_id: int) -> None:
        """A round's count is read while its posts are made: not after the last."""
        await db.execute(
            "DELETE FROM follow_rounds WHERE follow_id = ? AND batch NOT IN (SELECT batch "
            "FROM follow_posts WHERE follow_id = ? AND state IN ('pending', 'sending'))",
            (follow_id, follow_id))

    async def drop_posts(self, follow_id: int, urls: Sequence[str]) -> None:
        """Rows that cannot be posted at all: their article is gone from the store, or
        Discord refuses its card."""
        async with self._transaction() as db:
            await db.execute(
                "DELETE FROM follow_posts WHERE follow_id = ? "
                "AND url IN (SELECT value FROM json_each(?))",
                (follow_id, json_list(urls)))
            await self._forget_finished_rounds(db, follow_id)
