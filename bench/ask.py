"""Question figures: how fast a question is understood, how fast `/news ask` answers it
(in process: understanding, the store's query and the page, without Discord), and how often
a generated question with typos finds the article it was made from in its top 5.

The questions are made from the corpus itself (deterministic for a seed): an article's
provider, a topic it has, the month it was published in and two or three distinctive
words of its title (the rarest in the corpus), the first with letters swapped, dropped or
doubled, in a few phrasings. The bench corpus's titles are templated: the same few words
recur in hundreds of titles a month. A question whose words, month and name fit more than
TOP titles equally names no one article of them, so none is made of it: its "expected"
article would be found in the top 5 by chance only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from random import Random
from typing import TypeVar

from bot.articles import Article
from bot.ask import Asker
from bot.queries import Answer, News
from bot.question import STOP_WORDS
from bot.search import fts_query
from bot.store.corpus import COUNT_CAP, Filter
from bot.vocabulary import normalized, tokens

QUESTIONS = 60
ROUNDS = 3  # timed passes over the questions, after one untimed warm-up pass
TOP = 5
SAMPLED = 6  # articles sampled per question made: some make no question that names them
UNDERSTAND_P99_TARGET_MS = 2.0
ASK_P99_TARGET_MS = 25.0
QUALITY_TARGET_PCT = 90.0
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{3,}")
F = TypeVar("F")
# name, value, unit, target, at_least → a figure (bench/run.py's Figure)
MakeFigure = Callable[[str, float, str, float | None, bool], F]


def typo(rng: Random, word: str) -> str:
    """The word with two letters swapped, one dropped or one doubled."""
    if len(word) < 5:
        return word
    at = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    if kind == 1:
        return word[:at] + word[at + 1:]
    return word[:at] + word[at] + word[at:]


def _distinctive(title: str, news: News) -> list[str]:
    """The title's words that are no stop words, rarest in the corpus first."""
    words = dict.fromkeys(word for word in _WORD.findall(title)
                          if word.lower() not in STOP_WORDS)
    return sorted(words, key=lambda word: (news.vocabulary.count(word), word.lower()))


def _named_topic(article: Article) -> str | None:
    """A topic a question can name: "AI" reads as every article of an AI news bot."""
    return next((topic for topic in article.topics if topic.casefold() not in STOP_WORDS),
                None)


def _provider_key(article: Article) -> str | None:
    """Who the store takes an article's provider to be: its domain (a provider is stored by
    domain, under whichever of its names), else its name."""
    return article.provider.domain or article.provider.name if article.provider else None


async def _fits(news: News, words: list[str], article: Article, phrasing: int) -> int:
    """How many articles of the article's month the untyped question fits as well as it:
    every word in the title, from its provider or with its topic when the question says."""
    match = fts_query(" ".join(words))
    if match is None or article.published_at is None:
        return 0
    start = article.published_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    # Titles only: a search reads at most COUNT_CAP matches, and the words of a templated
    # corpus are in the excerpts of thousands of articles a month.
    matches, capped = await news.store.search_within(f"title : ({match})",
                                                     Filter(start=start, end=end))
    if capped:  # more titles hold the words than a search reads: certainly more than TOP
        return COUNT_CAP
    wanted = {normalized(word) for word in words}
    found = await news.store.articles([article_id for article_id, _bm25 in matches])
    return sum(
        wanted <= {normalized(token) for token in tokens(other.title)}
        and (phrasing != 0 or _provider_key(other) == _provider_key(article))
        and (phrasing != 1 or _named_topic(article) in other.topics)
        for other in found.values())


async def questions(news: News, seed: int) -> list[tuple[str, int]]:
    """(question, the id of the article it was made from), QUESTIONS of them."""
    rng = Random(seed)
    entries = sorted((entry for entry in news.index.titles if not entry.is_stub),
                     key=lambda entry: entry.id)
    sample = rng.sample(entries, min(len(entries), QUESTIONS * SAMPLED))
    found = await news.store.articles([entry.id for entry in sample])
    made: list[tuple[str, int]] = []
    for entry in sample:
        article = found.get(entry.id)
        words = _distinctive(article.title, news) if article else []
        if article is None or article.published_at is None or len(words) < 2:
            continue
        picked = words[: rng.randint(2, 3)]
        rng.shuffle(picked)
        phrasing = rng.randrange(3)
        provider, topic = article.provider.name if article.provider else "", \
            _named_topic(article)
        if (phrasing == 0 and not provider) or (phrasing == 1 and topic is None):
            phrasing = 2
        if await _fits(news, picked, article, phrasing) > TOP:
            continue
        typed = [typo(rng, word) if i == 0 else word.lower() for i, word in enumerate(picked)]
        when = f"in {article.published_at:%B %Y}"
        if phrasing == 0:
            question = f"what did {typo(rng, provider)} say about {' '.join(typed)} {when}?"
        elif phrasing == 1:
            question = f"{topic} news about {' '.join(typed)} {when}"
        else:
            question = f"anything on {' '.join(typed)} {when}"
        made.append((question, entry.id))
        if len(made) == QUESTIONS:
            break
    return made


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * int(pct) // 100) - 1)]


async def measure(news: News, seed: int, make: MakeFigure[F]) -> list[F]:
    """question_understanding_p99_ms, ask_p99_ms and ask_quality_top5_pct, with p50s."""
    asker = Asker(news)
    asked = await questions(news, seed)
    now = datetime.now(UTC)
    understanding: list[float] = []
    answering: list[float] = []
    hits = 0
    for round_number in range(ROUNDS + 1):
        for question, article_id in asked:
            started = time.perf_counter()
            asker.understand(question, now)
            understood_at = time.perf_counter()
            result = (await asker.ask(question, now, TOP)).result
            done = time.perf_counter()
            if round_number == 0:  # the warm-up pass: quality is counted once
                hits += isinstance(result, Answer) and article_id in {
                    item.article_id for item in result.page.items}
                continue
            understanding.append((understood_at - started) * 1000)
            answering.append((done - understood_at) * 1000)
    if not asked:
        return []
    return [
        make("question_understanding_p50_ms", _percentile(understanding, 50), "ms", None, False),
        make("question_understanding_p99_ms", _percentile(understanding, 99), "ms",
             UNDERSTAND_P99_TARGET_MS, False),
        make("ask_p50_ms", _percentile(answering, 50), "ms", None, False),
        make("ask_p99_ms", _percentile(answering, 99), "ms", ASK_P99_TARGET_MS, False),
        make("ask_quality_top5_pct", 100 * hits / len(asked), "%", QUALITY_TARGET_PCT, True),
    ]
