"""End to end: how follows deliver under load and trouble: a big round summarised, a failing
channel retried after its back-off, a burst that leaves commands answered, and the same
article arriving twice (from a feed, or as a stub that becomes full) posted once."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.follows.outbox import match_new
from bot.follows.post import nonce
from bot.follows.rules import FollowRule
from bot.follows.state import Follow
from bot.loader import sync
from bot.store import Store
from tests.conftest import make_bot, write_article
from tests.fake_discord import FakeChannel, FakeDiscord, running_bot
from tests.feed_server import FeedServer
from tests.test_follow_e2e import HARDWARE_URL, _cog, _follow, _posts, _urls, new_article


def write_gpu_news(seeds_dir: Path, count: int, now: datetime) -> None:
    """`count` new AI Hardware articles, "GPU news 0" the newest, a minute apart."""
    for n in range(count):
        new_article(seeds_dir, f"gpu{n:02d}.txt", f"{HARDWARE_URL}/{n}", f"GPU news {n}",
                    ["AI Hardware"], published=now - timedelta(minutes=n))


async def _list_line(fake: FakeDiscord) -> str:
    """The first page of /follow list as Discord shows it (markdown escapes removed)."""
    listed = await fake.slash("follow list", {}, user=fake.admin)
    return str((await listed.response()).json["data"]["embeds"][0]["description"]).replace(
        "\\", "")


async def test_more_than_30_new_matches_become_one_message_of_the_newest_10_and_a_pointer(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": fake.text_channel, "topic": "AI Hardware"})
        write_gpu_news(seeds_dir, 35, now)
        await bot.news.sync()
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
        line = await _list_line(fake)
    (message,) = [m for m in fake.channel_messages(fake.text_channel) if "webhook_id" not in m]
    assert [embed["url"] for embed in message["embeds"]] == [
        f"{HARDWARE_URL}/{n}" for n in range(10)]
    assert message["content"] == "…and 25 more — `/news topic topic:AI Hardware`"
    assert "10 posted, last" in line and line.endswith("· ok")

    # The 25 left out are never posted later: not after a restart, nor another reload.
    mark = fake.mark()
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await bot.news.sync()
        await _cog(bot).run_round()
    assert _posts(fake, fake.text_channel, since=mark) == []
    assert await store.follows.open_posts() == []
    # What is left out is counted, not written down one row an article: a first poll of
    # many feeds against many follows must not grow the database by every match.
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM follow_posts").fetchone() == (10,)
        assert db.execute("SELECT count(*) FROM follow_rounds").fetchone() == (0,)  # done


def _break(fake: FakeDiscord, channel: FakeChannel, how: str) -> None:
    if how == "forbidden":
        channel.forbidden = True
    else:
        fake.delete_channel(channel)


def _mend(fake: FakeDiscord, channel: FakeChannel) -> None:
    channel.forbidden = False
    fake.guilds[channel.guild_id].channels[channel.id] = channel


@pytest.mark.parametrize(("how", "reason"), [
    ("forbidden", "missing permissions"), ("deleted", "the channel was deleted")])
async def test_a_failing_follow_is_retried_after_its_back_off_and_is_ok_once_it_posts(
    fake: FakeDiscord, store: Store, seeds_dir: Path, how: str, reason: str
) -> None:
    start = datetime.now(UTC)
    clock = [start]
    channel = fake.add_channel(fake.guild, "hardware")
    posts = rf"/channels/{channel.id}/messages"
    async with running_bot(make_bot(store, seeds_dir, lambda: clock[0]), fake) as bot:
        await _follow(fake, {"channel": channel, "topic": "AI Hardware"})
        _break(fake, channel, how)
        new_article(seeds_dir, "gpu.txt", HARDWARE_URL, "A new GPU", ["AI Hardware"])
        await bot.news.sync()
        await _cog(bot).run_round()  # the poster's own round may have come first: one try
        assert len(fake.requests_matching("POST", posts)) == 1
        line = await _list_line(fake)
        assert f"failing since {start:%Y-%m-%d %H:%M} UTC: {reason}" in line

        # Within the back-off (a minute after the first failure) nothing is tried.
        clock[0] = start + timedelta(seconds=30)
        await _cog(bot).run_round()
        assert len(fake.requests_matching("POST", posts)) == 1

        # The channel is usable again; once the back-off is over the poster posts it.
        _mend(fake, channel)
        clock[0] = start + timedelta(seconds=61)
        mark = fake.mark()
        _cog(bot).wake()
        await fake.wait_for_request("POST", posts, since=mark)
        await _cog(bot).run_round()
        line = await _list_line(fake)
    assert _urls(fake, channel) == [HARDWARE_URL]
    # Discord made nothing of the refused send, so the retry posted it as new, without first
    # looking in the channel for a post a crash might have left.
    assert fake.requests_matching("GET", posts) == []
    assert "1 posted, last" in line and line.endswith("· ok")
    (follow,) = await store.follows.all()
    assert (follow.failure, follow.failing_since, follow.retry_at) == (None, None, None)


async def test_a_burst_of_200_articles_across_20_follows_leaves_commands_answered(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    channels = [fake.add_channel(fake.guild, f"provider-{n}") for n in range(20)]
    now = datetime.now(UTC)
    for n, channel in enumerate(channels):
        await store.follows.add(Follow(
            guild_id=fake.guild.id, channel_id=channel.id, created_at=now,
            rule=FollowRule.checked(provider_domain=f"p{n}.example.com")))
    # Discord takes the posts but answers none until released: the poster is mid-burst.
    release = fake.hold_responses("POST", r"/channels/\d+/messages")
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        for n in range(20):
            for i in range(10):
                url = f"https://p{n}.example.com/news/{i}"
                write_article(seeds_dir / f"p{n}_{i}.txt", title=f"News {i} from P{n}",
                              excerpt="News.", type="article", originalUrl=url, webUrl=url,
                              publishedDateTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              provider={"name": f"P{n}", "domain": f"p{n}.example.com"},
                              topics=["AI"])
        reload = await fake.slash("admin reload", user=fake.owner)
        assert "200 added" in str((await reload.followup()).json["embeds"][0])
        await fake.wait_for_request("POST", r"/channels/\d+/messages")
        latest = await fake.slash("news latest", {"count": 3})
        answer = (await latest.response()).json["data"]["embeds"][0]["description"]
        listed = await _list_line(fake)
        # Answered while the posts are still to be made.
        assert len(fake.requests_matching("POST", r"/channels/\d+/messages")) < 20
        assert len(await store.follows.open_posts()) > 100
        release.set()
        for channel in channels:
            await fake.wait_for_request("POST", rf"/channels/{channel.id}/messages")
        await _cog(bot).run_round()
    assert answer.startswith("**1.** [News")
    assert listed.count(" · 0 posted · ok") == 10  # the first page, while nothing was answered
    for n, channel in enumerate(channels):
        assert sorted(_urls(fake, channel)) == [
            f"https://p{n}.example.com/news/{i}" for i in range(10)]
    assert await store.follows.open_posts() == []


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Local AI News</title>
<link>https://local.example.org/</link>
<item><title>A new GPU, as the feed tells it</title>
<link>{folder_url}?utm_source=rss</link>
<pubDate>{date}</pubDate><description>The same GPU.</description></item>
<item><title>Another GPU only the feed has</title>
<link>https://local.example.org/another-gpu</link>
<pubDate>{date}</pubDate><description>A second GPU.</description></item>
</channel></rss>"""


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


async def test_a_folder_article_arriving_again_from_a_feed_is_not_posted_again(
    fake: FakeDiscord, store: Store, seeds_dir: Path, feeds: FeedServer
) -> None:
    recent = datetime.now(UTC) - timedelta(hours=1)
    feeds.add("/ai.xml", RSS.format(folder_url=HARDWARE_URL,
                                    date=format_datetime(recent, usegmt=True)))
    bot = make_bot(store, seeds_dir)
    bot.settings = dataclasses.replace(bot.settings, feeds_allow_private=True)
    async with running_bot(bot, fake) as bot:
        await _follow(fake, {"channel": fake.text_channel, "keywords": "gpu"})
        new_article(seeds_dir, "gpu.txt", HARDWARE_URL, "A new GPU", ["AI Hardware"],
                    published=recent)
        await bot.news.sync()
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await store.feeds.add(feeds.url("/ai.xml"))
        mark = fake.mark()
        admin = bot.get_cog("AdminCog")
        assert admin is not None
        await admin.poll_feeds()  # type: ignore[attr-defined]  # the cog's class is loaded anew
        assert (await store.feeds.all())[0].status == "ok"
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages",
                                    since=mark)
        await _cog(bot).run_round()
    # The feed's entry of the folder's article is that article (its URL, canonical): the
    # only new post is the feed's other article.
    assert _urls(fake, fake.text_channel) == [HARDWARE_URL, "https://local.example.org/another-gpu"]


async def test_a_stub_is_posted_once_when_it_becomes_a_full_article(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    stub_url = "https://example.org/2026/gpu-roundup"
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": fake.text_channel, "keywords": "gpu"})
        write_article(seeds_dir / "gpu.txt", title="A new GPU", excerpt="News.", type="article",
                      publishedDateTime=published, originalUrl=HARDWARE_URL, webUrl=HARDWARE_URL,
                      provider={"name": "Example", "domain": "example.com"},
                      topics=["AI Hardware"],
                      related=[{"title": "The GPU roundup", "webUrl": stub_url,
                                "publishedDateTime": published, "type": "article",
                                "provider": {"name": "Example", "domain": "example.org"}}])
        await bot.news.sync()
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
        assert _urls(fake, fake.text_channel) == [HARDWARE_URL]  # the stub is not posted

        # The stub gets its own file: it is full now, and new to the follow.
        new_article(seeds_dir, "roundup.txt", stub_url, "The GPU roundup", ["AI Hardware"])
        mark = fake.mark()
        await bot.news.sync()
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages",
                                    since=mark)
        await _cog(bot).run_round()
        # Updated again (the file edited): still the one post.
        new_article(seeds_dir, "roundup.txt", stub_url, "The GPU roundup, updated",
                    ["AI Hardware"])
        await bot.news.sync()
        await _cog(bot).run_round()
    assert _urls(fake, fake.text_channel) == [HARDWARE_URL, stub_url]


async def test_a_forum_post_mentions_the_follows_role_and_a_big_round_says_how_many_more(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    threads = rf"/channels/{fake.forum_channel.id}/threads"
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": fake.forum_channel, "topic": "AI Hardware",
                             "mention": fake.admin_role})
        write_gpu_news(seeds_dir, 31, now)
        await bot.news.sync()
        mark = 0
        for _ in range(10):
            mark = (await fake.wait_for_request("POST", threads, since=mark)).index + 1
        await _cog(bot).run_round()
    made = [request.json for request in fake.requests_matching("POST", threads)]
    assert [post["name"] for post in made] == [f"GPU news {n}" for n in range(10)]
    role = f"<@&{fake.admin_role.id}>"
    assert [post["message"].get("content") for post in made] == [role] * 9 + [
        f"{role}\n…and 21 more — `/news topic topic:AI Hardware`"]
    assert all(post["message"]["allowed_mentions"] == {"parse": [], "roles": [
        fake.admin_role.id]} for post in made)


async def _big_round_matched(fake: FakeDiscord, store: Store, seeds_dir: Path,
                             now: datetime) -> Follow:
    """31 new AI Hardware articles matched by a topic follow: a round of the newest 10
    and "…and 21 more", not posted yet."""
    write_gpu_news(seeds_dir, 31, now)
    await sync(store, seeds_dir)
    follow = await store.follows.add(Follow(
        guild_id=fake.guild.id, channel_id=fake.text_channel.id, created_at=now,
        rule=FollowRule.checked(topic_key="ai hardware")))
    assert await match_new(store) == 10
    return follow


async def test_a_big_round_interrupted_before_discord_got_it_is_sent_whole_at_the_next_start(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    follow = await _big_round_matched(fake, store, seeds_dir, now)
    # What a crash leaves when it comes after the send was marked and before the request
    # reached Discord: the round's ten rows 'sending', nothing in the channel.
    shown = [row.url for row in await store.follows.open_posts()]
    await store.follows.mark_sending(follow.id, shown, nonce(follow.id, 1, shown), now)

    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
    (message,) = [m for m in fake.channel_messages(fake.text_channel) if "webhook_id" not in m]
    assert [embed["url"] for embed in message["embeds"]] == [
        f"{HARDWARE_URL}/{n}" for n in range(10)]
    assert message["content"] == "…and 21 more — `/news topic topic:AI Hardware`"
    saved = await store.follows.get(follow.id)
    assert saved is not None and saved.posted == 10


async def test_an_unreadable_follow_is_left_out_and_every_other_follow_still_matches(
    store: Store, seeds_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await sync(store, seeds_dir)
    now = datetime.now(UTC)
    broken, working = [await store.follows.add(Follow(
        guild_id=guild, channel_id=7, created_at=now,
        rule=FollowRule.checked(topic_key="ai hardware"))) for guild in (1, 2)]
    with sqlite3.connect(tmp_path / "db" / "news.db") as db:  # as a hand edit would leave it
        db.execute("UPDATE follows SET rule = '{\"topic\": 5}' WHERE id = ?", (broken.id,))
    new_article(seeds_dir, "gpu.txt", HARDWARE_URL, "GPU news", ["AI Hardware"],
                published=now)
    await sync(store, seeds_dir)

    assert await match_new(store) == 1
    assert [row.follow_id for row in await store.follows.open_posts()] == [working.id]
    assert [follow.id for follow in await store.follows.all()] == [working.id]
    await store.follows.all()  # read again, as every round does: said once
    assert caplog.text.count(f"Follow {broken.id} of server 1 is left out") == 1
    assert await store.follows.remove(1, broken.id)


async def test_an_interrupted_big_round_whose_last_post_lost_its_article_still_says_how_many_more(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    follow = await _big_round_matched(fake, store, seeds_dir, now)
    # A crash left the round's sends started as two posts, the second of the oldest one;
    # that article is gone when the bot comes back.
    shown = [row.url for row in await store.follows.open_posts()]
    first, last = shown[:9], shown[9:]
    await store.follows.mark_sending(follow.id, first, nonce(follow.id, 1, first), now)
    await store.follows.mark_sending(follow.id, last, nonce(follow.id, 1, last), now)
    (seeds_dir / "gpu09.txt").unlink()
    await sync(store, seeds_dir)

    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
    (message,) = [m for m in fake.channel_messages(fake.text_channel) if "webhook_id" not in m]
    assert [embed["url"] for embed in message["embeds"]] == [
        f"{HARDWARE_URL}/{n}" for n in range(9)]
    assert message["content"] == "…and 21 more — `/news topic topic:AI Hardware`"


async def test_pausing_a_follow_drops_its_waiting_round_and_its_count(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    follow = await _big_round_matched(fake, store, seeds_dir, datetime.now(UTC))
    assert await store.follows.left_out(follow.id, 1) == 21

    assert await store.follows.set_paused(fake.guild.id, follow.id, "by a member")

    assert await store.follows.open_posts() == []
    assert await store.follows.left_out(follow.id, 1) == 0
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM follow_rounds").fetchone() == (0,)


async def test_a_card_discord_refuses_is_left_out_and_the_others_are_posted(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    now = datetime.now(UTC)
    fake.refused_embed_urls.add(f"{HARDWARE_URL}/1")  # Discord finds this card malformed
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        await _follow(fake, {"channel": fake.text_channel, "topic": "AI Hardware"})
        write_gpu_news(seeds_dir, 3, now)
        await bot.news.sync()
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages")
        await _cog(bot).run_round()
        await _cog(bot).run_round()  # nothing is left to try again
        line = await _list_line(fake)
    posted = [m for m in fake.channel_messages(fake.text_channel) if "webhook_id" not in m]
    assert [[embed["url"] for embed in m["embeds"]] for m in posted] == [
        [f"{HARDWARE_URL}/0"], [f"{HARDWARE_URL}/2"]]
    assert "2 posted, last" in line and line.endswith("· ok")
    assert await store.follows.open_posts() == []
