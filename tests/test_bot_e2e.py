"""End to end: the real bot, the real seeds and SQLite, through the local fake Discord."""

from __future__ import annotations

import gc
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.client import COMMAND_HASH_KEY, NewsBot
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import EPHEMERAL, FakeDiscord, running_bot

AMD_TITLE = "Microsoft Azure to spin up AMD MI200 GPU clusters for 'large scale' AI training"
META_TITLE = "Meta/Facebook to use dedicated Microsoft Azure cluster for AI supercomputing"

HOSTILE_FILE = """---
title: "@everyone [free GPUs](https://evil.example/phish) **now** <@&123456789012345678>"
excerpt: "@here click [here](javascript:alert(1)) ||spoiler|| `code` {long}"
publishedDateTime: 2022-05-28T10:00:00Z
originalUrl: "javascript:alert(1)"
webUrl: "https://evil.example/story"
ampWebUrl: "data:text/html,hi"
provider:
  name: "@everyone Evil"
  domain: evil.example
topics: [{topics}]
images:
  - url: "javascript:alert(2)"
---
"""


@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path) -> AsyncIterator[NewsBot]:
    async with running_bot(make_bot(store, seeds_dir), fake) as bot:
        yield bot


def _embed(request_json: dict) -> dict:
    data = request_json.get("data", request_json)
    return data["embeds"][0]


async def test_commands_sync_globally_once(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        synced = await fake.wait_for_request("PUT", r"/applications/\d+/commands")
    groups = {command["name"]: command for command in synced.json}
    assert set(groups) == {"news", "admin", "digest", "follow"}
    assert {o["name"] for o in groups["news"]["options"]} == {
        "ask", "latest", "topic", "provider", "related", "search", "article", "topics",
        "trending"}
    assert {o["name"] for o in groups["admin"]["options"]} == {"reload", "stats", "sync", "feeds"}
    assert {o["name"] for o in groups["digest"]["options"]} == {"set", "show", "off", "preview"}
    assert int(groups["digest"]["default_member_permissions"]) == 0x20  # Manage Server
    assert {o["name"] for o in groups["follow"]["options"]} == {
        "add", "list", "remove", "pause", "resume"}
    assert int(groups["follow"]["default_member_permissions"]) == 0x20
    assert await store.get_meta(COMMAND_HASH_KEY)

    # A restart with the same command set does not sync globally again.
    mark = fake.mark()
    async with running_bot(make_bot(store, seeds_dir), fake):
        pass
    assert fake.requests_matching("PUT", r"/applications/\d+/commands", since=mark) == []


async def test_latest_pages_with_buttons_and_opens_a_card(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    handle = await fake.slash("news latest", {"count": 3})
    first = await handle.response()
    embed = _embed(first.json)
    assert embed["title"] == "Latest AI news"
    assert embed["footer"]["text"] == "Page 1 of 5 · 15 articles"
    assert embed["description"].startswith("**1.** [Microsoft\u2019s new execs")
    assert first.json["data"]["allowed_mentions"] == {"parse": []}

    click = await fake.click(handle, "news:next")
    turned = await click.response()
    assert turned.json["type"] == 7
    assert _embed(turned.json)["footer"]["text"] == "Page 2 of 5 · 15 articles"
    assert _embed(turned.json)["description"].startswith("**4.** ")

    message = handle.original_message
    assert message is not None
    options = next(c for row in message["components"] for c in row["components"]
                   if c["custom_id"] == "news:open")["options"]
    assert options[0]["label"].startswith("4. ")
    chosen = await fake.select(handle, "news:open", [options[0]["value"]])
    card = await chosen.response()
    assert card.json["data"]["flags"] & EPHEMERAL
    assert _embed(card.json)["footer"]["text"].startswith(f"id {options[0]['value']}")


async def test_only_the_invoker_can_page(fake: FakeDiscord, bot: NewsBot) -> None:
    handle = await fake.slash("news latest", {"count": 2}, user=fake.member)
    await handle.response()
    intruder = await fake.click(handle, "news:next", user=fake.admin)
    refusal = await intruder.response()
    assert refusal.json["data"]["flags"] & EPHEMERAL
    assert "Only the person who ran this command" in refusal.json["data"]["content"]


async def test_an_idle_list_disables_its_controls(
    fake: FakeDiscord, bot: NewsBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.views.VIEW_TIMEOUT", 0.2)
    handle = await fake.slash("news latest", {"count": 2})
    await handle.response()
    edit = await fake.wait_for_request("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$")
    components = [c for row in edit.json["components"] for c in row["components"]]
    assert components and all(c.get("disabled") for c in components)


async def test_topic_finds_the_amd_article_with_links(fake: FakeDiscord, bot: NewsBot) -> None:
    handle = await fake.slash("news topic", {"topic": "hardware"})
    embed = _embed((await handle.response()).json)
    assert embed["title"] == "Topic: AI Hardware"
    assert "[Microsoft Azure to spin up AMD MI200" in embed["description"]
    assert "(https://www.theregister.com/2022/05/26/amd_azure_microsoft/)" \
        in embed["description"]
    assert "[AMP](https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/)" \
        in embed["description"]


async def test_unknown_topic_and_bad_since_get_ephemeral_help(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    unknown = await fake.slash("news topic", {"topic": "quantum knitting"})
    reply = (await unknown.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert reply["embeds"][0]["title"] == "No topic matches 'quantum knitting'."
    assert "Did you mean: AI" in reply["embeds"][0]["description"]

    bad = await fake.slash("news topic", {"topic": "AI", "since": "last tuesday"})
    reply = (await bad.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert "24h, 3d, 2w" in reply["embeds"][0]["title"]


async def test_provider_related_search_and_topics(fake: FakeDiscord, bot: NewsBot) -> None:
    provider = _embed((await (await fake.slash(
        "news provider", {"provider": "the register"})).response()).json)
    assert provider["title"] == "From theregister (theregister.com)"
    assert provider["footer"]["text"].endswith("2 articles")

    related = _embed((await (await fake.slash(
        "news related", {"article": "Meta Azure"})).response()).json)
    assert related["title"] == f"Related to: {META_TITLE}"
    assert "AMD MI200" in related["description"]
    assert "Meta/Facebook to use" not in related["description"]

    search = _embed((await (await fake.slash(
        "news search", {"query": 'NEAR( "MI200 -x:'})).response()).json)
    assert "AMD MI200" in search["description"]

    topics = _embed((await (await fake.slash("news topics")).response()).json)
    assert topics["title"] == "Topics"
    assert "**2** · AI" in topics["description"]


async def test_autocomplete_then_article_card(fake: FakeDiscord, bot: NewsBot) -> None:
    topic_choices = await (await fake.autocomplete(
        "news topic", "topic", {"topic": "hard"})).autocomplete_choices()
    assert topic_choices[0] == {"name": "AI Hardware (1)", "value": "AI Hardware"}

    provider_choices = await (await fake.autocomplete(
        "news provider", "provider", {"provider": "regist"})).autocomplete_choices()
    assert provider_choices[0]["value"] == "theregister.com"

    article_choices = await (await fake.autocomplete(
        "news article", "article", {"article": "AMD MI200 azure"})).autocomplete_choices()
    assert 1 <= len(article_choices) <= 25
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in article_choices)
    best = article_choices[0]
    assert best["name"] == AMD_TITLE and best["value"].startswith("id:")

    handle = await fake.slash("news article", {"article": best["value"]})
    reply = (await handle.response()).json["data"]
    card = reply["embeds"][0]
    assert card["title"] == AMD_TITLE
    assert card["url"] == "https://www.theregister.com/2022/05/26/amd_azure_microsoft/"
    assert card["author"]["name"] == "theregister · theregister.com"
    assert card["timestamp"].startswith("2022-05-26T22:46:00")
    assert card["image"]["url"] == "https://regmedia.co.uk/2020/11/16/amdmi100.jpg"
    buttons = {b["label"]: b["url"] for row in reply["components"] for b in row["components"]}
    assert buttons == {
        "Original": "https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
        "AMP": "https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/",
        "AMP cache": "https://www-theregister-com.cdn.ampproject.org/c/s/www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/",
    }

    gone = await fake.slash("news article", {"article": "id:999999"})
    reply = (await gone.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert "No article has id 999999" in reply["embeds"][0]["title"]


async def test_admin_reload_is_operator_only_and_picks_up_new_files(
    fake: FakeDiscord, bot: NewsBot, seeds_dir: Path
) -> None:
    refused = await fake.slash("admin reload", user=fake.admin)
    reply = (await refused.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert "Only the bot's operator" in reply["embeds"][0]["title"]

    (seeds_dir / "new").mkdir()
    (seeds_dir / "new" / "hostile.md").write_text(
        HOSTILE_FILE.format(long="x" * 9000, topics=", ".join(f"T{n}" for n in range(30))),
        encoding="utf-8",
    )
    (seeds_dir / "broken.txt").write_text("no front matter here", encoding="utf-8")
    reload = await fake.slash("admin reload", user=fake.owner)
    assert (await reload.response()).json["type"] == 5  # deferred: a sync may take a while
    report = (await reload.followup()).json["embeds"][0]
    assert report["description"].startswith("1 added, 0 updated, 2 unchanged, 0 removed, 1 failed")
    assert "broken.txt" in report["fields"][0]["value"]
    assert "no front matter" in report["fields"][0]["value"]

    stats = await fake.slash("admin stats", user=fake.owner)
    fields = {f["name"]: f["value"] for f in _embed((await stats.response()).json)["fields"]}
    assert fields["Articles"] == "16 (3 full)"
    assert fields["Files"] == "4 (1 failing)"


async def test_hostile_article_goes_out_clean(
    fake: FakeDiscord, bot: NewsBot, seeds_dir: Path
) -> None:
    (seeds_dir / "hostile.md").write_text(
        HOSTILE_FILE.format(long="x " * 4000, topics=", ".join(f"T{n}" for n in range(30))),
        encoding="utf-8",
    )
    await bot.news.sync()
    handle = await fake.slash("news article", {"article": "https://evil.example/story"})
    reply = (await handle.response()).json["data"]
    assert reply["allowed_mentions"] == {"parse": []}
    card = reply["embeds"][0]
    assert "@everyone" not in card["title"] and "@\u200beveryone" in card["title"]
    assert "\\[free GPUs\\]\\(https://evil.example/phish\\)" in card["title"]
    assert card["url"] == "https://evil.example/story"
    assert len(card["description"]) <= 4096 and card["description"].endswith("…")
    assert "image" not in card  # its only image was a javascript: URL
    assert "@\u200bhere" in card["description"]
    buttons = [b for row in reply.get("components", []) for b in row["components"]]
    assert [b["url"] for b in buttons] == ["https://evil.example/story"]

    latest = await fake.slash("news latest", {"count": 10})
    description = _embed((await latest.response()).json)["description"]
    assert "[free GPUs](https://evil.example/phish)" not in description
    assert "javascript:" not in description


async def test_background_resync_survives_a_missing_folder(
    fake: FakeDiscord, bot: NewsBot, seeds_dir: Path
) -> None:
    cog = bot.get_cog("AdminCog")
    assert cog is not None
    shutil.rmtree(seeds_dir)
    await cog.resync.coro(cog)  # logs the error instead of raising
    handle = await fake.slash("news latest", {"count": 1})
    assert _embed((await handle.response()).json)["footer"]["text"].endswith("15 articles")


async def test_what_start_up_made_is_frozen_until_the_bot_closes(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        # Out of the cyclic garbage collector's walks while the bot runs...
        assert gc.get_freeze_count() > 0
    # ...and back in them once it is closed, so whatever of it is garbage can be collected.
    assert gc.get_freeze_count() == 0


async def test_a_stopping_bot_answers_new_commands_with_a_restarting_note(
    fake: FakeDiscord, bot: NewsBot
) -> None:
    bot.stopping = True  # what close() sets first, before the cogs unload
    handle = await fake.slash("news latest", {})
    reply = (await handle.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert reply["embeds"][0]["title"] == "The bot is restarting; please try again in a minute."
    bot.stopping = False
    again = await fake.slash("news latest", {})
    assert _embed((await again.response()).json)["title"].startswith("Latest")
