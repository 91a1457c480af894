-- Each file's stored versions are now compressed with LZ4 instead of zlib: six times
-- faster to pack when a corpus loads, and faster to unpack when a sync merges again.
--
-- Blobs packed with zlib cannot be read as LZ4, so the corpus cache is emptied once more
-- (as in 0003) and the next sync loads every file again. Digests and meta are kept.

DELETE FROM mentions;
DELETE FROM file_versions;
DELETE FROM articles_fts;
DELETE FROM article_topics;
DELETE FROM articles;
DELETE FROM topics;
DELETE FROM providers;
DELETE FROM files;
