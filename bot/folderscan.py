"""The seeds folder beside what the store knows of it: which files are new, changed or gone.

A sync of a large folder runs this as a script of its own (`python -I -S folderscan.py`,
its request on stdin, its answer on stdout): stat-ing every file and comparing it with the
stored size and mtime is then paid by that short-lived process, not by the bot's, whose
event loop stays free and whose memory never holds an object per file. Only the standard
library is imported, so that the script starts in a few milliseconds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

ARTICLE_SUFFIXES = (".txt", ".md", ".yml", ".yaml")


class Scan(NamedTuple):
    """The article files under a seeds folder, and what of it could not be read."""

    found: dict[str, tuple[int, int]]  # path → (size, mtime_ns)
    # (path, reason): folders end in "/" ("" is the seeds folder itself).
    unreadable: list[tuple[str, str]]

    def covers(self, path: str) -> bool:
        """Whether a stored file may still be there, unseen: at a path, or under a folder,
        that could not be read (an entry that could not be told apart may be a folder)."""
        return any(place == "" or path == place or path.startswith(place.rstrip("/") + "/")
                   for place, _reason in self.unreadable)


class Compared(NamedTuple):
    """What a sync must do to the folder's files, and what it could not see."""

    found: int  # article files on disk
    candidates: list[str]  # new or changed in size or mtime
    removed: list[str]  # sorted: stored, gone from disk, and not under an unreadable place
    kept: int  # stored files the scan could not see, under an unreadable place
    unreadable: list[tuple[str, str]]  # as in `Scan`
    failing: list[tuple[str, str]]  # stored failures (path, reason) of files still on disk


def scan(seeds_dir: Path) -> Scan:
    """Every article file under `seeds_dir` (recursively, linked folders included, hidden
    entries skipped) with its size and mtime_ns, and the folders and entries that could not
    be read."""
    found: dict[str, tuple[int, int]] = {}
    unreadable: list[tuple[str, str]] = []
    # Symlinked folders are followed (a folder of articles linked in is read), each real
    # folder once: a link back up the tree would otherwise be walked without end.
    seen: set[tuple[int, int]] = set()
    pending = [(seeds_dir, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue  # removed while the scan ran: its files are gone
        except OSError as exc:
            # Not "every file in it was removed": the files may well be there.
            unreadable.append((prefix, f"cannot read this folder: {exc.strerror}; the "
                                       "articles of the files stored under it are kept"))
            continue
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            if not _is_utf8(name):
                # The store keeps paths as text: such a name could not be written down.
                shown = os.fsencode(name).decode("utf-8", "backslashreplace")
                unreadable.append((prefix + shown, "its name is not valid UTF-8; rename it"))
                continue
            try:
                if name.lower().endswith(ARTICLE_SUFFIXES) and entry.is_file():
                    info = entry.stat()
                    found[prefix + name] = (info.st_size, info.st_mtime_ns)
                elif entry.is_dir():
                    pending.append((Path(entry.path), f"{prefix}{name}/"))
            except FileNotFoundError:
                continue
            except OSError as exc:
                unreadable.append((prefix + name, f"cannot read: {exc.strerror}; its stored "
                                                  "articles are kept"))
    return Scan(found, unreadable)


def _is_utf8(name: str) -> bool:
    """Whether a file name from the OS is valid UTF-8 (undecodable bytes arrive as
    surrogates, which cannot be encoded back)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def compare(seeds_dir: Path, stored: Iterable[tuple[str, int, int]],
            failing: Iterable[tuple[str, str]]) -> Compared:
    """Scan `seeds_dir` and compare it with the `stored` (path, size, mtime_ns) of its files
    and their stored `failing` (path, reason)."""
    scanned = scan(seeds_dir)
    on_disk = scanned.found
    stats = {path: (size, mtime_ns) for path, size, mtime_ns in stored}
    # One dict lookup per file: faster than a set difference of (path, (size, mtime))
    # pairs, which hashes every pair.
    candidates = [path for path, stat in on_disk.items() if stats.get(path) != stat]
    gone = stats.keys() - on_disk.keys()
    unseen = {path for path in gone if scanned.covers(path)} if scanned.unreadable else set()
    return Compared(len(on_disk), candidates, sorted(gone - unseen), len(unseen),
                    scanned.unreadable, [(path, why) for path, why in failing if path in on_disk])


def compare_stored(seeds_dir: Path, db_path: Path, source: int, stats_sql: str,
                   failing_sql: str) -> Compared:
    """`compare` with what the database at `db_path` knows of the files of `source`, read
    by the two queries given, in one read transaction (the same committed state for both)."""
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as db:
        db.execute("BEGIN")
        failing = db.execute(failing_sql, [source]).fetchall()
        return compare(seeds_dir, db.execute(stats_sql, [source]), failing)


def main() -> int:
    """The worker: a request {"seeds", "db", "source", "stats_sql", "failing_sql"} on
    stdin, the `Compared` as a JSON object on stdout."""
    request = json.load(sys.stdin)
    compared = compare_stored(Path(request["seeds"]), Path(request["db"]), request["source"],
                              request["stats_sql"], request["failing_sql"])
    json.dump(compared._asdict(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
