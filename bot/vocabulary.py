"""The corpus's own words and how many articles hold each: what a typo is corrected to.

The words and counts are the full-text index's own (SQLite's fts5vocab), so a correction
is always a word the search can find. They are kept by length, each length as one sorted
list with an array of counts: no object per article, and a typo is compared with the
words of about its own length only.
"""

from __future__ import annotations

import asyncio
import math
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.store import Store

MIN_TYPED = 4  # a shorter typed word is left alone: too many words are one edit from it
MIN_WORD = 3  # a shorter corpus word is never what a typo is corrected to
LONG_TYPED = 8  # from this length a typo may be two edits away, else one
# An edit more is worth a word 1000 times as common: among words as close, the commoner
# is the likelier meaning; a much commoner one may be one edit further.
FREQUENCY_WEIGHT = 1 / 3
# Words as the full-text index splits them (unicode61): runs of letters and digits.
_TOKEN = re.compile(r"[^\W_]+")


def normalized(word: str) -> str:
    """`word` as the full-text index keeps it: lower case, without diacritics."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def tokens(text: str) -> list[str]:
    """The words of `text` as typed, split where the full-text index splits them."""
    return _TOKEN.findall(text)


def words_of(texts: Iterable[str]) -> set[str]:
    """The distinct words of these texts that can be a correction, normalized."""
    return {word for text in texts for token in tokens(text)
            if _usable(word := normalized(token))}


def _usable(word: str) -> bool:
    return len(word) >= MIN_WORD and word.isalpha()


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The words of one length, sorted, and how many articles hold each."""

    words: list[str]
    counts: np.ndarray  # int32, by the words' positions

    def count(self, word: str) -> int:
        at = bisect_left(self.words, word)
        return self.counts.item(at) if at < len(self.words) and self.words[at] == word else 0

    def changed(self, counts: Mapping[str, int]) -> _Bucket | None:
        """This bucket with these words' counts set (0: the word is gone); None if empty."""
        merged = dict(zip(self.words, self.counts.tolist(), strict=True))
        merged.update(counts)
        return _bucket(merged)


def _bucket(counts: Mapping[str, int]) -> _Bucket | None:
    words = sorted(word for word, count in counts.items() if count > 0)
    if not words:
        return None
    return _Bucket(words, np.fromiter((counts[word] for word in words), np.int32, len(words)))


class Vocabulary:
    """The corpus's words with their article counts; a new snapshot per change."""

    def __init__(self, buckets: Mapping[int, _Bucket] | None = None):
        self._buckets = dict(buckets or {})

    @classmethod
    def of(cls, counts: Iterable[tuple[str, int]]) -> Vocabulary:
        """The vocabulary of these (word, count) pairs; words that cannot be a correction
        (short, or holding a digit) are left out."""
        by_length: dict[int, dict[str, int]] = {}
        for word, count in counts:
            if _usable(word) and count > 0:
                by_length.setdefault(len(word), {})[word] = count
        buckets = {length: _bucket(words) for length, words in by_length.items()}
        return cls({length: bucket for length, bucket in buckets.items() if bucket})

    @classmethod
    async def build(cls, store: Store) -> Vocabulary:
        """Every word of the store's full-text index."""
        rows: list[tuple[str, int]] = []
        async for batch in store.word_counts():
            rows += batch
        return await asyncio.to_thread(cls.of, rows)

    async def updated(self, store: Store, article_ids: Sequence[int],
                      before: Iterable[str]) -> Vocabulary:
        """A new snapshot after a write changed these articles: the words of their text now
        and of `before` (what was known of their text until the write) counted anew."""
        words = words_of(await store.word_texts(article_ids)) | words_of(before)
        if not words:
            return self
        counts = dict.fromkeys(words, 0)  # a word the index no longer has is gone
        async for batch in store.word_counts(sorted(words)):
            counts.update(batch)
        return self.changed(counts)

    def changed(self, counts: Mapping[str, int]) -> Vocabulary:
        """A copy with these words' counts set (0: gone); this one is left as it was, for
        the queries running on it."""
        by_length: dict[int, dict[str, int]] = {}
        for word, count in counts.items():
            if _usable(word):
                by_length.setdefault(len(word), {})[word] = count
        buckets = dict(self._buckets)
        for length, changes in by_length.items():
            old = buckets.pop(length, None)
            bucket = old.changed(changes) if old else _bucket(changes)
            if bucket is not None:
                buckets[length] = bucket
        return Vocabulary(buckets)

    def __len__(self) -> int:
        return sum(len(bucket.words) for bucket in self._buckets.values())

    def count(self, word: str) -> int:
        """How many articles hold `word` (as typed: it is normalized first)."""
        key = normalized(word)
        bucket = self._buckets.get(len(key))
        return bucket.count(key) if bucket else 0

    def correction(self, typed: str) -> str | None:
        """The corpus word a typed word most likely means; None for a word the corpus
        knows, a short word, one with a digit, or one with no word near enough."""
        word = normalized(typed)
        if len(word) < MIN_TYPED or not word.isalpha() or self.count(word):
            return None
        edits = 2 if len(word) >= LONG_TYPED else 1
        best: tuple[float, str] | None = None
        for length in range(max(MIN_WORD, len(word) - edits), len(word) + edits + 1):
            bucket = self._buckets.get(length)
            if bucket is None:
                continue
            for candidate, distance, at in process.extract(
                word, bucket.words, scorer=OSA.distance, score_cutoff=edits, limit=None,
            ):
                cost = distance - FREQUENCY_WEIGHT * math.log10(bucket.counts.item(at))
                if best is None or (cost, candidate) < best:
                    best = (cost, candidate)
        return best[1] if best else None

    def corrections(self, words: Sequence[str]) -> list[tuple[str, str]]:
        """(typed, used) for each distinct typed word that `correction` corrects."""
        made: list[tuple[str, str]] = []
        seen: set[str] = set()
        for typed in words:
            key = normalized(typed)
            if key in seen:
                continue
            seen.add(key)
            used = self.correction(typed)
            if used is not None:
                made.append((typed, used))
        return made
