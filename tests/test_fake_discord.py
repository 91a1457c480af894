"""Proves tests/fake_discord.py works end to end with a real discord.py bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import (
    EPHEMERAL,
    LOADING,
    MANAGE_GUILD,
    FakeDiscord,
    FakeGuild,
    running_bot,
)

TOPICS = ["ai safety", "ai chips", "llm agents", "robotics"]


class PanelView(discord.ui.View):
    """A non-persistent view: discord.py routes clicks to it only via the message id."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    @discord.ui.button(label="Refresh", custom_id="panel:refresh")
    async def refresh(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(
            content=f"Panel {self.name} refreshed by {interaction.user.name}"
        )

    @discord.ui.select(
        custom_id="panel:topic",
        options=[discord.SelectOption(label=t, value=t) for t in ("ai", "ml", "robots")],
        max_values=2,
    )
    async def topic(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"Picked {','.join(select.values)}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput = discord.ui.TextInput(label="Text", custom_id="feedback:text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.text.value}", ephemeral=True)


news = app_commands.Group(name="news", description="News commands")


@news.command(name="latest", description="Latest news")
async def news_latest(
    interaction: discord.Interaction,
    count: app_commands.Range[int, 1, 10],
    summary: bool = False,
) -> None:
    await interaction.response.send_message(
        f"latest {count} {type(count).__name__} summary={summary}"
    )


@app_commands.command(name="search", description="Search news")
async def search(interaction: discord.Interaction, query: str) -> None:
    await interaction.response.send_message(f"Results for {query}")


@search.autocomplete("query")
async def search_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t, value=t) for t in TOPICS if current in t]


@app_commands.command(name="panel", description="Show a panel")
async def panel(interaction: discord.Interaction, name: str = "A") -> None:
    await interaction.response.send_message(f"Panel {name}", view=PanelView(name))


@app_commands.command(name="slow", description="Deferred reply")
async def slow(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.followup.send("step 1 done")
    await interaction.edit_original_response(content="all done")


@app_commands.command(name="feedback", description="Send feedback")
async def feedback(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(FeedbackModal())


@app_commands.command(name="config", description="Admin only")
@app_commands.default_permissions(manage_guild=True)
async def config(interaction: discord.Interaction) -> None:
    allowed = interaction.permissions.manage_guild
    await interaction.response.send_message("ok" if allowed else "denied", ephemeral=not allowed)


class TinyBot(commands.Bot):
    """Throwaway bot: global commands plus one guild-only command."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
        )
        self.guild_id = guild_id
        self.events: list[str] = []  # gateway-driven events, in the order discord.py fired them

    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.events.append(f"guild_available:{guild.id}")

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.events.append(f"guild_join:{guild.id}")

    async def on_ready(self) -> None:
        self.events.append("ready")

    async def setup_hook(self) -> None:
        for command in (news, search, panel, slow, feedback):
            self.tree.add_command(command)
        guild = discord.Object(self.guild_id)
        self.tree.add_command(config, guild=guild)
        await self.tree.sync()
        await self.tree.sync(guild=guild)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
        # Every test must only use routes the fake knows, unless it says otherwise.
        assert [(r.method, r.path) for r in fake.unhandled if r.path != "/nope"] == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TinyBot]:
    async with running_bot(TinyBot(fake.guild.id), fake) as bot:
        yield bot


async def test_login_ready_and_command_sync(fake: FakeDiscord, bot: TinyBot) -> None:
    assert bot.is_ready()
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    # GUILD_CREATE arrived while discord.py was still assembling READY, as on real Discord.
    assert bot.events == [f"guild_available:{fake.guild.id}", "ready"]
    assert (await bot.application_info()).owner.id == fake.owner.id

    guild = bot.get_guild(fake.guild.id)
    assert guild is not None and not guild.unavailable
    assert guild.me is not None
    assert {c.name for c in guild.channels} == {"general", "news-forum", "locked"}
    assert isinstance(guild.get_channel(fake.forum_channel.id), discord.ForumChannel)
    locked = guild.get_channel(fake.forbidden_channel.id)
    assert isinstance(locked, discord.TextChannel)
    assert not locked.permissions_for(guild.me).send_messages

    session = fake.gateway_sessions[-1]
    assert session.query["encoding"] == "json" and session.query["v"] == "10"
    assert session.identify is not None and session.identify["token"] == "fake-token"

    global_sync = await fake.wait_for_request("PUT", r"/applications/\d+/commands")
    assert sorted(c["name"] for c in global_sync.json) == [
        "feedback",
        "news",
        "panel",
        "search",
        "slow",
    ]
    assert all(c["id"] for c in global_sync.response)
    guild_sync = await fake.wait_for_request(route="put_guild_commands")
    assert [c["name"] for c in guild_sync.response] == ["config"]
    assert guild_sync.response[0]["guild_id"] == str(fake.guild.id)

    # GET returns what was last PUT, with stable ids.
    fetched = await bot.tree.fetch_commands()
    assert {c.name: c.id for c in fetched} == {
        c["name"]: int(c["id"]) for c in global_sync.response
    }


async def test_autocomplete_then_slash(fake: FakeDiscord, bot: TinyBot) -> None:
    ac = await fake.autocomplete("search", focused="query", options={"query": "ai"})
    assert ac.payload["data"]["options"] == [
        {"name": "query", "type": 3, "value": "ai", "focused": True}
    ]
    choices = await ac.autocomplete_choices()
    assert [c["value"] for c in choices] == ["ai safety", "ai chips"]

    handle = await fake.slash("search", {"query": "ai chips"})
    callback = await handle.response()
    assert callback.status == 200
    assert callback.json == {
        "type": 4,
        "data": callback.json["data"],
    }
    assert callback.json["data"]["content"] == "Results for ai chips"
    # The with_response body carries the created message, which the fake remembers.
    message = callback.response["resource"]["message"]
    assert message["id"] == str(handle.original_message_id)
    assert message["interaction_metadata"]["user"]["id"] == str(fake.member.id)
    assert fake.channel_messages(fake.text_channel)[-1]["content"] == "Results for ai chips"
    assert handle.latency is not None and 0 < handle.latency < 5


async def test_subcommand_options_are_nested_and_typed(fake: FakeDiscord, bot: TinyBot) -> None:
    handle = await fake.slash("news latest", {"count": 3, "summary": True})
    assert handle.payload["data"]["options"] == [
        {
            "name": "latest",
            "type": 1,
            "options": [
                {"name": "count", "type": 4, "value": 3},
                {"name": "summary", "type": 5, "value": True},
            ],
        }
    ]
    callback = await handle.response()
    assert callback.json["data"]["content"] == "latest 3 int summary=True"

    # Same command via the keyword form.
    again = await fake.slash("news", {"count": 1}, subcommand="latest")
    assert (await again.response()).json["data"]["content"] == "latest 1 int summary=False"

    with pytest.raises(ValueError, match="missing required"):
        await fake.slash("news latest")
    with pytest.raises(ValueError, match="outside"):
        await fake.slash("news latest", {"count": 11})
    with pytest.raises(LookupError, match="never synced"):
        await fake.slash("unknown")


async def test_view_button_and_select(fake: FakeDiscord, bot: TinyBot) -> None:
    # Two messages with identically named components: a click must reach its own message's
    # view, which only works if the fake returned the message id in the callback response.
    other = await fake.slash("panel", {"name": "B"})
    handle = await fake.slash("panel", {"name": "A"})
    callback = await handle.response()
    assert callback.json["data"]["content"] == "Panel A"
    await other.response()
    original = handle.original_message
    assert original is not None
    custom_ids = {c["custom_id"] for row in original["components"] for c in row["components"]}
    assert custom_ids == {"panel:refresh", "panel:topic"}

    click = await fake.click(handle, "panel:refresh", user=fake.admin)
    assert click.payload["message"]["id"] == original["id"]
    update = await click.response()
    assert update.json["type"] == 7
    assert update.json["data"]["content"] == "Panel A refreshed by admin"
    assert handle.original_message is not None
    assert handle.original_message["content"] == "Panel A refreshed by admin"
    assert handle.original_message["edited_timestamp"] is not None
    click_b = await fake.click(other, "panel:refresh")
    assert (await click_b.response()).json["data"]["content"] == "Panel B refreshed by member"

    # The view keeps working on the updated message (discord.py re-stored it under its id).
    chosen = await fake.select(handle, "panel:topic", ["ai", "robots"])
    reply = await chosen.response()
    assert reply.json["type"] == 4
    assert reply.json["data"]["content"] == "Picked ai,robots"
    assert reply.json["data"]["flags"] & EPHEMERAL

    with pytest.raises(ValueError, match="not all in options"):
        await fake.select(handle, "panel:topic", ["nope"])
    with pytest.raises(LookupError, match="no component"):
        await fake.click(handle, "panel:missing")


async def test_defer_then_followup_and_edit(fake: FakeDiscord, bot: TinyBot) -> None:
    handle = await fake.slash("slow")
    callback = await handle.response()
    assert callback.json["type"] == 5
    assert callback.response["interaction"]["response_message_loading"] is True

    followup = await handle.followup()
    assert followup.json["content"] == "step 1 done"
    assert followup.query["wait"] == "1"
    edit = await handle.edit()
    assert edit.path.endswith("/messages/@original")
    assert edit.json["content"] == "all done"

    original = handle.original_message
    assert original is not None
    assert original["content"] == "all done" and not original["flags"] & LOADING
    assert [m["content"] for m in handle.followup_messages] == ["step 1 done"]
    assert [r.route for r in handle.requests] == [
        "interaction_callback",
        "webhook_execute",
        "webhook_edit_message",
    ]


async def test_modal_round_trip(fake: FakeDiscord, bot: TinyBot) -> None:
    handle = await fake.slash("feedback")
    callback = await handle.response()
    assert callback.json["type"] == 9
    assert handle.modal is not None and handle.modal["title"] == "Feedback"

    submit = await fake.submit_modal(handle, {"feedback:text": "great bot"})
    reply = await submit.response()
    assert reply.json["data"]["content"] == "Thanks: great bot"


async def test_member_permissions(fake: FakeDiscord, bot: TinyBot) -> None:
    as_admin = await fake.slash("config", user=fake.admin)
    assert int(as_admin.payload["member"]["permissions"]) & MANAGE_GUILD
    assert as_admin.payload["data"]["guild_id"] == str(fake.guild.id)
    assert (await as_admin.response()).json["data"]["content"] == "ok"

    as_member = await fake.slash("config", user=fake.member)
    assert not int(as_member.payload["member"]["permissions"]) & MANAGE_GUILD
    assert (await as_member.response()).json["data"]["content"] == "denied"

    overridden = await fake.slash("config", user=fake.member, permissions=MANAGE_GUILD)
    assert (await overridden.response()).json["data"]["content"] == "ok"

    with pytest.raises(LookupError, match="never synced"):
        await fake.slash("config", scope="global")  # it is a guild-only command

    in_dm = await fake.slash("search", {"query": "dm"}, dm=True)
    assert "member" not in in_dm.payload and in_dm.payload["user"]["id"] == str(fake.member.id)
    assert (await in_dm.response()).json["data"]["content"] == "Results for dm"


async def test_dispatch_and_sync_gateway(fake: FakeDiscord, bot: TinyBot) -> None:
    role_id = 4242
    await fake.dispatch(
        "GUILD_ROLE_CREATE",
        {"guild_id": str(fake.guild.id), "role": {"id": str(role_id), "name": "Readers"}},
    )
    await fake.sync_gateway()  # returns once discord.py has parsed the event: no sleeps
    guild = bot.get_guild(fake.guild.id)
    assert guild is not None
    role = guild.get_role(role_id)
    assert role is not None and role.name == "Readers"


async def test_channel_rest_routes_and_errors(fake: FakeDiscord, bot: TinyBot) -> None:
    general = bot.get_channel(fake.text_channel.id)
    assert isinstance(general, discord.TextChannel)
    sent = await general.send("hello", file=discord.File(__file__, filename="proof.py"))
    assert sent.content == "hello" and sent.attachments[0].filename == "proof.py"
    upload = await fake.wait_for_request("POST", rf"/channels/{general.id}/messages")
    assert upload.json["content"] == "hello" and upload.files[0].data.startswith(b'"""')

    fetched = await bot.fetch_channel(general.id)
    assert fetched.id == general.id

    with pytest.raises(discord.NotFound) as not_found:
        await bot.fetch_channel(123)
    assert not_found.value.code == 10003

    locked = bot.get_channel(fake.forbidden_channel.id)
    assert isinstance(locked, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as forbidden:
        await locked.send("nope")
    assert forbidden.value.code == 50013

    forum = bot.get_channel(fake.forum_channel.id)
    assert isinstance(forum, discord.ForumChannel)
    post = await forum.create_thread(name="Daily digest", content="Top stories")
    assert post.thread.name == "Daily digest" and post.thread.parent_id == forum.id
    assert post.message.id == post.thread.id and post.message.content == "Top stories"
    assert (await bot.fetch_channel(post.thread.id)).id == post.thread.id

    rule = fake.fail_requests(
        "POST",
        rf"/channels/{general.id}/messages",
        status=403,
        code=50001,
        message="Missing Access",
    )
    with pytest.raises(discord.Forbidden) as injected:
        await general.send("first try")
    assert injected.value.code == 50001 and rule.remaining == 0
    assert (await general.send("second try")).content == "second try"  # times=1 by default

    since = fake.mark()
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/nope"))
    unexpected = await fake.wait_for_request(since=since)
    assert unexpected.route is None and unexpected.path == "/nope"


async def test_fake_enforces_interaction_rules(fake: FakeDiscord, bot: TinyBot) -> None:
    handle = await fake.slash("search", {"query": "x"})
    await handle.response()
    url = f"{fake.api_base}/interactions/{handle.id}/{handle.token}/callback"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == 40060
        async with session.post(url.replace(handle.token, "bad"), json={"type": 5}) as resp:
            assert resp.status == 404
            assert (await resp.json())["code"] == 10062


# --------------------------------------------------------------------------- sharding


class ShardedBot(commands.AutoShardedBot):
    """A bot connecting some shards; its /search answer says which shards it has."""

    def __init__(self, shard_count: int | None = None, shard_ids: list[int] | None = None
                 ) -> None:
        sharding: dict[str, Any] = {"shard_count": shard_count}
        if shard_ids is not None:
            sharding["shard_ids"] = shard_ids
        super().__init__(command_prefix=commands.when_mentioned,
                         intents=discord.Intents(guilds=True), help_command=None, **sharding)

    async def setup_hook(self) -> None:
        @app_commands.command(name="search", description="Search news")
        async def which(interaction: discord.Interaction, query: str) -> None:
            bot: ShardedBot = interaction.client  # type: ignore[assignment]
            await interaction.response.send_message(f"{query} from shards {bot.shard_ids}")

        self.tree.add_command(which)
        await self.tree.sync()


def shard_world(fake: FakeDiscord) -> tuple[FakeGuild, FakeGuild]:
    """Two more guilds, one on each shard of two, each with a text channel."""
    guilds = (fake.add_guild("Zero", shard=(0, 2)), fake.add_guild("One", shard=(1, 2)))
    for guild in guilds:
        fake.add_channel(guild, "general")
    return guilds


async def test_a_guild_on_a_shard_has_the_bits_of_that_shard(fake: FakeDiscord) -> None:
    for shard_id in (0, 1, 2, 0, 4):
        guild = fake.add_guild(f"on {shard_id}", shard=(shard_id, 5))
        assert (guild.id >> 22) % 5 == shard_id
    ids = [guild.id for guild in fake.guilds.values()]
    assert len(set(ids)) == len(ids) and fake.add_user("later").id > max(ids)


async def test_each_shard_gets_only_its_guilds_and_their_commands(fake: FakeDiscord) -> None:
    zero, one = shard_world(fake)
    default_shard = (fake.guild.id >> 22) % 2
    async with running_bot(ShardedBot(2, [0]), fake) as bot0, \
            running_bot(ShardedBot(2, [1]), fake) as bot1:
        sessions = await fake.wait_until_sharded(2)
        assert [session.shard for session in sessions] == [(0, 2), (1, 2)]
        on_0 = {g.id for g in (zero, one, fake.guild) if (g.id >> 22) % 2 == 0}
        assert {guild.id for guild in bot0.guilds} == on_0
        assert {guild.id for guild in bot1.guilds} == {zero.id, one.id, fake.guild.id} - on_0
        ready = [next(p for p in s.received if p.get("op") == 2) for s in sessions]
        assert [payload["d"]["shard"] for payload in ready] == [[0, 2], [1, 2]]

        for guild, shard_id in ((zero, 0), (one, 1), (fake.guild, default_shard)):
            handle = await fake.slash("search", {"query": guild.name}, guild=guild)
            reply = (await handle.response()).json["data"]["content"]
            assert reply == f"{guild.name} from shards [{shard_id}]"
        # A DM goes to shard 0, as Discord sends them.
        handle = await fake.slash("search", {"query": "dm"}, dm=True)
        assert (await handle.response()).json["data"]["content"] == "dm from shards [0]"
        # Both sessions are synced together.
        await fake.dispatch("GUILD_UPDATE", {"id": str(one.id), "name": "Renamed"},
                            guild_id=one.id)
        await fake.sync_gateway()
        renamed = bot1.get_guild(one.id)
        assert renamed is not None and renamed.name == "Renamed"
        assert bot0.get_guild(one.id) is None


async def test_without_a_count_the_bot_connects_the_recommended_shards() -> None:
    async with FakeDiscord(recommended_shards=2) as fake:
        zero, one = shard_world(fake)
        async with running_bot(ShardedBot(), fake) as bot:
            sessions = await fake.wait_until_sharded(2)
            assert [session.shard for session in sessions] == [(0, 2), (1, 2)]
            assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
            assert {guild.id for guild in bot.guilds} == {zero.id, one.id, fake.guild.id}
            assert {guild.id: guild.shard_id for guild in bot.guilds} == {
                zero.id: 0, one.id: 1, fake.guild.id: (fake.guild.id >> 22) % 2}
            for guild in (zero, one):
                handle = await fake.slash("search", {"query": "x"}, guild=guild)
                assert (await handle.response()).json["data"]["content"] == "x from shards None"
        assert [(r.method, r.path) for r in fake.unhandled] == []


async def test_a_guild_whose_shard_is_not_connected_cannot_get_events(fake: FakeDiscord) -> None:
    _zero, one = shard_world(fake)
    async with running_bot(ShardedBot(2, [0]), fake):
        with pytest.raises(RuntimeError, match=f"has the shard of guild {one.id}"):
            await fake.slash("search", {"query": "x"}, guild=one)
