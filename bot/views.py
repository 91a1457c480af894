"""Interactive views: only the person who ran the command may use them; they time out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import discord
from discord.ext import commands

from bot import render
from bot.articles import Article

if TYPE_CHECKING:
    from bot.errors import NewsTree

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page a page source produced."""

    embed: discord.Embed
    articles: list[Article]  # what the select menu can open; empty for non-article lists
    total: int


# offset → page. Built by the cog from a query, so the view knows nothing of the store.
PageSource = Callable[[int], Awaitable[ListPage]]
# article id → the article (None if it no longer exists).
ArticleLookup = Callable[[int], Awaitable[Article | None]]


class OwnedView(discord.ui.View):
    """A view only its owner may press; on timeout its controls are disabled."""

    def __init__(self, owner_id: int):
        super().__init__(timeout=VIEW_TIMEOUT)
        self.owner_id = owner_id
        # The interaction that sent the view: its token (valid 15 minutes, longer than the
        # timeout) lets on_timeout edit the message without another lookup.
        self.interaction: discord.Interaction | None = None
        # Or the message it was sent with, when it answers a mention or a DM.
        self.message: discord.Message | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the person who ran this command can use these controls; "
            "run the command yourself to get your own.",
            ephemeral=True,
        )
        return False

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select) and not getattr(
                item, "url", None
            ):
                item.disabled = True
        try:
            if self.interaction is not None:
                await self.interaction.edit_original_response(view=self)
            elif self.message is not None:
                await self.message.edit(view=self)
        except discord.HTTPException as exc:  # deleted message, expired token: nothing to do
            log.debug("could not disable an expired view: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item
    ) -> None:
        # Component errors do not pass through the command tree; route them to the same handler.
        # The bot is a commands.Bot with our NewsTree, whose on_error takes any exception.
        tree = cast("NewsTree", cast("commands.Bot", interaction.client).tree)
        await tree.on_error(interaction, error)


class PagedView(OwnedView):
    """Previous/Next buttons and a select menu that opens any listed article as a card."""

    def __init__(self, owner_id: int, source: PageSource, lookup: ArticleLookup,
                 page_size: int, first: ListPage):
        super().__init__(owner_id)
        self.source = source
        self.lookup = lookup
        self.page_size = page_size
        self.offset = 0
        self._show(first)

    def _show(self, page: ListPage) -> None:
        self.previous_page.disabled = self.offset <= 0
        self.next_page.disabled = self.offset + self.page_size >= page.total
        # The decorator's typing loses the select's type: name it.
        menu = cast("discord.ui.Select[PagedView]", self.open_article)
        menu.options = [
            discord.SelectOption(label=render.select_label(self.offset + i + 1, article),
                                 value=str(article.article_id))
            for i, article in enumerate(page.articles)
            if article.article_id is not None
        ]
        if page.total <= self.page_size:
            self.remove_item(self.previous_page)
            self.remove_item(self.next_page)
        if not menu.options:
            self.remove_item(menu)

    async def _turn(self, interaction: discord.Interaction, offset: int) -> None:
        self.offset = max(0, offset)
        page = await self.source(self.offset)
        self._show(page)
        await interaction.response.edit_message(embed=page.embed, view=self)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary,
                       custom_id="news:previous")
    async def previous_page(self, interaction: discord.Interaction,
                            button: discord.ui.Button[PagedView]) -> None:
        await self._turn(interaction, self.offset - self.page_size)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary,
                       custom_id="news:next")
    async def next_page(self, interaction: discord.Interaction,
                        button: discord.ui.Button[PagedView]) -> None:
        await self._turn(interaction, self.offset + self.page_size)

    @discord.ui.select(placeholder="Open an article…", custom_id="news:open")
    async def open_article(self, interaction: discord.Interaction,
                           select: discord.ui.Select[PagedView]) -> None:
        article = await self.lookup(int(select.values[0]))
        if article is None:
            await interaction.response.send_message(
                "That article is no longer in the corpus; it may have been removed by a reload.",
                ephemeral=True,
            )
            return
        await interaction.response.send_message(
            embed=render.article_card(article), view=render.link_buttons(article), ephemeral=True
        )
