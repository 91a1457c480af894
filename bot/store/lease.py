"""Leases: which of several processes sharing the database does a piece of work, until when.

A lease is free when nobody holds it or its expiry has come (an expiry equal to now counts
as come); the holder renews it well before then. Taking and renewing happen in one
BEGIN IMMEDIATE transaction, so two processes cannot both take a free lease. The expiry is
written by the holder's clock and judged by the reader's: a holder whose clock is behind
by more than its renewal margin loses the lease to a process with the right clock, and
finds that out at its next renewal (see `LeaseStore.acquire`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from bot.store.sql import immediate

SYNC_LEASE = "sync"  # the seeds-folder sync and the feed polls


def process_name() -> str:
    """This process as a lease holder: host:pid:random (the random part tells a restarted
    process that got the same pid from the one before it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a lease, and until when (aware UTC)."""

    name: str
    holder: str
    expires_at: datetime

    def held_by(self, holder: str, now: datetime) -> bool:
        return self.holder == holder and now < self.expires_at


class LeaseStore:
    """The `leases` table: take, renew, release, look."""

    def __init__(self, reader: aiosqlite.Connection, writer: aiosqlite.Connection,
                 write_lock: asyncio.Lock):
        self._reader = reader
        self._writer = writer
        self._write_lock = write_lock

    async def acquire(self, name: str, holder: str, now: datetime, period: timedelta) -> Lease:
        """Take the lease if it is free (or renew it if `holder` has it) until `now + period`;
        returns the lease as it stands afterwards, whoever holds it."""
        async with self._write_lock, immediate(self._writer) as db:
            current = await self._get(db, name)
            if current is None or current.holder == holder or current.expires_at <= now:
                current = Lease(name, holder, now + period)
                await db.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                    "expires_at = excluded.expires_at",
                    (name, holder, current.expires_at.timestamp()),
                )
        return current

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up if `holder` has it (a graceful stop); whether it had."""
        async with self._write_lock:
            cursor = await self._writer.execute(
                "DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
            return cursor.rowcount > 0

    async def get(self, name: str) -> Lease | None:
        """The lease as last committed; None if nobody holds it."""
        return await self._get(self._reader, name)

    @staticmethod
    async def _get(db: aiosqlite.Connection, name: str) -> Lease | None:
        async with db.execute(
            "SELECT holder, expires_at FROM leases WHERE name = ?", (name,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return Lease(name, str(row[0]), datetime.fromtimestamp(float(row[1]), UTC))
