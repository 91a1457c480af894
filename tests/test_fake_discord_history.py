"""The fake Discord's nonce check, channel history and active threads, with a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from tests.fake_discord import FakeDiscord, running_bot


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    async with running_bot(bot, fake) as running:
        yield running


async def test_a_repeated_nonce_gets_the_first_message_back(fake: FakeDiscord,
                                                             client: commands.Bot) -> None:
    channel = await client.fetch_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("one", nonce="abc")
    again = await channel.send("one", nonce="abc")
    other = await channel.send("two", nonce="xyz")
    assert again.id == first.id != other.id
    assert [m["content"] for m in fake.channel_messages(fake.text_channel)] == ["one", "two"]
    fake.nonce_window = 0.0  # Discord forgets a nonce after a few minutes
    assert (await channel.send("one", nonce="abc")).id != first.id


async def test_history_is_newest_first_and_threads_are_listed(fake: FakeDiscord,
                                                              client: commands.Bot) -> None:
    channel = await client.fetch_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"m{i}") for i in range(3)]
    assert [m.id async for m in channel.history(limit=2)] == [sent[2].id, sent[1].id]
    assert [m.id async for m in channel.history(after=sent[0])] == [sent[1].id, sent[2].id]
    forum = await client.fetch_channel(fake.forum_channel.id)
    assert isinstance(forum, discord.ForumChannel)
    created = await forum.create_thread(name="A post", content="hello")
    active = await client.http.get_active_threads(fake.guild.id)
    assert [int(t["id"]) for t in active["threads"]] == [created.thread.id]
