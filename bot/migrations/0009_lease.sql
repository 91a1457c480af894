-- Leases on work that one process at a time does (the lease 'sync': the seeds-folder sync
-- and the feed polls), for several bot processes sharing this database. See
-- bot/store/lease.py. Expiry in Unix seconds, by the clock of the process that wrote it.

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,            -- the process: host:pid:random
    expires_at REAL NOT NULL
) WITHOUT ROWID;
