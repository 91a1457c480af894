"""Question figures: how fast a question is understood, how fast `/news ask` answers it
(in process: understanding, the store's query and the page, without Discord), and how often
a generated question with typos finds the article it was made from in its top 5.

The questions are made from the corpus itself (deterministic for a seed): an article's
provider, a topic it has, the month it was published in and two or three distinctive
words of its title, with letters swapped, dropped or doubled, in a few phrasings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from random import Random
from typing import TypeVar

from bot.ask import Asker
from bot.queries import Answer, News
from bot.question import STOP_WORDS

QUESTIONS = 60
ROUNDS = 3  # timed passes over the questions, after one untimed warm-up pass
TOP = 5
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


def _distinctive(title: str) -> list[str]:
    return [word for word in _WORD.findall(title) if word.lower() not in STOP_WORDS]


async def questions(news: News, seed: int) -> list[tuple[str, int]]:
    """(question, the id of the article it was made from), QUESTIONS of them."""
    rng = Random(seed)
    entries = sorted((entry for entry in news.index.titles if not entry.is_stub),
                     key=lambda entry: entry.id)
    sample = rng.sample(entries, min(len(entries), QUESTIONS * 3))
    found = await news.store.articles([entry.id for entry in sample])
    made: list[tuple[str, int]] = []
    for entry in sample:
        article = found.get(entry.id)
        words = _distinctive(article.title) if article else []
        if article is None or article.published_at is None or len(words) < 2:
            continue
        picked = rng.sample(words, min(len(words), rng.randint(2, 3)))
        typed = [typo(rng, word) if i == 0 else word.lower() for i, word in enumerate(picked)]
        when = f"in {article.published_at:%B %Y}"
        provider = article.provider.name if article.provider else ""
        phrasing = rng.randrange(3)
        if phrasing == 0 and provider:
            question = f"what did {typo(rng, provider)} say about {' '.join(typed)} {when}?"
        elif phrasing == 1 and article.topics:
            question = f"{article.topics[0]} news about {' '.join(typed)} {when}"
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
