"""Posting a follow's outbox to its channel, exactly once across crashes.

The order, per message: (1) its rows are marked 'sending' with a nonce made from the
follow, the round and the URLs (committed); (2) the message is sent with that nonce
(discord.py then sets enforce_nonce, and Discord answers a repeat within a few minutes with
the first message instead of a second one); (3) the rows are marked 'sent' with the
message id. A crash between (1) and (3) leaves rows 'sending': the next round of the next
start reconciles them first. It looks in the channel (its recent history; in a forum, its
active threads) for the bot's post of those articles made since the attempt; found, the rows
are marked sent; not found, the message is sent again with the same nonce. When the history
cannot be read (no Read Message History there), it is sent again with the same nonce: no
post is lost, and Discord's nonce check prevents a repeat unless the attempt is older than
its few minutes; that is the one case where a post can appear twice. A forum post takes no
nonce: there the look among the active threads is what prevents a second thread. A send Discord
refuses (a 4xx: it made nothing) puts its rows back to pending, to be posted as new when the
follow is retried; a send its server fails (5xx) stays 'sending', as it may have been made.
A message Discord finds malformed is sent again one article at a time, and an article it
refuses alone is left out (logged): one bad card would otherwise fail the follow for good.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import discord

from bot import render
from bot.articles import Article, canonical_url
from bot.exceptions import PostFailed
from bot.follows.state import Follow, Outgoing
from bot.metrics import Metrics
from bot.store import Store

log = logging.getLogger(__name__)

PER_MESSAGE = 10  # Discord's limit of embeds in one message
INVALID_FORM = 50035  # Discord's error code for a request body it finds malformed
THREAD_NAME = 100  # Discord's limit of a thread's name
HISTORY = 100  # messages looked at when reconciling an unfinished send
CLOCK_SKEW = timedelta(minutes=1)  # our clock against Discord's, when comparing times
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)
Target = discord.TextChannel | discord.ForumChannel | discord.Thread


def nonce(follow_id: int, batch: int, urls: Sequence[str]) -> str:
    """The same message gets the same nonce (Discord takes up to 25 characters)."""
    digest = hashlib.sha256(f"{follow_id}:{batch}:{' '.join(urls)}".encode()).hexdigest()
    return digest[:25]


def retry_delay(follow: Follow, now: datetime) -> timedelta:
    """Back-off while failing: about as long as it has failed, from a minute up to an hour."""
    failing_for = now - follow.failing_since if follow.failing_since else FIRST_RETRY
    return min(max(failing_for, FIRST_RETRY), LAST_RETRY)


def thread_name(article: Article) -> str:
    title = " ".join(article.title.split()) or "New article"
    return title if len(title) <= THREAD_NAME else title[: THREAD_NAME - 1] + "…"


def mentions(follow: Follow) -> discord.AllowedMentions:
    """The follow's role is the one thing its posts may ping."""
    if follow.role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, users=False, replied_user=False,
                                   roles=[discord.Object(follow.role_id)])


def content(follow: Follow, more: int, more_hint: str) -> str | None:
    lines = [f"<@&{follow.role_id}>"] if follow.role_id else []
    if more:
        lines.append(f"…and {more} more — {more_hint}")
    return "\n".join(lines) or None


def _failure(exc: discord.HTTPException) -> str:
    if isinstance(exc, discord.NotFound):
        return "the channel was deleted"
    if isinstance(exc, discord.Forbidden):
        return ("missing permissions: the bot needs View Channel, Send Messages and Embed "
                "Links there (in a forum: Create Posts)")
    return f"Discord refused the post ({exc.status} {exc.text or ''})".strip()


class Poster:
    """Sends one follow's outbox rows; the bot gives it the channel and who it is."""

    def __init__(self, store: Store, me: discord.abc.Snowflake, metrics: Metrics):
        self.store = store
        self.me = me
        self.metrics = metrics

    async def articles(self, follow: Follow, rows: Sequence[Outgoing]) -> list[Article]:
        """The stored articles of these rows, in order; rows whose article is gone (a feed
        dropped it meanwhile) are left out of the outbox."""
        stored = await self.store.articles_by_url([row.url for row in rows])
        found: list[Article] = []
        gone: list[str] = []
        for row in rows:
            article = stored.get(row.url)
            if article is None or article.is_stub:
                gone.append(row.url)
            else:
                found.append(article)
        if gone:
            await self.store.follows.drop_posts(follow.id, gone)
        return found

    async def post(self, channel: Target, follow: Follow, rows: Sequence[Outgoing],
                   more: int, more_hint: str, now: datetime) -> None:
        """Post these rows (one round of one follow); raises PostFailed."""
        articles = await self.articles(follow, rows)
        # A forum gets one post per article; each mentions the role as a message would.
        size = 1 if isinstance(channel, discord.ForumChannel) else PER_MESSAGE
        for start in range(0, len(articles), size):
            chunk = articles[start : start + size]
            last = start + size >= len(articles)
            await self._send_or_leave_out(channel, follow, rows[0].batch, chunk,
                                          content(follow, more if last else 0, more_hint), now)

    async def _send_or_leave_out(self, channel: Target, follow: Follow, batch: int,
                                 articles: Sequence[Article], text: str | None,
                                 now: datetime) -> None:
        """Send these articles; when Discord finds the message malformed, send them one by
        one, and leave out the article it refuses alone: one bad card must not fail the
        follow for good (it would be refused at every retry)."""
        try:
            await self._send(channel, follow, batch, articles, text, now)
        except PostFailed as exc:
            if not exc.malformed:
                raise
            if len(articles) > 1:
                for position, article in enumerate(articles, 1):
                    await self._send_or_leave_out(channel, follow, batch, [article],
                                                  text if position == len(articles) else None,
                                                  now)
                return
            log.warning("follow %s: Discord refused the card of %s (%s); it is left out",
                        follow.id, articles[0].url, exc)
            await self.store.follows.drop_posts(follow.id, [articles[0].url])
            self.metrics.follow_posted("failed")

    async def _send(self, channel: Target, follow: Follow, batch: int,
                    articles: Sequence[Article], text: str | None, now: datetime) -> None:
        urls = [article.url for article in articles]
        key = nonce(follow.id, batch, urls)
        await self.store.follows.mark_sending(follow.id, urls, key, now)
        await self._send_marked(channel, follow, articles, text, key, now)

    async def _send_marked(self, channel: Target, follow: Follow, articles: Sequence[Article],
                           text: str | None, key: str, now: datetime) -> None:
        """Send rows marked 'sending' and record how it went."""
        urls = [article.url for article in articles]
        try:
            message_id = await self._deliver(channel, follow, articles, text, key)
        except PostFailed as exc:
            if exc.refused:  # nothing was made: the retry posts it as new, with its text
                await self.store.follows.mark_pending(follow.id, urls)
            raise
        await self.store.follows.mark_sent(follow.id, urls, message_id, now)
        self.metrics.follow_posted("posted")

    async def _deliver(self, channel: Target, follow: Follow, articles: Sequence[Article],
                       text: str | None, key: str) -> int:
        embeds = [render.article_card(article) for article in articles]
        try:
            if isinstance(channel, discord.ForumChannel):
                created = await channel.create_thread(
                    name=thread_name(articles[0]), content=text or None, embeds=embeds,
                    view=render.link_buttons(articles[0]), allowed_mentions=mentions(follow))
                return created.thread.id
            # One article gets the link buttons of /news article; a view cannot tell
            # several articles' buttons apart, and each embed's title links already.
            if len(articles) == 1:
                message = await channel.send(content=text, embeds=embeds, nonce=key,
                                             view=render.link_buttons(articles[0]),
                                             allowed_mentions=mentions(follow))
            else:
                message = await channel.send(content=text, embeds=embeds, nonce=key,
                                             allowed_mentions=mentions(follow))
            return message.id
        except discord.HTTPException as exc:
            raise PostFailed(_failure(exc), refused=exc.status < 500,
                             malformed=exc.status == 400 and exc.code == INVALID_FORM) from None

    async def reconcile(self, channel: Target, follow: Follow, rows: Sequence[Outgoing],
                        more: int, more_hint: str, now: datetime) -> None:
        """Finish sends a crash interrupted (see the module's docstring); raises PostFailed.

        `more`: what the round left out, said by the last of these posts when sent again
        (0 while the round has posts still to make after them)."""
        by_nonce: dict[str, list[Outgoing]] = {}
        for row in rows:
            by_nonce.setdefault(row.nonce or "", []).append(row)
        # A group whose articles are all gone is not sent: the one before it ends the round.
        groups = [(group, articles) for group in by_nonce.values()
                  if (articles := await self.articles(follow, group))]
        for position, (group, articles) in enumerate(groups, 1):
            since = min(row.attempt_at or now for row in group) - CLOCK_SKEW
            found = await self._find(channel, articles, since)
            urls = [article.url for article in articles]
            if found is not None:
                log.info("follow %s: a post interrupted by a restart was made; recorded",
                         follow.id)
                await self.store.follows.mark_sent(follow.id, urls, found, now)
                continue
            key = group[0].nonce or nonce(follow.id, group[0].batch, urls)
            text = content(follow, more if position == len(groups) else 0, more_hint)
            await self._send_marked(channel, follow, articles, text, key, now)

    async def _find(self, channel: Target, articles: Sequence[Article], since: datetime
                    ) -> int | None:
        """The id of the bot's post of these articles made since `since`; None if there is
        none or it cannot be looked for."""
        wanted = {canonical_url(article.link) for article in articles}
        try:
            if isinstance(channel, discord.ForumChannel):
                name = thread_name(articles[0])
                for thread in await channel.guild.active_threads():
                    if (thread.parent_id == channel.id and thread.owner_id == self.me.id
                            and thread.name == name and thread.created_at
                            and thread.created_at >= since):
                        return thread.id
                return None
            async for message in channel.history(limit=HISTORY):
                if message.created_at < since:
                    break
                urls = {canonical_url(embed.url) for embed in message.embeds if embed.url}
                if message.author.id == self.me.id and wanted <= urls:
                    return message.id
        except discord.HTTPException as exc:
            log.warning("cannot look for an interrupted post in channel %s (%s); sending it "
                        "again with the same nonce", channel.id, exc.status)
        return None
