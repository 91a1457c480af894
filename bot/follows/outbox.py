"""After each sync: the new full articles matched against every active follow, into the
outbox; and what a new follow would have matched (its preview and backfill)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.follows.matcher import FollowMatcher
from bot.follows.rules import FollowRule
from bot.follows.state import Follow
from bot.store import Store
from bot.store.follows import Match, NewArticle

# An article published this long before a follow was made is not news to it: a feed added
# today must not flood the channel with its month-old entries.
TOO_OLD = timedelta(days=1)
BIG_ROUND = 30  # more matches than this for one follow in one round are summarised…
SHOWN = 10  # …as one message of the newest this many and "and N more"
PREVIEW_DAYS = 7
BACKFILL_BATCH = 0  # the round number of a follow's backfill (sync rounds count from 1)


def _fresh(article: NewArticle, follow: Follow) -> bool:
    return article.published_at is None or article.published_at >= follow.created_at - TOO_OLD


def shown(matched: int) -> int:
    """How many of a follow's `matched` new articles of one round are posted (the first):
    all, or in a big round SHOWN, the rest its "and N more"."""
    return SHOWN if matched > BIG_ROUND else matched


def plan(follows: Sequence[Follow], articles: Sequence[NewArticle],
         found: Mapping[int, Sequence[int]]) -> tuple[list[Match], dict[int, int]]:
    """Outbox rows for what the matcher found (articles newest first), and by follow id
    how many a big round leaves out: counted, not recorded one by one (each article is
    matched once, so what is left out is not posted later all the same, unless the article
    is removed from the store and added again: then it is new)."""
    by_id = {article.candidate.id: article for article in articles}
    oldest = min((a.published_at for a in articles if a.published_at), default=None)
    matches: list[Match] = []
    more: dict[int, int] = {}
    for follow in follows:
        matched = found.get(follow.id, ())
        if oldest is None or oldest >= follow.created_at - TOO_OLD:  # all fresh: read few
            count = len(matched)
            chosen = [by_id[i] for i in matched[:shown(count)]]
        else:
            fresh = [by_id[i] for i in matched if _fresh(by_id[i], follow)]
            count = len(fresh)
            chosen = fresh[:shown(count)]
        matches.extend(Match(follow.id, follow.guild_id, article.url, article.published_at)
                       for article in chosen)
        if count > len(chosen):
            more[follow.id] = count - len(chosen)
    return matches, more


async def match_new(store: Store) -> int:
    """Match the full articles stored since the last round against the active follows and
    record the matches and the new cursor together; how many posts that makes."""
    after = await store.follows.cursor()
    follows = [follow for follow in await store.follows.all() if follow.paused is None]
    if not follows:  # nothing to match: only move the cursor past what arrived
        newest = await store.follows.newest_seq()
        if newest > after:
            await store.follows.set_cursor(newest)
        return 0
    articles, newest = await store.follows.new_articles(after)
    if not articles:
        return 0
    # Many follows and articles take a while in Python: off the event loop, so that
    # commands are answered meanwhile; the plan too.
    matches, more = await asyncio.to_thread(_matched, follows, articles)
    return await store.follows.record_matches(matches, newest, newest, more)


def _matched(follows: Sequence[Follow], articles: Sequence[NewArticle]
             ) -> tuple[list[Match], dict[int, int]]:
    """The outbox rows of these follows for these new articles, and what each leaves out."""
    matcher = FollowMatcher({follow.id: follow.rule for follow in follows})
    return plan(follows, articles, matcher.match([a.candidate for a in articles]))


async def recent_matches(store: Store, rule: FollowRule, now: datetime) -> list[NewArticle]:
    """The full articles of the last week a rule matches, newest first."""
    articles = await store.follows.published_since(now - timedelta(days=PREVIEW_DAYS))
    # A week of a large corpus is thousands of articles, a while for the matcher: off the
    # event loop, as in match_new.
    matched = await asyncio.to_thread(FollowMatcher({0: rule}).match,
                                      [a.candidate for a in articles])
    by_id = {article.candidate.id: article for article in articles}
    return [by_id[article_id] for article_id in matched.get(0, ())]


async def backfill(store: Store, follow: Follow, articles: Sequence[NewArticle]) -> int:
    """Put these articles in a new follow's outbox, to be posted as any match is."""
    return await store.follows.record_matches(
        [Match(follow.id, follow.guild_id, a.url, a.published_at) for a in articles],
        BACKFILL_BATCH, None)
