"""Typos and what's hot, as a user sees them: through the fake Discord and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.client import NewsBot
from bot.store import Store
from tests.conftest import AMD_TITLE, make_bot
from tests.fake_discord import FakeDiscord, running_bot
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture, used by name


@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path) -> AsyncIterator[NewsBot]:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        yield bot


async def test_a_corrected_search_says_so_in_discord(fake: FakeDiscord, bot: NewsBot) -> None:
    reply = (await (await fake.slash("news search", {"query": "azrue"})).response()).json
    embed = reply["data"]["embeds"][0]
    assert embed["title"] == "Showing results for **azure** (you typed azrue)"
    assert AMD_TITLE in embed["description"]


async def test_trending_in_discord_shows_the_last_active_day(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    reply = (await (await fake.slash("news trending")).response()).json
    embed = reply["data"]["embeds"][0]
    # The seeds are from May 2022: nothing is that recent now.
    assert embed["title"] == "What's hot on 2022-05-29"
    assert "the last active day was 2022-05-29" in embed["description"]
    stories = next(f for f in embed["fields"] if f["name"] == "Most covered stories")
    assert "2 articles from 2 sources" in stories["value"]
    assert "](https://www.crn.com.au/" in stories["value"]


def test_a_corrected_search_says_so_on_the_cli(cli: Cli) -> None:  # noqa: F811
    result = cli("ask", "search", "azrue")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Showing results for **azure** (you typed azrue) - ")
    assert AMD_TITLE in result.stdout


def test_trending_on_the_cli(cli: Cli) -> None:  # noqa: F811
    result = cli("ask", "trending")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "What's hot on 2022-05-29"
    assert "the last active day was 2022-05-29." in lines[1]
    assert "Most covered stories:" in lines
    taken = cli("ask", "trending", "now")
    assert taken.returncode == 2
    assert "`ask trending` takes no words" in taken.stderr
