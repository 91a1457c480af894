"""End to end: questions through /news ask, mentions and DMs (the real bot, the real seeds,
SQLite, the local fake Discord) and `python -m bot ask question`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from bot.client import NewsBot
from bot.store import Store
from tests.conftest import AMD_TITLE, make_bot
from tests.fake_discord import EPHEMERAL, FakeDiscord, FakeUser, running_bot
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture

NOW = datetime(2022, 5, 30, 12, 0, tzinfo=UTC)  # the seeds are news of late May 2022
NO_PINGS = {"parse": [], "replied_user": False}


@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path) -> AsyncIterator[NewsBot]:
    async with running_bot(make_bot(store, seeds_dir, clock=lambda: NOW), fake) as bot:
        yield bot


def _mention(fake: FakeDiscord, text: str) -> str:
    return f"<@{fake.bot_user.id}> {text}"


async def test_news_ask_says_how_it_understood_and_lists_the_answer(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    handle = await fake.slash("news ask",
                              {"question": "what did Microsoft do in AI hardware last week?"})
    data = (await handle.response()).json["data"]
    assert data["content"].startswith("Understood: AI Hardware · since 2022\\-05\\-23")
    assert "nothing from Microsoft: showing articles that mention it" in data["content"]
    assert "[Microsoft Azure to spin up AMD MI200" in data["embeds"][0]["description"]
    assert data["allowed_mentions"] == {"parse": []}
    assert not data.get("flags", 0) & EPHEMERAL


async def test_news_ask_with_nothing_found_answers_privately_with_the_understood_line(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    handle = await fake.slash("news ask", {"question": "quantum knitting yesterday"})
    data = (await handle.response()).json["data"]
    assert data["flags"] & EPHEMERAL
    embed = data["embeds"][0]
    assert embed["title"] == "Understood: on 2022\\-05\\-29 · 'quantum knitting'"
    assert "No article matches all of that" in embed["description"]


async def test_news_ask_autocomplete_completes_the_last_word_to_a_topic(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    handle = await fake.autocomplete("news ask", "question", {"question": "news about hardw"})
    names = [choice["name"] for choice in await handle.autocomplete_choices()]
    assert names[0] == "news about hardw"
    assert "news about AI Hardware" in names


async def test_a_mention_is_answered_once_as_a_reply_that_pings_nobody(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    asked = await fake.send_message(_mention(fake, "how many articles in May 2022?"),
                                    mention_bot=True)
    reply = await fake.wait_for_reply(asked)
    assert reply["channel_id"] == asked["channel_id"]
    assert reply["allowed_mentions"] == NO_PINGS
    assert reply["content"] == "Understood: how many · in May 2022"
    assert reply["embeds"][0]["title"] == "How many: 15 articles"
    assert reply["embeds"][0]["footer"]["text"] == "Page 1 of 3 · 15 articles"

    # The same message delivered again (a gateway resume) is not answered again.
    # The same question asked anew, after it, is answered: by then a second answer to the
    # first would have been sent (the same work, queued before).
    await fake.send_message(asked["content"], mention_bot=True, message_id=int(asked["id"]))
    again = await fake.send_message(asked["content"], mention_bot=True)
    await fake.wait_for_reply(again)
    assert len(fake.replies_to(asked)) == 1

    # Its pages turn for the asker, as a slash command's do.
    click = await fake.click(reply, "news:next", user=fake.member)
    turned = (await click.response()).json
    assert turned["data"]["embeds"][0]["footer"]["text"] == "Page 2 of 3 · 15 articles"


async def test_a_mention_without_a_question_gets_the_help_line(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    asked = await fake.send_message(_mention(fake, ""), mention_bot=True)
    reply = await fake.wait_for_reply(asked)
    assert reply["content"].startswith("Ask me about AI news in plain words")
    assert reply["allowed_mentions"] == NO_PINGS


async def test_messages_not_for_the_bot_and_from_bots_are_ignored(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    other_bot = fake.add_user("otherbot", bot=True)
    async with running_bot(make_bot(store, seeds_dir, clock=lambda: NOW), fake):
        plain = await fake.send_message("what's new in AI hardware?")
        from_bot = await fake.send_message(_mention(fake, "what's new?"), user=other_bot,
                                           mention_bot=True)
        own = await fake.send_message(_mention(fake, "what's new?"), user=fake.bot_user,
                                      mention_bot=True)
        await fake.sync_gateway()
        assert [fake.replies_to(m) for m in (plain, from_bot, own)] == [[], [], []]
    assert fake.requests_matching("POST", r"/channels/\d+/messages") == []


async def test_a_dm_is_answered_in_the_dm(fake: FakeDiscord, bot: NewsBot) -> None:
    asked = await fake.send_message("news from nasdaq", dm=True)
    reply = await fake.wait_for_reply(asked)
    assert int(reply["channel_id"]) == fake.dm_channel(fake.member)
    assert reply["content"] == "Understood: Nasdaq"
    assert "Azure Selected by Meta" in reply["embeds"][0]["description"]
    assert reply["allowed_mentions"] == NO_PINGS


async def test_a_flood_of_mentions_gets_one_friendly_note_then_silence(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    sent = [await fake.send_message(_mention(fake, f"azure {n}"), mention_bot=True)
            for n in range(7)]
    for message in sent[:6]:
        await fake.wait_for_reply(message)
    await fake.sync_gateway()
    replies = [fake.replies_to(message) for message in sent]
    assert all(len(each) == 1 for each in replies[:6])
    assert all(each[0]["content"].startswith("Understood:") for each in replies[:5])
    assert replies[5][0]["content"].startswith("You are asking faster than I can keep up")
    assert replies[6] == []
    # Another user is not held up by the first one's flood.
    other: FakeUser = fake.admin
    theirs = await fake.send_message(_mention(fake, "azure"), user=other, mention_bot=True)
    assert (await fake.wait_for_reply(theirs))["content"].startswith("Understood:")


async def test_the_bot_asks_for_message_intents_but_not_message_content(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    session = fake.gateway_sessions[-1]
    assert session.identify is not None
    intents = discord.Intents._from_value(session.identify["intents"])
    assert intents.guild_messages and intents.dm_messages
    assert not intents.message_content


def test_cli_ask_question_prints_the_understood_line_first(cli: Cli) -> None:  # noqa: F811
    result = cli("ask", "question", "how", "many", "articles", "in", "May", "2022", "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Understood: how many · in May 2022"
    assert lines[1] == "How many: 15 articles - 15 articles (page 1 of 8)"
    assert "Next page: page 2: python -m bot ask question how many articles in May 2022" \
        in result.stdout


def test_cli_ask_question_finds_the_amd_article_by_alias_and_typo(cli: Cli) -> None:  # noqa: F811
    result = cli("ask", "question", "gpu", "news", "from", "teh", "registr", "in", "May", "2022")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("Understood: AI Hardware · theregister · in May 2022")
    assert AMD_TITLE in result.stdout


def test_cli_ask_question_with_nothing_found_exits_1(cli: Cli) -> None:  # noqa: F811
    result = cli("ask", "question", "quantum", "knitting")
    assert result.returncode == 1
    assert result.stdout.startswith("Understood: 'quantum knitting'")
    assert "No article matches all of that" in result.stderr
