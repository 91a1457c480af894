"""A build of the in-memory index reads every article: /news search never waits behind it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from bot.queries import Answer, News
from bot.search import SearchIndex
from bot.store import Store
from bot.vocabulary import Vocabulary

HELD_S = 10.0  # the longest a build's read is held: a search waiting behind it ends after


async def search_while_a_build_reads(news: News, build: Callable[[Store], Awaitable[object]]
                                     ) -> tuple[bool, bool, int]:
    """Start `build`, hold its reads inside SQLite (on the store's index reader), search
    meanwhile, then let the build go on: whether its read was held, whether the search
    ended while it still was, and what the search found."""
    held, release = threading.Event(), threading.Event()
    holding = threading.Event()  # set while the build's read is being held

    def progress() -> int:
        if not held.is_set():
            held.set()
            holding.set()
            release.wait(HELD_S)
            holding.clear()
        return 0

    await news.store._index_reader.set_progress_handler(progress, 100)
    building = asyncio.create_task(build(news.store))
    await asyncio.to_thread(held.wait, HELD_S)
    answer = await news.search("AMD GPUs", 5)
    answered_while_held = holding.is_set()
    release.set()
    await building
    assert isinstance(answer, Answer)
    return held.is_set(), answered_while_held, answer.page.total


async def test_a_search_is_answered_while_the_index_build_reads_every_title(
        news: News) -> None:
    assert await search_while_a_build_reads(news, SearchIndex.build) == (True, True, 1)


async def test_a_search_is_answered_while_the_vocabulary_build_reads_every_word(
        news: News) -> None:
    assert await search_while_a_build_reads(news, Vocabulary.build) == (True, True, 1)
