"""Feeds in the running bot, end to end: the real bot polls a local feed server in the
background, and its articles are in /news; /admin feeds is the operator's."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from feed_server import FeedServer

from bot.client import NewsBot
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import EPHEMERAL, FakeDiscord, running_bot

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Local AI News</title>
<link>https://local.example.org/</link>
<item><title>Quokka model beats every benchmark</title>
<link>https://local.example.org/quokka?utm_source=rss</link>
<pubDate>{date}</pubDate><description>A small open model.</description></item>
</channel></rss>"""


# Within the default 90 days of retention, and newer than every seed article.
RECENT = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


def polling_bot(store: Store, seeds: Path) -> NewsBot:
    bot = make_bot(store, seeds)
    bot.settings = dataclasses.replace(bot.settings, feeds_minutes=60, feeds_allow_private=True)
    return bot


async def until(condition: object, seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_the_bot_polls_its_feeds_and_news_shows_their_articles_with_links(
    fake: FakeDiscord, store: Store, seeds_dir: Path, server: FeedServer
) -> None:
    server.add("/ai.xml", RSS.format(date=RECENT), etag='"1"')
    await store.feeds.add(server.url("/ai.xml"))

    async def polled() -> bool:
        return (await store.feeds.all())[0].status == "ok"

    async with running_bot(polling_bot(store, seeds_dir), fake):
        await until(polled)
        latest = await fake.slash("news latest", {"count": 3})
        embed = (await latest.response()).json["data"]["embeds"][0]
        assert embed["description"].startswith(
            "**1.** [Quokka model beats every benchmark](https://local.example.org/quokka)")
        search = await fake.slash("news search", {"query": "quokka"})
        found = (await search.response()).json["data"]["embeds"][0]
        assert "(https://local.example.org/quokka)" in found["description"]
        assert "utm_source" not in found["description"]


async def test_a_failing_feed_never_stops_the_poll_and_shows_in_stats_and_the_list(
    fake: FakeDiscord, store: Store, seeds_dir: Path, server: FeedServer
) -> None:
    server.add("/down.xml", "down", status=503)
    server.add("/ai.xml", RSS.format(date=RECENT))
    await store.feeds.add(server.url("/down.xml"))
    await store.feeds.add(server.url("/ai.xml"))

    async def polled() -> bool:
        return {feed.status for feed in await store.feeds.all()} == {"failing", "ok"}

    async with running_bot(polling_bot(store, seeds_dir), fake):
        await until(polled)
        stats = await fake.slash("admin stats", user=fake.owner)
        fields = {f["name"]: f["value"]
                  for f in (await stats.response()).json["data"]["embeds"][0]["fields"]}
        assert fields["Feeds"] == "2 (1 failing)"
        assert server.url("/down.xml") in fields["Failing feeds"]
        assert "HTTP 503" in fields["Failing feeds"]
        listing = await fake.slash("admin feeds list", user=fake.owner)
        reply = (await listing.response()).json["data"]
        assert reply["flags"] & EPHEMERAL
        text = reply["embeds"][0]["description"]
        assert "**Local AI News** · <" + server.url("/ai.xml") + ">\nok · 1 article" in text
        assert "failing since" in text and "HTTP 503" in text


async def test_admin_feeds_add_and_remove_are_the_operators(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        refused = await fake.slash("admin feeds add", {"url": "https://example.org/f.xml"},
                                   user=fake.admin)
        assert "Only the bot's operator" in \
            (await refused.response()).json["data"]["embeds"][0]["title"]
        assert await store.feeds.all() == []
        bad = await fake.slash("admin feeds add", {"url": "ftp://example.org/f"},
                               user=fake.owner)
        assert (await bad.response()).json["data"]["embeds"][0]["title"] == "Not a feed address"
        added = await fake.slash("admin feeds add", {"url": "https://example.org/f.xml"},
                                 user=fake.owner)
        assert (await added.response()).json["data"]["embeds"][0]["title"] == "Feed added"
        assert [feed.url for feed in await store.feeds.all()] == ["https://example.org/f.xml"]
        removed = await fake.slash("admin feeds remove", {"url": "https://example.org/f.xml"},
                                   user=fake.owner)
        await removed.response()
        assert (await removed.followup()).json["embeds"][0]["title"] == "Feed removed"
        assert await store.feeds.all() == []
