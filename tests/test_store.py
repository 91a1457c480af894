"""The store's schema: numbered migrations applied once, the version kept in the database."""

from __future__ import annotations

import sqlite3
import zlib
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.articles import Article, Provider, article_to_json, canonical_url
from bot.loader import sync
from bot.store import Store, pack_versions, unpack_versions

MIGRATIONS = sorted((Path(__file__).resolve().parents[1] / "bot" / "migrations").glob("*.sql"))
NEWEST = int(MIGRATIONS[-1].name.split("_")[0])  # numbers may skip one reserved elsewhere


async def test_a_new_database_gets_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    async with await Store.open(path) as store:
        assert await store.schema_version() == NEWEST
    # Opening it again applies nothing twice (a second CREATE TABLE would fail).
    async with await Store.open(path) as store:
        assert await store.schema_version() == NEWEST
    tables = {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"articles", "file_versions", "mentions", "files", "digests", "meta"} <= tables
    assert not {"versions", "related"} & tables  # replaced by migration 0003
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_OLD_FILE_AND_ARTICLE = [
    ("INSERT INTO files (path, size, mtime_ns, hash) VALUES ('old.md', 1, 1, 'h')", ()),
    ("INSERT INTO articles (url, title, score, is_stub, data) "
     "VALUES ('https://example.com/a', 'Old', 0, 0, '{}')", ()),
]
_CORPUS_BEFORE_0003 = [*_OLD_FILE_AND_ARTICLE, ("INSERT INTO versions VALUES (1, 1, 0, '{}')", ())]
# A blob packed with zlib, as before 0004: LZ4 cannot read it.
_CORPUS_BEFORE_0004 = [
    *_OLD_FILE_AND_ARTICLE,
    ("INSERT INTO mentions VALUES (1, 1, 0)", ()),
    ("INSERT INTO file_versions VALUES (1, ?)", (zlib.compress(b"https://example.com/a"),)),
]


@pytest.mark.parametrize(("version", "corpus"), [(2, _CORPUS_BEFORE_0003),
                                                 (3, _CORPUS_BEFORE_0004)])
async def test_migrations_that_change_the_cache_keep_digests_and_the_next_sync_reloads(
    tmp_path: Path, seeds_dir: Path, version: int, corpus: list[tuple[str, tuple[object, ...]]]
) -> None:
    path = tmp_path / "news.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:version]:  # a database from before, with a corpus
        db.executescript(f"BEGIN;\n{migration.read_text()}\nCOMMIT;")
    for statement, parameters in corpus:
        db.execute(statement, parameters)
    db.execute("INSERT INTO digests (guild_id, channel_id, post_time, timezone, topics, "
               "keywords, size, quiet_day) VALUES (1, 2, '09:00', 'UTC', '[]', '[]', 5, 0)")
    db.execute(f"PRAGMA user_version = {version}")
    db.close()
    async with await Store.open(path) as store:
        assert await store.schema_version() == NEWEST
        assert await store.article_count() == 0  # the cache was emptied…
        assert [d.channel_id for d in await store.digests.all()] == [2]  # …the digests kept
        report = await sync(store, seeds_dir)
        assert sorted(report.added) == sorted(p.name for p in seeds_dir.iterdir())
        assert await store.article_count() == report.articles > 0


async def test_migration_0005_indexes_the_stored_articles_again(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:4]:  # a database from before, with one article indexed
        db.executescript(f"BEGIN;\n{migration.read_text()}\nCOMMIT;")
    article = Article(url="https://example.com/a", title="Quantum annealers",
                      excerpt="A chilly machine.", provider=Provider("Example News", "example.com"),
                      topics=("Physics AI",))
    db.execute("INSERT INTO articles (id, url, title, score, is_stub, data) "
               "VALUES (7, ?, ?, 0, 0, ?)", (article.url, article.title, article_to_json(article)))
    db.execute("INSERT INTO articles_fts (rowid, title, excerpt, provider, topics) "
               "VALUES (7, ?, ?, 'Example News example.com', 'Physics AI')",
               (article.title, article.excerpt))
    db.execute("PRAGMA user_version = 4")
    db.close()
    async with await Store.open(path) as store:
        assert await store.article_count() == 1  # the corpus is kept…
        for word in ("annealers", "chilly", "news", "example", "physics"):  # …and found again
            matches, _capped = await store.search(f'"{word}"')
            assert [article_id for article_id, _relevance in matches] == [7], word
    tables = {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "articles_fts_content" not in tables  # the index keeps no copy of the text


@given(
    title=st.text(min_size=1, max_size=40),
    excerpt=st.text(max_size=80),
    path=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
    is_stub=st.booleans(),
)
def test_packed_versions_come_back_exactly_whatever_the_text_holds(
    title: str, excerpt: str, path: str, is_stub: bool
) -> None:
    # Titles and excerpts may hold tabs, newlines and any other character: the packed
    # form separates fields by tabs and lines, which must never split inside one.
    url = canonical_url("https://example.com/" + quote(path))
    article = Article(url=url, title=title, excerpt=excerpt, is_stub=is_stub,
                      published_at=datetime(2022, 5, 26, 12, tzinfo=UTC))
    versions = [(url, is_stub, "2022-05-26T12:00:00+00:00", article_to_json(article)),
                (url + "/other", True, "", article_to_json(article))]
    assert unpack_versions(pack_versions(versions)) == versions


async def test_migration_0006_keeps_the_corpus_and_a_folder_sync_finds_nothing_to_do(
    tmp_path: Path, seeds_dir: Path
) -> None:
    path = tmp_path / "news.db"
    async with await Store.open(path) as store:
        await sync(store, seeds_dir)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("BEGIN; DROP TABLE files; DROP TABLE sources; DROP TABLE feeds; "
                     "DROP TABLE removed_feeds; DROP TABLE follows; DROP TABLE follow_posts; "
                     "DROP TABLE leases; DROP TABLE corpus_changes; DROP TABLE follow_rounds; "
                     "DELETE FROM meta WHERE key = 'corpus_changes_from'; "
                     "DROP INDEX articles_first_full; "
                     "ALTER TABLE articles DROP COLUMN first_full_seq; CREATE TABLE files ("
                     "id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, "
                     "mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL, error TEXT); COMMIT;")
    db.close()
    # Back to schema 5 with the files the sync wrote (ids and stats as they were).
    async with await Store.open(tmp_path / "copy.db") as fresh:
        await sync(fresh, seeds_dir)
    copy = sqlite3.connect(tmp_path / "copy.db")
    rows = copy.execute("SELECT id, path, size, mtime_ns, hash, error FROM files").fetchall()
    copy.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("PRAGMA user_version = 5")
    db.close()
    async with await Store.open(path) as store:
        assert await store.schema_version() == NEWEST
        report = await sync(store, seeds_dir)
        assert (report.added, report.updated, report.removed) == ([], [], [])
        assert report.unchanged == len(rows)
    db = sqlite3.connect(path)
    assert db.execute("SELECT DISTINCT source_id FROM files").fetchall() == [(1,)]
    plan = " ".join(row[3] for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT path, size, mtime_ns FROM files WHERE source_id = 1"))
    assert "USING INDEX" in plan  # the folder's files are read off the index, not a scan


async def test_migration_0011_keeps_a_big_rounds_count_and_drops_its_left_out_rows(
    tmp_path: Path
) -> None:
    path = tmp_path / "news.db"
    async with await Store.open(path):
        pass
    with sqlite3.connect(path) as db:  # a database of version 10, two big rounds in it
        db.executescript("DROP TABLE follow_rounds; PRAGMA user_version = 10;")
        db.execute("INSERT INTO follows (id, guild_id, channel_id, rule, created_at) "
                   "VALUES (1, 5, 6, '{}', '2026-01-01T00:00:00+00:00')")
        rows = [(f"https://example.org/{batch}/{n}", batch, state)
                for batch, states in ((2, ["sent"] + ["skipped"] * 2),  # posted: done
                                      (3, ["pending"] + ["skipped"] * 5))  # being posted
                for n, state in enumerate(states)]
        db.executemany("INSERT INTO follow_posts (follow_id, url, guild_id, batch, state) "
                       "VALUES (1, ?, 5, ?, ?)", rows)

    async with await Store.open(path) as store:
        assert await store.follows.left_out(1, 3) == 5
        assert await store.follows.left_out(1, 2) == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT state, count(*) FROM follow_posts GROUP BY state "
                          "ORDER BY state").fetchall() == [("pending", 1), ("sent", 1)]
