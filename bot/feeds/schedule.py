"""When to poll a feed next, and what it is now, from what one fetch of it gave: pure policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from bot.feeds.entries import FeedDocument, FeedError
from bot.feeds.fetch import Fetched, FetchResult, Gone, NotModified
from bot.feeds.state import Feed

# A feed asking for "yearly" polls must not be forgotten: its own interval is capped.
MAX_MIN_INTERVAL_MINUTES = 24 * 60
MAX_BACKOFF = timedelta(days=1)
# A Retry-After is honoured, up to this: a server cannot switch a feed off by asking for years.
MAX_RETRY_AFTER = timedelta(days=7)
# Back-off delays are stretched by up to this share, so that feeds failing together
# (one host down) do not all come back at the same second.
JITTER_SHARE = 0.1
GONE_REASON = "HTTP 410 Gone: the server says the feed was removed for good"


class Step(NamedTuple):
    """A feed's next state and what its poll came to."""

    feed: Feed
    outcome: str  # "new" | "not_modified" | "failed" | "gone"
    reason: str | None


def after_fetch(
    feed: Feed,
    result: FetchResult,
    document: FeedDocument | FeedError | None,
    *,
    now: datetime,
    interval_minutes: int,
    jitter: float = 0.0,
) -> Step:
    """The step for `result`; `document` is what parsing a Fetched body gave (else None).

    `jitter` in [0, 1) picks where in the back-off's stretch a failure lands."""
    moved = _moved(feed, result)
    if isinstance(result, Fetched):
        if isinstance(document, FeedDocument):
            return Step(fetched(moved, result, document, now=now,
                                interval_minutes=interval_minutes), "new", None)
        reason = document.reason if document is not None else "the document was not parsed"
        return _failed(moved, reason, now, interval_minutes, None, jitter)
    if isinstance(result, NotModified):
        return Step(not_modified(moved, result, now=now, interval_minutes=interval_minutes),
                    "not_modified", None)
    if isinstance(result, Gone):
        return Step(gone(moved, now=now), "gone", GONE_REASON)
    return _failed(moved, result.reason, now, interval_minutes, result.retry_after, jitter)


def _failed(feed: Feed, reason: str, now: datetime, interval_minutes: int,
            retry_after: float | None, jitter: float) -> Step:
    next_feed = failed(feed, reason, now=now, interval_minutes=interval_minutes,
                       retry_after=retry_after, jitter=jitter)
    return Step(next_feed, "failed", reason)


def _moved(feed: Feed, result: FetchResult) -> Feed:
    """The feed at its new address when every redirect on the way was permanent (301/308)."""
    if result.permanent_url and result.permanent_url != feed.url:
        return replace(feed, url=result.permanent_url)
    return feed


def fetched(feed: Feed, result: Fetched, document: FeedDocument, *, now: datetime,
            interval_minutes: int) -> Feed:
    """A document was fetched and parsed: new validators, title and minimum interval."""
    min_interval = _capped_ttl(document.ttl_minutes)
    return _succeeded(
        feed,
        status="ok",
        now=now,
        interval_minutes=interval_minutes,
        min_interval=min_interval,
        # Validators belong to this document: a server that stopped sending one gets none back.
        etag=result.etag,
        last_modified=result.last_modified,
        title=_title(feed, document),
    )


def not_modified(feed: Feed, result: NotModified, *, now: datetime,
                 interval_minutes: int) -> Feed:
    """304: nothing to parse; a 304 may repeat or refresh the validators, or omit them."""
    return _succeeded(
        feed,
        status="not_modified",
        now=now,
        interval_minutes=interval_minutes,
        min_interval=feed.min_interval_minutes,
        etag=result.etag or feed.etag,
        last_modified=result.last_modified or feed.last_modified,
        title=feed.title,
    )


def _succeeded(feed: Feed, *, status: str, now: datetime, interval_minutes: int,
               min_interval: int | None, etag: str | None, last_modified: str | None,
               title: str | None) -> Feed:
    wait = max(interval_minutes, min_interval or 0)
    return replace(
        feed,
        status=status,
        failures=0,
        failing_since=None,
        last_error=None,
        last_poll_at=now,
        next_poll_at=now + timedelta(minutes=wait),
        min_interval_minutes=min_interval,
        etag=etag,
        last_modified=last_modified,
        title=title,
    )


def failed(feed: Feed, reason: str, *, now: datetime, interval_minutes: int,
           retry_after: float | None = None, jitter: float = 0.0) -> Feed:
    """One more failed poll: back off exponentially, never sooner than `retry_after` seconds.

    Validators are kept: they describe the last document stored, still the one to compare with.
    """
    failures = feed.failures + 1
    wait = backoff(failures, interval_minutes, jitter)
    if retry_after is not None:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return replace(
        feed,
        status="failing",
        failures=failures,
        failing_since=feed.failing_since or now,
        last_error=reason,
        last_poll_at=now,
        next_poll_at=now + wait,
    )


def backoff(failures: int, interval_minutes: int, jitter: float = 0.0) -> timedelta:
    """interval * 2^(failures-1), stretched by `jitter` * JITTER_SHARE, capped at a day."""
    base = timedelta(minutes=max(interval_minutes, 1))
    # Past 2^20 intervals any interval is over the cap; this keeps the number small.
    delay = base * 2 ** min(failures - 1, 20) * (1 + JITTER_SHARE * jitter)
    return min(delay, MAX_BACKOFF)


def gone(feed: Feed, *, now: datetime) -> Feed:
    """410: the feed is disabled until someone adds it again."""
    return replace(
        feed,
        status="disabled",
        last_error=GONE_REASON,
        last_poll_at=now,
        next_poll_at=None,
    )


def _capped_ttl(ttl_minutes: int | None) -> int | None:
    if ttl_minutes is None or ttl_minutes <= 0:
        return None
    return min(ttl_minutes, MAX_MIN_INTERVAL_MINUTES)


def _title(feed: Feed, document: FeedDocument) -> str | None:
    """The document's title; a document without one (the parser then names it by its
    domain) leaves a title the feed already has, e.g. from OPML."""
    if document.title == document.domain and feed.title:
        return feed.title
    return document.title
