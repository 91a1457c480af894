"""Answering questions against real SQLite corpora: filters applied in the search itself,
a topic filter that leaves nothing read as words instead, and typos read by the rest of
the question."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product
from pathlib import Path

from bot.ask import Asker
from bot.queries import Answer, News, NotFound
from bot.store import Store
from bot.store.corpus import COUNT_CAP, Filter
from tests.conftest import write_article

NOW = datetime(2022, 6, 1, tzinfo=UTC)


def _article(folder: Path, number: int, title: str, when: str, topics: list[str],
             provider: tuple[str, str] = ("Example", "example.org")) -> None:
    write_article(folder / f"{number:05}.md", title=title, excerpt="",
                  publishedDateTime=when, originalUrl=f"https://example.org/story-{number}",
                  provider={"name": provider[0], "domain": provider[1]}, topics=topics)


async def _synced(store: Store, folder: Path) -> News:
    news = News(store, folder)
    assert (await news.sync()).failed == []
    return news


async def test_an_older_window_finds_its_matches_behind_many_newer_ones(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for number in range(3):
        _article(folder, number, f"Gizmo lab report {number}", "2022-03-10T10:00:00Z", [])
    for number in range(3, COUNT_CAP + 10):  # newer matches than the search reads at most
        _article(folder, number, f"Gizmo update {number}", "2022-05-10T10:00:00Z", [])
    asked = await Asker(await _synced(store, folder)).ask("gizmo in March 2022", NOW, 5)
    assert isinstance(asked.result, Answer)
    assert asked.result.page.total == 3
    assert {item.title for item in asked.result.page.items} == {
        "Gizmo lab report 0", "Gizmo lab report 1", "Gizmo lab report 2"}


async def test_a_topic_that_leaves_nothing_is_looked_for_as_words(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "small"
    _article(folder, 0, "Azure adds GPU regions", "2022-05-02T10:00:00Z", ["Cloud AI"])
    _article(folder, 1, "Regulators probe rising cloud costs", "2022-05-03T10:00:00Z", ["AI"])
    asked = await Asker(await _synced(store, folder)).ask("regulators cloud", NOW, 5)
    assert asked.line == ("Understood: 'regulators cloud' (nothing tagged Cloud AI: showing "
                          "articles that mention it)")
    assert isinstance(asked.result, Answer)
    assert [item.title for item in asked.result.page.items] == [
        "Regulators probe rising cloud costs"]


async def test_a_title_holding_every_word_ranks_above_an_excerpt_mentioning_them(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "titled"
    write_article(folder / "0.md", title="Warehouse robots learn new grips",
                  excerpt="", publishedDateTime="2022-05-01T10:00:00Z",
                  originalUrl="https://example.org/grips",
                  provider={"name": "Example", "domain": "example.org"}, topics=[])
    for number in range(1, 4):  # newer, so ranked higher by score alone
        write_article(folder / f"{number}.md", title=f"Quarterly results {number}",
                      excerpt="Its warehouse robots learn new grips, the report says.",
                      publishedDateTime=f"2022-05-2{number}T10:00:00Z",
                      originalUrl=f"https://example.org/results-{number}",
                      provider={"name": "Example", "domain": "example.org"}, topics=[])
    asked = await Asker(await _synced(store, folder)).ask("warehouse grips", NOW, 5)
    assert isinstance(asked.result, Answer)
    assert asked.result.page.items[0].title == "Warehouse robots learn new grips"


def _trading_beside_training(folder: Path) -> Path:
    """Six titles with "trading", the commoner word, but never beside "spin"; one with
    "training" beside it."""
    for number in range(6):
        _article(folder, number, f"Chip trading slows {number}", "2022-05-02T10:00:00Z", [])
    _article(folder, 6, "Samsung to spin up image generator for AI training",
             "2022-05-03T10:00:00Z", [])
    return folder


async def test_a_typo_is_read_as_the_word_that_fits_the_rest_of_the_question(
        store: Store, tmp_path: Path) -> None:
    folder = _trading_beside_training(tmp_path / "typo")
    asked = await Asker(await _synced(store, folder)).ask("traiing spin", NOW, 5)
    assert asked.line == "Understood: 'training spin' (read 'traiing' as training)"
    assert isinstance(asked.result, Answer)
    assert [item.title for item in asked.result.page.items] == [
        "Samsung to spin up image generator for AI training"]


async def test_a_search_reads_a_typo_as_the_word_that_fits_the_other_words_too(
        store: Store, tmp_path: Path) -> None:
    folder = _trading_beside_training(tmp_path / "typo")
    found = await (await _synced(store, folder)).search("traiing spin", 5)
    assert isinstance(found, Answer)
    assert found.heading == "Showing results for **training spin** (you typed traiing)"
    assert [item.title for item in found.page.items] == [
        "Samsung to spin up image generator for AI training"]


async def test_a_typo_that_fits_nothing_keeps_its_likeliest_reading(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    for number in range(6):
        _article(folder, number, f"Chip trading slows {number}", "2022-05-02T10:00:00Z", [])
    _article(folder, 6, "Model training costs fall", "2022-05-03T10:00:00Z", [])
    asked = await Asker(await _synced(store, folder)).ask("traiing quokka", NOW, 5)
    assert asked.line == "Understood: 'trading quokka' (read 'traiing' as trading)"
    assert isinstance(asked.result, NotFound)


async def test_a_topic_named_as_a_word_is_read_as_words_before_the_provider_is(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "named"
    reuters, wired = ("Reuters", "reuters.com"), ("Wired", "wired.com")
    _article(folder, 0, "Baidu opens its AI lab", "2022-04-02T10:00:00Z", ["Baidu AI"], wired)
    _article(folder, 1, "Reuters: Baidu scraps warehouses plan", "2022-04-03T10:00:00Z",
             [], wired)
    _article(folder, 2, "Baidu scraps warehouses", "2022-04-04T10:00:00Z", [], reuters)
    asked = await Asker(await _synced(store, folder)).ask(
        "what did Reuters say about scraps warehouses baidu in April 2022?", NOW, 5)
    assert asked.line == ("Understood: Reuters · in April 2022 · 'scraps warehouses baidu' "
                          "(nothing tagged Baidu AI: showing articles that mention it)")
    assert isinstance(asked.result, Answer)
    assert [item.title for item in asked.result.page.items] == ["Baidu scraps warehouses"]


async def test_a_typo_is_read_as_the_word_a_title_holds_with_the_rest(
        store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "titled-typo"
    for number in range(6):
        _article(folder, number, f"Chip trading slows {number}", "2022-05-02T10:00:00Z", [])
    write_article(folder / "6.md", title="Quarterly results",
                  excerpt="Its chatbot for trading will spin off.",
                  publishedDateTime="2022-05-04T10:00:00Z",
                  originalUrl="https://example.org/results",
                  provider={"name": "Example", "domain": "example.org"}, topics=[])
    _article(folder, 7, "IBM to spin up chatbot for AI training", "2022-05-03T10:00:00Z", [])
    asked = await Asker(await _synced(store, folder)).ask("traiing chatbot spin", NOW, 5)
    assert asked.line == "Understood: 'training chatbot spin' (read 'traiing' as training)"
    assert isinstance(asked.result, Answer)
    assert [item.title for item in asked.result.page.items] == [
        "IBM to spin up chatbot for AI training"]


async def test_search_within_keeps_exactly_the_matches_of_every_filter(
        store: Store, tmp_path: Path) -> None:
    """Rare and common words (a provider's ids gathered, or each match's row read), with
    every mix of provider, topic and window."""
    folder = tmp_path / "mix"
    providers = [("Example", "example.org"), ("Wired", "wired.com")]
    for number in range(40):
        rare = " quokka" if number % 10 == 0 else ""
        _article(folder, number, f"Robots news {number}{rare}",
                 f"2022-0{3 + number % 3}-1{number % 7}T10:00:00Z",
                 [["Robotics"], ["AI Chips"], []][number % 3 if number % 4 else 2],
                 providers[number % 5 == 0])
    news = await _synced(store, folder)
    articles = list((await store.articles(range(1, 100))).values())
    topics = {topic.name: topic.id for topic in news.index.topics}
    owners = {provider.name: provider.id for provider in news.index.providers}
    months = [(None, None), (datetime(2022, 4, 1, tzinfo=UTC), datetime(2022, 5, 1, tzinfo=UTC))]
    for word, topic, provider, (start, end) in product(
            ["robots", "quokka"], [None, "Robotics"], [None, "Example", "Wired"], months):
        where = Filter(topics.get(topic or ""), owners.get(provider or ""), start, end)
        matches, capped = await store.search_within(f'"{word}"', where)
        assert not capped
        assert {article_id for article_id, _bm25 in matches} == {
            article.article_id for article in articles
            if word in article.title.lower()
            and (topic is None or topic in article.topics)
            and (provider is None or (article.provider is not None
                                      and article.provider.name == provider))
            and (start is None or (article.published_at is not None and end is not None
                                   and start <= article.published_at < end))}, where
