-- The article corpus: merged articles, the per-file versions they come from, and search.

CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    error TEXT                       -- why the last read failed; NULL when it loaded
);

CREATE TABLE providers (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,     -- identity: names vary ("theregister", "The Register")
    name TEXT NOT NULL               -- the best spelling its current articles use
);

CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,        -- casefolded
    name TEXT NOT NULL               -- the spelling most of its current articles use
);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,        -- canonical URL
    title TEXT NOT NULL,
    published_at INTEGER,            -- Unix seconds, UTC
    score REAL NOT NULL,             -- see bot/ranking.py
    provider_id INTEGER REFERENCES providers(id),
    provider_name TEXT,              -- this article's spelling of its provider's name
    is_stub INTEGER NOT NULL,
    data TEXT NOT NULL               -- the merged article as JSON
);
CREATE INDEX articles_latest ON articles (published_at DESC);
CREATE INDEX articles_score ON articles (score DESC);
CREATE INDEX articles_provider ON articles (provider_id, score DESC);

CREATE TABLE article_topics (
    topic_id INTEGER NOT NULL REFERENCES topics(id),
    article_id INTEGER NOT NULL REFERENCES articles(id),
    score REAL NOT NULL,
    published_at INTEGER,
    name TEXT NOT NULL,              -- this article's spelling of the topic
    PRIMARY KEY (topic_id, article_id)
) WITHOUT ROWID;
CREATE INDEX article_topics_score ON article_topics (topic_id, score DESC);
CREATE INDEX article_topics_article ON article_topics (article_id);

-- One row per (article, file that mentions it): what that file said about the article.
CREATE TABLE versions (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    file_id INTEGER NOT NULL REFERENCES files(id),
    is_stub INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (article_id, file_id)
) WITHOUT ROWID;
CREATE INDEX versions_file ON versions (file_id);

-- "article_id lists related_id", as said by file_id; queried in both directions.
CREATE TABLE related (
    article_id INTEGER NOT NULL,
    related_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    PRIMARY KEY (article_id, related_id, file_id)
) WITHOUT ROWID;
CREATE INDEX related_reverse ON related (related_id);
CREATE INDEX related_file ON related (file_id);

CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, excerpt, provider, topics,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
