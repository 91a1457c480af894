"""Follows as users see them: one line each, the list embed, the reply to /follow add."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.follows.state import Follow
from bot.render import NEWS_COLOUR, escape
from bot.text import counted, page_of, shorten

LINE_BUDGET = 380  # per follow, so a page of ten always fits a description


def describe(follow: Follow, topic_names: Mapping[str, str],
             provider_names: Mapping[str, str]) -> str:
    rule = follow.rule
    return rule.describe(topic_names.get(rule.topic_key or ""),
                         provider_names.get(rule.provider_domain or ""))


def follow_line(follow: Follow, topic_names: Mapping[str, str],
                provider_names: Mapping[str, str]) -> str:
    """`#3 · topic AI Hardware → #news · 12 posted, last 3 hours ago · ok`."""
    last = (f", last {discord.utils.format_dt(follow.last_post_at, 'R')}"
            if follow.last_post_at else "")
    role = f" (mentions <@&{follow.role_id}>)" if follow.role_id else ""
    line = (f"**#{follow.id}** · {escape(describe(follow, topic_names, provider_names))} → "
            f"<#{follow.channel_id}>{role} · {follow.posted} posted{last} · "
            f"{escape(follow.state())}")
    return shorten(line, LINE_BUDGET)


def follows_embed(follows: Sequence[Follow], offset: int, total: int, page_size: int,
                  topic_names: Mapping[str, str], provider_names: Mapping[str, str]
                  ) -> discord.Embed:
    embed = discord.Embed(title="Follows on this server", colour=NEWS_COLOUR)
    if not follows:
        embed.description = ("No follows yet: `/follow add` posts new articles on a topic, "
                             "from a provider or with keywords in a channel.")
        return embed
    embed.description = "\n".join(follow_line(f, topic_names, provider_names) for f in follows)
    embed.set_footer(text=f"Page {page_of(offset, page_size, total)} · "
                          f"{counted(total, 'follow')}")
    return embed


def added_embed(follow: Follow, summary: str, week: int, backfilled: int) -> discord.Embed:
    """The reply to /follow add: the follow as understood, and what it would have posted."""
    lines = [f"**#{follow.id}** · {escape(summary)} → <#{follow.channel_id}>",
             f"It would have matched **{week}** article{'s' if week != 1 else ''} of the last "
             "week."]
    if backfilled:
        lines.append(f"Posting the {backfilled} newest of them now.")
    lines.append("New matching articles are posted there as they arrive.")
    return discord.Embed(title="Follow added", description="\n".join(lines), colour=NEWS_COLOUR)


def follows_field(embed: discord.Embed, follows: Sequence[Follow]) -> None:
    """/admin stats: how many follows, and which fail (server, why)."""
    failing = [f for f in follows if f.failure]
    embed.add_field(name="Follows", value=f"{len(follows)} ({len(failing)} failing)")
    if failing:
        lines = [f"#{f.id} server {f.guild_id}: {escape(f.state())}" for f in failing]
        embed.add_field(name="Failing follows", value=shorten("\n".join(lines), 1024),
                        inline=False)
