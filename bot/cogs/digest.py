"""`/digest …` for server admins, and the one scheduler loop that posts the digests of the
servers whose shards this process connects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import render
from bot.client import NewsBot
from bot.digest import (
    DEFAULT_SIZE,
    MAX_SIZE,
    Action,
    Digest,
    DigestContent,
    check_timezone,
    decide,
    next_occurrence,
    parse_time,
    select_articles,
    timezone_matches,
    window_start,
)
from bot.errors import UserFacingError, reply_privately
from bot.queries import NotFound

log = logging.getLogger(__name__)

CANDIDATES = 500  # articles considered per digest before keyword filtering
MAX_SLEEP = 3600.0  # re-check at least hourly, whatever the clock did meanwhile
STOP_WAIT = 8.0  # seconds a stopping bot waits for the post in flight (all must end in 10)
QUIET_DAY_TEXT = "Quiet day: no new AI news since the last digest."
DigestChannel = discord.TextChannel | discord.ForumChannel | discord.Thread


async def manage_server_only(interaction: discord.Interaction) -> bool:
    """Default permissions are only a hint that admins can change; check in code too."""
    if interaction.guild is None:
        raise app_commands.CheckFailure("Digests are set up inside a server, not in DMs.")
    if interaction.permissions.manage_guild:
        return True
    raise app_commands.CheckFailure("You need the Manage Server permission to change digests.")


async def timezone_choices(interaction: discord.Interaction, current: str
                           ) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=name, value=name) for name in timezone_matches(current)]


async def _defer_if_database_busy(interaction: discord.Interaction, bot: NewsBot) -> None:
    """Defer the reply when a sync holds the database: a big reload can take a minute, and
    Discord drops an interaction that gets no answer within 3 seconds."""
    if bot.news.store.writing:
        await interaction.response.defer(ephemeral=True, thinking=True)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _outcome(digest: Digest, content: DigestContent, failure: str | None) -> str:
    """The metrics' outcome of one digest's day (bot.metrics.DIGEST_OUTCOMES)."""
    if failure:
        return "failed"
    if content.articles:
        return "posted"
    return "quiet_day" if digest.quiet_day else "empty"


class DigestCog(commands.Cog):
    """Daily digests: per-channel settings and a single loop that wakes when one is due."""

    digest = app_commands.Group(
        name="digest",
        description="Daily AI news digests for this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self._wake = asyncio.Event()
        # One round at a time: a round reads "not posted yet" before it records the post.
        self._round = asyncio.Lock()
        self._stopping = False

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.bot.settings.digest_grace_hours)

    async def cog_load(self) -> None:
        self.scheduler.start()

    async def cog_unload(self) -> None:
        # A graceful stop: no new post starts; the one in flight is finished and recorded,
        # so that it is neither lost nor posted again by the next start.
        self._stopping = True
        try:
            async with asyncio.timeout(STOP_WAIT), self._round:
                pass
        except TimeoutError:
            log.warning("a digest post did not finish within %.0f s of the stop; cut short",
                        STOP_WAIT)
        self.scheduler.cancel()

    def wake(self) -> None:
        """Settings changed (or a test moved the clock): re-plan now instead of at the old time."""
        self._wake.set()

    # ---- the scheduler -----------------------------------------------------------------

    @tasks.loop(seconds=0)  # each round sleeps until the next due time itself
    async def scheduler(self) -> None:
        self._wake.clear()  # before the round: a wake() during it must not be lost
        try:
            wake_at = await self.run_due()
        except Exception:  # the loop must survive anything; try again in a minute
            log.exception("digest scheduler round failed")
            wake_at = self.bot.clock() + timedelta(minutes=1)
        delay = MAX_SLEEP
        if wake_at is not None:
            delay = min(max((wake_at - self.bot.clock()).total_seconds(), 0.0), MAX_SLEEP)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    @scheduler.before_loop
    async def _before_scheduler(self) -> None:
        await self.bot.wait_until_ready()

    async def run_due(self) -> datetime | None:
        """Post or skip every digest that is due now; returns when the next one is due."""
        async with self._round:
            return await self._run_due(self.bot.clock())

    async def _run_due(self, now: datetime) -> datetime | None:
        next_due: datetime | None = None
        for digest in await self.bot.news.store.digests.all():
            if self._stopping:
                break
            if not self.bot.owns_guild(digest.guild_id):  # another process's shard
                continue
            try:
                await self._handle(digest, now)
            except Exception:  # one server's trouble must not hold up the others
                log.exception("digest for channel %s failed", digest.channel_id)
                self.bot.metrics.digest_done("failed")
            upcoming = next_occurrence(digest, now)
            next_due = upcoming if next_due is None else min(next_due, upcoming)
        return next_due

    async def _handle(self, digest: Digest, now: datetime) -> None:
        decision = decide(digest, now, self.grace)
        if decision.action is Action.POST:
            await self.post(digest, decision.day, now)
        elif decision.action is Action.SKIP and await self._claim(digest, decision.day):
            log.warning("digest for channel %s on %s missed by %s (over the %s grace period); "
                        "skipped", digest.channel_id, decision.day, now - decision.at, self.grace)
            self.bot.metrics.digest_done("skipped")

    async def _claim(self, digest: Digest, day: date) -> bool:
        """Whether this process is the one to handle the digest's `day` (see `post`)."""
        if await self.bot.news.store.digests.claim(digest.id or 0, day):
            return True
        log.info("digest for channel %s on %s was already handled elsewhere",
                 digest.channel_id, day)
        return False

    async def content(self, digest: Digest, now: datetime, day: date | None = None
                      ) -> DigestContent:
        """What the digest would post at `now`, dated `day` (default: today where it posts)."""
        news = self.bot.news
        topic_ids: list[int] | None = None
        if digest.topics:
            wanted = {topic.casefold() for topic in digest.topics}
            topic_ids = [t.id for t in news.topics() if t.name.casefold() in wanted]
        candidates = await news.store.published_between(
            window_start(digest, now), now, topic_ids, CANDIDATES
        )
        return select_articles(digest, candidates, day or now.astimezone(digest.zone).date())

    async def post(self, digest: Digest, day: date, now: datetime) -> None:
        """Post one digest and record the day as handled, with the failure if there was one.

        The day is claimed before the post: a process that loses the claim (another posted
        it) posts nothing, and a crash between claim and post loses that day's digest
        rather than posting it twice."""
        if not await self._claim(digest, day):
            return
        content = await self.content(digest, now, day)  # the scheduled day, even if late
        failure: str | None = None
        if content.articles or digest.quiet_day:
            failure = await self._send(digest, content)
        if failure:
            log.warning("digest for channel %s failed: %s", digest.channel_id, failure)
        await self.bot.news.store.digests.record(
            digest.id or 0, content.day, None if failure else now, failure
        )
        self.bot.metrics.digest_done(_outcome(digest, content, failure))

    async def _send(self, digest: Digest, content: DigestContent) -> str | None:
        """Send the digest message; the reason it failed, or None."""
        try:
            channel = self.bot.get_channel(digest.channel_id) or await self.bot.fetch_channel(
                digest.channel_id
            )
        except discord.NotFound:
            return "the channel was deleted"
        except discord.HTTPException as exc:
            return f"cannot see the channel ({exc.status} {exc.text or ''})".strip()
        if content.articles:
            embeds = render.digest_embeds(content)
            text = f"<@&{digest.role_id}>" if digest.role_id else None
            # The configured role is the one thing a digest may ping.
            mentions = (discord.AllowedMentions(everyone=False, users=False,
                                                roles=[discord.Object(digest.role_id)])
                        if digest.role_id else discord.AllowedMentions.none())
        else:
            embeds, text, mentions = [], QUIET_DAY_TEXT, discord.AllowedMentions.none()
        try:
            if isinstance(channel, discord.ForumChannel):
                await channel.create_thread(
                    name=f"AI news digest · {content.day:%Y-%m-%d}",
                    content=text or f"AI news digest for {content.day:%A %d %B %Y}",
                    embeds=embeds, allowed_mentions=mentions,
                )
            elif isinstance(channel, discord.TextChannel | discord.Thread):
                await channel.send(content=text, embeds=embeds, allowed_mentions=mentions)
            else:
                return "the channel is not a text channel, thread or forum"
        except discord.Forbidden:
            return "missing permissions: the bot needs Send Messages and Embed Links there"
        except discord.NotFound:
            return "the channel was deleted"
        except discord.HTTPException as exc:
            return f"Discord refused the message ({exc.status} {exc.text or ''})".strip()
        return None

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        removed = await self.bot.news.store.digests.delete(guild.id)
        if removed:
            log.info("removed %d digest(s) of server %s, which removed the bot", removed, guild.id)

    # ---- commands ----------------------------------------------------------------------

    @digest.command(name="set", description="Post a daily digest in a channel")
    @app_commands.describe(
        channel="Text channel, thread or forum to post in",
        time="Time of day, 24-hour HH:MM, e.g. 08:30",
        timezone="Your time zone, e.g. Europe/Berlin (daylight saving is handled)",
        topics="Only these topics, comma-separated (default: all)",
        size="How many articles (1-10, default 5)",
        role="A role to mention with each digest",
        keywords="Only articles mentioning any of these words, comma-separated",
        quiet_day="On a day with nothing new, post a short line instead of nothing",
    )
    @app_commands.autocomplete(timezone=timezone_choices)
    @app_commands.check(manage_server_only)
    async def set_digest(
        self, interaction: discord.Interaction, channel: DigestChannel, time: str, timezone: str,
        topics: str | None = None, size: app_commands.Range[int, 1, MAX_SIZE] = DEFAULT_SIZE,
        role: discord.Role | None = None, keywords: str | None = None, quiet_day: bool = False,
    ) -> None:
        try:
            post_time = parse_time(time)
            zone = check_timezone(timezone.strip())
        except ValueError as exc:
            raise UserFacingError(str(exc)) from None
        topic_names = []
        for text in _split(topics):
            topic = self.bot.news.resolve_topic(text)
            if isinstance(topic, NotFound):
                raise UserFacingError(f"Unknown topic {text!r}.",
                                      [f"Did you mean: {s}" for s in topic.suggestions])
            topic_names.append(topic.name)
        if role is not None and role.is_default():
            raise UserFacingError("A digest cannot mention @everyone; pick a role.")
        await _defer_if_database_busy(interaction, self.bot)
        digest = await self.bot.news.store.digests.save(Digest(
            guild_id=interaction.guild_id or 0, channel_id=channel.id, post_time=post_time,
            timezone=zone, topics=tuple(topic_names), keywords=_split(keywords), size=size,
            role_id=role.id if role else None, quiet_day=quiet_day,
        ))
        self.wake()
        first = next_occurrence(digest, self.bot.clock())
        lines = [f"Next digest: {discord.utils.format_dt(first, 'F')} "
                 f"({discord.utils.format_dt(first, 'R')})."]
        me = interaction.guild.me if interaction.guild else None
        if me is not None and not isinstance(channel, discord.ForumChannel):
            allowed = channel.permissions_for(me)
            if not (allowed.send_messages and allowed.embed_links):
                lines.append("Warning: I can't send messages with embeds there yet; give me "
                             "Send Messages and Embed Links in that channel.")
        embed = render.digest_settings_embed([digest])
        embed.title = "Digest saved"
        embed.description = "\n".join(lines)
        await reply_privately(interaction, embed=embed)

    @digest.command(name="show", description="This server's digests and their status")
    @app_commands.check(manage_server_only)
    async def show(self, interaction: discord.Interaction) -> None:
        digests = await self.bot.news.store.digests.for_guild(interaction.guild_id or 0)
        await interaction.response.send_message(embed=render.digest_settings_embed(digests),
                                                ephemeral=True)

    @digest.command(name="off", description="Stop a channel's digest, or every digest here")
    @app_commands.describe(channel="The channel to stop (default: every digest on this server)")
    @app_commands.check(manage_server_only)
    async def off(self, interaction: discord.Interaction,
                  channel: DigestChannel | None = None) -> None:
        await _defer_if_database_busy(interaction, self.bot)
        removed = await self.bot.news.store.digests.delete(
            interaction.guild_id or 0, channel.id if channel else None
        )
        self.wake()
        if not removed:
            raise UserFacingError("There was no digest to stop.")
        await reply_privately(interaction, content=(
            f"Stopped {removed} digest{'s' if removed != 1 else ''}; nothing is kept about "
            f"{'it' if removed == 1 else 'them'}."))

    @digest.command(name="preview", description="See what a channel's next digest would be")
    @app_commands.describe(channel="The digest's channel (default: this server's first digest)")
    @app_commands.check(manage_server_only)
    async def preview(self, interaction: discord.Interaction,
                      channel: DigestChannel | None = None) -> None:
        digests = await self.bot.news.store.digests.for_guild(interaction.guild_id or 0)
        chosen = [d for d in digests if channel is None or d.channel_id == channel.id]
        if not chosen:
            raise UserFacingError("No digest is set up for that channel; use `/digest set`.")
        content = await self.content(chosen[0], self.bot.clock())
        if not content.articles:
            raise UserFacingError("Nothing new since the last digest: the next one would be "
                                  "empty" + (" (a quiet-day line)." if chosen[0].quiet_day
                                             else " and would not be posted."))
        await interaction.response.send_message(embeds=render.digest_embeds(content),
                                                ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(DigestCog(bot))  # type: ignore[arg-type]
