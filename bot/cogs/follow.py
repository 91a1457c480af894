"""`/follow …` for server admins, and the loop that posts what follows matched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.client import NewsBot
from bot.cogs.news import provider_choices, topic_choices
from bot.errors import UserFacingError, reply_privately
from bot.exceptions import PostFailed
from bot.follows import outbox
from bot.follows.post import Poster, Target, retry_delay
from bot.follows.render import added_embed, describe, follows_embed
from bot.follows.rules import FollowRule, FollowRuleError
from bot.follows.state import PAUSED_BY_MEMBER, Follow, Outgoing
from bot.queries import NotFound
from bot.views import ListPage, PagedView

log = logging.getLogger(__name__)

# Another process's sync (when sharded) may fill this one's outbox: look at least this often.
POLL_SECONDS = 60.0
PAGE_SIZE = 10
MAX_BACKFILL = 10


async def manage_server_only(interaction: discord.Interaction) -> bool:
    """Default permissions are only a hint that admins can change; check in code too."""
    if interaction.guild is None:
        raise app_commands.CheckFailure("Follows are set up inside a server, not in DMs.")
    if interaction.permissions.manage_guild:
        return True
    raise app_commands.CheckFailure("You need the Manage Server permission to change follows.")


def _bot(interaction: discord.Interaction) -> NewsBot:
    return interaction.client  # type: ignore[return-value]  # the only client we run


async def follow_choices(interaction: discord.Interaction, current: str
                         ) -> list[app_commands.Choice[int]]:
    bot = _bot(interaction)
    topics, providers = _names(bot)
    choices = []
    for follow in await bot.news.store.follows.for_guild(interaction.guild_id or 0):
        name = f"#{follow.id} · {describe(follow, topics, providers)}"
        if current.strip().lstrip("#").casefold() in name.casefold():
            choices.append(app_commands.Choice(name=name[:100], value=follow.id))
    return choices[:25]


def _names(bot: NewsBot) -> tuple[dict[str, str], dict[str, str]]:
    """Topic names by key and provider names by domain, as the rules store them."""
    return ({topic.name.casefold(): topic.name for topic in bot.news.topics()},
            {provider.domain: provider.name for provider in bot.news.providers()})


class FollowCog(commands.Cog):
    """Follows: per-server settings, and one loop posting every owned server's matches."""

    follow = app_commands.Group(
        name="follow",
        description="Post new AI news on a topic, provider or keywords in a channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self._wake = asyncio.Event()
        # One round at a time: a round reads the outbox before it records what it sent.
        self._round = asyncio.Lock()

    async def cog_load(self) -> None:
        self.bot.news.on_follow_matches.append(self.wake)
        self.poster.start()

    async def cog_unload(self) -> None:
        self.bot.news.on_follow_matches.remove(self.wake)
        self.poster.cancel()

    def wake(self) -> None:
        """New matches (or a test): post now instead of at the next look."""
        self._wake.set()

    # ---- the poster --------------------------------------------------------------------

    @tasks.loop(seconds=0)  # each round waits for a wake or its own next due time
    async def poster(self) -> None:
        self._wake.clear()  # before the round: a wake() during it must not be lost
        try:
            retry_at = await self.run_round()
        except Exception:  # the loop must survive anything; try again at the next look
            log.exception("follow posting round failed")
            retry_at = None
        delay = POLL_SECONDS
        if retry_at is not None:
            delay = min(max((retry_at - self.bot.clock()).total_seconds(), 0.0), POLL_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    @poster.before_loop
    async def _before_poster(self) -> None:
        await self.bot.wait_until_ready()

    async def run_round(self) -> datetime | None:
        """Post every owned server's outbox; when a failing follow is due to be retried."""
        async with self._round:
            store = self.bot.news.store
            follows = {follow.id: follow for follow in await store.follows.all()}
            rounds: dict[tuple[int, int], list[Outgoing]] = defaultdict(list)
            for row in await store.follows.open_posts():
                rounds[(row.follow_id, row.batch)].append(row)
            retry_at: datetime | None = None
            for (follow_id, batch), rows in rounds.items():
                follow = follows.get(follow_id)
                if follow is None or follow.paused or not self.bot.owns_guild(follow.guild_id):
                    continue
                now = self.bot.clock()
                if follow.retry_at and follow.retry_at > now:
                    retry_at = min(retry_at or follow.retry_at, follow.retry_at)
                    continue
                follows[follow_id] = await self._post_round(follow, batch, rows, now)
            return retry_at

    async def _post_round(self, follow: Follow, batch: int, rows: list[Outgoing],
                          now: datetime) -> Follow:
        """Post one follow's round; the follow as it is afterwards (failing, perhaps)."""
        store = self.bot.news.store
        try:
            channel = await self._channel(follow)
            poster = Poster(store, self.bot.user or discord.Object(0), self.bot.metrics)
            more, hint = await store.follows.left_out(follow.id, batch), self._more_hint(follow)
            unfinished = [row for row in rows if row.state == "sending"]
            pending = [row for row in rows if row.state == "pending"]
            if unfinished:  # sent newest first: with none pending, they end the round
                await poster.reconcile(channel, follow, unfinished, 0 if pending else more,
                                       hint, now)
            if pending:
                await poster.post(channel, follow, pending, more, hint, now)
        except PostFailed as exc:
            reason = str(exc)
            log.warning("follow %s (server %s): %s", follow.id, follow.guild_id, reason)
            self.bot.metrics.follow_posted("failed")
            return await store.follows.record_failure(
                follow.id, reason, now, now + retry_delay(follow, now)) or follow
        return follow

    async def _channel(self, follow: Follow) -> Target:
        try:
            channel = self.bot.get_channel(follow.channel_id) or await self.bot.fetch_channel(
                follow.channel_id)
        except discord.NotFound:
            raise PostFailed("the channel was deleted") from None
        except discord.HTTPException as exc:
            raise PostFailed(f"cannot see the channel ({exc.status} {exc.text or ''})".strip()
                             ) from None
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel | discord.Thread):
            raise PostFailed("the channel is not a text, announcement or forum channel or a "
                             "thread")
        return channel

    def _more_hint(self, follow: Follow) -> str:
        topics, providers = _names(self.bot)
        rule = follow.rule
        if rule.topic_key and rule.topic_key in topics:
            return f"`/news topic topic:{topics[rule.topic_key]}`"
        if rule.provider_domain:
            name = providers.get(rule.provider_domain, rule.provider_domain)
            return f"`/news provider provider:{name}`"
        return "`/news latest`"

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        removed = await self.bot.news.store.follows.remove_guild(guild.id)
        if removed:
            log.info("removed %d follow(s) of server %s, which removed the bot", removed, guild.id)

    # ---- commands ----------------------------------------------------------------------

    def _rule(self, topic: str | None, provider: str | None, keywords: str | None,
              exclude: str | None) -> FollowRule:
        topic_key = provider_domain = None
        news = self.bot.news
        if topic and topic.strip():
            found = news.resolve_topic(topic)
            if isinstance(found, NotFound):
                raise UserFacingError(found.message,
                                      [f"Did you mean: {s}" for s in found.suggestions])
            topic_key = found.name.casefold()
        if provider and provider.strip():
            by_domain = {p.domain: p for p in news.providers()}
            match = by_domain.get(provider.strip().casefold()) or news.resolve_provider(provider)
            if isinstance(match, NotFound):
                raise UserFacingError(match.message,
                                      [f"Did you mean: {s}" for s in match.suggestions])
            provider_domain = match.domain
        try:
            return FollowRule.checked(topic_key=topic_key, provider_domain=provider_domain,
                                      keywords=keywords or "", exclude=exclude or "")
        except FollowRuleError as exc:
            raise UserFacingError(f"Not added: {exc}") from None

    @follow.command(name="add", description="Post new matching articles in a channel")
    @app_commands.describe(
        channel="Text or announcement channel, thread or forum to post in",
        topic="Only articles on this topic",
        provider="Only articles from this provider",
        keywords='Any of these words in the title or excerpt: llama, mistral, "open weights"',
        exclude="Drop articles with any of these words",
        mention="A role to mention with each post",
        backfill="Also post this many of the newest matches of the last week now (0-10)",
    )
    @app_commands.autocomplete(topic=topic_choices, provider=provider_choices)
    @app_commands.check(manage_server_only)
    async def add(
        self, interaction: discord.Interaction, channel: Target, topic: str | None = None,
        provider: str | None = None, keywords: str | None = None, exclude: str | None = None,
        mention: discord.Role | None = None,
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] = 0,
    ) -> None:
        rule = self._rule(topic, provider, keywords, exclude)
        if mention is not None and mention.is_default():
            raise UserFacingError("A follow cannot mention @everyone; pick a role.")
        store = self.bot.news.store
        guild_id = interaction.guild_id or 0
        limit = self.bot.settings.max_follows
        if len(await store.follows.for_guild(guild_id)) >= limit:
            raise UserFacingError(f"This server already has {limit} follows, the most it may "
                                  "hold: remove one with `/follow remove` first.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = self.bot.clock()
        follow = await store.follows.add(Follow(
            guild_id=guild_id, channel_id=channel.id, rule=rule, created_at=now,
            role_id=mention.id if mention else None))
        week = await outbox.recent_matches(store, rule, now)
        backfilled = await outbox.backfill(store, follow, week[:backfill]) if backfill else 0
        if backfilled:
            self.wake()
        topics, providers = _names(self.bot)
        embed = added_embed(follow, describe(follow, topics, providers), len(week), backfilled)
        me = interaction.guild.me if interaction.guild else None
        if me is not None and not isinstance(channel, discord.ForumChannel):
            allowed = channel.permissions_for(me)
            if not (allowed.send_messages and allowed.embed_links):
                embed.add_field(name="Warning", value="I can't send messages with embeds there "
                                "yet; give me Send Messages and Embed Links in that channel.")
        await reply_privately(interaction, embed=embed)

    @follow.command(name="list", description="This server's follows and their state")
    @app_commands.check(manage_server_only)
    async def list_follows(self, interaction: discord.Interaction) -> None:
        listed = await self.bot.news.store.follows.for_guild(interaction.guild_id or 0)
        topics, providers = _names(self.bot)

        async def source(offset: int) -> ListPage:
            page = listed[offset : offset + PAGE_SIZE]
            return ListPage(follows_embed(page, offset, len(listed), PAGE_SIZE, topics,
                                          providers), [], len(listed))

        first = await source(0)
        view = PagedView(interaction.user.id, source, self.bot.news.store.article,
                         PAGE_SIZE, first)
        await interaction.response.send_message(embed=first.embed, view=view, ephemeral=True)
        view.interaction = interaction

    @follow.command(name="remove", description="Stop a follow and forget it")
    @app_commands.describe(follow="The follow (its id, see /follow list)")
    @app_commands.autocomplete(follow=follow_choices)
    @app_commands.check(manage_server_only)
    async def remove(self, interaction: discord.Interaction, follow: int) -> None:
        if not await self.bot.news.store.follows.remove(interaction.guild_id or 0, follow):
            raise UserFacingError(f"This server has no follow #{follow}; see `/follow list`.")
        await reply_privately(interaction, content=f"Removed follow #{follow}.")

    @follow.command(name="pause", description="Stop posting for a follow until resumed")
    @app_commands.describe(follow="The follow (its id, see /follow list)")
    @app_commands.autocomplete(follow=follow_choices)
    @app_commands.check(manage_server_only)
    async def pause(self, interaction: discord.Interaction, follow: int) -> None:
        if not await self.bot.news.store.follows.set_paused(interaction.guild_id or 0, follow,
                                                            PAUSED_BY_MEMBER):
            raise UserFacingError(f"This server has no follow #{follow}; see `/follow list`.")
        await reply_privately(interaction, content=(
            f"Paused follow #{follow}: nothing is posted for it until `/follow resume`, and "
            "what arrives meanwhile is not posted later."))

    @follow.command(name="resume", description="Start posting for a paused follow again")
    @app_commands.describe(follow="The follow (its id, see /follow list)")
    @app_commands.autocomplete(follow=follow_choices)
    @app_commands.check(manage_server_only)
    async def resume(self, interaction: discord.Interaction, follow: int) -> None:
        if not await self.bot.news.store.follows.set_paused(interaction.guild_id or 0, follow,
                                                            None):
            raise UserFacingError(f"This server has no follow #{follow}; see `/follow list`.")
        self.wake()
        await reply_privately(interaction, content=(
            f"Resumed follow #{follow}: new matching articles are posted again."))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(FollowCog(bot))  # type: ignore[arg-type]
