"""SQL helpers every area of the store shares: lists of values in one statement, and running a
statement while Python works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

K = TypeVar("K", int, str)
# SQLite allows 32766 host parameters; stay well below when expanding IN (...) lists.
_CHUNK = 900
SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


@asynccontextmanager
async def meanwhile(write: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run `write` (a store call whose SQL runs without Python's lock: one statement over a
    JSON array, say) in SQLite's thread while the body does Python work in this one; leave
    when both are done."""
    async with asyncio.TaskGroup() as group:
        group.create_task(write)
        await asyncio.sleep(0)  # lets the task hand its statement to SQLite's thread first
        yield


def chunks(items: Sequence[K], size: int = _CHUNK) -> Iterable[Sequence[K]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(count: int) -> str:
    return ",".join("?" * count)
