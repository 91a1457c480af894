-- What each file says is kept as one compressed blob per file, and which articles it
-- mentions as small integer rows, instead of a row per (article, file) holding JSON and a
-- separate table of related links. At 100,000 files that is ~10× less to write.
--
-- The corpus tables are a cache of the article files: they are emptied here and the next
-- sync loads every file again. Digests and meta are kept.

DROP TABLE versions;
DROP TABLE related;
DELETE FROM articles_fts;
DELETE FROM article_topics;
DELETE FROM articles;
DELETE FROM topics;
DELETE FROM providers;
DELETE FROM files;

-- The versions one readable file gives (see `pack_versions` in bot/store.py).
CREATE TABLE file_versions (
    file_id INTEGER PRIMARY KEY REFERENCES files(id),
    data BLOB NOT NULL
);

-- "file_id mentions article_id": as its own article (is_stub 0) or in its related list
-- (is_stub 1). So "A lists B" is: a file mentions A as its own and B as a stub.
CREATE TABLE mentions (
    article_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    is_stub INTEGER NOT NULL,
    PRIMARY KEY (article_id, file_id)
) WITHOUT ROWID;
CREATE INDEX mentions_file ON mentions (file_id, is_stub, article_id);

-- Naming providers reads every (provider, spelling) pair: from this index, not the table.
CREATE INDEX articles_provider_names ON articles (provider_id, provider_name);
-- No query orders the whole corpus by score alone (lists by topic and provider have their
-- own score indexes, a digest's day is found by date first): one index less to write.
DROP INDEX articles_score;
