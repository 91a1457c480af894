"""Digest scheduling (time zones, DST, catch-up, exactly-once), selection and storage."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.articles import Article, Provider
from bot.digest import (
    Action,
    Digest,
    check_timezone,
    decide,
    next_occurrence,
    occurrence,
    parse_time,
    select_articles,
    window_start,
)
from bot.store import Store

GRACE = timedelta(hours=6)


def _digest(hhmm: str = "08:00", zone: str = "Europe/Berlin", **fields: object) -> Digest:
    return Digest(guild_id=1, channel_id=2, post_time=parse_time(hhmm), timezone=zone,
                  id=1, **fields)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("08:30", time(8, 30)), ("8:05", time(8, 5)), ("23:59", time(23, 59)), (" 07.15 ", time(7, 15)),
])
def test_parse_time_accepts_24_hour_clock(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8", "8pm", "12:60", "", "noon"])
def test_parse_time_rejects_other_forms_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time(text)


def test_unknown_time_zone_suggests_real_ones() -> None:
    assert check_timezone("America/New_York") == "America/New_York"
    with pytest.raises(ValueError, match="Europe/Berlin"):
        check_timezone("Europe/Berln")


def test_berlin_local_time_holds_across_both_dst_changes() -> None:
    digest = _digest("08:00", "Europe/Berlin")
    assert occurrence(digest, date(2026, 3, 28)) == utc(2026, 3, 28, 7, 0)  # CET, UTC+1
    assert occurrence(digest, date(2026, 3, 29)) == utc(2026, 3, 29, 6, 0)  # CEST from today
    assert occurrence(digest, date(2026, 10, 24)) == utc(2026, 10, 24, 6, 0)  # still CEST
    assert occurrence(digest, date(2026, 10, 25)) == utc(2026, 10, 25, 7, 0)  # back to CET


def test_new_york_times_in_the_gap_and_the_overlap_happen_once() -> None:
    # 02:30 does not exist on 8 March 2026 (clocks jump 02:00 → 03:00): posted at 03:30 EDT.
    gap = _digest("02:30", "America/New_York")
    assert occurrence(gap, date(2026, 3, 8)) == utc(2026, 3, 8, 7, 30)
    # 01:30 happens twice on 1 November 2026: the first time (EDT) is the one.
    overlap = _digest("01:30", "America/New_York")
    assert occurrence(overlap, date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)
    after_first = utc(2026, 11, 1, 5, 31)
    assert next_occurrence(overlap, after_first) == utc(2026, 11, 2, 6, 30)  # not 06:30 today


def test_a_due_digest_is_posted_once_per_day() -> None:
    digest = _digest("08:00", "Europe/Berlin")
    now = utc(2026, 6, 1, 6, 0, 30)  # 08:00:30 in Berlin
    decision = decide(digest, now, GRACE)
    assert (decision.action, decision.day) == (Action.POST, date(2026, 6, 1))
    posted = Digest(**{**_fields(digest), "last_day": date(2026, 6, 1)})
    later = decide(posted, now + timedelta(hours=3), GRACE)
    assert later.action is Action.WAIT
    assert later.at == utc(2026, 6, 2, 6, 0)


def test_before_the_time_it_waits() -> None:
    digest = _digest("08:00", "Europe/Berlin", last_day=date(2026, 5, 31))
    decision = decide(digest, utc(2026, 6, 1, 5, 59), GRACE)
    assert decision.action is Action.WAIT and decision.at == utc(2026, 6, 1, 6, 0)


def test_catch_up_within_grace_posts_and_beyond_grace_skips() -> None:
    digest = _digest("08:00", "Europe/Berlin", last_day=date(2026, 5, 31))
    within = decide(digest, utc(2026, 6, 1, 11, 59), GRACE)  # 5 h 59 late
    assert (within.action, within.day) == (Action.POST, date(2026, 6, 1))
    beyond = decide(digest, utc(2026, 6, 1, 12, 1), GRACE)  # 6 h 1 late
    assert (beyond.action, beyond.day) == (Action.SKIP, date(2026, 6, 1))


def test_first_window_is_24_hours_then_since_the_last_digest() -> None:
    now = utc(2026, 6, 1, 6, 0)
    assert window_start(_digest(), now) == now - timedelta(hours=24)
    last = utc(2026, 5, 29, 6, 0)
    assert window_start(_digest(last_window_end=last), now) == last


def _article(n: int, title: str, topics: tuple[str, ...] = ("AI",), excerpt: str = "") -> Article:
    return Article(url=f"https://example.com/{n}", title=title, excerpt=excerpt,
                   provider=Provider("Example", "example.com"), topics=topics, article_id=n)


def test_selection_filters_keywords_drops_duplicate_titles_and_keeps_size() -> None:
    candidates = [
        _article(1, "GPU clusters for training", ("AI Hardware", "AI")),
        _article(2, "GPU Clusters for Training!", ("AI Hardware",)),  # same story elsewhere
        _article(3, "A chatbot story", ("NLP",), excerpt="mentions gpu once"),
        _article(4, "Robots", ("Robotics",)),
        _article(5, "More GPU news", ("AI Hardware",)),
    ]
    content = select_articles(_digest(keywords=("gpu",), size=2), candidates, date(2026, 6, 1))
    assert [a.article_id for a in content.articles] == [1, 3]
    assert content.new_count == 3
    assert content.top_topics[0] == "AI Hardware"


def test_selection_of_nothing_is_empty() -> None:
    content = select_articles(_digest(), [], date(2026, 6, 1))
    assert content.articles == [] and content.new_count == 0


def _fields(digest: Digest) -> dict[str, object]:
    return {name: getattr(digest, name) for name in Digest.__slots__}


async def test_store_saves_updates_records_and_forgets(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "news.db") as store:
        saved = await store.digests.save(Digest(
            guild_id=10, channel_id=20, post_time=time(8, 0), timezone="Europe/Berlin",
            topics=("AI Hardware",), keywords=("gpu",), size=3, role_id=30, quiet_day=True))
        assert saved.id is not None and saved.last_day is None
        await store.digests.record(saved.id, date(2026, 6, 1), utc(2026, 6, 1, 6), None)
        # Changing the settings keeps the posting record, so a day is never posted twice.
        updated = await store.digests.save(Digest(
            guild_id=10, channel_id=20, post_time=time(9, 0), timezone="UTC"))
        assert (updated.post_time, updated.timezone, updated.topics) == (time(9, 0), "UTC", ())
        assert updated.last_day == date(2026, 6, 1)
        assert updated.last_window_end == utc(2026, 6, 1, 6)
        await store.digests.record(saved.id, date(2026, 6, 2), None, "the channel was deleted")
        failing = await store.digests.get(10, 20)
        assert failing is not None and failing.failure == "the channel was deleted"
        assert failing.last_window_end == utc(2026, 6, 1, 6)  # a failure covers nothing
        await store.digests.save(Digest(guild_id=10, channel_id=21, post_time=time(7, 0),
                                        timezone="UTC"))
        await store.digests.save(Digest(guild_id=11, channel_id=22, post_time=time(7, 0),
                                        timezone="UTC"))
        assert await store.digests.delete(10) == 2
        assert [d.guild_id for d in await store.digests.all()] == [11]
