"""The bot keeps its corpus when the seeds folder is missing or empty: at start-up, in the
background sync and on /admin reload. The real bot, through the local fake Discord."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import cast

import pytest

from bot.cogs.admin import AdminCog
from bot.loader import sync
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import EPHEMERAL, FakeDiscord, running_bot


async def _latest_footer(fake: FakeDiscord) -> str:
    handle = await fake.slash("news latest", {"count": 1})
    return str((await handle.response()).json["data"]["embeds"][0]["footer"]["text"])


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno >= logging.WARNING and record.name.startswith("bot.")]


async def test_the_bot_starts_on_its_stored_corpus_when_the_seeds_folder_is_missing(
    fake: FakeDiscord, store: Store, seeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await sync(store, seeds_dir)
    shutil.rmtree(seeds_dir)
    with caplog.at_level(logging.WARNING):
        async with running_bot(make_bot(store, seeds_dir), fake):
            assert (await _latest_footer(fake)).endswith("15 articles")
    assert _warnings(caplog) == [
        f"first sync: seeds folder {seeds_dir} does not exist: nothing synced, the stored "
        "articles stay; point NEWS_SEEDS_DIR (or --seeds) at the folder of article files"
    ]


async def test_the_bot_says_so_when_it_starts_on_an_empty_folder_and_store(
    fake: FakeDiscord, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with caplog.at_level(logging.WARNING):
        async with running_bot(make_bot(store, empty), fake):
            pass
    assert _warnings(caplog) == [
        f"no articles: seeds folder {empty} holds no article files; put some there or point "
        "NEWS_SEEDS_DIR at them"
    ]


async def test_reload_and_the_background_sync_refuse_to_empty_the_corpus(
    fake: FakeDiscord, store: Store, seeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        for path in seeds_dir.iterdir():  # as an unmounted volume looks
            path.unlink()
        reload = await fake.slash("admin reload", user=fake.owner)
        await reload.response()
        reply = (await reload.followup()).json
        assert reply["flags"] & EPHEMERAL
        embed = reply["embeds"][0]
        assert embed["title"] == "Not reloaded: the stored articles stay"
        shown = embed["description"].replace("\\", "")  # as Discord renders the escapes
        assert "holds no article files" in shown
        assert shown.endswith("• to empty the store on purpose, run: python -m bot load "
                              "--allow-empty")
        assert (await _latest_footer(fake)).endswith("15 articles")

        # The extension's own copy of the class, which discord.py loads as a module of its own.
        cog = cast(AdminCog, bot.get_cog("AdminCog"))
        assert cog is not None
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            await cog.resync.coro(cog)
        assert [message.split(": ", 1)[0] for message in _warnings(caplog)] == [
            "background sync"]
        assert "nothing removed (is a volume not mounted?)" in _warnings(caplog)[0]
        assert (await _latest_footer(fake)).endswith("15 articles")
