"""Polling feeds over real HTTP from a local server: outcomes, next states, order of results."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.feeds.fetch import Fetcher
from bot.feeds.poll import PARALLEL_FEEDS, PARSE_NICENESS, Polled, batched, due, poll
from bot.feeds.state import Feed
from tests.feed_server import FeedServer

FEEDS = Path(__file__).resolve().parent / "feeds"
RSS = (FEEDS / "rss20.xml").read_bytes()
ATOM = (FEEDS / "atom10.xml").read_bytes()
NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
INTERVAL = 15
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as feed_server:
        yield feed_server


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(allow_private=True, total_timeout=10.0) as feed_fetcher:
        yield feed_fetcher


async def run(feeds: Sequence[Feed], fetcher: Fetcher, now: datetime = NOW,
              known_topics: Sequence[str] = ()) -> list[Polled]:
    return [polled async for polled in poll(feeds, fetcher, now=now, interval_minutes=INTERVAL,
                                            known_topics=known_topics)]


def by_id(results: list[Polled]) -> dict[int, Polled]:
    return {polled.feed.id: polled for polled in results}


async def test_a_cycle_over_several_feeds(server: FeedServer, fetcher: Fetcher) -> None:
    server.add("/etag.xml", RSS, etag='"v1"')
    server.redirect("/old.xml", "/moved.xml", status=301)
    server.add("/moved.xml", ATOM, content_type="application/atom+xml")
    server.redirect("/temp.xml", "/elsewhere.xml", status=302)
    server.add("/elsewhere.xml", ATOM, content_type="application/atom+xml")
    server.add("/gone.xml", status=410, content_type=None)
    server.add("/busy.xml", status=429, headers={"Retry-After": "7200"}, content_type=None)
    server.add("/page.html", "<html><body>Our news</body></html>", content_type="text/html")
    feeds = [Feed(1, server.url("/etag.xml")), Feed(2, server.url("/old.xml")),
             Feed(3, server.url("/temp.xml")), Feed(4, server.url("/gone.xml")),
             Feed(5, server.url("/busy.xml")), Feed(6, server.url("/page.html"))]

    first = by_id(await run(feeds, fetcher, known_topics=["AI Hardware"]))

    assert sorted(first) == [1, 2, 3, 4, 5, 6]
    etag = first[1]
    assert etag.outcome == "new" and etag.reason is None
    assert etag.document is not None and len(etag.document.records) == 3
    assert etag.feed.status == "ok" and etag.feed.etag == '"v1"'
    assert etag.feed.title == "The Register - AI + ML"
    # rss20.xml asks for <ttl>30</ttl>, more than the interval.
    assert etag.feed.min_interval_minutes == 30
    assert etag.feed.next_poll_at == NOW + 30 * MINUTE
    assert first[2].outcome == "new" and first[2].feed.url == server.url("/moved.xml")
    assert first[3].outcome == "new" and first[3].feed.url == server.url("/temp.xml")
    gone = first[4]
    assert (gone.outcome, gone.feed.status) == ("gone", "disabled")
    assert gone.reason is not None and "410 Gone" in gone.reason
    busy = first[5]
    assert (busy.outcome, busy.feed.status, busy.feed.failures) == ("failed", "failing", 1)
    assert busy.reason == "HTTP 429 Too Many Requests"
    assert busy.feed.next_poll_at is not None
    assert busy.feed.next_poll_at >= NOW + timedelta(seconds=7200)
    page = first[6]
    assert page.outcome == "failed" and page.document is None
    assert page.reason is not None and page.reason.startswith("not a feed")
    assert page.feed.last_error == page.reason

    later = NOW + timedelta(hours=1)
    second = by_id(await run([polled.feed for polled in first.values()], fetcher, now=later))

    again = second[1]
    assert (again.outcome, again.document, again.feed.status) == ("not_modified", None,
                                                                  "not_modified")
    assert [seen.headers.get("If-None-Match") for seen in server.requests
            if seen.path == "/etag.xml"] == [None, '"v1"']
    assert again.feed.title == "The Register - AI + ML"
    assert server.hits("/old.xml") == 1  # the moved feed went straight to its new address
    assert server.hits("/moved.xml") == 2
    assert server.hits("/temp.xml") == 2  # a temporary redirect is followed each time
    assert second[6].feed.failures == 2
    assert second[6].feed.failing_since == NOW


async def test_server_errors_back_off_more_each_poll(server: FeedServer,
                                                     fetcher: Fetcher) -> None:
    server.add("/broken.xml", "oops", status=500, content_type="text/plain")
    feed = Feed(1, server.url("/broken.xml"))
    now = NOW
    waits = []
    for _poll in range(4):
        [polled] = await run([feed], fetcher, now=now)
        assert polled.outcome == "failed" and polled.reason == "HTTP 500 Internal Server Error"
        feed = polled.feed
        assert feed.next_poll_at is not None
        waits.append(feed.next_poll_at - now)
        now = feed.next_poll_at
    assert feed.failures == 4 and feed.failing_since == NOW
    # 1, 2, 4, 8 intervals, each stretched by at most a tenth so feeds do not retry in step.
    for wait, intervals in zip(waits, (1, 2, 4, 8), strict=True):
        assert INTERVAL * intervals * MINUTE <= wait <= INTERVAL * intervals * MINUTE * 1.1

    server.add("/broken.xml", RSS)
    [healed] = await run([feed], fetcher, now=now)
    assert (healed.outcome, healed.feed.status, healed.feed.failures) == ("new", "ok", 0)
    assert healed.feed.failing_since is None and healed.feed.last_error is None


async def test_a_slow_feed_does_not_hold_back_the_others(server: FeedServer,
                                                         fetcher: Fetcher) -> None:
    server.stream("/slow.xml", b"<!-- still here -->\n", interval=0.3, chunks=6)
    for number in range(4):
        server.add(f"/fast{number}.xml", RSS)
    feeds = [Feed(1, server.url("/slow.xml"))]
    feeds += [Feed(number + 2, server.url(f"/fast{number}.xml")) for number in range(4)]

    results = await run(feeds, fetcher)

    assert [polled.feed.id for polled in results][-1] == 1
    assert sorted(polled.feed.id for polled in results[:-1]) == [2, 3, 4, 5]
    assert all(polled.outcome == "new" for polled in results[:-1])


async def test_groups_to_store_hold_what_arrived_together_and_never_wait_for_a_slow_feed(
        server: FeedServer, fetcher: Fetcher) -> None:
    server.stream("/slow.xml", b"<!-- still here -->\n", interval=0.3, chunks=6)
    for number in range(7):
        server.add(f"/fast{number}.xml", RSS)
    feeds = [Feed(1, server.url("/slow.xml"))]
    feeds += [Feed(number + 2, server.url(f"/fast{number}.xml")) for number in range(7)]

    polls = poll(feeds, fetcher, now=NOW, interval_minutes=INTERVAL)
    groups = [[polled.feed.id for polled in group]
              async for group in batched(polls, 5, wait_s=1.0)]

    # Five at most; the fast feeds' last two as soon as the wait is over, the slow one alone.
    assert [len(group) for group in groups] == [5, 2, 1]
    assert groups[-1] == [1]
    assert sorted(groups[0] + groups[1]) == list(range(2, 9))


async def test_an_unexpected_error_fails_that_feed_only(
        server: FeedServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture) -> None:
    server.add("/a.xml", RSS)
    server.add("/b.xml", ATOM, content_type="application/atom+xml")
    # SQLite keeps whatever a row holds: a damaged category can come back as a number.
    damaged = Feed(1, server.url("/a.xml"), topic_hint=42)  # type: ignore[arg-type]  # on purpose
    feeds = [damaged, Feed(2, server.url("/b.xml"))]

    with caplog.at_level(logging.ERROR, logger="bot.feeds.poll"):
        results = by_id(await run(feeds, fetcher))

    assert results[2].outcome == "new"
    broken = results[1]
    assert broken.outcome == "failed" and broken.feed.status == "failing"
    assert broken.reason is not None and broken.reason.startswith("unexpected error: TypeError")
    [record] = caplog.records
    assert server.url("/a.xml") in record.getMessage() and record.exc_info is not None


async def test_many_feeds_are_parsed_in_worker_processes(server: FeedServer,
                                                         fetcher: Fetcher) -> None:
    count = PARALLEL_FEEDS + 2
    for number in range(count):
        server.add(f"/feed{number}.xml", RSS if number % 2 else ATOM, etag=f'"{number}"')
    server.add("/feed0.xml", "<html>not a feed</html>", content_type="text/html")
    feeds = [Feed(number, server.url(f"/feed{number}.xml")) for number in range(count)]

    results = by_id(await run(feeds, fetcher))

    assert sorted(results) == list(range(count))
    assert results[0].outcome == "failed"
    assert results[0].reason is not None and results[0].reason.startswith("not a feed")
    for number in range(1, count):
        document = results[number].document
        assert results[number].outcome == "new" and document is not None
        assert len(document.records) == (3 if number % 2 else 2)
        assert results[number].feed.etag == f'"{number}"'


def test_due_skips_disabled_and_future_feeds() -> None:
    feeds = [
        Feed(1, "https://a.example/feed"),  # never polled
        Feed(2, "https://b.example/feed", status="ok", next_poll_at=NOW),  # exactly now
        Feed(3, "https://c.example/feed", status="ok", next_poll_at=NOW + timedelta(seconds=1)),
        Feed(4, "https://d.example/feed", status="failing", next_poll_at=NOW - MINUTE),
        Feed(5, "https://e.example/feed", status="disabled", next_poll_at=None),
        Feed(6, "https://f.example/feed", status="disabled", next_poll_at=NOW - MINUTE),
    ]
    assert [feed.id for feed in due(feeds, NOW)] == [1, 2, 4]


async def test_feeds_are_fetched_only_so_far_ahead_of_what_was_taken(
        server: FeedServer, fetcher: Fetcher) -> None:
    for number in range(8):
        server.add(f"/feed{number}.xml", RSS)
    feeds = [Feed(number, server.url(f"/feed{number}.xml")) for number in range(8)]
    polls = poll(feeds, fetcher, now=NOW, interval_minutes=INTERVAL, ahead=2)

    async with contextlib.aclosing(polls):
        first = await anext(polls)
        await asyncio.sleep(0.5)  # a slow consumer (the store's writer) on the first feed
        assert first.outcome == "new"
        assert len(server.requests) == 3  # the one taken, and two ahead of it
        rest = [polled async for polled in polls]

    assert len(server.requests) == 8
    assert {polled.feed.id for polled in [first, *rest]} == set(range(8))


async def test_many_feeds_of_one_site_do_not_hold_up_the_feeds_of_another(
        server: FeedServer, fetcher: Fetcher) -> None:
    for number in range(6):
        server.add(f"/busy{number}.xml", RSS)
    server.add("/other.xml", RSS)
    # One site's feeds listed first (an imported OPML, say), then another site's.
    feeds = [Feed(number, server.url(f"/busy{number}.xml")) for number in range(6)]
    feeds.append(Feed(6, server.url("/other.xml", host="localhost")))
    polls = poll(feeds, fetcher, now=NOW, interval_minutes=INTERVAL, ahead=2)

    async with contextlib.aclosing(polls):
        await anext(polls)
        await asyncio.sleep(0.5)  # a slow consumer: only the slots ahead are fetched
        assert "/other.xml" in [seen.path for seen in server.requests]
        rest = [polled async for polled in polls]
    assert len(rest) == 6


async def test_parse_workers_run_at_a_lower_priority_than_the_bot(
        server: FeedServer, fetcher: Fetcher) -> None:
    count = PARALLEL_FEEDS + 2
    for number in range(count):
        server.add(f"/feed{number}.xml", RSS)
    feeds = [Feed(number, server.url(f"/feed{number}.xml")) for number in range(count)]
    polls = poll(feeds, fetcher, now=NOW, interval_minutes=INTERVAL)

    async with contextlib.aclosing(polls):
        assert (await anext(polls)).outcome == "new"  # parsed by a worker: the pool is up
        workers = multiprocessing.active_children()
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert workers
        assert {os.getpriority(os.PRIO_PROCESS, worker.pid or 0) for worker in workers} == {
            min(ours + PARSE_NICENESS, 19)}
