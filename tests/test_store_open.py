"""A database that cannot be used: one line naming it and the way out, nothing written to it,
and the bot answering from the corpus it had.

The CLI runs as a real process; "read-only" is real too: as root, the process loses the
capabilities that let root ignore file modes (see `_as_plain_user`).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import NewsBot
from bot.exceptions import DatabaseFull, StorageError
from bot.queries import News
from bot.store import Store
from tests.conftest import ROOT, SEEDS, make_bot, snapshot, write_article
from tests.fake_discord import EPHEMERAL, FakeDiscord, running_bot

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
# Garbage that is no valid b-tree page: written over pages of a real database to damage it.
GARBAGE = bytes(range(256)) * 16
# Loaded here: the child that `_as_plain_user` runs in after the fork should only call it.
LIBC = ctypes.CDLL(None, use_errno=True)


def _as_plain_user() -> None:
    """In the child before it runs Python: as root, drop the capabilities that let root read
    and write whatever the file modes say, so that a 0444 file refuses it as it would anyone
    (a user that is not root already is refused)."""
    if os.geteuid() != 0:
        return
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_bot_cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
                plain_user: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` with only the settings given here (none leak in from the machine)."""
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("NEWS_", "DISCORD_"))}
    clean.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(  # noqa: S603 - our own CLI, with arguments we choose
        [sys.executable, "-m", "bot", *map(str, args)], cwd=cwd, env=clean,
        capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=_as_plain_user if plain_user else None,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's only line of output (exit code 1, no traceback)."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file in `folder` and its bytes: a -wal or -shm file that appears shows too."""
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def load(db: Path, cwd: Path, *, plain_user: bool = False) -> subprocess.CompletedProcess[str]:
    return run_bot_cli("load", "--seeds", SEEDS, "--db", db, cwd=cwd, plain_user=plain_user)


# ---- cannot be opened ----------------------------------------------------------------------

@pytest.mark.parametrize("run", range(20))
def test_a_database_under_proc_fails_with_one_line_every_time(tmp_path: Path, run: int) -> None:
    # aiosqlite's failed connect raced the event loop's close: a traceback about half the time.
    line = one_error_line(load(Path("/proc/news.db"), tmp_path))
    assert line == ("error: database /proc/news.db cannot be opened (unable to open database "
                    "file): check that it is a file in a folder this user can write, or use "
                    "--db or NEWS_DB_PATH")


def test_a_folder_as_the_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "news.db").mkdir()
    result = run_bot_cli("ask", "latest", "--seeds", SEEDS, cwd=tmp_path,
                         env={"NEWS_DB_PATH": "news.db"})
    assert one_error_line(result) == (
        "error: database news.db is a folder: give the path of a file with --db or NEWS_DB_PATH")


def test_a_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    line = one_error_line(load(Path("/proc/no/such/news.db"), tmp_path))
    assert line.startswith("error: database /proc/no/such/news.db cannot be created: its "
                           "folder cannot be made (")
    assert line.endswith("): use another path with --db or NEWS_DB_PATH")


def test_a_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o555)
    line = one_error_line(load(closed / "news.db", tmp_path, plain_user=True))
    assert line == (f"error: database {closed / 'news.db'} cannot be opened (unable to open "
                    "database file): check that it is a file in a folder this user can write, "
                    "or use --db or NEWS_DB_PATH")
    assert list(closed.iterdir()) == []


@pytest.mark.parametrize("run", range(3))
def test_the_bot_does_not_start_on_a_database_it_cannot_open(tmp_path: Path, run: int) -> None:
    result = run_bot_cli("run", cwd=tmp_path, env={
        "DISCORD_TOKEN": "x" * 60, "NEWS_SEEDS_DIR": str(SEEDS), "NEWS_DB_PATH": "/proc/news.db"})
    line = one_error_line(result)
    assert line.endswith("database /proc/news.db cannot be opened (unable to open database "
                         "file): check that it is a file in a folder this user can write, or "
                         "use --db or NEWS_DB_PATH")


# ---- not ours, damaged, newer: refused untouched --------------------------------------------

def _foreign(path: Path, *, wal: bool = False) -> None:
    """Another program's database: a table named like one of ours, user_version 0."""
    with sqlite3.connect(path) as db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE files (name TEXT, data BLOB)")
        db.execute("CREATE TABLE owners (name TEXT)")
        db.execute("INSERT INTO files VALUES ('a.txt', x'00ff')")
    db.close()


def _ours(path: Path, cwd: Path) -> None:
    assert load(path, cwd).returncode == 0


def _newer(path: Path, cwd: Path) -> None:
    _ours(path, cwd)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()


def _damaged(path: Path, cwd: Path) -> None:
    """A real database of ours with garbage over the middle of its pages, among them the
    table of source files that every sync reads first."""
    _ours(path, cwd)
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        files_root = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'files'").fetchone()[0]
    db.close()
    pages = path.stat().st_size // page_size
    with path.open("r+b") as file:
        for page in {files_root, *range(pages // 3, 2 * pages // 3)}:
            file.seek((page - 1) * page_size)
            file.write(GARBAGE[:page_size])


@pytest.mark.parametrize(("kind", "expected"), [
    ("text", "is not an SQLite database (file is not a database); it was left untouched: "
             "use another path with --db or NEWS_DB_PATH"),
    ("foreign", "is another program's SQLite database (tables: files, owners); it was left "
                "untouched: use another path with --db or NEWS_DB_PATH"),
    ("foreign_wal", "is another program's SQLite database (tables: files, owners); it was "
                    "left untouched: use another path with --db or NEWS_DB_PATH"),
    ("newer", "is from a newer version of this bot (schema 99; this one knows up to "
              f"{len(list((ROOT / 'bot' / 'migrations').glob('*.sql')))}); it "
              "was left untouched: run the newer version, or use another path with --db or "
              "NEWS_DB_PATH"),
    ("damaged", "is damaged (database disk image is malformed): move the file away and run "
                "again to rebuild the corpus from the seeds (its digest settings are lost), "
                "or use --db or NEWS_DB_PATH"),
])
def test_a_database_that_is_not_ours_to_write_is_refused_untouched(
    tmp_path: Path, kind: str, expected: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "news.db"
    if kind == "text":
        db.write_text("id,title\n1,not a database but a spreadsheet export\n" * 20)
    elif kind.startswith("foreign"):
        _foreign(db, wal=kind == "foreign_wal")
    elif kind == "newer":
        _newer(db, tmp_path)
    else:
        _damaged(db, tmp_path)
    before = folder_bytes(folder)
    for command in (("load",), ("ask", "latest")):
        result = run_bot_cli(*command, "--seeds", SEEDS, "--db", db, cwd=tmp_path)
        assert one_error_line(result) == f"error: database {db} {expected}"
        assert folder_bytes(folder) == before


def test_an_empty_file_is_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    db.touch()
    result = load(db, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "15 articles" in result.stdout


# ---- read-only or full during a sync ----------------------------------------------------------

def test_a_read_only_database_fails_the_sync_and_keeps_the_corpus(
    tmp_path: Path, seeds_dir: Path
) -> None:
    folder = tmp_path / "data"
    db = folder / "news.db"
    assert run_bot_cli("load", "--seeds", seeds_dir, "--db", db, cwd=tmp_path).returncode == 0
    write_article(seeds_dir / "new.md", title="A new article", webUrl="https://example.com/new")
    db.chmod(0o444)
    before = db.read_bytes()

    result = run_bot_cli("load", "--seeds", seeds_dir, "--db", db, cwd=tmp_path,
                         plain_user=True)
    assert one_error_line(result) == (
        f"error: database {db} could not be written: it is read-only (attempt to write a "
        "readonly database); the corpus from before is kept: make the file and its folder "
        "writable, or use --db or NEWS_DB_PATH")
    assert db.read_bytes() == before

    db.chmod(0o644)
    for companion in folder.glob("news.db-*"):  # SQLite's, made read-only like the file
        companion.chmod(0o644)
    again = run_bot_cli("load", "--seeds", seeds_dir, "--db", db, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 added, 0 updated, 2 unchanged" in again.stdout


async def fill_the_disk(store: Store) -> None:
    """From now on the store's file cannot grow: SQLite answers SQLITE_FULL, as it does when
    the disk is full."""
    writer = store._writer
    async with writer.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    await writer.execute(f"PRAGMA max_page_count = {row[0]}")


def grow_the_seeds(seeds_dir: Path) -> None:
    """Add files enough to need new pages in the database."""
    for number in range(20):
        write_article(seeds_dir / f"big{number}.md", title=f"A long article {number}",
                      webUrl=f"https://example.com/long/{number}", excerpt="words " * 2000)


async def test_a_full_disk_fails_the_sync_and_keeps_the_corpus(
    news: News, seeds_dir: Path
) -> None:
    before = await snapshot(news.store)
    await fill_the_disk(news.store)
    grow_the_seeds(seeds_dir)

    with pytest.raises(DatabaseFull) as failed:
        await news.sync()
    assert str(failed.value) == (
        f"database {news.store.path} could not be written: the disk is full (database or disk "
        "is full); the corpus from before is kept: free some space and sync again")
    assert isinstance(failed.value, StorageError)
    assert await snapshot(news.store) == before
    assert (await news.store.latest(3)).total == 15
    assert not news.store.writing

    await news.store._writer.execute("PRAGMA max_page_count = 1073741823")  # space freed
    report = await news.sync()
    assert report.added and (await news.store.article_count()) == 35


# ---- the bot keeps answering --------------------------------------------------------------

@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path) -> AsyncIterator[NewsBot]:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        yield bot


async def test_a_full_disk_fails_reload_with_the_reason_and_the_old_corpus_answers(
    fake: FakeDiscord, bot: NewsBot, store: Store, seeds_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await fill_the_disk(store)
    grow_the_seeds(seeds_dir)
    full = (f"database {store.path} could not be written: the disk is full (database or disk "
            "is full); the corpus from before is kept: free some space and sync again")

    reload = await fake.slash("admin reload", user=fake.owner)
    assert (await reload.response()).json["type"] == 5  # deferred
    reply = (await reload.followup()).json
    assert reply["flags"] & EPHEMERAL
    embed = reply["embeds"][0]
    assert embed["title"] == "Reload failed; the corpus from before is still served."
    assert embed["description"].replace("\\", "").splitlines() == [  # markdown unescaped
        f"• Database: {store.path}",
        "• Problem: it could not be written: the disk is full (database or disk is full); "
        "the corpus from before is kept",
        "• What to do: free some space and sync again",
    ]

    latest = await fake.slash("news latest", {"count": 3})
    answer = (await latest.response()).json["data"]["embeds"][0]
    assert answer["footer"]["text"] == "Page 1 of 5 · 15 articles"

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot"):
        # The extension's module is loaded apart from this one's import: found by name.
        cog: Any = bot.get_cog("AdminCog")
        await cog.resync()  # one round of the background sync
    failures = [record for record in caplog.records if "background sync failed" in record.message]
    assert [record.getMessage() for record in failures] == [
        f"background sync failed, retrying in 0 min: {full}"]
    assert failures[0].exc_info is None  # one line, no traceback

    again = await fake.slash("news latest", {"count": 3})
    assert (await again.response()).json["data"]["embeds"][0]["footer"]["text"] == (
        "Page 1 of 5 · 15 articles")


async def test_several_processes_opening_a_new_database_at_once_all_open_it(
    tmp_path: Path,
) -> None:
    """Each Store.open has its own connections, as separate processes do: the first to
    take the write lock creates the schema, the others find it made (and none is refused
    while another switches the new file to WAL). Several rounds: the race is short."""
    for round_ in range(8):
        path = tmp_path / f"new{round_}.db"

        async def schema_version(path: Path = path) -> int:
            async with await Store.open(path) as store:
                return await store.schema_version()

        versions = await asyncio.gather(*(schema_version() for _ in range(8)))
        assert len(set(versions)) == 1 and versions[0] >= 5
