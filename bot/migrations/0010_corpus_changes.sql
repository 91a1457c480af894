-- Which articles each corpus write changed or removed, under the corpus version it
-- committed: another process sharing this database brings its search index up to date
-- from those articles alone instead of building it again (see Store.changed_since).
-- Written in the same transaction as the articles and the version, so the two always
-- agree; only the last versions are kept (see bot/store/database.py).
--
-- meta 'corpus_changes_from': the log holds every change of the versions after this one.
-- A database migrated here has no log of its earlier writes: an index built before them
-- is built again, as it always was.

CREATE TABLE corpus_changes (
    version INTEGER NOT NULL,        -- meta 'corpus_version' of the write
    article_id INTEGER NOT NULL,     -- written or deleted by it
    PRIMARY KEY (version, article_id)
) WITHOUT ROWID;

INSERT INTO meta (key, value)
SELECT 'corpus_changes_from',
       coalesce((SELECT value FROM meta WHERE key = 'corpus_version'), '0');
