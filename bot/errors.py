"""Errors for the person who ran a command, the tree that reports each once, private replies."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot import render
from bot.exceptions import StorageError

log = logging.getLogger(__name__)


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


class NewsTree(app_commands.CommandTree):
    """The command tree with the one error path: every error becomes an ephemeral reply."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """A bot that is stopping starts no new command: a short reply instead of silence."""
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
