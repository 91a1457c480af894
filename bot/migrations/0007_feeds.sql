-- The feed list: one row per feed (see bot/feeds/state.py `Feed`), each its own source of
-- articles. Times are ISO 8601 in UTC.

CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL UNIQUE REFERENCES sources(id),
    key TEXT NOT NULL UNIQUE,        -- the canonical form of the URL it was added with
    url TEXT NOT NULL,               -- as polled: a permanent redirect updates it
    title TEXT,
    topic_hint TEXT,
    etag TEXT,
    last_modified TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error TEXT,
    last_poll_at TEXT,
    next_poll_at TEXT,
    min_interval_minutes INTEGER
);

-- Feeds the operator removed (by key): a feed list file merged at start-up does not add
-- them back; adding one by hand does.
CREATE TABLE removed_feeds (
    key TEXT PRIMARY KEY
) WITHOUT ROWID;
