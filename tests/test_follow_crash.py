"""A follow's post across a crash between send and record (the real `python -m bot` killed
with SIGKILL), and the operator's `python -m bot follows`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.follows.rules import FollowRule
from bot.follows.state import Follow
from bot.loader import sync
from bot.store import Store
from tests.fake_discord import FakeDiscord
from tests.test_cli import run_cli
from tests.test_follow_e2e import HARDWARE_URL, new_article
from tests.test_startup import DRIVER, bot_env


async def _prepare(db: Path, seeds: Path, guild_id: int, channel_id: int) -> None:
    async with await Store.open(db) as store:
        await sync(store, seeds)
        await store.follows.add(Follow(guild_id=guild_id, channel_id=channel_id,
                                       rule=FollowRule.checked(topic_key="ai hardware"),
                                       created_at=datetime.now(UTC)))


async def _start(fake: FakeDiscord, tmp_path: Path, seeds: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRIVER, fake.api_base, fake.gateway_url, cwd=tmp_path,
        env=bot_env(tmp_path, seeds), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _crash_while_discord_answers(fake: FakeDiscord, tmp_path: Path, seeds: Path,
                                       path: str) -> None:
    """Run the bot until Discord has acted on its post (`path`) but not answered, and SIGKILL
    it there; the post is left 'sending'."""
    release = fake.hold_responses("POST", path)
    process = await _start(fake, tmp_path, seeds)
    try:
        # Discord has made the message; the bot has not heard back, so has not recorded it.
        await fake.wait_for_request("POST", path, timeout=30)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        release.set()
        if process.returncode is None:
            process.kill()
            await process.wait()
    async with await Store.open(tmp_path / "news.db") as store:
        (row,) = await store.follows.open_posts()
        assert row.state == "sending" and row.url.startswith("https://example.com/2026")


async def _restart_until_recorded(fake: FakeDiscord, tmp_path: Path, seeds: Path,
                                  looked_up: str) -> Follow:
    """Start the bot again until the outbox is empty, having seen it look in the channel
    (`looked_up`, a GET); the follow as it is then."""
    mark = fake.mark()
    process = await _start(fake, tmp_path, seeds)
    try:
        await fake.wait_for_request("GET", looked_up, since=mark, timeout=30)
        async with asyncio.timeout(30):
            while True:
                async with await Store.open(tmp_path / "news.db") as store:
                    if not await store.follows.open_posts():
                        (follow,) = await store.follows.all()
                        return follow
                await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def test_a_crash_between_send_and_record_posts_the_article_exactly_once(
    fake: FakeDiscord, tmp_path: Path, seeds_dir: Path
) -> None:
    fake.callback_deadline = None
    await _prepare(tmp_path / "news.db", seeds_dir, fake.guild.id, fake.text_channel.id)
    new_article(seeds_dir, "new_gpu.txt", HARDWARE_URL, "A new GPU", ["AI Hardware"])
    posts = rf"/channels/{fake.text_channel.id}/messages"
    await _crash_while_discord_answers(fake, tmp_path, seeds_dir, posts)

    mark = fake.mark()
    # At start-up the unfinished send is looked for in the channel's history, found there.
    follow = await _restart_until_recorded(fake, tmp_path, seeds_dir, posts)
    messages = [m for m in fake.channel_messages(fake.text_channel) if "webhook_id" not in m]
    assert [embed["url"] for m in messages for embed in m["embeds"]] == [HARDWARE_URL]
    assert fake.requests_matching("POST", posts, since=mark) == []
    assert follow.posted == 1


async def test_a_crash_after_a_forum_post_was_made_leaves_one_thread(
    fake: FakeDiscord, tmp_path: Path, seeds_dir: Path
) -> None:
    fake.callback_deadline = None
    forum = fake.forum_channel
    await _prepare(tmp_path / "news.db", seeds_dir, fake.guild.id, forum.id)
    new_article(seeds_dir, "new_gpu.txt", HARDWARE_URL, "A new GPU", ["AI Hardware"])
    threads = rf"/channels/{forum.id}/threads"
    await _crash_while_discord_answers(fake, tmp_path, seeds_dir, threads)

    mark = fake.mark()
    # A forum post has no nonce: the thread is looked for among the active threads.
    follow = await _restart_until_recorded(fake, tmp_path, seeds_dir,
                                           rf"/guilds/{fake.guild.id}/threads/active")
    made = [c for c in fake.guild.channels.values() if c.parent_id == forum.id]
    assert [thread.name for thread in made] == ["A new GPU"]
    assert fake.requests_matching("POST", threads, since=mark) == []
    assert follow.posted == 1


async def test_follows_cli_lists_every_follow_with_its_state(tmp_path: Path,
                                                             seeds_dir: Path) -> None:
    db = tmp_path / "news.db"
    await _prepare(db, seeds_dir, 111, 222)
    async with await Store.open(db) as store:
        (follow,) = await store.follows.all()
        await store.follows.record_failure(follow.id, "the channel was deleted",
                                           datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
                                           datetime(2026, 12, 1, 8, 1, tzinfo=UTC))
    result = run_cli("follows", "--db", db, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"#{follow.id} server 111 channel 222: topic AI Hardware · 0 posted · failing since "
        "2026-12-01 08:00 UTC: the channel was deleted",
        "1 follow",
    ]
    empty = run_cli("follows", "--db", tmp_path / "other.db", cwd=tmp_path)
    assert (empty.returncode, empty.stdout) == (
        0, "No follows. Server admins add them with /follow add in Discord.\n")
