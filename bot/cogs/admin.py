"""`/admin …` for the bot's operator: reload, stats, command sync, feeds; and the background
re-sync of the folder and polls of the feeds, done by the one process that holds the lease
on them when several share the database."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import render
from bot.articles import is_http_url
from bot.client import NewsBot
from bot.errors import UserFacingError
from bot.exceptions import StorageError
from bot.feeds.fetch import Fetcher
from bot.follows.render import follows_field
from bot.store.lease import SYNC_LEASE, process_name
from bot.text import echo
from bot.views import ListPage, PagedView

log = logging.getLogger(__name__)

FEEDS_PAGE_SIZE = 10


async def operator_only(interaction: discord.Interaction) -> bool:
    """Default permissions are a hint admins can change; the operator is checked here, in code."""
    bot: NewsBot = interaction.client  # type: ignore[assignment]
    if await bot.is_owner(interaction.user):
        return True
    raise app_commands.CheckFailure("Only the bot's operator can use /admin commands.")


class AdminCog(commands.Cog):
    """Operator commands and the loop that re-syncs the corpus every few minutes."""

    admin = app_commands.Group(
        name="admin",
        description="Operator commands for AI News Bot",
        default_permissions=discord.Permissions(administrator=True),
    )

    feeds = app_commands.Group(name="feeds", description="The feeds the bot reads",
                               parent=admin)

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self.holder = process_name()
        self._held_until: datetime | None = None  # by this process's clock
        self._first_round = True
        self._take_over: asyncio.Task[None] | None = None

    @property
    def lease_period(self) -> timedelta:
        return timedelta(seconds=self.bot.settings.lease_seconds)

    def holds_lease(self) -> bool:
        """Whether this process does the folder sync and feed polls now."""
        return self._held_until is not None and self.bot.clock() < self._held_until

    async def cog_load(self) -> None:
        self.keep_lease.change_interval(seconds=self.bot.settings.lease_seconds / 3)
        self.keep_lease.start()
        minutes = self.bot.settings.sync_minutes
        if minutes > 0:
            self.resync.change_interval(minutes=minutes)
            self.resync.start()
        feed_minutes = self.bot.settings.feeds_minutes
        if feed_minutes > 0:
            self.poll_feeds.change_interval(minutes=feed_minutes)
            self.poll_feeds.start()

    async def cog_unload(self) -> None:
        # A graceful stop: no new sync or poll; one in flight is rolled back (the next
        # holder does it again), and the lease is free for another process at once.
        self.keep_lease.cancel()
        self.resync.cancel()
        self.poll_feeds.cancel()
        if self._take_over is not None:
            self._take_over.cancel()
        if self._held_until is not None:
            self._held_until = None
            try:
                await self.bot.news.store.leases.release(SYNC_LEASE, self.holder)
            except StorageError as exc:  # it expires by itself
                log.warning("could not release the sync lease: %s", exc)
            else:
                log.info("released the lease on the folder sync and feed polls")

    # ---- the lease -----------------------------------------------------------------------

    @tasks.loop(seconds=20)
    async def keep_lease(self) -> None:
        # A renewal every third of the period leaves two chances to renew before it expires.
        try:
            await self._renew()
            caught_up = await self.bot.news.catch_up()
            if caught_up is not None:
                log.info("the corpus was changed by another process; search index %s",
                         "rebuilt" if caught_up.rebuilt
                         else f"updated ({caught_up.articles} articles changed)")
        except StorageError as exc:
            log.error("lease renewal failed, retrying in %.0f s: %s",
                      self.bot.settings.lease_seconds / 3, exc)
        except Exception:
            log.exception("lease renewal failed")

    async def _renew(self) -> None:
        """Take or renew the lease; on a take-over, do at once what the holder did."""
        now = self.bot.clock()
        lease = await self.bot.news.store.leases.acquire(SYNC_LEASE, self.holder, now,
                                                         self.lease_period)
        held_before, first = self.holds_lease(), self._first_round
        self._first_round = False
        self._held_until = lease.expires_at if lease.held_by(self.holder, now) else None
        if self._held_until is not None and not held_before:
            log.info("this process (%s) now syncs the seeds folder and polls the feeds",
                     self.holder)
            if not first:  # at start-up the loops' first rounds are still to come
                self._take_over = asyncio.create_task(self._catch_up_work())
        elif self._held_until is None and (held_before or first):
            log.info("the seeds folder sync and feed polls are done by %s; this process "
                     "reads what it writes", lease.holder)

    async def _catch_up_work(self) -> None:
        """What a holder that died may have left undone: a sync and a poll, now."""
        if self.resync.is_running():
            await self.resync()
        if self.poll_feeds.is_running():
            await self.poll_feeds()

    @tasks.loop(minutes=15)
    async def poll_feeds(self) -> None:
        # As for the re-sync: an exception would stop the loop for good. One feed's trouble
        # is already its own outcome; this catches a whole cycle's.
        if not self.holds_lease():
            return
        settings = self.bot.settings
        try:
            async with Fetcher(allow_private=settings.feeds_allow_private,
                               max_bytes=settings.feed_max_bytes) as fetcher:
                report = await self.bot.news.fetch(fetcher)
        except StorageError as exc:
            log.error("feed poll failed, retrying in %s min: %s", settings.feeds_minutes, exc)
            return
        except Exception:
            log.exception("feed poll failed; retrying in %s min", settings.feeds_minutes)
            return
        self.bot.metrics.feed_polled([feed.outcome for feed in report.feeds])
        if report.feeds:
            log.info("feed poll: %s", report.summary())

    @poll_feeds.before_loop
    async def _before_poll(self) -> None:
        await self.bot.wait_until_ready()

    @tasks.loop(minutes=10)
    async def resync(self) -> None:
        # An exception would stop the loop for good: log it and try again next time.
        if not self.holds_lease():
            return
        try:
            report = await self.bot.sync_corpus()
        except StorageError as exc:  # the disk, not the code: its one line says it all
            log.error("background sync failed, retrying in %s min: %s",
                      self.bot.settings.sync_minutes, exc)
            return
        except Exception:
            log.exception("background sync failed; retrying in %s min",
                          self.bot.settings.sync_minutes)
            return
        if report.refused:
            log.warning("background sync: %s", report.refused)
        elif report.changed or report.failed:
            log.info("background sync: %s", report.summary())

    @resync.before_loop
    async def _before_resync(self) -> None:
        await self.bot.wait_until_ready()
        # Start-up has just synced the folder: the first round comes an interval later
        # (at once when that sync was refused, a folder not mounted yet, say).
        started = self.bot.news.last_report
        if started is not None and not started.refused:
            await asyncio.sleep(self.bot.settings.sync_minutes * 60)

    @admin.command(name="reload", description="Re-read the seeds folder now and report")
    @app_commands.check(operator_only)
    async def reload(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report = await self.bot.sync_corpus()
        except StorageError as exc:
            log.error("reload by %s failed: %s", interaction.user.id, exc)
            # The operator runs this: the reason, with the path, is theirs to see.
            raise UserFacingError("Reload failed; the corpus from before is still served.", [
                f"Database: {exc.path}", f"Problem: it {exc.problem}",
                f"What to do: {exc.remedy}"]) from exc
        if report.refused:
            log.warning("reload by %s: %s", interaction.user.id, report.refused)
            # One line per clause: each fits a line of the notice, the hint at the end too.
            embed = render.message_embed("Not reloaded: the stored articles stay",
                                         report.refused.split("; "), error=True)
        else:
            log.info("reload by %s: %s", interaction.user.id, report.summary())
            embed = render.sync_report_embed(report)
        await interaction.followup.send(embed=embed, ephemeral=True)

    @admin.command(name="stats", description="Corpus and bot statistics")
    @app_commands.check(operator_only)
    async def stats(self, interaction: discord.Interaction) -> None:
        news = self.bot.news
        embed = render.stats_embed(
            await news.stats(),
            uptime=datetime.now(UTC) - self.bot.started_at,
            # latency is NaN until the first heartbeat is acknowledged
            latency_ms=0.0 if math.isnan(self.bot.latency) else self.bot.latency * 1000,
            failing=await news.store.failing_files(),
            feeds=await news.store.feeds.all(),
        )
        follows_field(embed, await news.store.follows.all())
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @admin.command(name="sync", description="Publish the slash commands to every server now")
    @app_commands.check(operator_only)
    @app_commands.checks.cooldown(1, 60.0)
    async def sync_commands(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands(force_global=True)
        await interaction.followup.send(f"Synced {count} commands globally.", ephemeral=True)


    @feeds.command(name="add", description="Add a feed by its http(s) address")
    @app_commands.describe(url="The feed's address, like https://example.com/feed.xml")
    @app_commands.check(operator_only)
    async def feeds_add(self, interaction: discord.Interaction, url: str) -> None:
        url = url.strip()
        if not is_http_url(url):
            raise UserFacingError("Not a feed address", [
                f"{echo(url, 100)!r} is not an http(s) URL.",
                "Give the feed's full address, like https://example.com/feed.xml."])
        store = self.bot.news.store
        before = await store.feeds.get(url)
        feed, created = await store.feeds.add(url)
        if created:
            title, lines = "Feed added", ["It is polled in the next cycle."]
        elif before is not None and before.status == "disabled":
            title, lines = "Feed enabled again", ["It is polled in the next cycle."]
        else:
            title, lines = "Feed already listed", []
        log.info("feeds add by %s: %s (%s)", interaction.user.id, feed.url, title)
        await interaction.response.send_message(
            embed=render.message_embed(title, [f"<{feed.url}>", *lines]), ephemeral=True)

    @feeds.command(name="remove", description="Remove a feed and the articles only it gave")
    @app_commands.describe(url="The feed's address, as /admin feeds list shows it")
    @app_commands.check(operator_only)
    async def feeds_remove(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.bot.news.remove_feed(url.strip())
        if removed is None:
            raise UserFacingError("No such feed", [
                f"No feed has the address {echo(url, 100)!r}.",
                "See the list with /admin feeds list."])
        feed, report = removed
        log.info("feeds remove by %s: %s", interaction.user.id, feed.url)
        await interaction.followup.send(embed=render.message_embed("Feed removed", [
            f"<{feed.url}>", f"{len(report.removed)} of its entries removed; "
            f"{report.articles} articles in the corpus."]), ephemeral=True)

    @feeds.command(name="list", description="Every feed with its state")
    @app_commands.check(operator_only)
    async def feeds_list(self, interaction: discord.Interaction) -> None:
        listed = await self.bot.news.store.feeds.all()

        async def source(offset: int) -> ListPage:
            page = listed[offset : offset + FEEDS_PAGE_SIZE]
            return ListPage(render.feeds_embed(page, offset, len(listed), FEEDS_PAGE_SIZE), [],
                            len(listed))

        first = await source(0)
        view = PagedView(interaction.user.id, source, self.bot.news.store.article,
                         FEEDS_PAGE_SIZE, first)
        await interaction.response.send_message(embed=first.embed, view=view, ephemeral=True)
        view.interaction = interaction


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AdminCog(bot))  # type: ignore[arg-type]
