"""End to end: /follow through the fake Discord, and new articles posted once to the channel."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.client import NewsBot
from bot.cogs.follow import FollowCog
from bot.store import Store
from tests.conftest import make_bot, write_article
from tests.fake_discord import CB_DEFER, EPHEMERAL, FakeChannel, FakeDiscord, running_bot

HARDWARE_URL = "https://example.com/2026/new-gpu"
OTHER_URL = "https://example.com/2026/new-policy"


def _cog(bot: NewsBot) -> FollowCog:
    # load_extension imports the cog module afresh, so its class is not this FollowCog.
    cog = bot.get_cog("FollowCog")
    assert cog is not None and type(cog).__name__ == "FollowCog"
    return cog  # type: ignore[return-value]


def new_article(seeds: Path, name: str, url: str, title: str, topics: list[str],
                published: datetime | None = None, excerpt: str = "News.") -> None:
    write_article(seeds / name, title=title, excerpt=excerpt, type="article",
                  publishedDateTime=(published or datetime.now(UTC)).strftime(
                      "%Y-%m-%dT%H:%M:%SZ"),
                  originalUrl=url, webUrl=url, provider={"name": "Example", "domain":
                                                         "example.com"},
                  topics=topics)


def _posts(fake: FakeDiscord, channel: FakeChannel, since: int = 0) -> list[Any]:
    return fake.requests_matching("POST", rf"/channels/{channel.id}/messages", since=since)


def _urls(fake: FakeDiscord, channel: FakeChannel) -> list[str]:
    """The articles posted there (not the replies to commands made in it)."""
    return [embed["url"] for message in fake.channel_messages(channel)
            if "webhook_id" not in message for embed in message["embeds"]]


def follow_posts(bot: NewsBot, outcome: str) -> float:
    """The bot's news_follow_posts_total for `outcome`, as Prometheus would read it."""
    return next(sample.value
                for family in text_string_to_metric_families(bot.metrics.exposition().decode())
                for sample in family.samples
                if sample.name == "news_follow_posts_total"
                and sample.labels == {"outcome": outcome})


async def _follow(fake: FakeDiscord, options: dict[str, Any]) -> dict[str, Any]:
    handle = await fake.slash("follow add", options, user=fake.admin)
    callback = (await handle.response()).json
    assert callback["type"] == CB_DEFER, callback
    reply = (await handle.followup()).json
    assert reply["flags"] & EPHEMERAL
    return reply


async def test_a_topic_follow_posts_the_new_matching_article_once_across_restarts(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        reply = await _follow(fake, {"channel": fake.text_channel, "topic": "ai hardware",
                                     "mention": fake.admin_role})
        embed = reply["embeds"][0]
        assert embed["title"] == "Follow added"
        assert "topic AI Hardware" in embed["description"]
        assert "matched **0** articles of the last week" in embed["description"]

        new_article(seeds_dir, "new_gpu.txt", HARDWARE_URL, "A new GPU @everyone",
                    ["AI Hardware"])
        new_article(seeds_dir, "policy.txt", OTHER_URL, "A new AI policy", ["AI Policy"])
        await bot.news.sync()  # what /admin reload does
        post = await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
        await _cog(bot).run_round()
        assert (follow_posts(bot, "posted"), follow_posts(bot, "failed")) == (1, 0)
    assert _urls(fake, fake.text_channel) == [HARDWARE_URL]  # once; the policy one never
    assert post.json["content"] == f"<@&{fake.admin_role.id}>"
    assert post.json["allowed_mentions"] == {"parse": [], "roles": [fake.admin_role.id]}
    assert post.json["nonce"] and post.json["enforce_nonce"] is True

    # A restart, an edit of the article (an update, not a new one) and a reload: nothing again.
    new_article(seeds_dir, "new_gpu.txt", HARDWARE_URL, "A new GPU, updated", ["AI Hardware"],
                excerpt="More on the GPU.")
    mark = fake.mark()
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await bot.news.sync()
        await _cog(bot).run_round()
        listed = await fake.slash("follow list", {}, user=fake.admin)
        line = (await listed.response()).json["data"]["embeds"][0]["description"]
    assert _posts(fake, fake.text_channel, since=mark) == []
    assert "1 posted, last" in line and line.endswith("· ok")


async def test_a_forum_gets_one_post_per_article_titled_with_it(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": fake.forum_channel, "keywords": 'gpu, "open weights"'})
        new_article(seeds_dir, "a.txt", HARDWARE_URL, "A new GPU " + "x" * 120, ["AI Hardware"])
        new_article(seeds_dir, "b.txt", OTHER_URL, "Open weights for all", ["AI"])
        await bot.news.sync()
        first = await fake.wait_for_request("POST", rf"/channels/{fake.forum_channel.id}/threads")
        await fake.wait_for_request("POST", rf"/channels/{fake.forum_channel.id}/threads",
                                    since=first.index + 1)
        await _cog(bot).run_round()
    threads = fake.requests_matching("POST", rf"/channels/{fake.forum_channel.id}/threads")
    names = sorted(request.json["name"] for request in threads)
    assert names == ["A new GPU " + "x" * 89 + "…", "Open weights for all"]
    assert all(len(request.json["message"]["embeds"]) == 1 for request in threads)


async def test_a_deleted_channel_marks_the_follow_failing_and_the_bot_keeps_answering(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    doomed = fake.add_channel(fake.guild, "doomed")
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": doomed, "topic": "AI Hardware"})
        fake.delete_channel(doomed)
        new_article(seeds_dir, "a.txt", HARDWARE_URL, "A new GPU", ["AI Hardware"])
        await bot.news.sync()
        await _cog(bot).run_round()
        assert (follow_posts(bot, "posted"), follow_posts(bot, "failed")) == (0, 1)
        listed = await fake.slash("follow list", {}, user=fake.admin)
        line = (await listed.response()).json["data"]["embeds"][0]["description"]
        latest = await fake.slash("news latest", {})
        assert (await latest.response()).json["data"]["embeds"]
        stats = await fake.slash("admin stats", user=fake.owner)
        fields = {f["name"]: f["value"]
                  for f in (await stats.response()).json["data"]["embeds"][0]["fields"]}
    assert fields["Follows"] == "1 (1 failing)"
    assert "the channel was deleted" in fields["Failing follows"]
    assert "failing since" in line and "the channel was deleted" in line
    (follow,) = await store.follows.all()
    assert follow.failure == "the channel was deleted" and follow.retry_at is not None

    # Three days on, still failing: it pauses itself and says so.
    later = datetime.now(UTC) + timedelta(days=3, minutes=1)
    async with running_bot(make_bot(store, seeds_dir, lambda: later), fake) as bot:
        await _cog(bot).run_round()
        listed = await fake.slash("follow list", {}, user=fake.admin)
        line = (await listed.response()).json["data"]["embeds"][0]["description"]
    assert "paused itself after failing for 3 days" in line and "/follow resume" in line


async def test_a_member_without_manage_server_is_refused(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        handle = await fake.slash("follow add", {"channel": fake.text_channel,
                                                 "topic": "AI Hardware"}, user=fake.member)
        reply = (await handle.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert "Manage Server" in reply["embeds"][0]["title"]
    assert await store.follows.all() == []


async def test_a_server_holds_at_most_the_configured_number_of_follows(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    bot = make_bot(store, seeds_dir)
    bot.settings = dataclasses.replace(bot.settings, max_follows=1)
    async with running_bot(bot, fake):
        await _follow(fake, {"channel": fake.text_channel, "topic": "AI Hardware"})
        handle = await fake.slash("follow add", {"channel": fake.text_channel,
                                                 "keywords": "llama"}, user=fake.admin)
        reply = (await handle.response()).json["data"]
    assert reply["embeds"][0]["title"].startswith("This server already has 1 follows")
    assert len(await store.follows.all()) == 1


async def test_nothing_old_by_default_and_backfill_posts_the_newest_matches(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    for day in range(3):
        new_article(seeds_dir, f"old{day}.txt", f"{HARDWARE_URL}/{day}", f"GPU news {day}",
                    ["AI Hardware"], published=now - timedelta(days=day + 1))
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        reply = await _follow(fake, {"channel": fake.text_channel, "topic": "AI Hardware"})
        assert "matched **3** articles of the last week" in reply["embeds"][0]["description"]
        await _cog(bot).run_round()
        assert _posts(fake, fake.text_channel) == []  # nothing old without backfill

        reply = await _follow(fake, {"channel": fake.text_channel, "topic": "AI Hardware",
                                     "backfill": 2})
        assert "Posting the 2 newest of them now." in reply["embeds"][0]["description"]
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
    assert _urls(fake, fake.text_channel) == [f"{HARDWARE_URL}/0", f"{HARDWARE_URL}/1"]
