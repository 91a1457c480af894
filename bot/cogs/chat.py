"""Questions asked by mentioning the bot in a channel, or in a DM: answered in place, as a
reply that pings nobody, with the same cards and paging as `/news ask`."""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict

import discord
from discord.ext import commands

from bot import render
from bot.answer import Writer
from bot.ask import HELP, Asker
from bot.cogs.news import ASK_PER, ASK_RATE, PAGE_SIZE, asked_source
from bot.errors import UserFacingError
from bot.exceptions import StorageError
from bot.views import PagedView

log = logging.getLogger(__name__)

ANSWERED_MEMORY = 1000  # message ids remembered, so that none is answered twice
_NO_PINGS = discord.AllowedMentions.none()


class ChatCog(commands.Cog):
    """Answers mentions and DMs; a user who asks too fast gets one friendly note."""

    def __init__(self, bot: commands.Bot, asker: Asker):
        self.bot = bot
        self.asker = asker
        self._cooldown = commands.CooldownMapping.from_cooldown(
            ASK_RATE, ASK_PER, commands.BucketType.user)
        self._answered: OrderedDict[int, None] = OrderedDict()
        self._warned_until: dict[int, float] = {}  # user id → end of the window they were told

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        is_dm = message.guild is None
        if not is_dm and me not in message.mentions:
            return
        if not self._first_time(message.id) or not await self._within_rate(message):
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        try:
            await self._answer(message, question)
        except StorageError as exc:
            log.error("database error answering a message: %s", exc)
            await self._reply(message, "The news database is not available right now; please "
                                       "try again soon.")

    def _first_time(self, message_id: int) -> bool:
        """Whether this message was not answered yet (a gateway may deliver it again)."""
        if message_id in self._answered:
            return False
        self._answered[message_id] = None
        if len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)
        return True

    async def _within_rate(self, message: discord.Message) -> bool:
        """Within the user's rate; past it, one note per window and then silence."""
        now = time.monotonic()
        bucket = self._cooldown.get_bucket(message, now)
        retry_after = bucket.update_rate_limit(now) if bucket is not None else None
        if retry_after is None:
            return True
        if self._warned_until.get(message.author.id, 0.0) <= now:
            # Only windows still running are kept: the map holds the users limited right now.
            self._warned_until = {user: until for user, until in self._warned_until.items()
                                  if until > now}
            self._warned_until[message.author.id] = now + retry_after
            await self._reply(message, f"You are asking faster than I can keep up with "
                                       f"({ASK_RATE} questions per {ASK_PER:.0f} s); ask again "
                                       f"in {retry_after:.0f} s.")
        return False

    async def _answer(self, message: discord.Message, question: str) -> None:
        if not question:
            await self._reply(message, HELP)
            return
        now = self.bot.clock()  # type: ignore[attr-defined]  # a NewsBot's clock
        asked = await self.asker.ask(question, now, PAGE_SIZE)
        source = asked_source(self.asker, asked, PAGE_SIZE)
        try:
            first = await source(0)
        except UserFacingError as error:
            await message.reply(embed=render.message_embed(error.title, error.lines),
                                allowed_mentions=_NO_PINGS, mention_author=False)
            return
        view = PagedView(message.author.id, source, self.asker.news.store.article, PAGE_SIZE,
                         first)
        sent = await message.reply(content=render.escape(asked.line), embed=first.embed,
                                   view=view, allowed_mentions=_NO_PINGS, mention_author=False)
        view.message = sent
        writer: Writer = self.bot.writer  # type: ignore[attr-defined]  # a NewsBot's
        # The written answer replies to the list it summarises.
        writer.later(question, first.articles, lambda embed: sent.reply(
            embed=embed, allowed_mentions=_NO_PINGS, mention_author=False))

    async def _reply(self, message: discord.Message, text: str) -> None:
        await message.reply(text, allowed_mentions=_NO_PINGS, mention_author=False)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ChatCog(bot, Asker(bot.news)))  # type: ignore[attr-defined]  # a NewsBot
