"""Two processes on one database: each one's search index learns of the other's writes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from bot.digest import Digest
from bot.queries import Answer, CaughtUp, News
from bot.search import SearchIndex
from bot.store import Store
from bot.store.database import CHANGE_LOG_VERSIONS
from tests.conftest import AMD_TITLE, write_article

NEW_TITLE = "Shared database test: a new article written by the other process"
# An article with words, a topic and a provider no seed has, to follow through an update.
ODD_TITLE = "Zorblax gardening robots reach the other process"
ODD_TOPIC = "Quantum Gardening"


def titles(news: News) -> set[str]:
    return {entry.title for entry in news.index.titles}


@pytest.fixture
async def second(news: News, seeds_dir: Path) -> AsyncIterator[News]:
    """Another process's corpus on the same database and seeds folder, index built."""
    async with await Store.open(news.store.path) as store:
        corpus = News(store, seeds_dir)
        await corpus.sync()
        yield corpus


async def test_a_sync_by_one_process_reaches_the_other_ones_index(
    news: News, second: News, seeds_dir: Path
) -> None:
    assert not await second.catch_up()  # nothing written since it built its index
    write_article(seeds_dir / "new.md", title=NEW_TITLE, originalUrl="https://example.com/new",
                  publishedDateTime="2026-12-01T10:00:00Z", topics=["AI"])
    assert (await news.sync()).added
    assert NEW_TITLE in titles(news) and NEW_TITLE not in titles(second)
    assert not await news.catch_up()  # its own write is in its index already
    assert await second.catch_up()
    assert NEW_TITLE in titles(second) and AMD_TITLE in titles(second)
    assert not await second.catch_up()  # once is enough

    (seeds_dir / "new.md").unlink()
    await news.sync()
    assert await second.catch_up() and NEW_TITLE not in titles(second)


async def test_a_sync_that_writes_nothing_costs_the_other_process_no_rebuild(
    news: News, second: News
) -> None:
    report = await news.sync()
    assert not report.changed
    assert not await second.catch_up()


async def test_only_one_process_can_claim_a_digest_day(news: News, second: News) -> None:
    saved = await news.store.digests.save(Digest(guild_id=1, channel_id=2,
                                                 post_time=time(8, 0), timezone="UTC"))
    assert saved.id is not None
    day = date(2026, 12, 6)
    claims = await asyncio.gather(news.store.digests.claim(saved.id, day),
                                  second.store.digests.claim(saved.id, day))
    assert sorted(claims) == [False, True]
    assert not await second.store.digests.claim(saved.id, day - timedelta(days=1))
    assert await second.store.digests.claim(saved.id, day + timedelta(days=1))
    stored = await news.store.digests.get(1, 2)
    assert stored is not None and stored.last_day == day + timedelta(days=1)


def write_odd_article(seeds_dir: Path) -> Path:
    return write_article(seeds_dir / "odd.md", title=ODD_TITLE,
                         originalUrl="https://zorblax.example/robots",
                         excerpt="Hydroponic flumquist trials", topics=[ODD_TOPIC, "AI"],
                         publishedDateTime="2026-12-02T09:00:00Z",
                         provider={"name": "Zorblax Weekly", "domain": "zorblax.example"})


async def same_as_a_fresh_build(news: News) -> bool:
    """Whether the process's index holds what one built from the store now would."""
    built = await SearchIndex.build(news.store)
    return (news.index.titles == built.titles
            and news.index.topics == built.topics and news.index.providers == built.providers)


async def found_titles(news: News, text: str) -> list[str]:
    answer = await news.search(text, 10)
    return [article.title for article in answer.page.items] if isinstance(answer, Answer) else []


async def test_another_process_follows_a_write_from_the_change_log_without_a_rebuild(
    news: News, second: News, seeds_dir: Path
) -> None:
    odd = write_odd_article(seeds_dir)
    assert (await news.sync()).added
    caught_up = await second.catch_up()
    assert caught_up == CaughtUp(1, rebuilt=False)  # the one article the write changed
    assert [hit.item.title for hit in second.index.match_titles("zorblax gardening")][:1] \
        == [ODD_TITLE]
    assert [hit.item.name for hit in second.index.match_topics("quantum garden")][:1] \
        == [ODD_TOPIC]
    assert second.resolve_provider("Zorblax Weekly") == news.resolve_provider("Zorblax Weekly")
    assert second.vocabulary.count("flumquist") == 1  # a word of its excerpt
    assert await found_titles(second, "flumqist trials") == [ODD_TITLE]  # corrected typo
    assert await same_as_a_fresh_build(second)
    assert await second.catch_up() is None  # once is enough

    odd.unlink()
    assert (await news.sync()).removed
    assert await second.catch_up() == CaughtUp(1, rebuilt=False)
    assert ODD_TITLE not in titles(second)
    assert ODD_TOPIC not in {topic.name for topic in second.topics()}
    assert second.vocabulary.count("zorblax") == 0  # a word of its title
    # A word of its excerpt, which no index keeps, is checked against the store when a
    # correction relies on it, as in the writing process.
    assert await second.verified_corrections(["flumqist"]) == []
    assert await found_titles(second, "flumqist trials") == []
    assert await found_titles(second, "zorblax gardening") == []
    assert await same_as_a_fresh_build(second)


async def test_a_log_pruned_past_the_index_falls_back_to_a_rebuild(
    news: News, second: News, seeds_dir: Path
) -> None:
    write_odd_article(seeds_dir)
    assert (await news.sync()).added
    # As many writes again (a sync that only notes its time changes no article) as the log
    # keeps: the write of the new article is pruned from it.
    for _ in range(CHANGE_LOG_VERSIONS):
        async with news.store.transaction() as tx:
            await tx.set_meta("last_sync", "2026-12-07T00:00:00+00:00")
    assert await second.catch_up() == CaughtUp(0, rebuilt=True)
    assert ODD_TITLE in titles(second) and second.vocabulary.count("flumquist") == 1
    assert await same_as_a_fresh_build(second)
    assert await second.catch_up() is None


async def test_a_write_that_changes_no_article_costs_the_other_process_no_index_work(
    news: News, second: News
) -> None:
    index, vocabulary = second.index, second.vocabulary
    async with news.store.transaction() as tx:
        await tx.set_meta("last_sync", "2026-12-07T00:00:00+00:00")
    assert await second.catch_up() == CaughtUp(0, rebuilt=False)
    assert second.index is index and second.vocabulary is vocabulary


async def test_a_database_from_before_the_change_log_rebuilds_once_then_follows_the_log(
    news: News, seeds_dir: Path
) -> None:
    path = news.store.path
    await news.store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("BEGIN; DROP TABLE corpus_changes; DROP TABLE follow_rounds; "
                     "DELETE FROM meta WHERE key = 'corpus_changes_from'; "
                     "PRAGMA user_version = 9; COMMIT;")
    db.close()
    async with await Store.open(path) as first_store, await Store.open(path) as other_store:
        first, other = News(first_store, seeds_dir), News(other_store, seeds_dir)
        await first.sync()
        version = await first_store.corpus_version()
        # The migration knows nothing of the writes before it: an index older than it
        # cannot be brought up to date from the log.
        assert await other_store.changed_since(version - 1, version) is None
        assert await other.catch_up() == CaughtUp(0, rebuilt=True)
        write_odd_article(seeds_dir)
        assert (await first.sync()).added
        assert await other.catch_up() == CaughtUp(1, rebuilt=False)
        assert ODD_TITLE in titles(other)
