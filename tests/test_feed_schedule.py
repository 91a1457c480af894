"""The poll schedule: a feed's next state after each kind of fetch result, clock edges included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.feeds.entries import FeedDocument, FeedError, parse_feed
from bot.feeds.fetch import Failed, Fetched, FetchResult, Gone, NotModified
from bot.feeds.schedule import after_fetch, backoff
from bot.feeds.state import Feed

FEEDS = Path(__file__).resolve().parent / "feeds"
NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
URL = "https://feeds.example.com/feed.xml"
MOVED = "https://news.example.com/feed.xml"
INTERVAL = 15
MIN = timedelta(minutes=1)


def fetched(*, etag: str | None = '"v2"', last_modified: str | None = None,
            permanent_url: str | None = None) -> Fetched:
    return Fetched(URL, permanent_url or URL, permanent_url, 200, b"<rss/>",
                   "application/rss+xml", etag, last_modified)


def document(name: str = "rss20.xml", *, ttl: int | None = None, title: str | None = None,
             untitled: bool = False) -> FeedDocument:
    parsed = parse_feed((FEEDS / name).read_bytes(), url=URL, content_type=None,
                        topic_hint=None, now=NOW)
    assert isinstance(parsed, FeedDocument), parsed
    # The parser names a document without a title by its site's domain.
    title = parsed.domain if untitled else title or parsed.title
    return replace(parsed, ttl_minutes=ttl, title=title)


def failing(failures: int, since: datetime = NOW - timedelta(hours=3)) -> Feed:
    return Feed(1, URL, title="Old", etag='"v1"', status="failing", failures=failures,
                failing_since=since, last_error="HTTP 500 Internal Server Error")


FRESH = Feed(1, URL)
KNOWN = Feed(1, URL, title="Old title", etag='"v1"', last_modified="Mon, 18 Mar 2024 10:00:00 GMT",
             status="ok", min_interval_minutes=60, last_poll_at=NOW - timedelta(hours=1))

# (case, feed before, fetch result, parsed document, expected outcome, expected fields after)
CASES: list[tuple[str, Feed, FetchResult, FeedDocument | FeedError | None, str, dict]] = [
    ("200 parsed: ok, due after the interval",
     FRESH, fetched(), document(), "new",
     dict(status="ok", failures=0, etag='"v2"', title="The Register - AI + ML",
          next_poll_at=NOW + INTERVAL * MIN, min_interval_minutes=None, last_poll_at=NOW)),
    ("ttl longer than the interval wins",
     FRESH, fetched(), document(ttl=30), "new",
     dict(min_interval_minutes=30, next_poll_at=NOW + 30 * MIN)),
    ("ttl shorter than the interval: the interval wins",
     FRESH, fetched(), document(ttl=5), "new",
     dict(min_interval_minutes=5, next_poll_at=NOW + INTERVAL * MIN)),
    ("ttl exactly the interval",
     FRESH, fetched(), document(ttl=INTERVAL), "new",
     dict(next_poll_at=NOW + INTERVAL * MIN)),
    ("a yearly feed is capped at a day",
     FRESH, fetched(), document(ttl=525_600), "new",
     dict(min_interval_minutes=1440, next_poll_at=NOW + timedelta(days=1))),
    ("a ttl of 0 is no ttl",
     FRESH, fetched(), document(ttl=0), "new",
     dict(min_interval_minutes=None, next_poll_at=NOW + INTERVAL * MIN)),
    ("a document that dropped its ttl drops the minimum",
     KNOWN, fetched(), document(ttl=None), "new",
     dict(min_interval_minutes=None, next_poll_at=NOW + INTERVAL * MIN)),
    ("a changed title replaces the old one",
     KNOWN, fetched(), document(title="New title"), "new", dict(title="New title")),
    ("a document without a title keeps the OPML title",
     KNOWN, fetched(), document(untitled=True), "new", dict(title="Old title")),
    ("validators replaced: a server that stopped sending an ETag gets none back",
     KNOWN, fetched(etag=None, last_modified="Tue, 19 Mar 2024 10:00:00 GMT"), document(), "new",
     dict(etag=None, last_modified="Tue, 19 Mar 2024 10:00:00 GMT")),
    ("a success clears the failures",
     failing(4), fetched(), document(), "new",
     dict(status="ok", failures=0, failing_since=None, last_error=None)),
    ("301/308 on the way: the url moves",
     FRESH, fetched(permanent_url=MOVED), document(), "new", dict(url=MOVED)),
    ("304: not modified, validators and minimum kept",
     KNOWN, NotModified(URL, URL, None, None, None), None, "not_modified",
     dict(status="not_modified", etag='"v1"', last_modified=KNOWN.last_modified,
          title="Old title", min_interval_minutes=60, next_poll_at=NOW + 60 * MIN)),
    ("304 with a fresh ETag stores it",
     KNOWN, NotModified(URL, URL, None, '"v3"', None), None, "not_modified", dict(etag='"v3"')),
    ("304 after a permanent redirect moves the url",
     KNOWN, NotModified(URL, MOVED, MOVED, None, None), None, "not_modified", dict(url=MOVED)),
    ("304 ends a failing streak",
     failing(3), NotModified(URL, URL, None, None, None), None, "not_modified",
     dict(failures=0, failing_since=None, last_error=None, next_poll_at=NOW + INTERVAL * MIN)),
    ("first failure: failing since now, retry after one interval",
     KNOWN, Failed(URL, "HTTP 500 Internal Server Error", 500), None, "failed",
     dict(status="failing", failures=1, failing_since=NOW,
          last_error="HTTP 500 Internal Server Error", next_poll_at=NOW + INTERVAL * MIN,
          etag='"v1"', title="Old title", min_interval_minutes=60)),
    ("third failure: 4 intervals, failing since the first",
     failing(2), Failed(URL, "timed out after 30 s"), None, "failed",
     dict(failures=3, failing_since=NOW - timedelta(hours=3), last_error="timed out after 30 s",
          next_poll_at=NOW + 4 * INTERVAL * MIN)),
    ("back-off capped at a day",
     failing(30), Failed(URL, "HTTP 503 Service Unavailable", 503), None, "failed",
     dict(failures=31, next_poll_at=NOW + timedelta(days=1))),
    ("Retry-After longer than the back-off wins",
     KNOWN, Failed(URL, "HTTP 429 Too Many Requests", 429, retry_after=7200), None, "failed",
     dict(next_poll_at=NOW + timedelta(hours=2))),
    ("Retry-After shorter than the back-off: the back-off wins",
     failing(3), Failed(URL, "HTTP 429 Too Many Requests", 429, retry_after=60), None, "failed",
     dict(next_poll_at=NOW + 8 * INTERVAL * MIN)),
    ("Retry-After over a day is honoured",
     KNOWN, Failed(URL, "HTTP 503 Service Unavailable", 503, retry_after=3 * 86400), None,
     "failed", dict(next_poll_at=NOW + timedelta(days=3))),
    ("Retry-After of years is capped at a week",
     KNOWN, Failed(URL, "HTTP 503 Service Unavailable", 503, retry_after=10**9), None, "failed",
     dict(next_poll_at=NOW + timedelta(days=7))),
    ("Retry-After 0 changes nothing",
     KNOWN, Failed(URL, "HTTP 429 Too Many Requests", 429, retry_after=0), None, "failed",
     dict(next_poll_at=NOW + INTERVAL * MIN)),
    ("a parse failure is a failure with its reason; validators not taken",
     KNOWN, fetched(etag='"bad"'), FeedError("not a feed: the document is empty"), "failed",
     dict(status="failing", failures=1, last_error="not a feed: the document is empty",
          etag='"v1"')),
    ("a failure after a permanent redirect still moves the url",
     KNOWN, Failed(URL, "HTTP 500 Internal Server Error", 500, permanent_url=MOVED), None,
     "failed", dict(url=MOVED)),
    ("410 disables the feed with the reason",
     KNOWN, Gone(URL, URL, None), None, "gone",
     dict(status="disabled", next_poll_at=None, last_poll_at=NOW,
          last_error="HTTP 410 Gone: the server says the feed was removed for good")),
]


@pytest.mark.parametrize(("feed", "result", "parsed", "outcome", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_next_state(feed: Feed, result: FetchResult, parsed: FeedDocument | FeedError | None,
                    outcome: str, expected: dict) -> None:
    step = after_fetch(feed, result, parsed, now=NOW, interval_minutes=INTERVAL)
    assert step.outcome == outcome
    assert {name: getattr(step.feed, name) for name in expected} == expected
    assert step.feed.id == feed.id
    if outcome == "failed":
        assert step.reason == step.feed.last_error
    else:
        assert step.reason is None or outcome == "gone"


def test_302_and_307_keep_the_url() -> None:
    # The fetcher reports no permanent_url when any hop was temporary.
    temporary = Fetched(URL, MOVED, None, 200, b"", None, None, None)
    step = after_fetch(KNOWN, temporary, document(), now=NOW, interval_minutes=INTERVAL)
    assert step.feed.url == URL


def test_backoff_grows_until_the_cap() -> None:
    delays = [backoff(failures, INTERVAL) for failures in range(1, 10)]
    assert delays[:4] == [15 * MIN, 30 * MIN, 60 * MIN, 120 * MIN]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(days=1)
    assert backoff(10**6, INTERVAL) == timedelta(days=1)


def test_jitter_stretches_the_backoff_a_little() -> None:
    assert backoff(1, INTERVAL, jitter=0.0) == 15 * MIN
    assert backoff(1, INTERVAL, jitter=0.5) == 15 * MIN * 1.05
    assert 15 * MIN < backoff(1, INTERVAL, jitter=0.999) < 15 * MIN * 1.1
    # At the cap every feed comes back after exactly a day.
    assert backoff(20, INTERVAL, jitter=0.9) == timedelta(days=1)


def test_interval_zero_still_backs_off() -> None:
    # NEWS_FEEDS_MINUTES=0 turns the loop off; `fetch` must not hammer a failing feed.
    step = after_fetch(failing(2), Failed(URL, "HTTP 500"), None, now=NOW, interval_minutes=0)
    assert step.feed.next_poll_at == NOW + 4 * MIN
    success = after_fetch(FRESH, fetched(), document(), now=NOW, interval_minutes=0)
    assert success.feed.next_poll_at == NOW


def test_clock_across_midnight_and_dst_is_plain_utc_arithmetic() -> None:
    late = datetime(2024, 3, 30, 23, 59, 30, tzinfo=UTC)  # the night before EU DST starts
    step = after_fetch(failing(5), Failed(URL, "HTTP 500"), None, now=late,
                       interval_minutes=INTERVAL)
    assert step.feed.next_poll_at == late + 32 * INTERVAL * MIN
    assert step.feed.next_poll_at.tzinfo is UTC
