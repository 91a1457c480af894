"""Fast fuzzy title lookup: a trigram index narrows 100,000 titles to a few hundred for WRatio.

An exhaustive rapidfuzz WRatio scan costs ~180 ms at 100,000 titles, too slow to answer
an autocomplete keystroke. WRatio on a short query is dominated by the best partial
(substring) alignment, and a title that aligns well with the query holds most of the
query's trigrams. So the titles holding the most of the query's trigrams are found with
numpy (a bincount over posting lists), and only those are scored with WRatio.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process, utils

Scorer = Callable[..., float]  # a rapidfuzz scorer such as fuzz.WRatio

CANDIDATES = 250  # titles scored by WRatio per query
_SHORT_SCAN = 5000  # occurrences looked at for a one- or two-character query
BLOCK = 16384  # titles per posting block
POSTINGS_BUDGET = 60_000  # title entries counted per query, beyond its rarest trigrams
MAX_TRIGRAMS = 24  # rarest trigrams always counted, whatever the budget
_SEPARATOR = 0  # byte between titles in the concatenated text; never inside a title


def _codes(data: np.ndarray) -> np.ndarray:
    """The 24-bit code of every byte trigram starting at each position of `data`."""
    wide = data.astype(np.int64)
    return (wide[:-2] << 16) | (wide[1:-1] << 8) | wide[2:]


class _Block(NamedTuple):
    """The posting lists of one block of titles: `counts[i]` owners per code `codes[i]`."""

    codes: np.ndarray  # distinct trigram codes, ascending
    counts: np.ndarray  # how many of the block's titles hold each code
    owners: np.ndarray  # title positions, grouped by code, ascending within a code


def _postings(encoded: Sequence[bytes], first: int) -> _Block:
    """The posting lists of `encoded` titles (numbered from `first`), each pair once."""
    joined = np.frombuffer(b"\x00".join(encoded) + b"\x00" * 3, dtype=np.uint8)
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
    owner = np.repeat(np.arange(first, first + len(encoded), dtype=np.int64), lengths)
    count = len(owner)  # one trigram start per byte of each title and its separator
    # Only trigrams that cross no title boundary.
    inside = ((joined[:-2] != _SEPARATOR) & (joined[1:-1] != _SEPARATOR)
              & (joined[2:] != _SEPARATOR))[:count]
    pairs = (_codes(joined)[:count][inside] << 24) | owner[inside]
    pairs.sort()  # sort + mask: much faster than np.unique here
    keep = np.ones(len(pairs), dtype=bool)
    np.not_equal(pairs[1:], pairs[:-1], out=keep[1:])
    pairs = pairs[keep]
    codes = pairs >> 24
    starts = np.flatnonzero(np.diff(codes, prepend=-1))  # where each code's pairs begin
    counts = np.diff(np.append(starts, len(codes)))
    return _Block(codes[starts].astype(np.int32), counts,
                  (pairs & ((1 << 24) - 1)).astype(np.int32))


def _merge(blocks: list[_Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One posting list per trigram from the blocks' lists: (codes, offsets, owners).

    The titles holding `codes[i]` are `owners[offsets[i] : offsets[i + 1]]`, ascending.
    Blocks are consumed as they are copied, so the build holds the owners about twice.
    """
    if not blocks:
        return np.empty(0, np.int32), np.zeros(1, np.int64), np.empty(0, np.int32)
    codes = np.unique(np.concatenate([block.codes for block in blocks]))
    totals = np.zeros(len(codes), dtype=np.int64)
    for block in blocks:
        totals[np.searchsorted(codes, block.codes)] += block.counts
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(totals, out=offsets[1:])
    owners = np.empty(int(offsets[-1]), dtype=np.int32)
    filled = offsets[:-1].copy()  # where each code's owners from the next block go
    while blocks:
        block = blocks.pop(0)
        at = np.searchsorted(codes, block.codes)
        # The block's owners of one code go after those of earlier blocks (which hold
        # lower positions), so each list stays ascending. int32 keeps the build's peak
        # memory down: ~100,000 titles hold a few million pairs, far below 2**31.
        group_starts = np.cumsum(block.counts) - block.counts
        where = np.repeat((filled[at] - group_starts).astype(np.int32), block.counts)
        where += np.arange(len(block.owners), dtype=np.int32)
        owners[where] = block.owners
        filled[at] += block.counts
    return codes, offsets, owners


class TitleIndex:
    """Processed titles with one trigram → titles posting list per trigram.

    The posting lists are built in blocks of BLOCK titles, then merged: sorting all of
    100,000 titles' trigram pairs at once would briefly need several times the size of the
    finished index. One list per trigram (not per block) keeps a query to one lookup.
    """

    def __init__(self, titles: Sequence[str]):
        # WRatio is scored on processed text, exactly as `processor=default_process` would.
        # A tuple, not a list: a tuple of strings drops out of the cyclic garbage collector's
        # sight, while each full collection would walk a list's 100,000+ items.
        self.texts = tuple(utils.default_process(title) for title in titles)
        encoded = [text.encode("utf-8") for text in self.texts]
        self._lengths = np.fromiter((len(e) for e in encoded), dtype=np.int32,
                                    count=len(encoded))
        blocks = [_postings(encoded[first : first + BLOCK], first)
                  for first in range(0, len(encoded), BLOCK)]
        del encoded  # ~20 MB at 100,000 titles that the merge's peak can do without
        self._codes, self._offsets, self._owners = _merge(blocks)
        # All titles in one string (and where each starts), for queries too short for trigrams.
        self._all_text = "\n".join(self.texts)
        self._starts = np.cumsum([0] + [len(text) + 1 for text in self.texts[:-1]])

    def __len__(self) -> int:
        return len(self.texts)

    def _candidates(self, query: str) -> np.ndarray:
        if not len(self._codes):
            return np.empty(0, dtype=np.int64)
        data = np.frombuffer(query.encode("utf-8"), dtype=np.uint8)
        wanted = np.unique(_codes(data)).astype(np.int32)
        # Where each wanted trigram's posting list lies; empty for a trigram no title has.
        at = np.minimum(np.searchsorted(self._codes, wanted), len(self._codes) - 1)
        known = self._codes[at] == wanted
        starts = np.where(known, self._offsets[at], 0)
        ends = np.where(known, self._offsets[at + 1], 0)
        sizes = ends - starts
        # A long query's commonest trigrams (" ai", "ing") each list most titles of a large
        # corpus and tell little apart: past a budget, its rarest ones alone are counted.
        order = np.argsort(sizes, kind="stable")
        within = np.cumsum(sizes[order]) <= POSTINGS_BUDGET
        within[:MAX_TRIGRAMS] = True
        kept = order[within & (sizes[order] > 0)]
        if len(kept) == 0:
            return np.empty(0, dtype=np.int64)
        owners = self._owners
        postings = [owners[start:end] for start, end in zip(starts[kept], ends[kept],
                                                               strict=True)]
        counts = np.bincount(np.concatenate(postings), minlength=len(self.texts))
        # Only the titles holding any of the trigrams matter: the level arithmetic below runs
        # on them alone, not on a whole-corpus array.
        holding = np.flatnonzero(counts > 0)  # on a bool array: several times faster
        held = counts[holding]
        # titles_from[c]: how many titles share at least c trigrams with the query.
        titles_from = np.cumsum(np.bincount(held)[::-1])[::-1]
        crowded = np.flatnonzero(titles_from[1:] > CANDIDATES)
        if len(crowded) == 0:
            return holding
        # Titles sharing more than `level` trigrams all go in; of those sharing exactly
        # `level`, the shortest, which WRatio scores higher (it scales partial matches down
        # as the length ratio grows). No sort of the whole corpus is needed.
        level = int(crowded[-1]) + 1
        sure = holding[held > level]
        tied = holding[held == level]
        need = CANDIDATES - len(sure)
        shortest = tied[np.argpartition(self._lengths[tied], need - 1)[:need]] if need else tied[:0]
        return np.concatenate([sure, shortest])

    def _shortest_holding(self, query: str) -> list[int]:
        # One C-speed scan of all titles, stopped early for a common query.
        offsets = []
        for match in re.finditer(re.escape(query), self._all_text):
            offsets.append(match.start())
            if len(offsets) >= _SHORT_SCAN:
                break
        holding = np.unique(np.searchsorted(self._starts, offsets, side="right") - 1)
        if len(holding) > CANDIDATES:
            holding = holding[np.argpartition(self._lengths[holding], CANDIDATES)[:CANDIDATES]]
        return holding.tolist()

    def search(
        self, text: str, limit: int, cutoff: float, scorer: Scorer = fuzz.WRatio
    ) -> list[tuple[int, float]]:
        """(title position, score) of the best matches for `text`, best first."""
        query = utils.default_process(text)
        if not query:
            return []
        if len(query) < 3:  # no trigram: the shortest titles holding the text
            candidates = self._shortest_holding(query)
        else:
            candidates = self._candidates(query).tolist()
        choices = {position: self.texts[position] for position in candidates}
        hits = process.extract(query, choices, scorer=scorer, processor=None,
                               score_cutoff=cutoff, limit=limit)
        return [(position, score) for _text, score, position in hits]
