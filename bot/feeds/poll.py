"""Polling feeds: fetch each due feed, parse what changed off the event loop, schedule the next."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import urlsplit

from bot.feeds import schedule
from bot.feeds.entries import FeedDocument, FeedError, parse_feed
from bot.feeds.fetch import Fetched, Fetcher
from bot.feeds.state import Feed
from bot.workers import process_pool

log = logging.getLogger(__name__)

# From this many feeds in one poll, documents are parsed in worker processes on every core:
# starting them costs a fraction of a second, parsing a feed of 50 entries tens of ms.
PARALLEL_FEEDS = 40
# Parse workers run at this lower CPU priority: a poll is background work, and on a busy
# machine the event loop answering people should get the cores first.
PARSE_NICENESS = 10


@dataclass(frozen=True, slots=True)
class Polled:
    """What polling one feed came to."""

    feed: Feed                     # the feed's NEXT state (schedule applied; new url/etag/title…)
    outcome: str                   # "new" (parsed a document) | "not_modified" | "failed" | "gone"
    reason: str | None             # why it failed / was disabled
    document: FeedDocument | None  # records to store when outcome == "new"
    seconds: float                 # time this feed took


def due(feeds: Sequence[Feed], now: datetime) -> list[Feed]:
    """The feeds to poll at `now`: not disabled, and never polled or their time has come."""
    return [feed for feed in feeds if feed.status != "disabled"
            and (feed.next_poll_at is None or feed.next_poll_at <= now)]


async def poll(
    feeds: Sequence[Feed],
    fetcher: Fetcher,
    *,
    now: datetime,
    interval_minutes: int,
    known_topics: Sequence[str] = (),
    ahead: int | None = None,
) -> AsyncGenerator[Polled, None]:
    """Poll every feed in `feeds` (the fetcher bounds how many requests run), and yield each
    one's Polled as soon as it is ready; one feed's trouble never stops the others.

    `ahead`: at most this many feeds are fetched, parsed or waiting to be taken at a time
    (None: every feed at once).
    A consumer slower than the network (the store's writer) then holds a few groups of
    parsed entries, not every feed's: fewer objects for each garbage collection to walk,
    and the parsing spread over the poll instead of taking the cores at its start.
    """
    parser = _Parser(parallel=len(feeds) >= PARALLEL_FEEDS and (os.cpu_count() or 1) > 1)
    topics = tuple(known_topics)
    slots = asyncio.Semaphore(ahead or max(len(feeds), 1))
    # Slots are taken in this order: sites in turn, so that many feeds of one site (waiting
    # on the fetcher's per-site limit) cannot hold every slot while other sites wait.
    tasks = [asyncio.create_task(_poll_one(feed, fetcher, parser, now, interval_minutes,
                                           topics, slots))
             for feed in _sites_in_turn(feeds)]
    try:
        for next_done in asyncio.as_completed(tasks):
            polled = await next_done
            slots.release()  # taken: its slot goes to the next feed
            yield polled
    finally:
        # The caller may stop early (an error while storing, a shutdown): stop the rest too.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await parser.close()


def _sites_in_turn(feeds: Sequence[Feed]) -> list[Feed]:
    """`feeds` with their sites taken in turn: the first feed of each site, then the
    second of each, and so on (each site's feeds in the order given)."""
    by_site: dict[str, list[Feed]] = defaultdict(list)
    for feed in feeds:
        by_site[urlsplit(feed.url).hostname or ""].append(feed)
    return [feed for turn in itertools.zip_longest(*by_site.values()) for feed in turn
            if feed is not None]


async def batched(polled: AsyncIterator[Polled], size: int, wait_s: float
                  ) -> AsyncIterator[list[Polled]]:
    """`polled` in groups as they arrive: up to `size`, or what arrived within `wait_s` of the
    group's first, so that the store writes each group in one transaction."""
    pending: asyncio.Task[Polled | None] | None = None
    try:
        while True:
            group: list[Polled] = []
            deadline = 0.0
            while len(group) < size:
                pending = pending or asyncio.create_task(_next(polled))
                if group:
                    done, _ = await asyncio.wait({pending}, timeout=deadline - time.monotonic())
                    if not done:
                        break  # the rest is for the next group: `pending` goes on meanwhile
                item = await pending
                pending = None
                if item is None:
                    if group:
                        yield group
                    return
                if not group:
                    deadline = time.monotonic() + wait_s
                group.append(item)
            yield group
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


async def _next(polled: AsyncIterator[Polled]) -> Polled | None:
    return await anext(polled, None)


async def _poll_one(feed: Feed, fetcher: Fetcher, parser: _Parser, now: datetime,
                    interval_minutes: int, known_topics: tuple[str, ...],
                    slots: asyncio.Semaphore) -> Polled:
    """Poll one feed once a slot is free; the slot is given back when its Polled is taken."""
    await slots.acquire()
    started = time.perf_counter()
    document: FeedDocument | FeedError | None = None
    try:
        result = await fetcher.fetch(feed.url, feed.etag, feed.last_modified)
        if isinstance(result, Fetched):
            document = await parser.parse(result.body, url=result.final_url,
                                          content_type=result.content_type,
                                          topic_hint=feed.topic_hint,
                                          known_topics=known_topics, now=now)
        step = schedule.after_fetch(feed, result, document, now=now,
                                    interval_minutes=interval_minutes, jitter=_jitter())
    except Exception as exc:  # a bug here must cost one feed, not the whole poll
        log.exception("Polling feed %s failed unexpectedly", feed.url)
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        step = schedule.Step(schedule.failed(feed, reason, now=now,
                                             interval_minutes=interval_minutes,
                                             jitter=_jitter()),
                             "failed", reason)
    kept = document if step.outcome == "new" and isinstance(document, FeedDocument) else None
    return Polled(step.feed, step.outcome, step.reason, kept, time.perf_counter() - started)


def _jitter() -> float:
    """Where in its stretch a feed's back-off lands: spreads retries, guards no secret."""
    return random.random()  # noqa: S311


class _Parser:
    """Parses documents in a thread, or in worker processes (started on first use) when
    `parallel`: the CPU work then runs on every core and never holds the event loop's GIL."""

    def __init__(self, *, parallel: bool):
        self._parallel = parallel
        self._pool: ProcessPoolExecutor | None = None

    async def parse(self, body: bytes, *, url: str, content_type: str | None,
                    topic_hint: str | None, known_topics: tuple[str, ...],
                    now: datetime) -> FeedDocument | FeedError:
        job = partial(parse_feed, body, url=url, content_type=content_type,
                      topic_hint=topic_hint, known_topics=known_topics, now=now)
        if not self._parallel:
            return await asyncio.to_thread(job)
        return await asyncio.get_running_loop().run_in_executor(self._workers(), job)

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Workers start from the event loop's thread, as `end_with_parent` needs.
            self._pool = process_pool(os.cpu_count() or 1, niceness=PARSE_NICENESS)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            # Joining the workers takes a moment: not on the event loop.
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
            self._pool = None
