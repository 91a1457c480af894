"""The bot's own errors: one hierarchy, each message one line: what is wrong, what to do."""

from __future__ import annotations

from pathlib import Path

# The two ways to point the bot at another database, named in every way out.
OTHER_DB = "--db or NEWS_DB_PATH"


class NewsBotError(Exception):
    """Base of the bot's own errors; `str()` is the line to show the person running it."""


class StorageError(NewsBotError):
    """The database at `path` cannot be used as asked: `problem` says why, `remedy` what to do."""

    def __init__(self, path: Path | str, problem: str, remedy: str):
        self.path = Path(path)
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"database {path} {problem}: {remedy}")


class DatabaseUnavailable(StorageError):
    """The file (or its folder) cannot be opened or created."""


class NotOurDatabase(StorageError):
    """Not an SQLite database, or another program's: left untouched."""


class NewerDatabase(StorageError):
    """Written by a newer version of this bot, whose schema this one does not know."""


class DamagedDatabase(StorageError):
    """SQLite found the file corrupt."""


class DatabaseFull(StorageError):
    """A write found the disk (or the file's size limit) full; nothing of it was kept."""


class DatabaseReadOnly(StorageError):
    """A write was refused: the file, its folder or the filesystem is read-only."""


class PostFailed(NewsBotError):
    """Discord did not take a follow's post; `str()` is the reason `/follow list` shows.

    `refused`: Discord answered that it made nothing (a 4xx), so the post is simply still to
    be made; otherwise (its server failed) it may have made it, and a retry looks first.
    `malformed`: refused for what the post holds (an invalid form body), not for where it
    goes: the same post would be refused again.
    """

    def __init__(self, reason: str, *, refused: bool = True, malformed: bool = False):
        self.refused = refused
        self.malformed = malformed
        super().__init__(reason)
