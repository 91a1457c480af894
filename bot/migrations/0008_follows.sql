-- Follows: a server's standing request "post new articles like this in that channel", and
-- the outbox of what each follow has matched and posted.
--
-- Which articles are new: first_full_seq is set once, from a counter, when an article is
-- first written as a full article (a stub has none) and never changed after; the matching
-- reads the articles above its cursor (meta 'follow_cursor'). The articles stored before
-- this migration get 0, below every cursor: nothing old is ever taken as new.

ALTER TABLE articles ADD COLUMN first_full_seq INTEGER;
UPDATE articles SET first_full_seq = 0 WHERE is_stub = 0;
CREATE INDEX articles_first_full ON articles (first_full_seq);

CREATE TABLE follows (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    rule TEXT NOT NULL,              -- FollowRule.to_json()
    role_id INTEGER,                 -- the only role its posts may mention
    created_at TEXT NOT NULL,        -- ISO 8601, UTC
    paused TEXT,                     -- NULL: active; 'by a member' or 'failing for 3 days'
    failure TEXT,                    -- why the last post failed
    failing_since TEXT,
    retry_at TEXT,                   -- no post before this (back-off while failing)
    posted INTEGER NOT NULL DEFAULT 0,
    last_post_at TEXT
);
CREATE INDEX follows_guild ON follows (guild_id);

-- One row per (follow, canonical article URL), whatever source or id the article has: a
-- row, once there, is never posted again. state: pending (to post), sending (a send was
-- started: its nonce and time are kept, see bot/follows/post.py), sent, skipped (one of
-- the "and N more" of a big batch, or dropped by a pause).
CREATE TABLE follow_posts (
    follow_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    guild_id INTEGER NOT NULL,
    batch INTEGER NOT NULL,          -- the matching round that found it: posted together
    published_at INTEGER,
    state TEXT NOT NULL DEFAULT 'pending',
    nonce TEXT,
    attempt_at TEXT,
    message_id INTEGER,
    PRIMARY KEY (follow_id, url)
) WITHOUT ROWID;
CREATE INDEX follow_posts_open ON follow_posts (state) WHERE state IN ('pending', 'sending');
