"""The corpus's own words and how many articles hold each: what a typo is corrected to.

The words and counts are the full-text index's own (SQLite's fts5vocab at the build, then
the changed words counted anew by full-text matches), so a correction is always a word the
search can find. They are kept by length, each length as one sorted list with arrays of
counts and letter sets: no object per article, and a typo is compared with the few words
of about its own length that hold about its letters.
"""

from __future__ import annotations

import asyncio
import heapq
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
# Readings of a search's typos tried, the likeliest first, before it is taken to find
# nothing: each is one more search.
CORRECTION_TRIES = 3
COUNT_CAP = 1000  # a changed word's articles are counted up to this (see `updated`)
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


def _letters(word: str) -> int:
    """A 64-bit set of the letters of `word` (each letter's code modulo 64).

    An edit changes at most two of its bits (a substitution: one letter out, one in), so a
    word `n` edits from another differs from it in at most 2n bits: one vectorised
    comparison rules out nearly every word before any is scored.
    """
    mask = 0
    for char in word:
        mask |= 1 << (ord(char) % 64)
    return mask


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The words of one length, sorted, how many articles hold each, and their letters."""

    words: list[str]
    counts: np.ndarray  # int32, by the words' positions
    letters: np.ndarray  # uint64, `_letters` of each word

    def near(self, letters: int, edits: int) -> tuple[list[str], np.ndarray]:
        """The words whose letters allow them to be `edits` edits away, and their counts."""
        differ = np.bitwise_count(self.letters ^ np.uint64(letters))
        at = np.flatnonzero(differ <= 2 * edits)
        return [self.words[i] for i in at.tolist()], self.counts[at]

    def count(self, word: str) -> int:
        at = bisect_left(self.words, word)
        return self.counts.item(at) if at < len(self.words) and self.words[at] == word else 0

    def changed(self, counts: Mapping[str, int]) -> _Bucket | None:
        """This bucket with these words' counts set (0: the word is gone); None if empty.
        Its words are copied only when some come or go, and never sorted again."""
        values = self.counts.copy()
        new: list[str] = []
        for word, count in counts.items():
            at = bisect_left(self.words, word)
            if at < len(self.words) and self.words[at] == word:
                values[at] = count
            elif count > 0:
                new.append(word)
        kept = np.flatnonzero(values > 0)
        if not new and len(kept) == len(values):
            return _Bucket(self.words, values, self.letters)
        words = [self.words[i] for i in kept.tolist()]
        values, letters = values[kept], self.letters[kept]
        new.sort()
        places = [bisect_left(words, word) for word in new]
        for offset, (place, word) in enumerate(zip(places, new, strict=True)):
            words.insert(place + offset, word)
        values = np.insert(values, places, [counts[word] for word in new]).astype(np.int32)
        letters = np.insert(letters, places,
                            np.fromiter(map(_letters, new), np.uint64, len(new)))
        return _Bucket(words, values, letters) if words else None


def _bucket(counts: Mapping[str, int]) -> _Bucket | None:
    words = sorted(word for word, count in counts.items() if count > 0)
    if not words:
        return None
    return _Bucket(words, np.fromiter((counts[word] for word in words), np.int32, len(words)),
                   np.fromiter(map(_letters, words), np.uint64, len(words)))


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
        counts = await store.holding(sorted(words), COUNT_CAP)
        # A count that reached the cap is of a common word: it keeps its count if that
        # was higher (the build's exact one), since a few articles more or less do not
        # change which word a typo means.
        return self.changed({word: max(count, self.count(word)) if count == COUNT_CAP
                             else count for word, count in counts.items()})

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
        nearest = self.candidates(typed, 1)
        return nearest[0] if nearest else None

    def candidates(self, typed: str, limit: int) -> list[str]:
        """The corpus words a typed word may mean, likeliest first, `limit` at most; none
        for a word `correction` leaves alone."""
        word = normalized(typed)
        if len(word) < MIN_TYPED or not word.isalpha() or self.count(word):
            return []
        edits = 2 if len(word) >= LONG_TYPED else 1
        letters = _letters(word)
        scored: list[tuple[float, str]] = []
        for length in range(max(MIN_WORD, len(word) - edits), len(word) + edits + 1):
            bucket = self._buckets.get(length)
            if bucket is None:
                continue
            words, counts = bucket.near(letters, edits)
            scored += [(distance - FREQUENCY_WEIGHT * math.log10(counts.item(at)), candidate)
                       for candidate, distance, at in process.extract(
                           word, words, scorer=OSA.distance, score_cutoff=edits, limit=None)]
        return [candidate for _cost, candidate in heapq.nsmallest(limit, scored)]

    def alternatives(self, corrected: Sequence[tuple[str, str]], limit: int
                     ) -> list[list[tuple[str, str]]]:
        """`corrected` (as `corrections` made it), then with one typed word at a time read
        as another of its likeliest meanings instead: what to try in turn when the likeliest
        words do not fit the rest of a question, `limit` at most."""
        tried = [list(corrected)]
        for at, (typed, used) in enumerate(corrected):
            tried += [[*corrected[:at], (typed, other), *corrected[at + 1:]]
                      for other in self.candidates(typed, limit) if other != used]
        return tried[:limit]

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
