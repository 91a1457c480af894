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
from bot.articles import Article
from bot.errors import UserFacingError
from bot.queries import Answer, News, NotFound
from bot.views import ListPage, PagedView, PageSource

T = TypeVar("T")
Query = Callable[[int, int], Awaitable[Answer | NotFound]]  # (limit, offset) → answer

PAGE_SIZE = 5
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


class NewsCog(commands.Cog):
    """AI news: latest, by topic, by provider, related, search, one article, topics."""

    news = app_commands.Group(name="news", description="Recent AI news")

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
