"""Fuzzy resolution of what a person typed to topics, providers and articles; autocomplete.

The index is an in-memory snapshot of names and titles, rebuilt after each sync that
changed something, never per keystroke.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from rapidfuzz import fuzz, process, utils

from bot.store import ProviderCount, Store, TitleEntry, TopicCount
from bot.titles import TitleIndex

# Below this WRatio score a candidate is noise, not a suggestion.
SCORE_CUTOFF = 60.0
AUTOCOMPLETE_LIMIT = 25
# Below this token-set score two titles are about different things.
SIMILAR_CUTOFF = 50.0
_WORD = re.compile(r"\w+")
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "will", "with",
})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scored(Generic[T]):
    """A candidate and how well it matched (0 to 100)."""

    item: T
    score: float
    closeness: float = 0.0  # fuzz.ratio of the whole strings: breaks WRatio ties


def fts_query(text: str) -> str | None:
    """An FTS5 expression matching the words of `text`, safe for any input.

    Every word is wrapped in double quotes, so operators (`NEAR(`, `-`, `:`, `*`, `"`)
    typed by a person are plain text to FTS5. Common words ("the", "for") and single
    characters (the "s" of "Meta's") are left out when other words remain: nearly every
    article holds them, so they narrow nothing and make FTS walk its longest lists. None
    when there is no word at all.
    """
    words = _WORD.findall(text)
    meaningful = [word for word in words
                  if len(word) > 1 and word.casefold() not in STOPWORDS]
    words = meaningful or words
    if not words:
        return None
    # \w+ holds no quote, so none needs escaping; FTS5 ANDs space-separated terms.
    return " ".join(f'"{word}"' for word in words)


def _best_per_item(query: str, names: list[str], owners: list[T]) -> list[Scored[T]]:
    """Fuzzy-match `query` against `names` (each owned by an item); best score per item.

    WRatio ties often (a short name inside the query scores as high as a good match), so
    each hit also carries plain similarity of the whole strings to break such ties.
    """
    hits = process.extract(
        query, names, scorer=fuzz.WRatio, processor=utils.default_process,
        score_cutoff=SCORE_CUTOFF, limit=None,
    )
    best: dict[int, Scored[T]] = {}
    for name, score, index in hits:
        owner = owners[index]
        closeness = fuzz.ratio(query, name, processor=utils.default_process)
        current = best.get(id(owner))
        if current is None or (score, closeness) > (current.score, current.closeness):
            best[id(owner)] = Scored(owner, score, closeness)
    return list(best.values())


class SearchIndex:
    """Topics, providers and titles of one corpus snapshot, ready for fuzzy matching."""

    def __init__(
        self, topics: list[TopicCount], providers: list[ProviderCount], titles: list[TitleEntry]
    ):
        self.topics = topics
        self.providers = providers
        self._topic_names = [topic.name for topic in topics]
        self._provider_names: list[str] = []
        self._provider_owners: list[ProviderCount] = []
        for provider in providers:
            spellings = {provider.name, provider.domain, provider.domain.split(".")[0],
                         *provider.names}
            for spelling in sorted(spellings):
                self._provider_names.append(spelling)
                self._provider_owners.append(provider)
        # Titles are kept as columns, not as one TitleEntry per article: each full collection
        # of the cyclic garbage collector walks every tracked object, and 170,000 entries
        # (at 100,000 articles) made each one ~30 ms longer, a pause in the middle of
        # commands. A tuple of strings, numpy arrays and a dict of ints are not tracked.
        # Entries are made on demand for the few titles a query returns.
        self._names = tuple(entry.title for entry in titles)
        self._ids = np.fromiter((entry.id for entry in titles), np.int64, len(titles))
        self._stubs = np.fromiter((entry.is_stub for entry in titles), np.bool_, len(titles))
        self._scores = np.fromiter((entry.score for entry in titles), np.float64, len(titles))
        self._position = {entry.id: position for position, entry in enumerate(titles)}
        self._titles = TitleIndex(self._names)
        best = heapq.nlargest(AUTOCOMPLETE_LIMIT, range(len(titles)), key=self._scores.item)
        self._best_score = self._scores.item(best[0]) if best else 0.0
        self._best_titles = [self._entry(position) for position in best]

    def score_of(self, article_id: int) -> float:
        """An article's ranking score. One the index has not seen yet came with the sync
        that is being indexed now: it counts as the best-scored (the newest) article."""
        position = self._position.get(article_id)
        if position is None:
            return self._best_score
        return self._scores.item(position)

    @classmethod
    async def build(cls, store: Store) -> SearchIndex:
        topics, providers = await store.topic_counts(), await store.provider_counts()
        titles = await store.titles()
        # Indexing 100,000 titles takes about a second, mostly in numpy: off the event loop.
        return await asyncio.to_thread(cls, topics, providers, titles)

    def match_topics(self, text: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[Scored[TopicCount]]:
        """Topics best matching `text`; an exact (case-insensitive) name comes first."""
        key = text.strip().casefold()
        exact = [Scored(t, 100.0) for t in self.topics if t.name.casefold() == key]
        if exact:
            return exact
        if not key:
            return [Scored(topic, 0.0) for topic in self.topics[:limit]]
        hits = _best_per_item(text, self._topic_names, self.topics)
        # Equal scores: the closer whole name, then the more used topic (the likelier meaning).
        return sorted(hits, key=lambda s: (-s.score, -s.closeness, -s.item.count))[:limit]

    def match_providers(
        self, text: str, limit: int = AUTOCOMPLETE_LIMIT
    ) -> list[Scored[ProviderCount]]:
        """Providers whose name, any spelling of it, or domain best match `text`."""
        key = text.strip().casefold().removeprefix("www.")
        exact = [
            Scored(p, 100.0) for p in self.providers
            if key in {p.domain, p.name.casefold(), *(n.casefold() for n in p.names)}
        ]
        if exact:
            return exact
        if not key:
            return [Scored(provider, 0.0) for provider in self.providers[:limit]]
        hits = _best_per_item(text, self._provider_names, self._provider_owners)
        return sorted(hits, key=lambda s: (-s.score, -s.closeness, -s.item.count))[:limit]

    @property
    def titles(self) -> list[TitleEntry]:
        """Every indexed title, made afresh on each use: for tools and tests, not queries."""
        return [self._entry(position) for position in range(len(self._names))]

    def _entry(self, position: int) -> TitleEntry:
        return TitleEntry(self._ids.item(position), self._names[position],
                          self._stubs.item(position), self._scores.item(position))

    def title_entry(self, article_id: int) -> TitleEntry | None:
        """The indexed title of an article, if the article exists in this snapshot."""
        position = self._position.get(article_id)
        return None if position is None else self._entry(position)

    def similar_titles(self, title: str, limit: int) -> list[Scored[TitleEntry]]:
        """Titles sharing most of the words of `title` (token-set similarity ≥ 50)."""
        hits = self._titles.search(title, limit, SIMILAR_CUTOFF, scorer=fuzz.token_set_ratio)
        return [Scored(self._entry(index), score) for index, score in hits]

    def match_titles(self, text: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[Scored[TitleEntry]]:
        """Articles whose titles best match `text`; full articles before stubs on a tie."""
        if not text.strip():
            return [Scored(entry, 0.0) for entry in self._best_titles[:limit]]
        hits = self._titles.search(text, limit=max(limit * 4, 50), cutoff=SCORE_CUTOFF)
        words = utils.default_process(text).split()

        def order(hit: tuple[int, float]) -> tuple[float, int, bool, float]:
            # WRatio often ties; on a tie, the title holding more of the typed words wins,
            # then a full article over a stub, then the better ranked one.
            index, score = hit
            held = sum(word in self._titles.texts[index] for word in words)
            return (-round(score, 1), -held, self._stubs.item(index), -self._scores.item(index))

        return [Scored(self._entry(index), score)
                for index, score in sorted(hits, key=order)[:limit]]
