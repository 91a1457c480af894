"""What the bot knows of one feed between polls."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Feed:
    id: int                      # the feeds table's id
    url: str                     # as polled (a 301/308 updates it)
    title: str | None = None     # the feed's own title, once polled (or from OPML)
    topic_hint: str | None = None  # OPML category: a topic for every article of the feed
    etag: str | None = None
    last_modified: str | None = None
    status: str = "new"          # "new" | "ok" | "not_modified" | "failing" | "disabled"
    failures: int = 0            # consecutive failed polls
    failing_since: datetime | None = None
    last_error: str | None = None
    last_poll_at: datetime | None = None
    next_poll_at: datetime | None = None   # None: due now
    min_interval_minutes: int | None = None  # the feed's own <ttl>/sy:updatePeriod, capped
    articles: int = 0            # articles from this feed (filled by the store when listing)
