"""`/admin …` for the bot's operator: reload, stats, command sync; and the background re-sync."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import render
from bot.client import NewsBot
from bot.errors import UserFacingError
from bot.exceptions import StorageError

log = logging.getLogger(__name__)


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

    def __init__(self, bot: NewsBot):
        self.bot = bot

    async def cog_load(self) -> None:
        minutes = self.bot.settings.sync_minutes
        if minutes > 0:
            self.resync.change_interval(minutes=minutes)
            self.resync.start()

    async def cog_unload(self) -> None:
        self.resync.cancel()

    @tasks.loop(minutes=10)
    async def resync(self) -> None:
        # An exception would stop the loop for good: log it and try again next time.
        try:
            report = await self.bot.news.sync()
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

    @admin.command(name="reload", description="Re-read the seeds folder now and report")
    @app_commands.check(operator_only)
    async def reload(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report = await self.bot.news.sync()
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
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @admin.command(name="sync", description="Publish the slash commands to every server now")
    @app_commands.check(operator_only)
    @app_commands.checks.cooldown(1, 60.0)
    async def sync_commands(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands(force_global=True)
        await interaction.followup.send(f"Synced {count} commands globally.", ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AdminCog(bot))  # type: ignore[arg-type]
