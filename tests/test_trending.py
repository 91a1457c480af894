"""What's hot: rises against the week before, stories by coverage, the last active day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.queries import News
from bot.store import Store
from tests.conftest import write_article

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _when(hours_ago: float) -> str:
    return f"{NOW - timedelta(hours=hours_ago):%Y-%m-%dT%H:%M:%SZ}"


def _write(seeds: Path, name: str, hours_ago: float, topics: list[str], provider: str,
           **fields: Any) -> None:
    domain = f"{provider.lower().replace(' ', '')}.example"
    write_article(seeds / f"{name}.md", title=fields.pop("title", f"Story {name}"),
                  excerpt="Something happened.", publishedDateTime=_when(hours_ago),
                  originalUrl=f"https://{domain}/{name}", topics=topics,
                  provider={"name": provider, "domain": domain}, **fields)


def _stub(name: str, hours_ago: float, provider: str) -> dict[str, Any]:
    domain = f"{provider.lower().replace(' ', '')}.example"
    return {"title": f"Coverage {name}", "webUrl": f"https://{domain}/{name}",
            "publishedDateTime": _when(hours_ago),
            "provider": {"name": provider, "domain": domain}}


def write_week(seeds: Path) -> None:
    """Robotics: 4 articles in the last 24 h, 1 a day before; AI: 6 against 4 a day;
    Cloud: 1 against 2 a day. A story covered by 4 articles and one covered by 2."""
    for n in range(4):
        _write(seeds, f"robot-today-{n}", 2 + n, ["Robotics", "AI"], "Robo Weekly")
    for n in range(7):
        _write(seeds, f"robot-before-{n}", 30 + 24 * n, ["Robotics", "AI"], "Robo Weekly")
    for n in range(2):
        _write(seeds, f"ai-today-{n}", 3 + n, ["AI"], "AI Daily")
    for n in range(21):
        _write(seeds, f"ai-before-{n}", 26 + 7 * n, ["AI"], "AI Daily")
    _write(seeds, "cloud-today", 5, ["Cloud"], "Cloud News")
    for n in range(14):
        _write(seeds, f"cloud-before-{n}", 25 + 11 * n, ["Cloud"], "Cloud News")
    _write(seeds, "main", 6, [], "Alpha", title="The big story",
           related=[_stub("b", 7, "Beta"), _stub("c", 8, "Gamma")])
    _write(seeds, "follow-up", 4, [], "Delta", title="The big story, again",
           related=[{"title": "The big story", "webUrl": "https://alpha.example/main",
                     "provider": {"name": "Alpha", "domain": "alpha.example"}}])
    _write(seeds, "small", 9, [], "Epsilon", title="A small story",
           related=[_stub("z", 30 * 24, "Zeta")])


@pytest.fixture
async def week(store: Store, tmp_path: Path) -> News:
    seeds = tmp_path / "week"
    write_week(seeds)
    news = News(store, seeds)
    assert (await news.sync()).failed == []
    return news


async def test_the_sharpest_rises_come_first_with_their_reasons(week: News) -> None:
    trending = await week.trending(NOW)
    assert trending.since_last_active is None
    assert trending.heading == "What's hot in the last 24 hours"
    topics = [(rise.name, rise.reason(trending.window)) for rise in trending.topics]
    assert topics[:2] == [("Robotics", "4 articles today, 1 a day last week"),
                          ("AI", "6 articles today, 4 a day last week")]
    assert "Cloud" not in [name for name, _reason in topics]  # below its usual day
    assert trending.providers[0].name == "Robo Weekly"
    assert "AI Daily" not in [rise.name for rise in trending.providers]


async def test_the_most_covered_story_counts_its_related_articles(week: News) -> None:
    stories = (await week.trending(NOW)).stories
    assert [(s.article.title, s.reason) for s in stories] == [
        ("The big story", "4 articles from 4 sources"),
        ("A small story", "2 articles from 2 sources"),
    ]


async def test_nothing_recent_shows_the_last_active_day(week: News) -> None:
    later = NOW + timedelta(days=20)
    trending = await week.trending(later)
    day = NOW.date()
    assert trending.since_last_active == day
    assert trending.heading == f"What's hot on {day:%Y-%m-%d}"
    assert trending.note == (f"Nothing was published in the 24 hours before "
                             f"{later:%Y-%m-%d %H:%M} UTC; the last active day was "
                             f"{day:%Y-%m-%d}.")
    # The last active day is 2026-06-10 (00:00 to 24:00): what fell on it, against the
    # week before it.
    robotics = next(rise for rise in trending.topics if rise.name == "Robotics")
    assert robotics.reason(trending.window) == (
        "4 articles on 2026-06-10, 1 a day the week before")
    assert trending.stories[0].article.title == "The big story"


async def test_an_empty_corpus_says_nothing_can_trend(store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    news = News(store, tmp_path / "empty")
    await news.sync()
    trending = await news.trending(NOW)
    assert trending.lines() == ["What's hot in the last 24 hours",
                                "No dated articles yet: nothing can be trending."]
