"""Results → Discord embeds and link buttons, always inside Discord's limits. Pure: no I/O.

Article text is untrusted: it is escaped so markdown shows literally and mentions stay
text, and only http(s) URLs short enough for Discord are ever used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

import discord

from bot.articles import Article, is_http_url
from bot.digest import Digest, DigestContent
from bot.feeds.listing import feed_state, next_poll
from bot.feeds.state import Feed
from bot.results import Stats, SyncReport
from bot.text import counted, page_of, plain, shorten
from bot.trending import Trending

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBED_URL_LIMIT = 2048
BUTTON_URL_LIMIT = 512
SELECT_LABEL_LIMIT = 100
CHOICE_LIMIT = 100

# Our own budgets, well inside the limits: a card is read at a glance.
CARD_EXCERPT = 1500
LIST_TITLE = 120
LIST_LINE_BUDGET = 380  # per numbered line, so ten lines always fit a description

NEWS_COLOUR = discord.Colour.blurple()
ERROR_COLOUR = discord.Colour.red()
# Every character Discord markdown gives a meaning to (emphasis, code, spoilers, quotes,
# headings, lists, masked links), escaped with a backslash wherever it appears.
_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()])")
_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")


def escape(text: str) -> str:
    """Untrusted text that Discord shows literally: no markdown, no link syntax, no mentions."""
    escaped = _MARKDOWN.sub(r"\\\1", plain(text))
    # A zero-width space after @ keeps `@everyone` readable but inert, even if a message were
    # ever sent without AllowedMentions.none().
    return _MENTION.sub("@\u200b\\1", escaped)


def safe_url(url: str | None, limit: int = EMBED_URL_LIMIT) -> str | None:
    """`url` if Discord will accept it (http(s), within `limit`), with `(`, `)` made harmless."""
    if not url or not is_http_url(url):
        return None
    # Parentheses and spaces would end a markdown link early; percent-encoding keeps the target.
    cleaned = quote(url, safe=":/?#[]@!$&'*+,;=%~-._")
    return cleaned if len(cleaned) <= limit else None


def relative_time(when: datetime | None) -> str:
    """Discord's own relative timestamp (`3 hours ago`), shown in each reader's time zone."""
    return discord.utils.format_dt(when, "R") if when else "undated"


def _provider_text(article: Article) -> str:
    return article.provider.name if article.provider else "unknown source"


def article_card(article: Article) -> discord.Embed:
    """One article as a card: linked title, excerpt, provider, time, topics, image."""
    embed = discord.Embed(
        title=shorten(escape(article.title), TITLE_LIMIT),
        url=safe_url(article.link),
        description=escape(shorten(article.excerpt, CARD_EXCERPT)) or None,
        colour=NEWS_COLOUR,
        timestamp=article.published_at,
    )
    if article.provider:
        author = plain(f"{article.provider.name} · {article.provider.domain}")
        embed.set_author(name=shorten(author, AUTHOR_LIMIT),
                         url=safe_url(f"https://{article.provider.domain}"))
    topics = _fit([escape(shorten(t, 100)) for t in article.topics if plain(t).strip()],
                  FIELD_VALUE_LIMIT, ", ")
    if topics.strip():
        embed.add_field(name="Topics", value=topics, inline=False)
    image = next((url for url in (safe_url(i.url) for i in article.images) if url), None)
    if image:
        embed.set_image(url=image)
    footer = f"id {article.article_id}" if article.article_id is not None else ""
    if article.quality is not None:
        footer += f" · quality {article.quality}"
    if footer:
        embed.set_footer(text=footer.strip(" ·"))
    return embed


def _fit(pieces: Sequence[str], limit: int, separator: str) -> str:
    """As many whole pieces as fit `limit`, joined by `separator`, then "+N more"."""
    used = 0
    for position, piece in enumerate(pieces):
        after = len(pieces) - position - 1
        used += (len(separator) if position else 0) + len(piece)
        reserve = len(f"{separator}+{after} more") if after else 0
        if used + reserve > limit:
            return separator.join([*pieces[:position], f"+{after + 1} more"])
    return separator.join(pieces)


def link_buttons(article: Article) -> discord.ui.View:
    """Link buttons to the original page, the AMP page and the AMP cache copy (when valid)."""
    view = discord.ui.View(timeout=None)
    for label, url in (("Original", article.link), ("AMP", article.amp_link),
                       ("AMP cache", article.amp_cache_link)):
        target = safe_url(url, BUTTON_URL_LIMIT)
        if target:
            view.add_item(discord.ui.Button(label=label, url=target))
    return view


def list_line(position: int, article: Article) -> str:
    """`**1.** [Title](original) · [AMP](amp) — Provider · 3 hours ago`, within the budget."""
    title = escape(shorten(article.title, LIST_TITLE))
    provider = escape(shorten(_provider_text(article), 60))
    tail = f" — {provider} · {relative_time(article.published_at)}"
    link = safe_url(article.link)
    amp = safe_url(article.amp_link)
    budget = LIST_LINE_BUDGET - len(tail) - len(f"**{position}.** ")
    for candidate in (
        f"[{title}]({link}) · [AMP]({amp})" if link and amp else None,
        f"[{title}]({link})" if link else None,
        title,
    ):
        if candidate and len(candidate) <= budget:
            return f"**{position}.** {candidate}{tail}"
    return f"**{position}.** {shorten(title, max(budget, 10))}{tail}"


def list_embed(heading: str, articles: Sequence[Article], offset: int, total: int,
               page_size: int, *, capped: bool = False) -> discord.Embed:
    """A numbered page of articles with links, providers and relative times.

    `capped`: more than `total` articles matched (totals are only counted so far).
    """
    lines = [list_line(offset + i + 1, article) for i, article in enumerate(articles)]
    description = "\n".join(lines)[:DESCRIPTION_LIMIT]
    embed = discord.Embed(
        title=shorten(plain(heading), TITLE_LIMIT),
        description=description or "Nothing on this page.",
        colour=NEWS_COLOUR,
    )
    embed.set_footer(text=f"Page {page_of(offset, page_size, total, more=capped)} · "
                          f"{counted(total, 'article', more=capped)}")
    return embed


def select_label(position: int, article: Article) -> str:
    """A select-menu option label: `1. Title…`, within Discord's 100 characters."""
    return shorten(plain(f"{position}. {article.title}"), SELECT_LABEL_LIMIT)


def choice_name(text: str) -> str:
    """An autocomplete choice name: one plain line within Discord's 100 characters."""
    return shorten(plain(text), CHOICE_LIMIT) or "(untitled)"


def message_embed(title: str, lines: Sequence[str] = (), *, error: bool = False) -> discord.Embed:
    """A short notice: our own `title` plus untrusted `lines` (escaped, e.g. suggestions)."""
    description = "\n".join(f"• {escape(shorten(line, 200))}" for line in lines[:10])
    return discord.Embed(
        title=shorten(title, TITLE_LIMIT),
        description=description[:DESCRIPTION_LIMIT] or None,
        colour=ERROR_COLOUR if error else NEWS_COLOUR,
    )


def topics_embed(rows: Sequence[tuple[str, int]], offset: int, total: int,
                 page_size: int) -> discord.Embed:
    """A page of topics with their article counts."""
    lines = [f"**{count}** · {escape(shorten(name, 100))}" for name, count in rows]
    embed = discord.Embed(title="Topics", description="\n".join(lines) or "No topics yet.",
                          colour=NEWS_COLOUR)
    embed.set_footer(text=f"Page {page_of(offset, page_size, total)} · "
                          f"{counted(total, 'topic')}")
    return embed


def trending_embed(trending: Trending) -> discord.Embed:
    """What's hot: one field per kind (rising topics, providers, stories), each line with
    its reason; a story's title links to the article."""
    embed = discord.Embed(title=trending.heading,
                          description="\n".join(trending.notes()) or None, colour=NEWS_COLOUR)
    for title, rows in trending.sections():
        lines = []
        for name, reason, link in rows:
            shown = escape(shorten(name, LIST_TITLE))
            url = safe_url(link)
            lines.append(f"{f'[{shown}]({url})' if url else f'**{shown}**'} · {reason}")
        embed.add_field(name=title, value=_fit(lines, FIELD_VALUE_LIMIT, "\n"), inline=False)
    return embed


def sync_report_embed(report: SyncReport) -> discord.Embed:
    """A sync report: counts, then failing files with their reasons."""
    embed = discord.Embed(title="Corpus reloaded", colour=NEWS_COLOUR,
                          description=escape(report.summary()))
    if report.failed:
        _add_failing_files(embed, f"Failing files ({len(report.failed)})", report.failed)
        embed.colour = ERROR_COLOUR
    if report.warnings:
        embed.set_footer(text=f"{len(report.warnings)} warning(s); see the log")
    return embed


def _add_failing_files(embed: discord.Embed, name: str,
                       failing: Sequence[tuple[str, str]]) -> None:
    lines = [f"`{escape(shorten(path, 80))}`: {escape(shorten(reason, 150))}"
             for path, reason in failing]
    embed.add_field(name=name, value=_fit(lines, FIELD_VALUE_LIMIT, "\n"), inline=False)


def feeds_embed(feeds: Sequence[Feed], offset: int, total: int, page_size: int
                ) -> discord.Embed:
    """A page of the feed list: each feed's address, title, state, articles and polls."""
    lines = [
        f"**{escape(shorten(feed.title or 'no title yet', 80))}** · <{safe_url(feed.url)}>\n"
        f"{escape(shorten(feed_state(feed), 200))} · {counted(feed.articles, 'article')} · "
        f"next poll {escape(next_poll(feed))}"
        for feed in feeds
    ]
    embed = discord.Embed(title="Feeds", colour=NEWS_COLOUR,
                          description=_fit(lines, DESCRIPTION_LIMIT, "\n\n") or
                          "No feeds. Add one with /admin feeds add.")
    embed.set_footer(text=f"Page {page_of(offset, page_size, total)} · {counted(total, 'feed')}")
    return embed


def stats_embed(stats: Stats, *, uptime: timedelta, latency_ms: float,
                failing: Sequence[tuple[str, str]], feeds: Sequence[Feed] = ()) -> discord.Embed:
    """Operator statistics for /admin stats."""
    embed = discord.Embed(title="AI News Bot stats", colour=NEWS_COLOUR)
    last_sync = discord.utils.format_dt(stats.last_sync, "R") if stats.last_sync else "never"
    for name, value in (
        ("Articles", f"{stats.articles} ({stats.full_articles} full)"),
        ("Topics", str(stats.topics)),
        ("Providers", str(stats.providers)),
        ("Files", f"{stats.files} ({stats.failing_files} failing)"),
        ("Feeds", f"{len(feeds)} ({sum(feed.status == 'failing' for feed in feeds)} failing)"),
        ("Last sync", last_sync),
        ("Database", f"{stats.database_bytes / 1_048_576:.1f} MiB"),
        ("Uptime", str(uptime).split(".")[0]),
        ("Latency", f"{latency_ms:.0f} ms"),
    ):
        embed.add_field(name=name, value=value)
    if failing:
        _add_failing_files(embed, "Failing files", failing)
    failing_feeds = [(feed.url, feed_state(feed)) for feed in feeds
                     if feed.status in ("failing", "disabled")]
    if failing_feeds:
        _add_failing_files(embed, "Failing feeds", failing_feeds)
    return embed


DIGEST_EMBEDS = 10  # Discord's limit per message: the header plus nine articles
DIGEST_ARTICLE_TITLE = 200


def digest_embeds(content: DigestContent) -> list[discord.Embed]:
    """A digest message: a header embed, then one compact embed per article.

    A message holds at most ten embeds, so with ten articles the tenth is a line in the
    header. Every embed together stays under Discord's 6,000 characters.
    """
    in_embeds = content.articles[: DIGEST_EMBEDS - 1]
    overflow = content.articles[DIGEST_EMBEDS - 1 :]
    count = content.new_count
    lines = [f"**{count}** new article{'s' if count != 1 else ''} since the last digest."]
    if content.top_topics:
        lines.append("Top topics: " + ", ".join(escape(shorten(t, 60)) for t in content.top_topics))
    lines.extend(f"Also: {list_line(len(in_embeds) + i + 1, a)}" for i, a in enumerate(overflow))
    header = discord.Embed(
        title=f"AI news digest · {content.day:%A %d %B %Y}",
        description="\n".join(lines)[:DESCRIPTION_LIMIT],
        colour=NEWS_COLOUR,
    )
    embeds = [header]
    budget = (EMBED_TOTAL_LIMIT - len(header)) // max(len(in_embeds), 1)
    for article in in_embeds:
        embeds.append(_digest_article(article, budget))
    return embeds


def _digest_article(article: Article, budget: int) -> discord.Embed:
    title = shorten(escape(article.title), min(DIGEST_ARTICLE_TITLE, max(budget // 2, 20)))
    parts = [escape(shorten(_provider_text(article), 60)), relative_time(article.published_at)]
    amp = safe_url(article.amp_link)
    if amp and len(title) + len(" · ".join(parts)) + len(amp) + 12 <= budget:
        parts.append(f"[AMP]({amp})")
    return discord.Embed(title=title, url=safe_url(article.link),
                         description=" · ".join(parts), colour=NEWS_COLOUR)


def digest_settings_embed(digests: Sequence[Digest]) -> discord.Embed:
    """`/digest show`: each channel's schedule, filters and last result."""
    embed = discord.Embed(title="Daily digests on this server", colour=NEWS_COLOUR)
    if not digests:
        embed.description = "None yet. Set one up with `/digest set`."
    for digest in digests[:25]:
        lines = [f"<#{digest.channel_id}> every day at {digest.post_time:%H:%M} "
                 f"({digest.timezone}), top {digest.size}"]
        if digest.topics:
            lines.append("Topics: " + ", ".join(escape(t) for t in digest.topics))
        if digest.keywords:
            lines.append("Keywords: " + ", ".join(escape(k) for k in digest.keywords))
        if digest.role_id:
            lines.append(f"Mentions <@&{digest.role_id}>")
        if digest.quiet_day:
            lines.append("Posts a short line on quiet days")
        lines.append(f"Last posted for: {digest.last_day.isoformat()}" if digest.last_day
                     else "Not posted yet")
        if digest.failure:
            lines.append(f"⚠️ Failing: {escape(shorten(digest.failure, 200))}")
        embed.add_field(name="Failing" if digest.failure else "Active",
                        value=_fit(lines, FIELD_VALUE_LIMIT, "\n"), inline=False)
    return embed
