-- Daily digests: one row per (server, channel) that gets one.

CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    post_time TEXT NOT NULL,         -- HH:MM, local to timezone
    timezone TEXT NOT NULL,          -- IANA name
    topics TEXT NOT NULL,            -- JSON list of topic names
    keywords TEXT NOT NULL,          -- JSON list of words
    size INTEGER NOT NULL,
    role_id INTEGER,                 -- the only role a digest may mention
    quiet_day INTEGER NOT NULL,      -- post a short line when nothing is new
    last_day TEXT,                   -- the last scheduled local day handled (YYYY-MM-DD)
    last_window_end INTEGER,         -- Unix seconds: articles published up to here were covered
    failure TEXT,                    -- why the last post failed
    UNIQUE (guild_id, channel_id)
);
