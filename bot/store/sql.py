"""SQL helpers every area of the store shares: a write transaction, a list of values as one
parameter, and running a statement while Python works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiosqlite
import orjson

K = TypeVar("K", int, str)
SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


@asynccontextmanager
async def immediate(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """One write transaction on `db` (BEGIN IMMEDIATE: it takes the database's write lock at
    once, so a read inside it cannot be overtaken by another process's write): committed
    when the body ends, rolled back when it raises. The caller holds its write lock."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # SQLite ends the transaction itself on some errors (a full disk): a second
        # rollback would fail and hide the reason.
        if db.in_transaction:
            await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


@asynccontextmanager
async def meanwhile(write: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run `write` (a store call whose SQL runs without Python's lock: one statement over a
    JSON array, say) in SQLite's thread while the body does Python work in this one; leave
    when both are done."""
    async with asyncio.TaskGroup() as group:
        group.create_task(write)
        await asyncio.sleep(0)  # lets the task hand its statement to SQLite's thread first
        yield


def json_list(values: Iterable[K]) -> str:
    """Values as the one parameter of `column IN (SELECT value FROM json_each(?))`.

    Every list of values goes to SQLite this way: the SQL stays a fixed string, however
    many values there are, so nothing is built from placeholders and no list is cut into
    chunks to stay below SQLite's limit on parameters.
    """
    return orjson.dumps(list(values)).decode()
