"""The search index's titles: the same entries back, and nothing per title for the GC to walk."""

from __future__ import annotations

import gc

from bot.results import TitleEntry
from bot.search import SearchIndex


def entries(count: int) -> list[TitleEntry]:
    return [TitleEntry(i * 3 + 1, f"Nvidia chip number {i} for AI", i % 4 == 0, i / 7 - 50.0)
            for i in range(count)]


def test_titles_and_entries_come_back_as_given() -> None:
    given = entries(300)
    index = SearchIndex([], [], given)
    assert index.titles == given
    assert index.title_entry(given[17].id) == given[17]
    assert index.title_entry(2) is None  # ids are 1, 4, 7, …
    hit = index.match_titles(given[42].title, limit=1)[0]
    assert hit.item == given[42] and hit.score == 100.0
    # With nothing typed: the best ranked titles.
    assert [s.item for s in index.match_titles("")] == sorted(given, key=lambda e: -e.score)[:25]


def test_an_index_adds_no_tracked_object_per_title() -> None:
    def build(count: int) -> SearchIndex:
        return SearchIndex([], [], entries(count))  # the entries die with this call

    gc.collect()
    before = len(gc.get_objects())
    index = build(20_000)
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert len(index.titles) == 20_000


def test_an_article_newer_than_the_index_scores_as_the_best_one() -> None:
    # Between a sync's commit and the rebuilt index, search may meet an article the index
    # has not seen: it came with that sync, so it ranks as the newest, not the oldest.
    given = entries(50)
    index = SearchIndex([], [], given)
    assert index.score_of(given[3].id) == given[3].score
    assert index.score_of(10_000) == max(entry.score for entry in given)
