"""Errors for the person who ran a command, the tree that reports each once, private replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot import render
from bot.exceptions import StorageError
from bot.metrics import UNKNOWN_COMMAND, Metrics

log = logging.getLogger(__name__)

STARTED = "news.started"  # the interaction's extras key: time.perf_counter() on arrival


class UserFacingError(app_commands.AppCommandError):
    """Something the user can fix or should know; shown to them ephemerally, not logged loud."""

    def __init__(self, title: str, lines: Sequence[str] = ()):
        super().__init__(title)
        self.title = title
        self.lines = list(lines)


async def reply_privately(interaction: discord.Interaction, **message: Any) -> None:
    """Reply privately through whichever channel is still open: response or follow-up (after
    a deferral)."""
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, **message)
    else:
        await interaction.response.send_message(ephemeral=True, **message)


async def send_ephemeral(interaction: discord.Interaction, embed: discord.Embed) -> None:
    """Report an error privately; an interaction that expired is only logged."""
    try:
        await reply_privately(interaction, embed=embed)
    except discord.HTTPException as exc:  # the interaction expired: nobody left to tell
        log.warning("could not report an error to %s: %s", interaction.user, exc)


def outcome_of(error: Exception) -> str:
    """How a command that raised `error` counts: the user's to fix, or a failure of ours."""
    if isinstance(error, UserFacingError | app_commands.CommandOnCooldown
                  | app_commands.CheckFailure | app_commands.TransformerError):
        return "user_error"
    return "failure"


class NewsTree(app_commands.CommandTree):
    """The command tree with the one error path: every error becomes an ephemeral reply.
    It also times every command and counts its outcome, when given `metrics`."""

    metrics: Metrics | None = None

    def measure(self, interaction: discord.Interaction, outcome: str) -> None:
        """Count a slash command as answered with `outcome` (autocomplete is not a command)."""
        started = interaction.extras.get(STARTED)
        if self.metrics is None or started is None \
                or interaction.type is not discord.InteractionType.application_command:
            return
        command = interaction.command.qualified_name if interaction.command else UNKNOWN_COMMAND
        self.metrics.command_done(command, outcome, started)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Note when a command arrived (for its metrics). A bot that is stopping starts no
        new command: a short reply instead of silence."""
        interaction.extras[STARTED] = time.perf_counter()
        # The client's class is not imported here (it imports this module): it says it
        # is stopping with an attribute.
        if not getattr(interaction.client, "stopping", False):
            return True
        if interaction.type is discord.InteractionType.application_command:
            await send_ephemeral(interaction, render.message_embed(
                "The bot is restarting; please try again in a minute.", error=True))
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError | Exception
    ) -> None:
        original = getattr(error, "original", error)
        command = interaction.command.qualified_name if interaction.command else "component"
        if isinstance(original, UserFacingError):
            embed = render.message_embed(original.title, original.lines)
        elif isinstance(original, app_commands.CommandOnCooldown):
            embed = render.message_embed(
                f"Slow down: try again in {original.retry_after:.0f} s.", error=True)
        elif isinstance(original, app_commands.CheckFailure):
            embed = render.message_embed(
                str(original) or "You are not allowed to use this command.", error=True)
        elif isinstance(original, app_commands.TransformerError):
            embed = render.message_embed(f"That option value is not valid: {original}",
                                         error=True)
        elif isinstance(original, StorageError):
            log.error("database error in /%s: %s", command, original)
            embed = render.message_embed(
                "The news database is not available right now; please try again soon.",
                error=True)
        else:
            log.error("unexpected error in /%s", command, exc_info=original)
            embed = render.message_embed(
                "Something went wrong on our side; it has been logged.", error=True)
        await send_ephemeral(interaction, embed)
        self.measure(interaction, outcome_of(original))
