"""Two processes on one database: each one's search index learns of the other's writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from bot.digest import Digest
from bot.queries import News
from bot.store import Store
from tests.conftest import AMD_TITLE, write_article

NEW_TITLE = "Shared database test: a new article written by the other process"


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
