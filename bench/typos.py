"""Typo correction figures: what correcting a typo adds to a search, and the vocabulary's size.

Called by bench/run.py for each corpus size (`measure`). The inputs are words of the
corpus' own titles, each with one typo (two letters swapped, one dropped or one doubled)
that is not itself a word of the corpus:

- `typo_overhead_p99_ms` (target 10): the p99 of the correction step's own work in a
  search with a typo: the full-text search that finds nothing, then the corrections
  checked against the index (`News.verified_corrections`). The search that follows is the
  one typed right. (The difference of the two searches' p99s was tried first: two noisy
  tails subtracted, it came out negative as often as not.)
- `typo_correction_p99_ms`: the in-memory correction alone (`News.correct`);
- `typo_search_p99_ms` and `typo_search_typed_right_p99_ms`: the whole searches, for scale;
- `typo_corrected_fraction`: the share of typos corrected back to the word they came from;
- `vocabulary_traced_mb` and `vocabulary_words`: what the vocabulary holds, words included
  (tracemalloc: every Python and numpy allocation still alive after it is built);
- `vocabulary_update10_cpu_ms`: the CPU of its update after a write of ten articles.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from random import Random
from typing import TYPE_CHECKING

from bench.traced import traced_mb
from bot.queries import Answer, News
from bot.search import fts_query
from bot.store import Store
from bot.vocabulary import LONG_TYPED, MIN_TYPED, Vocabulary, normalized, tokens

if TYPE_CHECKING:
    from bench.run import Figure

INPUTS = 60
ROUNDS = 3  # timed passes over the inputs, after one untimed warm-up pass
OVERHEAD_TARGET_MS = 10.0


def _typo(rng: Random, word: str) -> str:
    """One typo of `word`: two neighbouring letters swapped, one dropped or one doubled."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def inputs(news: News, seed: int) -> list[tuple[str, str]]:
    """(typed right, with a typo) pairs: a title word the corpus knows, and a typo of it
    the corpus does not know, as one-word searches."""
    rng = Random(seed)
    titles = [entry.title for entry in news.index.titles]
    rng.shuffle(titles)
    pairs: list[tuple[str, str]] = []
    for title in titles:
        words = [w for w in tokens(title)
                 if MIN_TYPED + 1 <= len(w) < LONG_TYPED + 4 and w.isalpha()]
        if not words:
            continue
        word = normalized(rng.choice(words))
        typo = _typo(rng, word)
        if typo != word and not news.vocabulary.count(typo):
            pairs.append((word, typo))
        if len(pairs) == INPUTS:
            break
    return pairs


async def _timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    for call in calls:  # warm-up
        await call()
    timings = []
    for _round in range(ROUNDS):
        for call in calls:
            started = time.perf_counter()
            await call()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _search(news: News, text: str) -> Callable[[], Awaitable[object]]:
    return lambda: news.search(text, 5)


def _step(news: News, typo: str) -> Callable[[], Awaitable[object]]:
    """What a search with a typo does before it searches again: the full-text search that
    finds nothing, and the corrections checked against the index."""
    match = fts_query(typo)

    async def call() -> object:
        if match is not None:
            await news.store.search(match)
        return await news.verified_corrections(tokens(typo))
    return call


def _correct(news: News, word: str) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        return news.correct([word])
    return call


async def traced_vocabulary_mb(store: Store) -> tuple[float, int]:
    """MB a vocabulary built from `store` holds, words included, and its number of words."""
    held, vocabulary = await traced_mb(lambda: Vocabulary.build(store))
    return held, len(vocabulary)


async def measure(news: News, seed: int, percentile: Callable[[list[float], float], float],
                  figure: type[Figure]) -> list[Figure]:
    """The typo figures of the corpus `news` holds (its index and vocabulary built)."""
    pairs = inputs(news, seed)
    right = await _timed([_search(news, word) for word, _typo in pairs])
    typed = await _timed([_search(news, typo) for _word, typo in pairs])
    step = await _timed([_step(news, typo) for _word, typo in pairs])
    correcting = await _timed([_correct(news, typo) for _word, typo in pairs])
    fixed = 0
    for word, typo in pairs:
        result = await news.search(typo, 5)
        fixed += isinstance(result, Answer) and dict(result.corrected).get(typo) == word
    held_mb, words = await traced_vocabulary_mb(news.store)
    update_ms = await _update_cpu_ms(news)
    return [
        figure("typo_overhead_p99_ms", percentile(step, 99), "ms", OVERHEAD_TARGET_MS),
        figure("typo_correction_p99_ms", percentile(correcting, 99), "ms"),
        figure("typo_search_p99_ms", percentile(typed, 99), "ms"),
        figure("typo_search_typed_right_p99_ms", percentile(right, 99), "ms"),
        figure("typo_corrected_fraction", fixed / len(pairs) if pairs else 1.0, "fraction"),
        figure("vocabulary_traced_mb", held_mb, "MB"),
        figure("vocabulary_words", words, "n"),
        figure("vocabulary_update10_cpu_ms", update_ms, "ms"),
    ]


async def _update_cpu_ms(news: News) -> float:
    """CPU milliseconds (every thread) of the vocabulary update after a write of ten
    articles, as `News` runs it: their words and the topic and provider names recounted."""
    entries = news.index.titles[-10:]
    ids = [entry.id for entry in entries]
    before = [entry.title for entry in entries]
    before += [name for provider in news.index.providers
               for name in (provider.name, provider.domain, *provider.names)]
    before += [topic.name for topic in news.index.topics]
    started = time.process_time()
    await news.vocabulary.updated(news.store, ids, before)
    return (time.process_time() - started) * 1000
