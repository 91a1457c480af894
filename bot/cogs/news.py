"""`/news …`: thin slash-command adapters from options to queries to rendered replies."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.answer import Writer
from bot.articles import Article
from bot.ask import Asked, Asker
from bot.errors import UserFacingError
from bot.queries import Answer, News, NotFound
from bot.text import shorten
from bot.trending import Trending
from bot.views import ListPage, PagedView, PageSource

T = TypeVar("T")
Query = Callable[[int, int], Awaitable[Answer | NotFound]]  # (limit, offset) → answer

PAGE_SIZE = 5
# Questions a person may ask per this many seconds, in /news ask and in mentions and DMs.
ASK_RATE, ASK_PER = 5, 30.0
_SINCE = re.compile(r"^\s*(\d{1,4})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`24h`, `3d`, `2w` (ago) or an ISO date/time → an aware UTC datetime."""
    relative = _SINCE.match(text)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2).lower()]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserFacingError(
            f"`since` must look like 24h, 3d, 2w or 2022-05-26; got {text[:40]!r}."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _news(interaction: discord.Interaction) -> News:
    return interaction.client.news  # type: ignore[attr-defined]


def _found(result: T | NotFound) -> T:
    """The result, or the NotFound raised as a user-facing error with its suggestions."""
    if isinstance(result, NotFound):
        lines = [f"Did you mean: {s}" for s in result.suggestions]
        raise UserFacingError(result.message, lines)
    return result


async def _send_list(interaction: discord.Interaction, query: Query, page_size: int) -> None:
    """Answer with page one of `query` and a view to page through the rest."""

    async def source(offset: int) -> ListPage:
        answer: Answer = _found(await query(page_size, offset))
        page = answer.page
        embed = render.list_embed(answer.heading, page.items, offset, page.total, page_size,
                                  capped=page.capped)
        return ListPage(embed, page.items, page.total)

    await _send_pages(interaction, source, page_size)


async def _send_pages(interaction: discord.Interaction, source: PageSource,
                      page_size: int) -> None:
    first = await source(0)
    view = PagedView(interaction.user.id, source, _news(interaction).store.article, page_size,
                     first)
    await interaction.response.send_message(embed=first.embed, view=view)
    view.interaction = interaction


async def _send_card(interaction: discord.Interaction, article: Article) -> None:
    await interaction.response.send_message(
        embed=render.article_card(article), view=render.link_buttons(article)
    )


def asked_source(asker: Asker, asked: Asked, page_size: int) -> PageSource:
    """The pages of an answer to a question; page one raises its NotFound as a user-facing
    error that starts with the understood line."""

    async def source(offset: int) -> ListPage:
        result = asked.result if offset == 0 else \
            (await asker.answer(asked.understood, page_size, offset)).result
        if isinstance(result, Trending):  # one page, nothing to open
            return ListPage(render.trending_embed(result), [], 1)
        if isinstance(result, NotFound):
            raise UserFacingError(shorten(render.escape(asked.line), render.TITLE_LIMIT),
                                  [result.message, *(f"Did you mean: {s}"
                                                     for s in result.suggestions)])
        page = result.page
        embed = render.list_embed(result.heading, page.items, offset, page.total, page_size,
                                  capped=page.capped)
        return ListPage(embed, page.items, page.total)

    return source


def _choices(pairs: list[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=render.choice_name(name), value=value[: render.CHOICE_LIMIT])
        for name, value in pairs[: 25]
    ]


async def topic_choices(interaction: discord.Interaction, current: str
                        ) -> list[app_commands.Choice[str]]:
    matches = _news(interaction).index.match_topics(current)
    return _choices([(f"{m.item.name} ({m.item.count})", m.item.name) for m in matches])


async def provider_choices(interaction: discord.Interaction, current: str
                           ) -> list[app_commands.Choice[str]]:
    matches = _news(interaction).index.match_providers(current)
    return _choices([(f"{m.item.name} · {m.item.domain}", m.item.domain) for m in matches])


async def article_choices(interaction: discord.Interaction, current: str
                          ) -> list[app_commands.Choice[str]]:
    matches = _news(interaction).index.match_titles(current)
    return _choices([(m.item.title, f"id:{m.item.id}") for m in matches])


async def question_choices(interaction: discord.Interaction, current: str
                           ) -> list[app_commands.Choice[str]]:
    """What was typed, then its last word completed to topic and provider names."""
    head, _space, last = current.rstrip().rpartition(" ")
    pairs = [(current, current)] if current.strip() else []
    if len(last) >= 2:
        index = _news(interaction).index
        names = [m.item.name for m in index.match_topics(last, limit=5)]
        names += [m.item.name for m in index.match_providers(last, limit=5)]
        pairs += [(text, text) for text in dict.fromkeys(
            f"{head} {name}".strip() for name in names) if text != current]
    return _choices(pairs)


class NewsCog(commands.Cog):
    """AI news: ask, latest, by topic, by provider, related, search, one article, topics."""

    news = app_commands.Group(name="news", description="Recent AI news")

    def __init__(self) -> None:
        self._asker: Asker | None = None

    def asker(self, news: News) -> Asker:
        if self._asker is None or self._asker.news is not news:
            self._asker = Asker(news)
        return self._asker

    @news.command(name="ask", description="Ask in plain words, e.g. what did Microsoft do "
                                          "in AI hardware last week?")
    @app_commands.describe(question="A question: topics, providers, dates, words to look for")
    @app_commands.autocomplete(question=question_choices)
    @app_commands.checks.cooldown(ASK_RATE, ASK_PER, key=lambda i: i.user.id)
    async def ask(self, interaction: discord.Interaction,
                  question: app_commands.Range[str, 1, 300]) -> None:
        asker = self.asker(_news(interaction))
        now = interaction.client.clock()  # type: ignore[attr-defined]  # a NewsBot's clock
        asked = await asker.ask(question, now, PAGE_SIZE)
        source = asked_source(asker, asked, PAGE_SIZE)
        first = await source(0)
        view = PagedView(interaction.user.id, source, asker.news.store.article, PAGE_SIZE,
                         first)
        await interaction.response.send_message(content=render.escape(asked.line),
                                                embed=first.embed, view=view)
        view.interaction = interaction
        writer: Writer = interaction.client.writer  # type: ignore[attr-defined]  # a NewsBot's
        writer.later(question, first.articles, lambda embed: interaction.followup.send(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()))

    @news.command(name="latest", description="The newest AI news")
    @app_commands.describe(count="How many articles per page (1-10, default 5)")
    async def latest(self, interaction: discord.Interaction,
                     count: app_commands.Range[int, 1, 10] = PAGE_SIZE) -> None:
        news = _news(interaction)
        await _send_list(interaction, news.latest, count)

    @news.command(name="topic", description="News about a topic")
    @app_commands.describe(topic="A topic, e.g. AI Hardware",
                           since="Only newer than this: 24h, 3d, 2w or a date like 2022-05-26")
    @app_commands.autocomplete(topic=topic_choices)
    async def topic(self, interaction: discord.Interaction, topic: str,
                    since: str | None = None) -> None:
        news = _news(interaction)
        after = parse_since(since, datetime.now(UTC)) if since else None
        await _send_list(interaction, partial(news.topic, topic, since=after), PAGE_SIZE)

    @news.command(name="provider", description="News from one publisher")
    @app_commands.describe(provider="A publisher's name or domain, e.g. The Register")
    @app_commands.autocomplete(provider=provider_choices)
    async def provider(self, interaction: discord.Interaction, provider: str) -> None:
        await _send_list(interaction, partial(_news(interaction).provider, provider), PAGE_SIZE)

    @news.command(name="related", description="Articles related to one article")
    @app_commands.describe(article="Start typing a title")
    @app_commands.autocomplete(article=article_choices)
    async def related(self, interaction: discord.Interaction, article: str) -> None:
        await _send_list(interaction, partial(_news(interaction).related, article), PAGE_SIZE)

    @news.command(name="search", description="Search titles, summaries, providers and topics")
    @app_commands.describe(query="Words to look for")
    async def search(self, interaction: discord.Interaction,
                     query: app_commands.Range[str, 1, 200]) -> None:
        await _send_list(interaction, partial(_news(interaction).search, query), PAGE_SIZE)

    @news.command(name="article", description="One article as a card with its links")
    @app_commands.describe(article="Start typing a title")
    @app_commands.autocomplete(article=article_choices)
    async def article(self, interaction: discord.Interaction, article: str) -> None:
        found = _found(await _news(interaction).article(article))
        await _send_card(interaction, found)

    @news.command(name="trending", description="What's hot: rising topics and providers, "
                                               "the stories covered most")
    async def trending(self, interaction: discord.Interaction) -> None:
        trending = await _news(interaction).trending(datetime.now(UTC))
        await interaction.response.send_message(embed=render.trending_embed(trending))

    @news.command(name="topics", description="Browse topics with their article counts")
    async def topics(self, interaction: discord.Interaction) -> None:
        topics = _news(interaction).topics()
        if not topics:
            raise UserFacingError("No topics yet: the corpus is empty.")

        async def source(offset: int) -> ListPage:
            rows = [(t.name, t.count) for t in topics[offset : offset + 15]]
            return ListPage(render.topics_embed(rows, offset, len(topics), 15), [], len(topics))

        await _send_pages(interaction, source, 15)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(NewsCog())
