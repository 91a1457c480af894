-- Articles come from sources: the seeds folder (source 1) and, later, each feed. Every
-- file row belongs to one source, and a sync of one source reads and removes only its
-- own files: a folder sync never touches a feed's entries.
--
-- SQLite cannot change a table's UNIQUE constraint in place: the files table is rebuilt
-- (made anew, copied, the old one dropped, the new one renamed). Its ids are kept, so the
-- versions and mentions that refer to them stay as they are. The corpus is kept.

CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('folder', 'feed'))
);
INSERT INTO sources (id, kind) VALUES (1, 'folder');

CREATE TABLE files_by_source (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL DEFAULT 1 REFERENCES sources(id),
    path TEXT NOT NULL,              -- a file's path in the folder; a feed entry's canonical URL
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    error TEXT,                      -- why the last read failed; NULL when it loaded
    -- Also the index a sync reads its source's files by (WHERE source_id = ?).
    UNIQUE (source_id, path)
);
INSERT INTO files_by_source (id, source_id, path, size, mtime_ns, hash, error)
SELECT id, 1, path, size, mtime_ns, hash, error FROM files;
DROP TABLE files;
ALTER TABLE files_by_source RENAME TO files;
