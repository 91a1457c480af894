"""End to end: a sync that cannot write (the disk is full) while the bot keeps answering."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_store_open import fill_the_disk, grow_the_seeds

from bot.client import NewsBot
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import EPHEMERAL, FakeDiscord, running_bot


@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path) -> AsyncIterator[NewsBot]:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        yield bot


async def test_a_full_disk_fails_reload_with_the_reason_and_the_old_corpus_answers(
    fake: FakeDiscord, bot: NewsBot, store: Store, seeds_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await fill_the_disk(store)
    grow_the_seeds(seeds_dir)
    full = (f"database {store.path} could not be written: the disk is full (database or disk "
            "is full); the corpus from before is kept: free some space and sync again")

    reload = await fake.slash("admin reload", user=fake.owner)
    assert (await reload.response()).json["type"] == 5  # deferred
    reply = (await reload.followup()).json
    assert reply["flags"] & EPHEMERAL
    embed = reply["embeds"][0]
    assert embed["title"] == "Reload failed; the corpus from before is still served."
    assert embed["description"].replace("\\", "").splitlines() == [  # markdown unescaped
        f"• Database: {store.path}",
        "• Problem: it could not be written: the disk is full (database or disk is full); "
        "the corpus from before is kept",
        "• What to do: free some space and sync again",
    ]

    latest = await fake.slash("news latest", {"count": 3})
    answer = (await latest.response()).json["data"]["embeds"][0]
    assert answer["footer"]["text"] == "Page 1 of 5 · 15 articles"

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot"):
        # The extension's module is loaded apart from this one's import: found by name.
        cog: Any = bot.get_cog("AdminCog")
        await cog.resync()  # one round of the background sync
    failures = [record for record in caplog.records if "background sync failed" in record.message]
    assert [record.getMessage() for record in failures] == [
        f"background sync failed, retrying in 0 min: {full}"]
    assert failures[0].exc_info is None  # one line, no traceback

    again = await fake.slash("news latest", {"count": 3})
    assert (await again.response()).json["data"]["embeds"][0]["footer"]["text"] == (
        "Page 1 of 5 · 15 articles")
