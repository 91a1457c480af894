"""Fuzzy resolution of what a person typed to topics, providers and articles; autocomplete.

The index is an in-memory snapshot of names and titles, updated from what each sync
changed (and now and then built afresh), never per keystroke.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from rapidfuzz import fuzz, process, utils

from bot.results import ProviderCount, TitleEntry, TitleRow, TopicCount
from bot.store import Store
from bot.titles import Texts, TitleIndex, processed

# Below this WRatio score a candidate is noise, not a suggestion.
SCORE_CUTOFF = 60.0
AUTOCOMPLETE_LIMIT = 25
# Below this token-set score two titles are about different things.
SIMILAR_CUTOFF = 50.0
# A sync's changes go into the index's small second segment until it holds more than this
# many titles (or this share of them); then the index is built afresh.
MIN_DELTA = 2000
DELTA_SHARE = 50
# The ranking score's weight against text relevance (bm25) in search; the score grows by
# ln 2 / 2 for each day newer.
SEARCH_SCORE_WEIGHT = 0.05
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


class _Columns:
    """Title rows gathered batch by batch into arrays and blobs, never an object per title.

    Each full collection of the cyclic garbage collector walks every tracked object, and
    a few hundred thousand title entries would make each one a pause in the middle of
    commands; arrays and blobs are not tracked. Entries are made on demand for the few
    titles a query returns.
    """

    def __init__(self) -> None:
        self.ids: list[np.ndarray] = []
        self.stubs: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.names: list[Texts] = []
        self.texts: list[Texts] = []
        self.providers: list[np.ndarray] = []
        self.spellings: list[np.ndarray] = []
        self.topic_counts: list[np.ndarray] = []  # topics per article
        self.topic_ids: list[np.ndarray] = []
        self.spelling_names: list[str] = []  # each spelling of a provider's name, once
        self.spelling_codes: dict[str, int] = {}  # spelling -> its index in spelling_names

    def add(self, rows: Sequence[TitleRow]) -> None:
        count = len(rows)
        self.ids.append(np.fromiter((row[0] for row in rows), np.int64, count))
        self.stubs.append(np.fromiter((bool(row[2]) for row in rows), np.bool_, count))
        self.scores.append(np.fromiter((row[3] for row in rows), np.float64, count))
        self.names.append(Texts.of([row[1].encode("utf-8") for row in rows]))
        self.texts.append(Texts.of([processed(row[1]) for row in rows]))
        self.providers.append(np.fromiter((-1 if row[4] is None else row[4] for row in rows),
                                          np.int64, count))
        self.spellings.append(np.fromiter((self.code(row[5]) for row in rows), np.int32, count))
        topics = [_topic_ids(row[6]) for row in rows]
        self.topic_counts.append(np.fromiter(map(len, topics), np.int64, count))
        self.topic_ids.append(np.fromiter((t for ids in topics for t in ids), np.int64))

    def code(self, spelling: str | None) -> int:
        """The index of a provider spelling (added if new); -1 for none."""
        return _code(spelling, self.spelling_names, self.spelling_codes)


def _code(spelling: str | None, names: list[str], codes: dict[str, int]) -> int:
    if spelling is None:
        return -1
    code = codes.get(spelling)
    if code is None:
        code = codes[spelling] = len(names)
        names.append(spelling)
    return code


def _topic_ids(joined: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in joined.split(",")) if joined else ()


def _tally(values: np.ndarray) -> dict[int, int]:
    found, counts = np.unique(values, return_counts=True)
    return dict(zip(found.tolist(), counts.tolist(), strict=True))


class _Tally:
    """How many articles hold each topic, each provider and each spelling of its name.

    Each article's own provider, spelling and topics are kept too (in arrays), so that a
    sync's changes adjust the counts instead of counting every article again.
    """

    __slots__ = ("provider", "provider_counts", "spelling", "spelling_codes",
                 "spelling_counts", "spelling_names", "topic_counts", "topic_ids",
                 "topic_override", "topic_starts")
    provider: np.ndarray  # per article: its provider's id, -1 for none
    spelling: np.ndarray  # per article: its spelling's index in spelling_names, -1 for none
    spelling_names: list[str]
    spelling_codes: dict[str, int]
    topic_starts: np.ndarray  # the articles' topic ids (at build), as one flat list
    topic_ids: np.ndarray
    topic_override: dict[int, tuple[int, ...]]  # topic ids of the articles changed since
    topic_counts: dict[int, int]
    provider_counts: dict[int, int]
    spelling_counts: dict[tuple[int, int], int]

    @classmethod
    def of(cls, columns: _Columns) -> _Tally:
        tally = object.__new__(cls)
        tally.provider = _joined(columns.providers, np.int64)
        tally.spelling = _joined(columns.spellings, np.int32)
        tally.spelling_names = columns.spelling_names  # only ever appended to
        tally.spelling_codes = columns.spelling_codes
        counts = _joined(columns.topic_counts, np.int64)
        tally.topic_starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=tally.topic_starts[1:])
        tally.topic_ids = _joined(columns.topic_ids, np.int64)
        tally.topic_override = {}
        tally.topic_counts = _tally(tally.topic_ids)
        known = tally.provider >= 0
        tally.provider_counts = _tally(tally.provider[known])
        named = known & (tally.spelling >= 0)
        pairs = _tally((tally.provider[named] << 32) | tally.spelling[named])
        tally.spelling_counts = {(key >> 32, key & 0xFFFFFFFF): n for key, n in pairs.items()}
        return tally

    def _topics(self, position: int) -> tuple[int, ...]:
        override = self.topic_override.get(position)
        if override is not None:
            return override
        if position + 1 < len(self.topic_starts):
            start, end = self.topic_starts[position : position + 2].tolist()
            return tuple(self.topic_ids[start:end].tolist())
        return ()

    def _count(self, position: int, sign: int) -> None:
        provider, spelling = self.provider.item(position), self.spelling.item(position)
        if provider >= 0:
            self.provider_counts[provider] = self.provider_counts.get(provider, 0) + sign
            if spelling >= 0:
                key = (provider, spelling)
                self.spelling_counts[key] = self.spelling_counts.get(key, 0) + sign
        for topic in self._topics(position):
            self.topic_counts[topic] = self.topic_counts.get(topic, 0) + sign

    def changed(self, updates: Mapping[int, TitleRow | None], gone: np.ndarray, size: int
                ) -> _Tally:
        """A copy with these positions' articles written (None: deleted); `gone` tells
        which positions held no article before, `size` how many positions there are now."""
        new = object.__new__(_Tally)
        grown = size - len(self.provider)
        new.provider = np.concatenate([self.provider, np.full(grown, -1, np.int64)])
        new.spelling = np.concatenate([self.spelling, np.full(grown, -1, np.int32)])
        new.spelling_names, new.spelling_codes = self.spelling_names, self.spelling_codes
        new.topic_starts, new.topic_ids = self.topic_starts, self.topic_ids
        new.topic_override = dict(self.topic_override)
        new.topic_counts = dict(self.topic_counts)
        new.provider_counts = dict(self.provider_counts)
        new.spelling_counts = dict(self.spelling_counts)
        for position, row in updates.items():
            if position < len(gone) and not gone.item(position):
                new._count(position, -1)  # what the article held before the sync
            if row is not None:
                new.provider[position] = -1 if row[4] is None else row[4]
                new.spelling[position] = _code(row[5], new.spelling_names, new.spelling_codes)
                new.topic_override[position] = _topic_ids(row[6])
                new._count(position, 1)
        return new

    def lists(self, topic_names: Mapping[int, str],
              providers: Mapping[int, tuple[str, str]]) -> tuple[list[TopicCount],
                                                                 list[ProviderCount]]:
        """The topics (used ones) and providers, most used first, as the store orders them."""
        topics = sorted((TopicCount(topic, topic_names[topic], count)
                         for topic, count in self.topic_counts.items() if count > 0),
                        key=lambda topic: (-topic.count, topic.name))
        spellings: dict[int, list[str]] = {}
        for (provider, spelling), count in self.spelling_counts.items():
            if count > 0:
                spellings.setdefault(provider, []).append(self.spelling_names[spelling])
        listed = sorted((ProviderCount(provider, name, domain,
                                       tuple(sorted(spellings.get(provider, ()))),
                                       self.provider_counts.get(provider, 0))
                         for provider, (name, domain) in providers.items()),
                        key=lambda provider: (-provider.count, provider.name))
        return topics, listed


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def _best(scores: np.ndarray, gone: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the `limit` best scores not gone, best first; ties: lower position."""
    live = np.flatnonzero(~gone)
    if len(live) > limit:
        values = scores[live]
        kth = np.partition(values, len(values) - limit)[len(values) - limit]
        live = live[values >= kth]
    return live[np.lexsort((live, -scores[live]))][:limit]


class SearchIndex:
    """Topics, providers and titles of one corpus snapshot, ready for fuzzy matching.

    Positions follow article ids, ascending. A sync's changes make a new snapshot
    (`updated`) that shares the unchanged bulk with this one.
    """

    def __init__(
        self, topics: list[TopicCount], providers: list[ProviderCount],
        titles: Sequence[TitleEntry],
    ):
        columns = _Columns()
        columns.add([(entry.id, entry.title, entry.is_stub, entry.score, None, None, None)
                     for entry in sorted(titles, key=lambda entry: entry.id)])
        self._set_titles(columns)
        self._set_names(topics, providers)

    def _set_names(self, topics: list[TopicCount], providers: list[ProviderCount]) -> None:
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

    def _set_titles(self, columns: _Columns) -> None:
        self._ids = np.concatenate(columns.ids) if columns.ids else np.empty(0, np.int64)
        self._stubs = np.concatenate(columns.stubs) if columns.stubs else np.empty(0, np.bool_)
        self._scores = (np.concatenate(columns.scores) if columns.scores
                        else np.empty(0, np.float64))
        self._gone = np.zeros(len(self._ids), dtype=np.bool_)  # deleted since the build
        self._names = Texts.joined(columns.names)
        self._renamed: dict[int, str] = {}  # titles that differ from `_names` (or are new)
        self._titles = TitleIndex.of(Texts.joined(columns.texts))
        self._tally = _Tally.of(columns)
        self._set_best()

    def _set_best(self) -> None:
        best = _best(self._scores, self._gone, AUTOCOMPLETE_LIMIT)
        self._best_score = self._scores.item(best[0]) if len(best) else 0.0
        self._best_titles = [self._entry(position) for position in best.tolist()]

    @classmethod
    def _of(cls, names: tuple[dict[int, str], dict[int, tuple[str, str]]], columns: _Columns
            ) -> SearchIndex:
        index = object.__new__(cls)
        index._set_titles(columns)
        index._set_names(*index._tally.lists(*names))
        return index

    @classmethod
    async def build(cls, store: Store) -> SearchIndex:
        names = await store.names()
        columns = _Columns()
        # Indexing a few hundred thousand titles takes seconds, mostly in numpy and
        # rapidfuzz: off the event loop.
        async for rows in store.title_batches():
            await asyncio.to_thread(columns.add, rows)
        return await asyncio.to_thread(cls._of, names, columns)

    def rebuild_due(self, changes: int) -> bool:
        """Whether `changes` more changed articles are better met by a fresh build."""
        return self._titles.delta_size + changes > max(MIN_DELTA, len(self._ids) // DELTA_SHARE)

    async def updated(self, store: Store, article_ids: Iterable[int]) -> SearchIndex | None:
        """A new snapshot: this one with the articles a sync wrote or deleted read anew.

        Exactly what `build` would give, at the cost of the changed articles alone (and of
        the names of the topics and providers, a few hundred rows). None when a fresh build
        is due instead.
        """
        wanted = sorted(set(article_ids))
        rows: list[TitleRow] = []
        async for batch in store.title_batches(wanted):
            rows += batch
        names = await store.names()
        found = {row[0] for row in rows}
        new = self._with_titles(rows, [i for i in wanted if i not in found])
        if new is not None:
            new._set_names(*new._tally.lists(*names))
        return new

    def _position(self, article_id: int) -> int | None:
        """Where an article id is (gone or not); None if it was never indexed."""
        position = int(np.searchsorted(self._ids, article_id))
        if position < len(self._ids) and self._ids.item(position) == article_id:
            return position
        return None

    def _live_position(self, article_id: int) -> int | None:
        position = self._position(article_id)
        return None if position is None or self._gone.item(position) else position

    def _with_titles(self, rows: Sequence[TitleRow], removed: Sequence[int]
                     ) -> SearchIndex | None:
        """A copy with `rows` written (ids ascending) and `removed` ids gone; None if that
        needs a fresh build."""
        existing = [(position, row) for row in rows
                    if (position := self._position(row[0])) is not None]
        added = [row for row in rows if self._position(row[0]) is None]
        if added and len(self._ids) and added[0][0] < self._ids.item(-1):
            return None  # positions follow ids: an id below the last one needs a fresh build
        added_at = len(self._ids)
        new = object.__new__(SearchIndex)
        new._ids = np.concatenate([self._ids, np.array([row[0] for row in added], np.int64)])
        new._stubs = np.concatenate([self._stubs, np.zeros(len(added), np.bool_)])
        new._scores = np.concatenate([self._scores, np.zeros(len(added), np.float64)])
        new._gone = np.concatenate([self._gone, np.zeros(len(added), np.bool_)])
        new._names = self._names
        new._renamed = dict(self._renamed)
        changes: dict[int, str | None] = {}
        updates: dict[int, TitleRow | None] = {}
        placed = existing + [(added_at + i, row) for i, row in enumerate(added)]
        for position, row in placed:
            _id, title, is_stub, score, *_rest = row
            updates[position] = row
            new._stubs[position] = bool(is_stub)
            new._scores[position] = score
            if position >= added_at or self._gone.item(position) or self._name(position) != title:
                changes[position] = title
                new._renamed[position] = title
            new._gone[position] = False
        for article_id in removed:
            position = self._position(article_id)
            if position is not None and not new._gone.item(position):
                new._gone[position] = True
                changes[position] = None
                updates[position] = None
                new._renamed.pop(position, None)
        new._titles = self._titles.changed(changes, len(new._ids)) if changes else self._titles
        new._tally = self._tally.changed(updates, self._gone, len(new._ids))
        new._set_best()
        return new

    def score_of(self, article_id: int) -> float:
        """An article's ranking score. One the index has not seen yet came with the sync
        that is being indexed now: it counts as the best-scored (the newest) article."""
        return self.scores_of([article_id])[0]

    def scores_of(self, article_ids: Sequence[int]) -> list[float]:
        """`score_of` of many articles at once."""
        at = self._live_positions(article_ids)
        return np.where(at >= 0, self._scores[np.maximum(at, 0)] if len(self._scores) else 0.0,
                        self._best_score).tolist()

    def by_relevance(self, matches: Sequence[tuple[int, float]],
                     first: Container[int] = frozenset()) -> list[int]:
        """The ids of full-text matches (id, bm25: lower is better), best first: those in
        `first`, then by text relevance mixed with the ranking score (held here: no read
        of the articles table for it)."""
        scores = self.scores_of([article_id for article_id, _bm25 in matches])
        ranked = sorted(zip(matches, scores, strict=True), key=lambda hit: (
            hit[0][0] not in first, hit[0][1] - hit[1] * SEARCH_SCORE_WEIGHT, hit[0][0]))
        return [article_id for (article_id, _bm25), _score in ranked]

    def _live_positions(self, article_ids: Sequence[int]) -> np.ndarray:
        """Each id's position; -1 for an id not (or no longer) indexed."""
        wanted = np.asarray(article_ids, dtype=np.int64)
        if not len(self._ids):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._ids, wanted), len(self._ids) - 1)
        return np.where((self._ids[at] == wanted) & ~self._gone[at], at, -1)

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
        return [self._entry(position) for position in np.flatnonzero(~self._gone).tolist()]

    def _name(self, position: int) -> str:
        renamed = self._renamed.get(position)
        return self._names.text(position) if renamed is None else renamed

    def _entry(self, position: int) -> TitleEntry:
        return TitleEntry(self._ids.item(position), self._name(position),
                          self._stubs.item(position), self._scores.item(position))

    def title_entry(self, article_id: int) -> TitleEntry | None:
        """The indexed title of an article, if the article exists in this snapshot."""
        return self.title_entries([article_id]).get(article_id)

    def title_entries(self, article_ids: Sequence[int]) -> dict[int, TitleEntry]:
        """`title_entry` of many articles at once: those that exist in this snapshot."""
        at = self._live_positions(article_ids).tolist()
        return {article_id: self._entry(position)
                for article_id, position in zip(article_ids, at, strict=True) if position >= 0}

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

        texts = dict(zip((index for index, _score in hits),
                         self._titles.texts_of([index for index, _score in hits]), strict=True))

        def order(hit: tuple[int, float]) -> tuple[float, int, bool, float]:
            # WRatio often ties; on a tie, the title holding more of the typed words wins,
            # then a full article over a stub, then the better ranked one.
            index, score = hit
            held = sum(word in texts[index] for word in words)
            return (-round(score, 1), -held, self._stubs.item(index), -self._scores.item(index))

        return [Scored(self._entry(index), score)
                for index, score in sorted(hits, key=order)[:limit]]
