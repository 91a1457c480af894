"""Digest settings and their posting record, per server and channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import aiosqlite

from bot.digest import Digest

_DIGEST_COLUMNS = (
    "guild_id, channel_id, post_time, timezone, topics, keywords, size, role_id, quiet_day, "
    "last_day, last_window_end, failure, id"
)


def _digest_from_row(row: Sequence[Any]) -> Digest:
    last_window_end = row[10]
    return Digest(
        guild_id=int(row[0]),
        channel_id=int(row[1]),
        post_time=time.fromisoformat(str(row[2])),
        timezone=str(row[3]),
        topics=tuple(json.loads(str(row[4]))),
        keywords=tuple(json.loads(str(row[5]))),
        size=int(row[6]),
        role_id=int(row[7]) if row[7] is not None else None,
        quiet_day=bool(row[8]),
        last_day=date.fromisoformat(str(row[9])) if row[9] else None,
        last_window_end=(datetime.fromtimestamp(int(last_window_end), UTC)
                         if last_window_end is not None else None),
        failure=str(row[11]) if row[11] is not None else None,
        id=int(row[12]),
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

    async def claim(self, digest_id: int, day: date) -> bool:
        """Mark a local day handled, unless it (or a later one) already is; whether this call
        did. The condition is checked in the same statement that writes, so of several
        processes sharing the database only one can claim a day and post it."""
        return await self._write(
            "UPDATE digests SET last_day = ? WHERE id = ? "
            "AND (last_day IS NULL OR last_day < ?)",
            (day.isoformat(), digest_id, day.isoformat()),
        ) == 1

    async def record(self, digest_id: int, day: date, window_end: datetime | None,
                     failure: str | None) -> None:
        """Mark a local day handled, with how far articles were covered and any failure."""
        await self._write(
            "UPDATE digests SET last_day = ?, failure = ?, "
            "last_window_end = coalesce(?, last_window_end) WHERE id = ?",
            (day.isoformat(), failure,
             int(window_end.timestamp()) if window_end else None, digest_id),
        )
