"""What the store knows of each source file: its state, and its versions as stored."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, cast

import aiosqlite
import lz4.block

from bot.store.sql import json_list

FOLDER_SOURCE = 1  # the seeds folder's source id (migration 0006); each feed has its own


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


# What a sync compares the seeds folder with; also run by the folder scan's own process
# (bot/folderscan.py), which is handed them. Read off the (source_id, path) index: a feed's
# entries are never part of the folder.
# Both take the source's id as their one parameter.
FILE_STATS_SQL = "SELECT path, size, mtime_ns FROM files WHERE source_id = ?"
FAILING_FILES_SQL = ("SELECT path, error FROM files WHERE source_id = ? AND error IS NOT NULL "
                     "ORDER BY path")


async def file_stats(db: aiosqlite.Connection) -> list[tuple[str, int, int]]:
    async with db.execute(FILE_STATS_SQL, [FOLDER_SOURCE]) as cursor:
        return cast("list[tuple[str, int, int]]", list(await cursor.fetchall()))


async def folder_file_count(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT count(*) FROM files WHERE source_id = ?",
                          [FOLDER_SOURCE]) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def file_states(db: aiosqlite.Connection, paths: Sequence[str], source_id: int
                       ) -> dict[str, FileState]:
    async with db.execute(
        "SELECT id, path, size, mtime_ns, hash, error FROM files "
        "WHERE source_id = ? AND path IN (SELECT value FROM json_each(?))",
        [source_id, json_list(paths)],
    ) as cursor:
        return {row[1]: FileState._make(row) for row in await cursor.fetchall()}


async def failing_files(db: aiosqlite.Connection) -> list[tuple[str, str]]:
    async with db.execute(FAILING_FILES_SQL, [FOLDER_SOURCE]) as cursor:
        return [(row[0], row[1]) for row in await cursor.fetchall()]
