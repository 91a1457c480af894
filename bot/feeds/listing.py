"""The feed list and a fetch's report as plain text, shared by the command line and Discord."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.feeds.state import Feed
from bot.text import counted


def _time(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "never"


def feed_state(feed: Feed) -> str:
    """ok / not modified / failing since … with the last reason / disabled / not polled yet."""
    if feed.status == "ok":
        return "ok"
    if feed.status == "not_modified":
        return "not modified"
    if feed.status == "failing":
        since = _time(feed.failing_since)
        return (f"failing since {since} ({counted(feed.failures, 'failure')}): "
                f"{feed.last_error or 'no reason given'}")
    if feed.status == "disabled":
        return f"disabled: {feed.last_error or 'no reason given'}"
    return "not polled yet"


def next_poll(feed: Feed) -> str:
    if feed.status == "disabled":
        return "none (add it again to poll it)"
    return _time(feed.next_poll_at) if feed.next_poll_at is not None else "now"


def feed_line(feed: Feed) -> str:
    """One line per feed: URL, title, state, articles, last and next poll."""
    title = feed.title or "(no title yet)"
    return (f"{feed.url} · {title} · {feed_state(feed)} · {counted(feed.articles, 'article')}"
            f" · last poll {_time(feed.last_poll_at)} · next {next_poll(feed)}")


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one feed's poll came to in a fetch."""

    url: str
    outcome: str  # "new" (a document was read) | "not_modified" | "failed" | "gone"
    reason: str | None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # broken entries the document held
    seconds: float = 0.0

    def line(self) -> str:
        if self.outcome == "new":
            skipped = f", {self.skipped} broken entries skipped" if self.skipped else ""
            what = (f"{self.added} new, {self.updated} updated, {self.unchanged} unchanged"
                    f"{skipped}")
        elif self.outcome == "not_modified":
            what = "not modified"
        elif self.outcome == "gone":
            what = f"disabled: {self.reason}"
        else:
            what = f"FAILED: {self.reason}"
        return f"{self.url}: {what} ({self.seconds:.2f} s)"


@dataclass(slots=True)
class FetchReport:
    """What one fetch did: each polled feed's outcome, the totals and the time taken."""

    feeds: list[FeedOutcome] = field(default_factory=list)
    listed: int = 0  # feeds in the list
    articles: int = 0  # articles in the corpus afterwards
    duration: float = 0.0
    article_ids: list[int] = field(default_factory=list)  # written or deleted

    def count(self, outcome: str) -> int:
        return sum(1 for feed in self.feeds if feed.outcome == outcome)

    @property
    def failed(self) -> list[FeedOutcome]:
        return [feed for feed in self.feeds if feed.outcome in ("failed", "gone")]

    def summary(self) -> str:
        """One line for logs and replies."""
        added = sum(feed.added for feed in self.feeds)
        updated = sum(feed.updated for feed in self.feeds)
        return (f"{len(self.feeds)} of {counted(self.listed, 'feed')} polled: "
                f"{counted(added, 'new article')}, {updated} updated, "
                f"{self.count('not_modified')} not modified, {len(self.failed)} failed; "
                f"{counted(self.articles, 'article')} in {self.duration:.2f} s")
