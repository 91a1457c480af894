"""Feed entries in the store: one article per URL across sources, the file's fields first,
entries kept after they drop off the feed, old ones pruned, and removing a feed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from conftest import AMD_TITLE, AMD_URL, META_URL, snapshot
from feed_server import FeedServer

from bot.articles import Record
from bot.feeds.entries import FeedDocument, parse_feed
from bot.feeds.fetch import Fetcher
from bot.feeds.opml import FeedEntry
from bot.feeds.state import Feed
from bot.loader import collector_paused, remove_feed, sync, sync_feed
from bot.queries import News
from bot.store import Store

FEED_URL = "https://feeds.example.org/ai.xml"
OTHER_FEED = "https://other.example.net/rss"
NOW = datetime(2022, 6, 1, 12, tzinfo=UTC)
FEED_ONLY_URL = "https://example.org/2022/05/31/tpu-v5"
FEED_ONLY_TITLE = "Google shows its TPU v5 pods"
OLD_URL = "https://example.org/2022/01/02/old-news"


def item(title: str, link: str, date: str | None, description: str = "") -> str:
    when = f"<pubDate>{date}</pubDate>" if date else ""
    return (f"<item><title>{title}</title><link>{link}</link>{when}"
            f"<description>{description}</description></item>")


# Dated after the file: the newest full version would win, were it not a feed entry.
AMD_ITEM = item("AMD GPUs come to Azure (feed title)",
                "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?utm_source=rss",
                "Fri, 27 May 2022 08:00:00 GMT", "The feed's own summary of the AMD news.")
FEED_ONLY_ITEM = item(FEED_ONLY_TITLE, FEED_ONLY_URL + "?utm_medium=feed",
                      "Tue, 31 May 2022 09:00:00 GMT", "Tensor chips for training, in pods.")
OLD_ITEM = item("Old news from January", OLD_URL, "Sun, 02 Jan 2022 09:00:00 GMT", "Stale.")


def document(*items: str, now: datetime = NOW) -> FeedDocument:
    body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Example AI</title>"
            f"<link>https://example.org/</link>{''.join(items)}</channel></rss>").encode()
    parsed = parse_feed(body, url=FEED_URL, content_type="application/rss+xml",
                        topic_hint=None, now=now)
    assert isinstance(parsed, FeedDocument), parsed
    return parsed


async def feed_sync(store: Store, feed: Feed, records: tuple[Record, ...],
                    now: datetime = NOW, retention_days: int = 90) -> list[str]:
    report = await sync_feed(store, feed, records, now=now, retention_days=retention_days)
    assert report.refused == ""
    return sorted([*report.added, *report.updated])


BOTH = sorted([AMD_URL, FEED_ONLY_URL])


async def test_a_feed_entry_of_a_seed_article_is_that_article_with_the_files_fields(
    news: News,
) -> None:
    feed, created = await news.store.feeds.add(FEED_URL)
    assert created
    before = await news.store.article_count()
    assert await feed_sync(news.store, feed, document(AMD_ITEM, FEED_ONLY_ITEM).records) == BOTH
    # Listed once: the AMD entry is the seed article (its URL had utm_* parameters).
    assert await news.store.article_count() == before + 1
    amd = await news.store.article_by_url(AMD_URL)
    assert amd is not None
    assert amd.title == AMD_TITLE  # the file's title, not the feed's
    assert amd.excerpt.startswith("Microsoft Build Microsoft Azure on Thursday")
    latest = (await news.latest(50)).page
    urls = [article.url for article in latest.items]
    assert urls.count(AMD_URL) == 1 and FEED_ONLY_URL in urls
    assert latest.total == before + 1
    feed_only = await news.store.article_by_url(FEED_ONLY_URL)
    assert feed_only is not None and feed_only.title == FEED_ONLY_TITLE
    assert feed_only.link == FEED_ONLY_URL  # without its tracking parameter
    assert (await news.store.feeds.all())[0].articles == 2


async def test_the_folder_sync_never_removes_feed_articles(
    store: Store, seeds_dir: Path
) -> None:
    await sync(store, seeds_dir)
    feed, _ = await store.feeds.add(FEED_URL)
    await feed_sync(store, feed, document(AMD_ITEM, FEED_ONLY_ITEM).records)
    for path in seeds_dir.iterdir():
        path.unlink()
    report = await sync(store, seeds_dir, allow_empty=True)
    assert len(report.removed) > 0
    # The AMD article stays, now from the feed alone; the feed-only one is untouched.
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and amd.title == "AMD GPUs come to Azure (feed title)"
    assert await store.article_by_url(FEED_ONLY_URL) is not None
    assert await store.article_by_url(META_URL) is None
    assert await store.article_count() == 2


async def test_file_and_feed_give_the_same_corpus_whichever_is_synced_first(
    tmp_path: Path, seeds_dir: Path
) -> None:
    records = document(AMD_ITEM, FEED_ONLY_ITEM).records
    snapshots = []
    for name, folder_first in (("a.db", True), ("b.db", False)):
        async with await Store.open(tmp_path / name) as store:
            feed, _ = await store.feeds.add(FEED_URL)
            if folder_first:
                await sync(store, seeds_dir)
            await feed_sync(store, feed, records)
            if not folder_first:
                await sync(store, seeds_dir)
            snapshots.append(await snapshot(store))
    assert snapshots[0] == snapshots[1]
    assert orjson.loads(snapshots[0]["articles"][AMD_URL])["title"] == AMD_TITLE


async def test_entries_stay_after_they_drop_off_and_unchanged_ones_are_not_written_again(
    store: Store,
) -> None:
    feed, _ = await store.feeds.add(FEED_URL)
    await feed_sync(store, feed, document(FEED_ONLY_ITEM, AMD_ITEM).records)
    later = NOW + timedelta(hours=1)
    report = await sync_feed(store, feed, document(AMD_ITEM, now=later).records, now=later,
                             retention_days=90)
    assert (report.added, report.updated, report.removed, report.unchanged) == ([], [], [], 1)
    assert await store.article_by_url(FEED_ONLY_URL) is not None


async def test_an_undated_entry_keeps_the_date_it_was_first_seen(store: Store) -> None:
    feed, _ = await store.feeds.add(FEED_URL)
    undated = item("An undated post", "https://example.org/undated", None, "No date.")
    assert await feed_sync(store, feed, document(undated).records) == [
        "https://example.org/undated"]
    later = NOW + timedelta(hours=2)
    report = await sync_feed(store, feed, document(undated, now=later).records, now=later,
                             retention_days=90)
    assert (report.updated, report.unchanged) == ([], 1)
    article = await store.article_by_url("https://example.org/undated")
    assert article is not None and article.published_at == NOW


async def test_retention_prunes_old_feed_articles_only(store: Store, seeds_dir: Path) -> None:
    await sync(store, seeds_dir)
    seeds = await store.article_count()
    feed, _ = await store.feeds.add(FEED_URL)
    # An entry older than the retention is not stored at all.
    assert await feed_sync(store, feed, document(OLD_ITEM, FEED_ONLY_ITEM, AMD_ITEM).records
                           ) == BOTH
    assert await store.article_by_url(OLD_URL) is None
    # 100 days on, the feed's entries are past the 90 days: pruned; the seed files stay.
    later = NOW + timedelta(days=100)
    report = await sync_feed(store, feed, (), now=later, retention_days=90)
    assert report.removed == BOTH
    assert await store.article_by_url(FEED_ONLY_URL) is None
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and amd.title == AMD_TITLE  # the file article is never pruned
    assert await store.article_count() == seeds
    # 0 keeps them forever.
    await feed_sync(store, feed, document(OLD_ITEM).records, now=later, retention_days=0)
    assert await store.article_by_url(OLD_URL) is not None


async def test_removing_a_feed_removes_the_articles_only_it_gave(
    store: Store, seeds_dir: Path
) -> None:
    await sync(store, seeds_dir)
    seeds = await snapshot(store)
    feed, _ = await store.feeds.add(FEED_URL)
    await feed_sync(store, feed, document(AMD_ITEM, FEED_ONLY_ITEM).records)
    report = await remove_feed(store, feed)
    assert report.removed == BOTH
    assert await store.feeds.all() == []
    assert await snapshot(store) == seeds  # as if the feed had never been there
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM files WHERE source_id != 1").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM sources").fetchone() == (1,)
    # A removed feed is not added back from a list, only by hand.
    assert await store.feeds.merge([FeedEntry(FEED_URL), FeedEntry(OTHER_FEED)]) == [OTHER_FEED]
    assert [feed.url for feed in await store.feeds.all()] == [OTHER_FEED]
    assert (await store.feeds.add(FEED_URL))[1] is True


async def test_a_feed_is_added_once_per_canonical_url(store: Store) -> None:
    first, created = await store.feeds.add(FEED_URL)
    again, created_again = await store.feeds.add("http://FEEDS.example.org/ai.xml?utm_source=x")
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.url == FEED_URL
    assert [feed.url for feed in await store.feeds.all()] == [FEED_URL]


def tagged(number: int, topic: str) -> str:
    """An item of its own about `topic`, spelled as given."""
    return (f"<item><title>Quantum story {number}</title>"
            f"<link>https://example.org/2022/05/{number:02d}/quantum</link>"
            f"<pubDate>Tue, {number:02d} May 2022 09:00:00 GMT</pubDate>"
            f"<category>{topic}</category><description>Qubits.</description></item>")


async def topic_names_after(tmp_path: Path, *polls: tuple[str, ...]) -> list[tuple[str, int]]:
    """The topics listed after the feed gave each poll's items (spellings, in order), then
    those of a fresh store given every item at once, which must list the same."""
    listed = []
    for name, rounds in (("polled.db", polls), ("fresh.db", (sum(polls, ()),))):
        async with await Store.open(tmp_path / name) as store:
            feed, _ = await store.feeds.add(FEED_URL)
            number = 0
            for spellings in rounds:
                items = []
                for spelling in spellings:
                    number += 1
                    items.append(tagged(number, spelling))
                await feed_sync(store, feed, document(*items).records)
            listed.append(sorted((t.name, t.count) for t in await store.topic_counts()
                                 if t.name.casefold() == "quantum computing"))
    assert listed[0] == listed[1]
    return listed[0]


async def test_a_feeds_other_spelling_of_a_topic_names_it_once_most_articles_use_it(
    tmp_path: Path,
) -> None:
    assert await topic_names_after(
        tmp_path, ("Quantum Computing",), ("quantum computing", "quantum computing")
    ) == [("quantum computing", 3)]


async def test_a_feeds_other_spelling_of_a_topic_used_by_fewer_articles_leaves_its_name(
    tmp_path: Path,
) -> None:
    assert await topic_names_after(
        tmp_path, ("Quantum Computing", "Quantum Computing"), ("quantum computing",)
    ) == [("Quantum Computing", 3)]


def channel(name: str, count: int) -> str:
    """A feed of `count` items of its own, their URLs under /`name`/."""
    items = "".join(item(f"{name} story {number}", f"https://example.org/{name}/{number}",
                         "Tue, 31 May 2022 09:00:00 GMT", "Something happened.")
                    for number in range(count))
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>Example AI</title>"
            f"<link>https://example.org/</link>{items}</channel></rss>")


async def test_a_feed_whose_entries_cannot_be_stored_costs_only_that_feed(
    news: News, tmp_path: Path
) -> None:
    names = ("alpha", "poisoned", "gamma")
    async with FeedServer() as server:
        for name in names:
            server.add(f"/{name}.xml", channel(name, 3), etag=f'"{name}-1"')
        for name in names:
            await news.store.feeds.add(server.url(f"/{name}.xml"))
        # A real write failure, in SQLite itself, for the entries of one feed only.
        with sqlite3.connect(news.store.path) as db:
            db.execute("CREATE TRIGGER poison BEFORE INSERT ON files "
                       "WHEN NEW.path LIKE '%/poisoned/%' "
                       "BEGIN SELECT RAISE(ABORT, 'the disk said no'); END")
        async with Fetcher(allow_private=True, total_timeout=10.0) as fetcher:
            report = await news.fetch(fetcher, now=NOW)
            outcomes = {outcome.url.rsplit("/", 1)[1]: outcome for outcome in report.feeds}
            assert [(outcomes[f"{name}.xml"].outcome, outcomes[f"{name}.xml"].added)
                    for name in names] == [("new", 3), ("failed", 0), ("new", 3)]
            reason = outcomes["poisoned.xml"].reason or ""
            assert "could not be stored" in reason and "the disk said no" in reason
            assert await news.store.article_by_url("https://example.org/alpha/0") is not None
            assert await news.store.article_by_url("https://example.org/poisoned/0") is None
            saved = {name: await news.store.feeds.get(server.url(f"/{name}.xml"))
                     for name in names}
            # Its old state kept, the next poll fetches its entries again.
            assert [(feed.etag if feed else None) for feed in saved.values()] == \
                ['"alpha-1"', None, '"gamma-1"']
            with sqlite3.connect(news.store.path) as db:
                db.execute("DROP TRIGGER poison")
            again = await news.fetch(fetcher, now=NOW + timedelta(days=1))
    assert sorted((outcome.outcome, outcome.added) for outcome in again.feeds) == \
        [("new", 3), ("not_modified", 0), ("not_modified", 0)]
    assert await news.store.article_by_url("https://example.org/poisoned/0") is not None


async def test_no_cyclic_collection_runs_during_a_poll_and_the_collector_resumes_after(
    news: News,
) -> None:
    async with FeedServer() as server:
        for name in ("alpha", "beta"):
            server.add(f"/{name}.xml", channel(name, 3))
            await news.store.feeds.add(server.url(f"/{name}.xml"))
        async with Fetcher(allow_private=True, total_timeout=10.0) as fetcher:
            fetching = asyncio.create_task(news.fetch(fetcher, now=NOW))
            # Whether the collector may run, from the poll's first request to the report.
            polling: list[bool] = []
            while not fetching.done():
                if server.requests:
                    polling.append(gc.isenabled())
                await asyncio.sleep(0)
            report = await fetching
    assert [outcome.added for outcome in report.feeds] == [3, 3]
    # Paused from the first request until the articles are stored and indexed.
    assert False in polling and polling == sorted(polling)
    assert gc.isenabled()


def test_the_collector_resumes_when_the_last_of_overlapping_pauses_ends() -> None:
    sync_pause, poll_pause = collector_paused(), collector_paused()
    with contextlib.ExitStack() as sync_running:
        sync_running.enter_context(sync_pause)
        poll_pause.__enter__()
    assert not gc.isenabled()  # the sync ended, the poll goes on
    poll_pause.__exit__(None, None, None)
    assert gc.isenabled()
